import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { accessLogTrouble } from './access-log.js';
import type { AccessRecord } from './access-record.js';
import { failureKind } from './outcome.js';

/** Metric names: the fixed vocabulary for dashboards and alerts. Labels never take free-form values. */
export const METRIC_NAMES = {
  requests: 'airlock_requests_total',
  bytes: 'airlock_bytes_total',
  duration: 'airlock_session_duration_seconds',
  connectionsOpen: 'airlock_connections_open',
  sessionsOpen: 'airlock_sessions_open',
  reloads: 'airlock_reloads_total',
  rules: 'airlock_policy_rules',
  internalErrors: 'airlock_internal_errors_total',
  serviceRequests: 'airlock_service_requests_total',
  serviceFailures: 'airlock_service_failures_total',
  serviceBytes: 'airlock_service_bytes_total',
  tunnelsOpen: 'airlock_tunnels_open',
  connectSetup: 'airlock_connect_setup_seconds',
  upstreamConnect: 'airlock_upstream_connect_seconds',
  dnsAnswers: 'airlock_dns_answers_total',
  lastReload: 'airlock_last_reload_timestamp_seconds',
  lastReloadSuccess: 'airlock_last_reload_success',
  configGeneration: 'airlock_config_generation',
  logWriteErrors: 'airlock_log_write_errors_total',
  logLinesDropped: 'airlock_log_lines_dropped_total',
} as const;

/** How a DNS lookup for an upstream was answered. A fixed set: it is a metric label. */
export const DNS_RESULTS = [
  'static',
  'cached',
  'cached_failure',
  'ok',
  'nxdomain',
  'nodata',
  'servfail',
  'refused',
  'timeout',
  'error',
] as const;
export type DnsResult = (typeof DNS_RESULTS)[number];

/** The label a record's catalog entry gives: product and service from the catalog's fixed lists, or "none". */
function catalogLabels(r: AccessRecord): { product: string; service: string } {
  return r.catalog === null ? NO_CATALOG : { product: r.catalog.product, service: r.catalog.service };
}
const NO_CATALOG = { product: 'none', service: 'none' } as const;

export interface GatewayGauges {
  connections(): number;
  sessions(): number;
  rules(): number;
}

/**
 * Prometheus metrics fed from access records (one update per finished request or tunnel,
 * never per byte) and from gauges read at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'kind' | 'decision' | 'reason'>;
  private readonly bytes: Counter<'direction'>;
  private readonly duration: Histogram<'kind'>;
  private readonly internalErrors: Counter;
  private readonly serviceRequests: Counter<'product' | 'service' | 'decision'>;
  private readonly serviceFailures: Counter<'product' | 'service' | 'kind'>;
  private readonly serviceBytes: Counter<'product' | 'service' | 'direction'>;
  private readonly tunnelsOpen: Gauge<'product' | 'service'>;
  private readonly connectSetup: Histogram;
  private readonly upstreamConnect: Histogram;
  private readonly dnsAnswers: Counter<'result'>;
  /** Tunnels counted in airlock_tunnels_open, by record id: the final record takes its own labels back out. */
  private readonly openTunnels = new Map<string, { product: string; service: string }>();

  constructor(gauges: GatewayGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'airlock_' });
    this.requests = new Counter({
      name: METRIC_NAMES.requests,
      help: 'Finished requests and tunnels by method kind, decision and reason code',
      labelNames: ['kind', 'decision', 'reason'],
      registers,
    });
    this.bytes = new Counter({
      name: METRIC_NAMES.bytes,
      help: 'Bytes moved through finished requests and tunnels',
      labelNames: ['direction'],
      registers,
    });
    this.duration = new Histogram({
      name: METRIC_NAMES.duration,
      help: 'Duration of finished requests and tunnels',
      labelNames: ['kind'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120, 600, 3600],
      registers,
    });
    this.serviceRequests = new Counter({
      name: METRIC_NAMES.serviceRequests,
      help: 'Finished requests and tunnels by catalog product and service ("none" outside the catalog) and decision',
      labelNames: ['product', 'service', 'decision'],
      registers,
    });
    this.serviceFailures = new Counter({
      name: METRIC_NAMES.serviceFailures,
      help: 'Requests the policy allowed that did not reach their service, by catalog product, service and kind (dns, connect, upstream_reset, upstream_timeout, sni, address)',
      labelNames: ['product', 'service', 'kind'],
      registers,
    });
    this.serviceBytes = new Counter({
      name: METRIC_NAMES.serviceBytes,
      help: 'Bytes moved through finished requests and tunnels by catalog product and service',
      labelNames: ['product', 'service', 'direction'],
      registers,
    });
    this.tunnelsOpen = new Gauge({
      name: METRIC_NAMES.tunnelsOpen,
      help: 'Established tunnels open, by catalog product and service',
      labelNames: ['product', 'service'],
      registers,
    });
    this.connectSetup = new Histogram({
      name: METRIC_NAMES.connectSetup,
      help: 'CONNECT setup time: request head received to 200 sent (DNS and upstream connect included)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.upstreamConnect = new Histogram({
      name: METRIC_NAMES.upstreamConnect,
      help: 'Upstream TCP connect time for tunnels: first attempt to connected (DNS excluded)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.dnsAnswers = new Counter({
      name: METRIC_NAMES.dnsAnswers,
      help: 'Upstream name lookups by result (static: hosts/configuration; cached; cached_failure; or the DNS answer)',
      labelNames: ['result'],
      registers,
    });
    this.internalErrors = new Counter({
      name: METRIC_NAMES.internalErrors,
      help: 'Unexpected exceptions caught inside a session (the session ended, the gateway kept serving)',
      registers,
    });
    for (const result of DNS_RESULTS) this.dnsAnswers.inc({ result }, 0);
    // Read from the access log's own tally at scrape time (it counts for the whole process).
    new Counter({
      name: METRIC_NAMES.logWriteErrors,
      help: 'Failed writes of the access log (disk full, I/O error, file unreachable); each attempt, retried every second',
      registers,
      collect() {
        this.reset();
        this.inc(accessLogTrouble().writeErrors);
      },
    });
    new Counter({
      name: METRIC_NAMES.logLinesDropped,
      help: 'Access-log lines dropped because the log could not be written and its memory buffer was full',
      registers,
      collect() {
        this.reset();
        this.inc(accessLogTrouble().linesDropped);
      },
    });
    new Gauge({
      name: METRIC_NAMES.connectionsOpen,
      help: 'Client connections open',
      registers,
      collect() {
        this.set(gauges.connections());
      },
    });
    new Gauge({
      name: METRIC_NAMES.sessionsOpen,
      help: 'Tunnels and forwarded requests in flight',
      registers,
      collect() {
        this.set(gauges.sessions());
      },
    });
    new Gauge({
      name: METRIC_NAMES.rules,
      help: 'Destination rules in the policy in force',
      registers,
      collect() {
        this.set(gauges.rules());
      },
    });
  }

  /** A tunnel was established. */
  opened(r: AccessRecord): void {
    const labels = catalogLabels(r);
    this.openTunnels.set(r.id, labels);
    this.tunnelsOpen.inc(labels);
    if (r.setupMs !== null) this.connectSetup.observe(r.setupMs / 1000);
    if (r.upstreamConnectMs !== null) this.upstreamConnect.observe(r.upstreamConnectMs / 1000);
  }

  /** A request or tunnel is over (or was refused). */
  record(r: AccessRecord): void {
    const kind = r.method === 'CONNECT' ? 'connect' : r.method === '-' ? 'none' : 'http';
    this.requests.inc({ kind, decision: r.decision, reason: r.reason });
    if (r.bytesFromClient > 0) this.bytes.inc({ direction: 'from_client' }, r.bytesFromClient);
    if (r.bytesToClient > 0) this.bytes.inc({ direction: 'to_client' }, r.bytesToClient);
    if (r.decision !== 'deny') this.duration.observe({ kind }, r.durationMs / 1000);
    const labels = catalogLabels(r);
    this.serviceRequests.inc({ ...labels, decision: r.decision });
    const open = this.openTunnels.get(r.id);
    if (open !== undefined) {
      this.openTunnels.delete(r.id);
      this.tunnelsOpen.dec(open);
    }
    const failure = failureKind(r);
    if (failure !== null) this.serviceFailures.inc({ ...labels, kind: failure });
    if (r.bytesFromClient > 0)
      this.serviceBytes.inc({ ...labels, direction: 'from_client' }, r.bytesFromClient);
    if (r.bytesToClient > 0) this.serviceBytes.inc({ ...labels, direction: 'to_client' }, r.bytesToClient);
  }

  /** An upstream name lookup was answered. */
  dnsAnswer(result: DnsResult): void {
    this.dnsAnswers.inc({ result });
  }

  /** An exception a session did not expect was caught (the session ended). */
  internalError(): void {
    this.internalErrors.inc();
  }
}

/**
 * The supervisor's own metrics: configuration generation and reload outcomes. Served alongside
 * the workers' (one process reports them, so the aggregate is the value).
 */
export class SupervisorMetrics {
  readonly registry = new Registry();
  private readonly reloads: Counter<'result'>;
  private readonly lastReload: Gauge;
  private readonly lastReloadSuccess: Gauge;
  private readonly generation: Gauge;

  constructor() {
    const registers = [this.registry];
    this.reloads = new Counter({
      name: METRIC_NAMES.reloads,
      help: 'Configuration reloads',
      labelNames: ['result'],
      registers,
    });
    this.reloads.inc({ result: 'ok' }, 0);
    this.reloads.inc({ result: 'failed' }, 0);
    this.lastReload = new Gauge({
      name: METRIC_NAMES.lastReload,
      help: 'When the configuration was last reloaded or a reload was refused (seconds since epoch; 0: never)',
      registers,
    });
    this.lastReloadSuccess = new Gauge({
      name: METRIC_NAMES.lastReloadSuccess,
      help: 'Whether the last reload was applied (1) or refused, keeping the running configuration (0); 1 before any reload',
      registers,
    });
    this.lastReloadSuccess.set(1);
    this.generation = new Gauge({
      name: METRIC_NAMES.configGeneration,
      help: 'Configuration generation in force: 1 at start, +1 per applied reload',
      registers,
    });
    this.generation.set(1);
  }

  reloaded(ok: boolean, at: number, generation: number): void {
    this.reloads.inc({ result: ok ? 'ok' : 'failed' });
    this.lastReload.set(at / 1000);
    this.lastReloadSuccess.set(ok ? 1 : 0);
    this.generation.set(generation);
  }
}
