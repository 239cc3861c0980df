import type {
  ClientRow,
  Denial,
  DeniedDestination,
  HistoryMinute,
  ObserveSummary,
  Policy,
  ReloadResult,
  ServiceRow,
  Status,
  Totals,
  Tunnel,
} from './types.js';

/** Refusals kept for the live tail. */
export const TAIL_LENGTH = 500;
/** Open tunnels listed (the summary counts them all). */
export const TUNNELS_LISTED = 1000;
/** Clients the page keeps (the most recently seen; the gateway answers a search over all of them). */
export const CLIENTS_KEPT = 1000;
/** The window the per-minute rates are measured over. */
const RATE_WINDOW_MS = 60_000;

/** What the views fetch once, then keep up to date from the event stream. */
export interface Snapshot {
  readonly status: Status;
  readonly services: { readonly rows: readonly ServiceRow[] } | null;
  readonly clients: { readonly total: number; readonly rows: readonly ClientRow[] } | null;
  readonly denials: {
    readonly total: number;
    readonly recent: readonly Denial[];
    readonly destinations: readonly DeniedDestination[];
  } | null;
  readonly tunnels: { readonly total: number; readonly rows: readonly Tunnel[] } | null;
  readonly history: { readonly minutes: readonly HistoryMinute[] } | null;
  readonly policy: Policy | null;
}

interface Sample {
  readonly at: number;
  readonly totals: Totals;
}

export interface Rates {
  /** How long the counts were taken over (s): a minute, or less since the page opened. */
  readonly seconds: number;
  readonly allowed: number;
  readonly denied: number;
  /** Bytes of finished requests and tunnels, per second. */
  readonly bytesPerSecond: number;
}

/** What a merged event asks the page to load again: views an event carries only in part. */
export type Refetch = 'denials' | 'clients' | 'status' | 'policy' | 'history';

const SERVICE_ORDER: Record<string, number> = { failing: 0, reaching: 1, idle: 2 };

/** Does a client row match the clients view's search (address or name, as the API matches it)? */
export function clientMatches(row: ClientRow, query: string): boolean {
  const q = query.trim().toLowerCase();
  return q === '' || row.address.toLowerCase().includes(q) || (row.name ?? '').toLowerCase().includes(q);
}

/**
 * The dashboard's state: the admin API's views, loaded once and then updated from the server-sent
 * events (`summary`, `services`, `clients`, `denials`, `tunnels`, `reload`). No I/O here.
 */
export class Model {
  status: Status | null = null;
  /** False when the gateway runs with observe.state: false. */
  observing = true;
  services = new Map<string, ServiceRow>();
  clients = new Map<string, ClientRow>();
  clientsTotal = 0;
  clientQuery = '';
  recent: Denial[] = [];
  destinations: DeniedDestination[] = [];
  deniedTotal = 0;
  tunnels = new Map<string, Tunnel>();
  history: HistoryMinute[] = [];
  policy: Policy | null = null;
  private samples: Sample[] = [];

  load(s: Snapshot): void {
    this.status = s.status;
    this.observing = s.services !== null;
    this.services = new Map((s.services?.rows ?? []).map((r) => [r.key, r]));
    if (s.clients !== null) this.setClients(s.clients);
    if (s.denials !== null) this.setDenials(s.denials);
    this.tunnels = new Map((s.tunnels?.rows ?? []).map((t) => [t.id, t]));
    this.history = [...(s.history?.minutes ?? [])];
    this.policy = s.policy;
    this.samples = [];
    this.sample(s.status.observe);
  }

  setClients(c: { readonly total: number; readonly rows: readonly ClientRow[] }): void {
    this.clients = new Map(c.rows.map((r) => [r.address, r]));
    this.clientsTotal = c.total;
  }

  setDenials(d: NonNullable<Snapshot['denials']>): void {
    this.recent = [...d.recent].slice(0, TAIL_LENGTH);
    this.destinations = [...d.destinations];
    this.deniedTotal = d.total;
  }

  /** Merges one event; returns the views to load again. */
  apply(event: string, data: unknown): Refetch[] {
    switch (event) {
      case 'summary': {
        const { generation, ...observe } = data as ObserveSummary & { generation: number };
        if (this.status !== null) {
          const reloaded = generation !== this.status.generation;
          this.status = { ...this.status, generation, observe };
          this.sample(observe);
          if (reloaded) return ['status', 'policy'];
        }
        return [];
      }
      case 'services':
        for (const row of (data as { rows: ServiceRow[] }).rows) this.services.set(row.key, row);
        return [];
      case 'clients': {
        const { rows, more } = data as { rows: ClientRow[]; more: number };
        for (const row of rows) {
          if (!clientMatches(row, this.clientQuery)) continue;
          if (!this.clients.has(row.address)) this.clientsTotal++;
          this.clients.set(row.address, row);
        }
        if (this.clients.size > CLIENTS_KEPT) {
          const keep = this.clientRows().slice(0, CLIENTS_KEPT);
          this.clients = new Map(keep.map((r) => [r.address, r]));
        }
        return more > 0 ? ['clients'] : [];
      }
      case 'denials': {
        const rows = (data as { rows: Denial[] }).rows;
        // Oldest first in the event; the tail is newest first.
        for (const row of rows) this.recent.unshift(row);
        if (this.recent.length > TAIL_LENGTH) this.recent.length = TAIL_LENGTH;
        return rows.length > 0 ? ['denials', 'history'] : [];
      }
      case 'tunnels': {
        const { opened, closed } = data as { opened: Tunnel[]; closed: string[] };
        for (const id of closed) this.tunnels.delete(id);
        for (const t of opened) if (this.tunnels.size < TUNNELS_LISTED) this.tunnels.set(t.id, t);
        return opened.length > 0 ? ['history'] : [];
      }
      case 'reload': {
        const last = data as ReloadResult;
        if (this.status !== null) {
          this.status = {
            ...this.status,
            reload: { attempts: this.status.reload.attempts + 1, last },
            generation: last.ok ? last.generation : this.status.generation,
          };
        }
        return ['status', 'policy'];
      }
      default:
        return [];
    }
  }

  private sample(observe: ObserveSummary): void {
    if (observe.totals === undefined) return;
    const at = observe.at ?? Date.now();
    this.samples.push({ at, totals: observe.totals });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= RATE_WINDOW_MS) this.samples.shift();
  }

  /**
   * Allowed and refused over the last minute (counted, not extrapolated: less than a minute
   * while the page has been open for less) and bytes per second, from the summaries.
   */
  rates(): Rates | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.at - first.at < 1000) return null;
    const ms = last.at - first.at;
    const d = (pick: (t: Totals) => number): number => pick(last.totals) - pick(first.totals);
    return {
      seconds: Math.round(ms / 1000),
      allowed: d((t) => t.allowed),
      denied: d((t) => t.denied),
      bytesPerSecond: (d((t) => t.bytesFromClient + t.bytesToClient) * 1000) / ms,
    };
  }

  /** Services: failing first, then reaching, then idle; traffic outside the catalog (`-`) last. */
  serviceRows(): ServiceRow[] {
    return [...this.services.values()].sort(
      (a, b) =>
        Number(a.key === '-') - Number(b.key === '-') ||
        (SERVICE_ORDER[a.status] ?? 3) - (SERVICE_ORDER[b.status] ?? 3) ||
        a.key.localeCompare(b.key),
    );
  }

  /** Clients of the current search, most recently seen first (narrowed at once while the gateway answers). */
  clientRows(): ClientRow[] {
    return [...this.clients.values()]
      .filter((r) => clientMatches(r, this.clientQuery))
      .sort((a, b) => b.lastSeen - a.lastSeen);
  }

  tunnelsOf(address: string): Tunnel[] {
    return [...this.tunnels.values()].filter((t) => t.client === address).sort((a, b) => a.since - b.since);
  }

  openTunnels(): number {
    return this.status?.observe.openTunnels ?? this.tunnels.size;
  }
}
