import type { ReasonCode } from '../errors/index.js';
import { FAILURE_KINDS, UNCATALOGUED, type FailureKind } from './outcome.js';
import { KeptTexts } from '../text/kept.js';
import type { RecordCatalog } from './access-record.js';
import type { DenialBrief, DenialInfo, StateDelta, Totals, TunnelInfo } from './state-delta.js';

/** How much the operator view keeps. Clients and denied destinations go oldest first. */
export interface StateLimits {
  readonly maxClients: number;
  readonly maxDeniedDestinations: number;
  /** Clients and denied destinations not seen for this long are forgotten (ms). */
  readonly maxAgeMs: number;
  /** Refusals kept for the live tail. */
  readonly recentDenials: number;
  /** Open tunnels tracked (beyond it, tunnels are counted but not listed). */
  readonly maxTunnels: number;
}

export const DEFAULT_STATE_LIMITS: StateLimits = {
  maxClients: 100_000,
  maxDeniedDestinations: 10_000,
  maxAgeMs: 24 * 3_600_000,
  recentDenials: 1_000,
  maxTunnels: 200_000,
};

/** A window in which a service counts as reaching, or failing, and a client as having reached it. */
export const ACTIVE_WINDOW_MS = 10 * 60_000;

interface ClientState {
  readonly address: string;
  name: string | null;
  firstSeen: number;
  lastSeen: number;
  open: number;
  allowed: number;
  denied: number;
  failed: number;
  bytesFromClient: number;
  bytesToClient: number;
  /**
   * Last allowed request per service, flat: key, at, host, key, at, host, ... (a few entries per
   * client; a flat array costs a fraction of a Map at 100,000 clients).
   */
  readonly services: (string | number)[];
  denials: DenialBrief[] | null;
}

/** The last allowed request of `client` to service `key` (ms), or undefined. */
function lastAllowed(client: ClientState, key: string): number | undefined {
  const s = client.services;
  for (let i = 0; i < s.length; i += 3) if (s[i] === key) return s[i + 1] as number;
  return undefined;
}

interface ServiceState {
  readonly key: string;
  readonly product: string | null;
  readonly service: string | null;
  open: number;
  requests: number;
  successes: number;
  lastSuccess: number | null;
  lastFailure: number | null;
  lastFailureKind: FailureKind | null;
  readonly failures: Record<FailureKind, number>;
  bytesFromClient: number;
  bytesToClient: number;
}

interface DeniedState<E> {
  readonly host: string;
  readonly port: number;
  count: number;
  firstSeen: number;
  lastSeen: number;
  lastReason: ReasonCode;
  readonly reasons: Partial<Record<ReasonCode, number>>;
  readonly clients: string[];
  moreClients: boolean;
  sni: string | null;
  method: string;
  lastClient: string;
  explanation: E | null;
}

interface HistoryBucket {
  /** Start of the minute (ms since epoch). */
  readonly minute: number;
  allowed: number;
  denied: number;
  failed: number;
  opened: number;
  bytes: number;
  /** Most tunnels open at once during the minute. */
  openPeak: number;
}

export type DenialView<E> = DenialInfo & { readonly explanation: E };

/** What one merge changed: the admin listener turns it into server-sent events. */
export interface StateChanges<E> {
  readonly clients: readonly string[];
  readonly services: readonly string[];
  readonly denials: readonly DenialView<E>[];
  readonly opened: readonly TunnelInfo[];
  readonly closed: readonly TunnelInfo[];
}

export interface ClientRow {
  readonly address: string;
  readonly name: string | null;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly open: number;
  readonly allowed: number;
  readonly denied: number;
  readonly failed: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly services: readonly {
    readonly key: string;
    readonly product: string | null;
    readonly service: string | null;
    readonly lastAllowed: number;
    readonly host: string;
  }[];
  readonly denials: readonly DenialBrief[];
}

export interface ServiceRow {
  readonly key: string;
  readonly product: string | null;
  readonly service: string | null;
  /** reaching: a success in the last ten minutes and no failure since; failing: the latest outcome in that window is a failure; idle: neither. */
  readonly status: 'reaching' | 'failing' | 'idle';
  readonly open: number;
  readonly requests: number;
  readonly successes: number;
  readonly lastSuccess: number | null;
  readonly lastFailure: number | null;
  readonly lastFailureKind: FailureKind | null;
  readonly failures: Readonly<Record<FailureKind, number>>;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** Clients whose last allowed request to the service is less than ten minutes old. */
  readonly clients: number;
}

export interface DeniedRow<E> {
  readonly host: string;
  readonly port: number;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly lastReason: ReasonCode;
  readonly reasons: Partial<Record<ReasonCode, number>>;
  readonly clients: readonly string[];
  readonly moreClients: boolean;
  readonly sni: string | null;
  readonly explanation: E | null;
}

export type TunnelRow = TunnelInfo & { readonly worker: string };

export interface StateTotals extends Totals {
  /** Refusals and keys the workers could not report in full (their reports were full). */
  dropped: number;
}

/** A service nobody has used yet. */
export function idleServiceRow(key: string, product: string | null, service: string | null): ServiceRow {
  return {
    key,
    product,
    service,
    status: 'idle',
    open: 0,
    requests: 0,
    successes: 0,
    lastSuccess: null,
    lastFailure: null,
    lastFailureKind: null,
    failures: noFailures(),
    bytesFromClient: 0,
    bytesToClient: 0,
    clients: 0,
  };
}

function noFailures(): Record<FailureKind, number> {
  return { dns: 0, connect: 0, upstream_reset: 0, upstream_timeout: 0, sni: 0, address: 0 };
}

/**
 * The operator view's memory, in the supervisor: every worker's deltas merged into per-client,
 * per-service and per-denied-destination state, the open tunnels, the latest refusals and an
 * hour of per-minute counts. Bounded by StateLimits; `explain` turns a refusal into whatever the
 * admin listener shows next to it (computed once per destination, redone after a reload).
 */
export class ObservedState<E> {
  private readonly clients = new Map<string, ClientState>();
  private readonly services = new Map<string, ServiceState>();
  private readonly denied = new Map<string, DeniedState<E>>();
  private readonly tunnels = new Map<string, TunnelRow>();
  private untracked = 0;
  private recent: DenialView<E>[] = [];
  private readonly history: HistoryBucket[] = [];
  private readonly explanations = new Map<string, E>();
  /**
   * One copy of each text many rows share: hosts, service keys, upstreams, client names,
   * decisions (reports arrive as JSON: every string a new copy).
   */
  private readonly strings = new KeptTexts(50_000);
  private readonly catalogs = new Map<string, RecordCatalog>();
  readonly totals: StateTotals = {
    allowed: 0,
    denied: 0,
    failed: 0,
    opened: 0,
    bytesFromClient: 0,
    bytesToClient: 0,
    dropped: 0,
  };

  constructor(
    readonly limits: StateLimits,
    private readonly explain: (denial: DenialInfo) => E,
    private readonly now: () => number = Date.now,
  ) {}

  /** Merges one worker's delta. `source` names the worker, so its tunnels go when it does. */
  apply(delta: StateDelta, source: string): StateChanges<E> {
    const now = this.now();
    const changedClients = new Set<string>();
    const changedServices = new Set<string>();
    const opened: TunnelInfo[] = [];
    const closed: TunnelInfo[] = [];

    for (const c of delta.clients) {
      let client = this.clients.get(c.address);
      if (client === undefined) {
        client = {
          address: c.address,
          name: c.name,
          firstSeen: c.first,
          lastSeen: c.last,
          open: 0,
          allowed: 0,
          denied: 0,
          failed: 0,
          bytesFromClient: 0,
          bytesToClient: 0,
          services: [],
          denials: null,
        };
      } else {
        // Most recently seen last: eviction takes the oldest from the front.
        this.clients.delete(c.address);
        client.lastSeen = Math.max(client.lastSeen, c.last);
        client.firstSeen = Math.min(client.firstSeen, c.first);
        if (c.name !== null) client.name = c.name;
      }
      this.clients.set(c.address, client);
      client.allowed += c.allowed;
      client.denied += c.denied;
      client.failed += c.failed;
      client.bytesFromClient += c.bytesFromClient;
      client.bytesToClient += c.bytesToClient;
      for (const [key, [at, host]] of c.services) {
        const s = client.services;
        let i = 0;
        while (i < s.length && s[i] !== key) i += 3;
        if (i === s.length) s.push(this.intern(key), at, this.intern(host));
        else if ((s[i + 1] as number) <= at) {
          s[i + 1] = at;
          s[i + 2] = this.intern(host);
        }
      }
      if (c.denials.length > 0) {
        const denials = c.denials.map((d) => ({ ...d, host: this.intern(d.host) }));
        client.denials = [...(client.denials ?? []), ...denials].slice(-Math.max(c.denials.length, 5));
      }
      changedClients.add(c.address);
    }

    for (const s of delta.services) {
      const service = this.service(s.key, s.product, s.service);
      service.requests += s.requests;
      service.successes += s.successes;
      if (s.lastSuccess !== null) service.lastSuccess = Math.max(service.lastSuccess ?? 0, s.lastSuccess);
      if (s.lastFailure !== null && s.lastFailure >= (service.lastFailure ?? 0)) {
        service.lastFailure = s.lastFailure;
        service.lastFailureKind = s.lastFailureKind;
      }
      for (const kind of FAILURE_KINDS) service.failures[kind] += s.failures[kind] ?? 0;
      service.bytesFromClient += s.bytesFromClient;
      service.bytesToClient += s.bytesToClient;
      changedServices.add(s.key);
    }

    for (const t of delta.opened) {
      if (this.tunnels.size >= this.limits.maxTunnels) {
        this.untracked++;
        continue;
      }
      const client = this.clients.get(t.client);
      // Field by field, not a spread: every row then shares one hidden class (a spread gave each
      // of tens of thousands of open tunnels a shape of its own, ~0.4 KiB apiece). Each row's
      // strings arrived fresh from the worker's message: the ones many rows have in common (the
      // client's address, host, service, upstream, catalog entry) are kept once.
      const row: TunnelRow = {
        id: t.id,
        client: client?.address ?? t.client,
        clientName: t.clientName === null ? null : this.intern(t.clientName),
        host: this.intern(t.host),
        port: t.port,
        catalog: t.catalog === null ? null : this.catalogOnce(t.catalog),
        service: this.intern(t.service),
        since: t.since,
        upstream: t.upstream === null ? null : this.intern(t.upstream),
        setupMs: t.setupMs,
        decision: this.intern(t.decision) as TunnelRow['decision'],
        worker: source,
      };
      this.tunnels.set(t.id, row);
      opened.push(row);
      this.service(row.service, t.catalog?.product ?? null, t.catalog?.service ?? null).open++;
      if (client !== undefined) client.open++;
      changedServices.add(t.service);
      changedClients.add(t.client);
    }
    for (const id of delta.closed) {
      const row = this.closeTunnel(id);
      if (row === null) continue;
      closed.push(row);
      changedServices.add(row.service);
      changedClients.add(row.client);
    }

    for (const d of delta.denied) {
      let dest = this.denied.get(d.key);
      if (dest === undefined) {
        dest = {
          host: d.host,
          port: d.port,
          count: 0,
          firstSeen: d.first,
          lastSeen: d.last,
          lastReason: d.lastReason,
          reasons: {},
          clients: [],
          moreClients: false,
          sni: d.sni,
          method: d.method,
          lastClient: d.clients[d.clients.length - 1] ?? '-',
          explanation: null,
        };
      } else {
        this.denied.delete(d.key);
        if (d.lastReason !== dest.lastReason) dest.explanation = null;
      }
      this.denied.set(d.key, dest);
      dest.count += d.count;
      dest.lastSeen = Math.max(dest.lastSeen, d.last);
      dest.firstSeen = Math.min(dest.firstSeen, d.first);
      dest.lastReason = d.lastReason;
      dest.method = d.method;
      if (d.sni !== null) dest.sni = d.sni;
      dest.lastClient = d.clients[d.clients.length - 1] ?? dest.lastClient;
      for (const [reason, n] of Object.entries(d.reasons) as [ReasonCode, number][])
        dest.reasons[reason] = (dest.reasons[reason] ?? 0) + n;
      for (const client of d.clients) {
        if (dest.clients.includes(client)) continue;
        if (dest.clients.length < 16) dest.clients.push(client);
        else dest.moreClients = true;
      }
    }

    const denials = delta.denials.map((d): DenialView<E> => ({ ...d, explanation: this.explainOnce(d) }));
    if (denials.length > 0) {
      this.recent.push(...denials);
      if (this.recent.length > this.limits.recentDenials)
        this.recent = this.recent.slice(-this.limits.recentDenials);
    }

    const t = this.totals;
    t.allowed += delta.totals.allowed;
    t.denied += delta.totals.denied;
    t.failed += delta.totals.failed;
    t.opened += delta.totals.opened;
    t.bytesFromClient += delta.totals.bytesFromClient;
    t.bytesToClient += delta.totals.bytesToClient;
    t.dropped += delta.dropped;
    const bucket = this.bucket(delta.at);
    bucket.allowed += delta.totals.allowed;
    bucket.denied += delta.totals.denied;
    bucket.failed += delta.totals.failed;
    bucket.opened += delta.totals.opened;
    bucket.bytes += delta.totals.bytesFromClient + delta.totals.bytesToClient;
    this.bucket(now).openPeak = Math.max(this.bucket(now).openPeak, this.openTunnels());

    this.evict(now);
    return {
      clients: [...changedClients].filter((a) => this.clients.has(a)),
      services: [...changedServices],
      denials,
      opened,
      closed,
    };
  }

  /** A worker is gone: its tunnels went with it. Returns them. */
  dropSource(source: string): TunnelInfo[] {
    const gone: TunnelInfo[] = [];
    for (const [id, row] of this.tunnels) {
      if (row.worker !== source) continue;
      const closed = this.closeTunnel(id);
      if (closed !== null) gone.push(closed);
    }
    return gone;
  }

  /** The policy changed: explanations are worked out again as refusals come. */
  resetExplanations(): void {
    this.explanations.clear();
    for (const dest of this.denied.values()) dest.explanation = null;
  }

  private closeTunnel(id: string): TunnelRow | null {
    const row = this.tunnels.get(id);
    if (row === undefined) return null;
    this.tunnels.delete(id);
    const service = this.services.get(row.service);
    if (service !== undefined) service.open = Math.max(0, service.open - 1);
    const client = this.clients.get(row.client);
    if (client !== undefined) client.open = Math.max(0, client.open - 1);
    return row;
  }

  /** One object per catalog entry, shared by the rows that name it. */
  private catalogOnce(catalog: RecordCatalog): RecordCatalog {
    const key = `${catalog.id}\n${catalog.product}\n${catalog.service}`;
    const known = this.catalogs.get(key);
    if (known !== undefined) return known;
    if (this.catalogs.size >= 10_000) this.catalogs.clear();
    const kept = {
      id: this.intern(catalog.id),
      product: this.intern(catalog.product),
      service: this.intern(catalog.service),
    };
    this.catalogs.set(key, kept);
    return kept;
  }

  private intern(text: string): string {
    return this.strings.keep(text);
  }

  private explainOnce(d: DenialInfo): E {
    const key =
      d.reason === 'DENY_SOURCE_NOT_ALLOWED'
        ? `${d.reason} ${d.client}`
        : `${d.reason} ${d.method} ${d.host} ${d.port} ${d.sni ?? ''}`;
    let explanation = this.explanations.get(key);
    if (explanation === undefined) {
      explanation = this.explain(d);
      if (this.explanations.size >= this.limits.maxDeniedDestinations) this.explanations.clear();
      this.explanations.set(key, explanation);
    }
    return explanation;
  }

  private service(key: string, product: string | null, name: string | null): ServiceState {
    let service = this.services.get(key);
    if (service === undefined) {
      const { status: _status, clients: _clients, ...counts } = idleServiceRow(key, product, name);
      service = { ...counts, failures: noFailures() };
      this.services.set(key, service);
    }
    return service;
  }

  private bucket(at: number): HistoryBucket {
    const minute = at - (at % 60_000);
    const last = this.history[this.history.length - 1];
    if (last !== undefined && last.minute === minute) return last;
    // A report that arrives late belongs to the minute it was taken in.
    const found = this.history.find((b) => b.minute === minute);
    if (found !== undefined) return found;
    const bucket: HistoryBucket = {
      minute,
      allowed: 0,
      denied: 0,
      failed: 0,
      opened: 0,
      bytes: 0,
      openPeak: 0,
    };
    this.history.push(bucket);
    this.history.sort((a, b) => a.minute - b.minute);
    while (this.history.length > 61) this.history.shift();
    return bucket;
  }

  /** Forgets the oldest clients and denied destinations beyond the limits, and those not seen within maxAge. */
  evict(now: number = this.now()): void {
    const horizon = now - this.limits.maxAgeMs;
    for (const [address, client] of this.clients) {
      if (this.clients.size <= this.limits.maxClients && client.lastSeen >= horizon) break;
      if (client.open > 0 && this.clients.size <= this.limits.maxClients) {
        // Still connected: seen now.
        this.clients.delete(address);
        client.lastSeen = now;
        this.clients.set(address, client);
        continue;
      }
      this.clients.delete(address);
    }
    for (const [key, dest] of this.denied) {
      if (this.denied.size <= this.limits.maxDeniedDestinations && dest.lastSeen >= horizon) break;
      this.denied.delete(key);
    }
  }

  openTunnels(): number {
    return this.tunnels.size + this.untracked;
  }

  counts(): { clients: number; services: number; deniedDestinations: number; openTunnels: number } {
    return {
      clients: this.clients.size,
      services: this.services.size,
      deniedDestinations: this.denied.size,
      openTunnels: this.openTunnels(),
    };
  }

  clientRow(address: string): ClientRow | null {
    const c = this.clients.get(address);
    if (c === undefined) return null;
    return {
      address: c.address,
      name: c.name,
      firstSeen: c.firstSeen,
      lastSeen: c.lastSeen,
      open: c.open,
      allowed: c.allowed,
      denied: c.denied,
      failed: c.failed,
      bytesFromClient: c.bytesFromClient,
      bytesToClient: c.bytesToClient,
      services: Array.from({ length: c.services.length / 3 }, (_, i) => {
        const key = c.services[i * 3] as string;
        const [product, service] = splitKey(key);
        return {
          key,
          product,
          service,
          lastAllowed: c.services[i * 3 + 1] as number,
          host: c.services[i * 3 + 2] as string,
        };
      }),
      denials: c.denials ?? [],
    };
  }

  /**
   * Clients, most recently seen first. `search` matches the address or name (substring);
   * `service` keeps clients whose last allowed request to that service key is within `sinceMs`.
   */
  clientRows(options: {
    search?: string | undefined;
    service?: string | undefined;
    sinceMs?: number | undefined;
    limit: number;
  }): { total: number; rows: ClientRow[] } {
    const search = options.search?.toLowerCase();
    const since = options.sinceMs === undefined ? null : this.now() - options.sinceMs;
    const rows: ClientRow[] = [];
    let total = 0;
    const all = [...this.clients.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const c = all[i]!;
      if (
        search !== undefined &&
        !c.address.includes(search) &&
        !(c.name !== null && c.name.toLowerCase().includes(search))
      )
        continue;
      if (options.service !== undefined) {
        const at = lastAllowed(c, options.service);
        if (at === undefined || (since !== null && at < since)) continue;
      } else if (since !== null && c.lastSeen < since) continue;
      total++;
      if (rows.length < options.limit) rows.push(this.clientRow(c.address)!);
    }
    return { total, rows };
  }

  serviceRows(): ServiceRow[] {
    const now = this.now();
    const window = now - ACTIVE_WINDOW_MS;
    const clientsPer = new Map<string, number>();
    for (const c of this.clients.values()) {
      for (let i = 0; i < c.services.length; i += 3) {
        const key = c.services[i] as string;
        if ((c.services[i + 1] as number) >= window) clientsPer.set(key, (clientsPer.get(key) ?? 0) + 1);
      }
    }
    return [...this.services.values()].map((s) => {
      const success = s.lastSuccess ?? 0;
      const failure = s.lastFailure ?? 0;
      const status: ServiceRow['status'] =
        failure >= window && failure > success
          ? 'failing'
          : success >= window || s.open > 0
            ? 'reaching'
            : 'idle';
      return {
        key: s.key,
        product: s.product,
        service: s.service,
        status,
        open: s.open,
        requests: s.requests,
        successes: s.successes,
        lastSuccess: s.lastSuccess,
        lastFailure: s.lastFailure,
        lastFailureKind: s.lastFailureKind,
        failures: { ...s.failures },
        bytesFromClient: s.bytesFromClient,
        bytesToClient: s.bytesToClient,
        clients: clientsPer.get(s.key) ?? 0,
      };
    });
  }

  /** Denied destinations, most recently refused first. */
  deniedRows(limit: number): { total: number; rows: DeniedRow<E>[] } {
    const all = [...this.denied.values()];
    const rows: DeniedRow<E>[] = [];
    for (let i = all.length - 1; i >= 0 && rows.length < limit; i--) {
      const d = all[i]!;
      d.explanation ??= this.explainOnce({
        id: '-',
        at: d.lastSeen,
        client: d.lastClient,
        clientName: null,
        method: d.method,
        host: d.host,
        port: d.port,
        reason: d.lastReason,
        sni: d.sni,
        rule: null,
        catalog: null,
        audit: false,
      });
      rows.push({
        host: d.host,
        port: d.port,
        count: d.count,
        firstSeen: d.firstSeen,
        lastSeen: d.lastSeen,
        lastReason: d.lastReason,
        reasons: { ...d.reasons },
        clients: [...d.clients],
        moreClients: d.moreClients,
        sni: d.sni,
        explanation: d.explanation,
      });
    }
    return { total: all.length, rows };
  }

  /** The latest refusals, newest first. */
  recentDenials(limit: number): DenialView<E>[] {
    return this.recent.slice(-limit).reverse();
  }

  tunnelRows(limit: number): { total: number; rows: TunnelRow[] } {
    const rows: TunnelRow[] = [];
    for (const row of this.tunnels.values()) {
      if (rows.length >= limit) break;
      rows.push(row);
    }
    return { total: this.openTunnels(), rows };
  }

  /** Per-minute counts, oldest first, for the last hour. */
  historyRows(): HistoryBucket[] {
    const horizon = this.now() - 3_600_000;
    return this.history.filter((b) => b.minute >= horizon).map((b) => ({ ...b }));
  }
}

function splitKey(key: string): [string | null, string | null] {
  if (key === UNCATALOGUED) return [null, null];
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
