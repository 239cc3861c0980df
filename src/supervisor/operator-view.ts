import {
  PRODUCT_LABELS,
  SERVICE_LABELS,
  builtinCatalog,
  explainDenial,
  type ExplainContext,
  type Explanation,
  type Product,
  type Service,
} from '../catalog/index.js';
import {
  ObservedState,
  UNCATALOGUED,
  idleServiceRow,
  type DenialInfo,
  type ServiceRow,
  type StateDelta,
} from '../observe/index.js';
import type { LoadedConfig } from './load-config.js';

type Listener = (event: string, data: unknown) => void;

/** At most this many changed clients go into one `clients` event; the rest are counted. */
const CLIENTS_PER_EVENT = 100;

function explainContext(loaded: LoadedConfig): ExplainContext {
  return {
    policy: loaded.policy,
    catalog: builtinCatalog(),
    selection: loaded.config.file.catalog,
    catalogInForce: loaded.catalogInForce,
    ruleFiles: loaded.ruleFiles,
  };
}

function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const value = Number(query.get(name));
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}

/** A service row with the catalog's words for it. */
export type ServiceView = ServiceRow & {
  readonly productLabel: string | null;
  readonly serviceLabel: string | null;
};

function labelled(row: ServiceRow): ServiceView {
  return {
    ...row,
    productLabel: row.product === null ? null : (PRODUCT_LABELS[row.product as Product] ?? null),
    serviceLabel: row.service === null ? null : (SERVICE_LABELS[row.service as Service] ?? null),
  };
}

/**
 * The supervisor's side of the operator view: merges the members' state reports, explains
 * refusals with the policy in force, answers the admin API's views and feeds its event stream.
 */
export class OperatorView {
  readonly state: ObservedState<Explanation> | null;
  private context: ExplainContext;
  private policyServices: { product: string; service: string; key: string }[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(loaded: LoadedConfig) {
    const observe = loaded.config.file.observe;
    this.context = explainContext(loaded);
    this.policyServices = servicesOf(loaded);
    this.state = observe.state
      ? new ObservedState<Explanation>(
          {
            maxClients: observe.maxClients,
            maxDeniedDestinations: observe.maxDeniedDestinations,
            maxAgeMs: observe.maxAge,
            recentDenials: observe.recentDenials,
            maxTunnels: 200_000,
          },
          (d: DenialInfo) => explainDenial(d, this.context),
        )
      : null;
  }

  /** A reload was applied: explanations follow the new policy. */
  configure(loaded: LoadedConfig): void {
    this.context = explainContext(loaded);
    this.policyServices = servicesOf(loaded);
    this.state?.resetExplanations();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: string, data: unknown): void {
    for (const listener of this.listeners) listener(event, data);
  }

  get listening(): boolean {
    return this.listeners.size > 0;
  }

  /** Merges a member's report and tells the event stream what changed. */
  apply(delta: StateDelta, source: string): void {
    const state = this.state;
    if (state === null) return;
    const changes = state.apply(delta, source);
    if (!this.listening) return;
    if (changes.denials.length > 0) this.emit('denials', { rows: changes.denials });
    if (changes.opened.length > 0 || changes.closed.length > 0) {
      this.emit('tunnels', { opened: changes.opened, closed: changes.closed.map((t) => t.id) });
    }
    if (changes.services.length > 0) {
      const keys = new Set(changes.services);
      this.emit('services', { rows: (this.services()?.rows ?? []).filter((r) => keys.has(r.key)) });
    }
    if (changes.clients.length > 0) {
      const rows = changes.clients.slice(0, CLIENTS_PER_EVENT).map((a) => state.clientRow(a));
      this.emit('clients', { rows, more: Math.max(0, changes.clients.length - CLIENTS_PER_EVENT) });
    }
  }

  /** A member is gone (its tunnels with it). */
  dropSource(source: string): void {
    const gone = this.state?.dropSource(source) ?? [];
    if (gone.length > 0) this.emit('tunnels', { opened: [], closed: gone.map((t) => t.id) });
  }

  summary(): Record<string, unknown> {
    const state = this.state;
    if (state === null) return { state: false };
    return { state: true, at: Date.now(), ...state.counts(), totals: { ...state.totals } };
  }

  clients(query: URLSearchParams): unknown {
    const state = this.state;
    if (state === null) return null;
    const since = query.get('sinceSeconds');
    const { total, rows } = state.clientRows({
      search: query.get('q') ?? undefined,
      service: query.get('service') ?? undefined,
      sinceMs: since === null || !/^\d+$/.test(since) ? undefined : Number(since) * 1000,
      limit: intParam(query, 'limit', 200, 5000),
    });
    return { total, rows };
  }

  client(address: string): unknown {
    return this.state?.clientRow(address) ?? null;
  }

  /** One row per catalog service the policy opens (idle ones too) and per service seen, `-` for traffic outside the catalog. */
  services(): { rows: ServiceView[] } | null {
    const state = this.state;
    if (state === null) return null;
    const seen = new Map(state.serviceRows().map((r) => [r.key, r]));
    const rows: ServiceView[] = [];
    for (const s of this.policyServices) {
      const row = seen.get(s.key);
      seen.delete(s.key);
      rows.push(labelled(row ?? idleServiceRow(s.key, s.product, s.service)));
    }
    for (const row of seen.values()) rows.push(labelled(row));
    rows.sort((a, b) =>
      a.key === UNCATALOGUED ? 1 : b.key === UNCATALOGUED ? -1 : a.key.localeCompare(b.key),
    );
    return { rows };
  }

  denials(query: URLSearchParams): unknown {
    const state = this.state;
    if (state === null) return null;
    const limit = intParam(query, 'limit', 100, 5000);
    const destinations = state.deniedRows(limit);
    return { recent: state.recentDenials(limit), destinations: destinations.rows, total: destinations.total };
  }

  tunnels(query: URLSearchParams): unknown {
    const state = this.state;
    if (state === null) return null;
    return state.tunnelRows(intParam(query, 'limit', 1000, 50_000));
  }

  history(): unknown {
    return this.state === null ? null : { minutes: this.state.historyRows() };
  }
}

/** The catalog services the policy's rules open, once each. */
function servicesOf(loaded: LoadedConfig): { product: string; service: string; key: string }[] {
  const seen = new Map<string, { product: string; service: string; key: string }>();
  for (const rule of loaded.policy.rules) {
    for (const ref of rule.origin.catalog ?? []) {
      const key = `${ref.product}/${ref.service}`;
      if (!seen.has(key)) seen.set(key, { product: ref.product, service: ref.service, key });
    }
  }
  return [...seen.values()];
}
