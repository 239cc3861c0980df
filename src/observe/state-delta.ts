import type { ReasonCode } from '../errors/index.js';
import type { AccessRecord, RecordCatalog } from './access-record.js';
import { failureKind, isSuccess, serviceKey, type FailureKind } from './outcome.js';
import { SlotMap } from '../collections/slot-map.js';

/**
 * What a gateway process saw since its last report, aggregated by key: one entry per client,
 * service and denied destination however many requests there were. Plain data, sent over IPC
 * from each worker to the supervisor about once a second and merged there (ObservedState).
 */
export interface StateDelta {
  /** When the delta was taken (ms since epoch). */
  readonly at: number;
  readonly opened: readonly TunnelInfo[];
  /** Ids of tunnels reported open earlier that are now over. */
  readonly closed: readonly string[];
  readonly clients: readonly ClientDelta[];
  readonly services: readonly ServiceDelta[];
  readonly denied: readonly DeniedDelta[];
  /** The latest refusals, newest last (at most `maxDenialsPerReport`). */
  readonly denials: readonly DenialInfo[];
  /** Refusals left out of `denials` and keys left out of the maps (the report was full). */
  readonly dropped: number;
  readonly totals: Totals;
}

export interface Totals {
  allowed: number;
  denied: number;
  failed: number;
  opened: number;
  bytesFromClient: number;
  bytesToClient: number;
}

/** An established tunnel. */
export interface TunnelInfo {
  readonly id: string;
  readonly client: string;
  readonly clientName: string | null;
  readonly host: string;
  readonly port: number;
  readonly catalog: RecordCatalog | null;
  readonly service: string;
  /** When its request head arrived (ms since epoch). */
  readonly since: number;
  readonly upstream: string | null;
  readonly setupMs: number | null;
  readonly decision: AccessRecord['decision'];
}

/** One refused request, as the live tail shows it. */
export interface DenialInfo {
  readonly id: string;
  readonly at: number;
  readonly client: string;
  readonly clientName: string | null;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly reason: ReasonCode;
  readonly sni: string | null;
  readonly rule: string | null;
  readonly catalog: RecordCatalog | null;
  /** Audit mode: let through, but the policy refuses it. */
  readonly audit: boolean;
}

export interface ClientDelta {
  readonly address: string;
  name: string | null;
  first: number;
  last: number;
  allowed: number;
  denied: number;
  failed: number;
  bytesFromClient: number;
  bytesToClient: number;
  /** Last allowed request per service key: [service key, at, host]. */
  readonly services: Map<string, [number, string]>;
  /** The latest refusals of this client (newest last). */
  readonly denials: DenialBrief[];
}

export interface DenialBrief {
  readonly at: number;
  readonly host: string;
  readonly port: number;
  readonly reason: ReasonCode;
}

export interface ServiceDelta {
  readonly key: string;
  readonly product: string | null;
  readonly service: string | null;
  requests: number;
  successes: number;
  lastSuccess: number | null;
  lastFailure: number | null;
  lastFailureKind: FailureKind | null;
  readonly failures: Partial<Record<FailureKind, number>>;
  bytesFromClient: number;
  bytesToClient: number;
}

export interface DeniedDelta {
  /** `host:port`. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  count: number;
  first: number;
  last: number;
  lastReason: ReasonCode;
  readonly reasons: Partial<Record<ReasonCode, number>>;
  readonly clients: string[];
  sni: string | null;
  method: string;
}

export interface RecorderLimits {
  /** Refusals carried in full per report (the rest are counted). */
  readonly maxDenialsPerReport: number;
  /** Distinct clients, or denied destinations, per report. */
  readonly maxKeysPerReport: number;
  /** Client addresses kept per denied destination. */
  readonly maxClientsPerDestination: number;
  /** Refusals kept per client. */
  readonly maxDenialsPerClient: number;
}

export const RECORDER_LIMITS: RecorderLimits = {
  maxDenialsPerReport: 200,
  maxKeysPerReport: 50_000,
  maxClientsPerDestination: 16,
  maxDenialsPerClient: 5,
};

function emptyTotals(): Totals {
  return { allowed: 0, denied: 0, failed: 0, opened: 0, bytesFromClient: 0, bytesToClient: 0 };
}

/**
 * Collects one gateway process's records into a StateDelta. Per record: a few map lookups and
 * counter updates; memory is bounded by what one report may hold.
 */
export class StateRecorder {
  private opened = new SlotMap<string, TunnelInfo>();
  private closed: string[] = [];
  private clients = new Map<string, ClientDelta>();
  private services = new Map<string, ServiceDelta>();
  private denied = new Map<string, DeniedDelta>();
  private denials: DenialInfo[] = [];
  private dropped = 0;
  private totals = emptyTotals();

  constructor(
    private readonly limits: RecorderLimits = RECORDER_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A tunnel was established. */
  tunnelOpened(r: AccessRecord): void {
    const at = this.now();
    const key = serviceKey(r.catalog);
    this.opened.set(r.id, {
      id: r.id,
      client: r.client,
      clientName: r.clientName,
      host: r.host,
      port: r.port,
      catalog: r.catalog,
      service: key,
      since: r.start,
      upstream: r.upstream,
      setupMs: r.setupMs,
      decision: r.decision,
    });
    this.totals.opened++;
    const client = this.client(r, at);
    if (client !== null) client.services.set(key, [at, r.host]);
    const service = this.service(r.catalog, key);
    service.successes++;
    service.lastSuccess = at;
  }

  /** A request or tunnel is over, or was refused. */
  finished(r: AccessRecord): void {
    const at = this.now();
    const key = serviceKey(r.catalog);
    const wasOpen = r.method === 'CONNECT' && r.status === 200;
    if (wasOpen && !this.opened.delete(r.id)) this.closed.push(r.id);
    const client = this.client(r, at);
    const denied = r.decision === 'deny';
    const totals = this.totals;
    totals.bytesFromClient += r.bytesFromClient;
    totals.bytesToClient += r.bytesToClient;
    if (denied || r.decision === 'would_deny') this.refusal(r, at, client);
    if (denied) {
      totals.denied++;
      if (client !== null) client.denied++;
    }
    const failure = failureKind(r);
    // A policy refusal never reached a service.
    if (denied && failure === null) return;
    const service = this.service(r.catalog, key);
    service.requests++;
    service.bytesFromClient += r.bytesFromClient;
    service.bytesToClient += r.bytesToClient;
    if (client !== null) {
      client.bytesFromClient += r.bytesFromClient;
      client.bytesToClient += r.bytesToClient;
    }
    if (failure !== null) {
      totals.failed++;
      if (client !== null) client.failed++;
      service.failures[failure] = (service.failures[failure] ?? 0) + 1;
      service.lastFailure = at;
      service.lastFailureKind = failure;
    }
    if (denied) return;
    if (failure === null) totals.allowed++;
    if (wasOpen) {
      // Its success was counted when it opened.
      if (client !== null) client.allowed++;
    } else if (isSuccess(r)) {
      if (client !== null) {
        client.allowed++;
        client.services.set(key, [at, r.host]);
      }
      service.successes++;
      service.lastSuccess = at;
    }
  }

  private client(r: AccessRecord, at: number): ClientDelta | null {
    let client = this.clients.get(r.client);
    if (client === undefined) {
      if (this.clients.size >= this.limits.maxKeysPerReport) {
        this.dropped++;
        return null;
      }
      client = {
        address: r.client,
        name: r.clientName,
        first: at,
        last: at,
        allowed: 0,
        denied: 0,
        failed: 0,
        bytesFromClient: 0,
        bytesToClient: 0,
        services: new Map(),
        denials: [],
      };
      this.clients.set(r.client, client);
    } else {
      client.last = at;
      if (r.clientName !== null) client.name = r.clientName;
    }
    return client;
  }

  private service(catalog: RecordCatalog | null, key: string): ServiceDelta {
    let service = this.services.get(key);
    if (service === undefined) {
      service = {
        key,
        product: catalog?.product ?? null,
        service: catalog?.service ?? null,
        requests: 0,
        successes: 0,
        lastSuccess: null,
        lastFailure: null,
        lastFailureKind: null,
        failures: {},
        bytesFromClient: 0,
        bytesToClient: 0,
      };
      this.services.set(key, service);
    }
    return service;
  }

  private refusal(r: AccessRecord, at: number, client: ClientDelta | null): void {
    const limits = this.limits;
    const audit = r.decision === 'would_deny';
    if (client !== null && !audit) {
      client.denials.push({ at, host: r.host, port: r.port, reason: r.reason });
      if (client.denials.length > limits.maxDenialsPerClient) client.denials.shift();
    }
    if (this.denials.length >= limits.maxDenialsPerReport) {
      this.denials.shift();
      this.dropped++;
    }
    this.denials.push({
      id: r.id,
      at,
      client: r.client,
      clientName: r.clientName,
      method: r.method,
      host: r.host,
      port: r.port,
      reason: r.reason,
      sni: r.sni,
      rule: r.rule,
      catalog: r.catalog,
      audit,
    });
    const key = `${r.host}:${r.port}`;
    let dest = this.denied.get(key);
    if (dest === undefined) {
      if (this.denied.size >= limits.maxKeysPerReport) {
        this.dropped++;
        return;
      }
      dest = {
        key,
        host: r.host,
        port: r.port,
        count: 0,
        first: at,
        last: at,
        lastReason: r.reason,
        reasons: {},
        clients: [],
        sni: r.sni,
        method: r.method,
      };
      this.denied.set(key, dest);
    }
    dest.count++;
    dest.last = at;
    dest.lastReason = r.reason;
    dest.reasons[r.reason] = (dest.reasons[r.reason] ?? 0) + 1;
    if (r.sni !== null) dest.sni = r.sni;
    dest.method = r.method;
    if (dest.clients.length < limits.maxClientsPerDestination && !dest.clients.includes(r.client))
      dest.clients.push(r.client);
  }

  /** What was recorded since the last call, or null when nothing was. Starts a new report. */
  take(): StateDelta | null {
    if (
      this.opened.size === 0 &&
      this.closed.length === 0 &&
      this.clients.size === 0 &&
      this.services.size === 0 &&
      this.denied.size === 0
    )
      return null;
    const delta: StateDelta = {
      at: this.now(),
      // In the order they opened (the table keeps them in no order).
      opened: this.opened.values().sort((a, b) => a.since - b.since),
      closed: this.closed,
      clients: [...this.clients.values()],
      services: [...this.services.values()],
      denied: [...this.denied.values()],
      denials: this.denials,
      dropped: this.dropped,
      totals: this.totals,
    };
    this.opened = new SlotMap();
    this.closed = [];
    this.clients = new Map();
    this.services = new Map();
    this.denied = new Map();
    this.denials = [];
    this.dropped = 0;
    this.totals = emptyTotals();
    return delta;
  }
}

/** A delta as it crosses IPC (JSON): maps become arrays of pairs. */
export function deltaToWire(delta: StateDelta): unknown {
  return {
    ...delta,
    clients: delta.clients.map((c) => ({ ...c, services: [...c.services] })),
  };
}

/** The inverse of deltaToWire. */
export function deltaFromWire(wire: unknown): StateDelta {
  const d = wire as StateDelta & {
    clients: (Omit<ClientDelta, 'services'> & { services: [string, [number, string]][] })[];
  };
  return {
    ...d,
    clients: d.clients.map((c) => ({ ...c, services: new Map(c.services) })),
  };
}
