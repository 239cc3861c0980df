import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from '../deps/prom-client.js';
import { accessLogTrouble } from './access-log.js';
import type { AccessRecord } from './access-record.js';
import { failureKind } from './outcome.js';
import { SlotMap } from '../collections/slot-map.js';

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
  workersStale: 'airlock_workers_metrics_stale',
  logWriteErrors: 'airlock_log_write_errors_total',
  logLinesDropped: 'airlock_log_lines_dropped_total',
  relayBytes: 'airlock_relay_bytes_total',
  relayPipes: 'airlock_relay_pipes_open',
  frontGranted: 'airlock_front_granted_total',
  relayBusyPoll: 'airlock_relay_busy_poll_seconds_total',
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

/** The labels of a record outside the catalog (inside it: its entry's product and service). */
const NO_CATALOG = { product: 'none', service: 'none' } as const;

/**
 * Counts by label set, kept in a plain map on the request path and handed to prom-client only
 * when the registry is read: prom-client hashes and validates the labels of every `inc`, which
 * cost a tenth of the gateway's CPU per forwarded request. Label values are given in the order
 * of `labelNames` (no object per call); a row's key is the values joined by NUL (label values
 * never contain one), and its label object is made once, with the row.
 */
class Tally<L extends string> {
  readonly rows = new Map<string, { readonly labels: Record<L, string>; value: number }>();

  constructor(readonly labelNames: readonly L[]) {}

  /** Adds `n` to the row of the label values `a`, `b`, `c` (as many as there are label names). */
  add(n: number, a: string, b?: string, c?: string): void {
    const key = b === undefined ? a : c === undefined ? `${a}\0${b}` : `${a}\0${b}\0${c}`;
    const row = this.rows.get(key);
    if (row !== undefined) row.value += n;
    else this.rows.set(key, { labels: labelsOf(this.labelNames, [a, b, c]), value: n });
  }
}

function labelsOf<L extends string>(
  names: readonly L[],
  values: readonly (string | undefined)[],
): Record<L, string> {
  const labels = {} as Record<L, string>;
  names.forEach((name, i) => (labels[name] = values[i] ?? ''));
  return labels;
}

/** A histogram family as prom-client serves it to the registry (`get()`). */
interface HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: readonly { labels: Record<string, string | number>; value: number; metricName: string }[];
}

/**
 * A histogram counted like a Tally: bucket counts in a typed array per label set, served to
 * the registry in prom-client's own shape (so the exposition and the workers' aggregation are
 * the same as for a prom-client Histogram; a unit test compares the two). prom-client's
 * `observe` builds, validates and hashes a label object per call.
 */
export class TallyHistogram<L extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly rows = new Map<
    string,
    { readonly labels: Record<string, string>; readonly counts: Float64Array; sum: number; count: number }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    readonly labelNames: readonly L[] = [],
    registers: readonly Registry[] = [],
  ) {
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** Counts `value` in the row of the label value `a` (when the histogram has a label). */
  observe(value: number, a = ''): void {
    let row = this.rows.get(a);
    if (row === undefined) {
      row = {
        labels: labelsOf(this.labelNames, [a]),
        counts: new Float64Array(this.bounds.length),
        sum: 0,
        count: 0,
      };
      this.rows.set(a, row);
    }
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        row.counts[i]!++;
        break;
      }
    }
    row.sum += value;
    row.count++;
  }

  /** The family as prom-client's Histogram serves it (`getMetricsAsJSON`, the exposition). */
  get(): HistogramFamily {
    const values: HistogramFamily['values'][number][] = [];
    const bucket = `${this.name}_bucket`;
    for (const row of this.rows.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += row.counts[i]!;
        values.push({ labels: { le, ...row.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...row.labels }, value: row.count, metricName: bucket });
      values.push({ labels: { ...row.labels }, value: row.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...row.labels }, value: row.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset(): void {
    this.rows.clear();
  }
}

/** A counter whose values live in a Tally (read at scrape time). */
function tallyCounter<L extends string>(
  tally: Tally<L>,
  config: { name: string; help: string; registers: Registry[] },
): void {
  new Counter<L>({
    ...config,
    labelNames: tally.labelNames,
    collect() {
      this.reset();
      for (const row of tally.rows.values()) this.inc(row.labels as never, row.value);
    },
  });
}

export interface GatewayGauges {
  connections(): number;
  sessions(): number;
  rules(): number;
  /** The native relay's counters (null: the relay is not loaded). */
  relay?(): RelayCounters | null;
}

/** What the native relay wrote, by how, the pipes it holds for splicing, and its repeat grants. */
export interface RelayCounters {
  readonly splicedBytes: number;
  readonly copiedBytes: number;
  readonly pipesOpen: number;
  /** Request heads the native front connected on a repeat grant, since the start. */
  readonly granted: number;
  /** Nanoseconds the relay thread busy polled before events came (`engine.busyPollUs`). */
  readonly polledFoundNs: number;
  /** Nanoseconds it busy polled and then slept all the same. */
  readonly polledSleptNs: number;
}

/**
 * Prometheus metrics fed from access records (one update per finished request or tunnel,
 * never per byte) and from gauges read at scrape time.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Tally(['kind', 'decision', 'reason'] as const);
  private readonly bytes = new Tally(['direction'] as const);
  private readonly duration: TallyHistogram<'kind'>;
  private readonly internalErrors: Counter;
  private readonly serviceRequests = new Tally(['product', 'service', 'decision'] as const);
  private readonly serviceFailures = new Tally(['product', 'service', 'kind'] as const);
  private readonly serviceBytes = new Tally(['product', 'service', 'direction'] as const);
  /** Open tunnels by product and service (a gauge: the final record takes its count back out). */
  private readonly tunnelsOpen = new Tally(['product', 'service'] as const);
  private readonly connectSetup: TallyHistogram;
  private readonly upstreamConnect: TallyHistogram;
  private readonly dnsAnswers = new Tally(['result'] as const);
  /** Tunnels counted in airlock_tunnels_open, by record id: the final record takes its own labels back out. */
  private readonly openTunnels = new SlotMap<string, { product: string; service: string }>();

  constructor(gauges: GatewayGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'airlock_' });
    tallyCounter(this.requests, {
      name: METRIC_NAMES.requests,
      help: 'Finished requests and tunnels by method kind, decision and reason code',
      registers,
    });
    tallyCounter(this.bytes, {
      name: METRIC_NAMES.bytes,
      help: 'Bytes moved through finished requests and tunnels',
      registers,
    });
    this.duration = new TallyHistogram(
      METRIC_NAMES.duration,
      'Duration of finished requests and tunnels',
      [0.01, 0.05, 0.25, 1, 5, 30, 120, 600, 3600],
      ['kind'],
      registers,
    );
    tallyCounter(this.serviceRequests, {
      name: METRIC_NAMES.serviceRequests,
      help: 'Finished requests and tunnels by catalog product and service ("none" outside the catalog) and decision',
      registers,
    });
    tallyCounter(this.serviceFailures, {
      name: METRIC_NAMES.serviceFailures,
      help: 'Requests the policy allowed that did not reach their service, by catalog product, service and kind (dns, connect, upstream_reset, upstream_timeout, sni, address)',
      registers,
    });
    tallyCounter(this.serviceBytes, {
      name: METRIC_NAMES.serviceBytes,
      help: 'Bytes moved through finished requests and tunnels by catalog product and service',
      registers,
    });
    const tunnelsOpen = this.tunnelsOpen;
    new Gauge({
      name: METRIC_NAMES.tunnelsOpen,
      help: 'Established tunnels open, by catalog product and service',
      labelNames: tunnelsOpen.labelNames,
      registers,
      collect() {
        this.reset();
        for (const row of tunnelsOpen.rows.values()) this.set(row.labels, row.value);
      },
    });
    this.connectSetup = new TallyHistogram(
      METRIC_NAMES.connectSetup,
      'CONNECT setup time: request head received to 200 sent (DNS and upstream connect included)',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      [],
      registers,
    );
    this.upstreamConnect = new TallyHistogram(
      METRIC_NAMES.upstreamConnect,
      'Upstream TCP connect time for tunnels: first attempt to connected (DNS excluded)',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      [],
      registers,
    );
    tallyCounter(this.dnsAnswers, {
      name: METRIC_NAMES.dnsAnswers,
      help: 'Upstream name lookups by result (static: hosts/configuration; cached; cached_failure; or the DNS answer)',
      registers,
    });
    this.internalErrors = new Counter({
      name: METRIC_NAMES.internalErrors,
      help: 'Unexpected exceptions caught inside a session (the session ended, the gateway kept serving)',
      registers,
    });
    for (const result of DNS_RESULTS) this.dnsAnswers.add(0, result);
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
    const relay = (): RelayCounters =>
      gauges.relay?.() ?? {
        splicedBytes: 0,
        copiedBytes: 0,
        pipesOpen: 0,
        granted: 0,
        polledFoundNs: 0,
        polledSleptNs: 0,
      };
    new Counter({
      name: METRIC_NAMES.relayBytes,
      help: "Bytes the native relay wrote to tunnel sockets, by path: splice (bulk transfers, past a direction's first 64 KiB) or copy",
      labelNames: ['path'],
      registers,
      collect() {
        const now = relay();
        this.reset();
        this.inc({ path: 'splice' }, now.splicedBytes);
        this.inc({ path: 'copy' }, now.copiedBytes);
      },
    });
    new Gauge({
      name: METRIC_NAMES.relayPipes,
      help: 'Pipes the native relay holds for splicing (two descriptors each; at most 32 per process)',
      registers,
      collect() {
        this.set(relay().pipesOpen);
      },
    });
    new Counter({
      name: METRIC_NAMES.frontGranted,
      help: "CONNECT requests the native front connected on a repeat grant (the same client's identical request, decided moments before), without waiting for the gateway's decision",
      registers,
      collect() {
        this.reset();
        this.inc(relay().granted);
      },
    });
    new Counter({
      name: METRIC_NAMES.relayBusyPoll,
      help: 'Time the native relay thread spent busy polling (engine.busyPollUs), by outcome: found (events came while it polled) or slept (none came: CPU spent for nothing)',
      labelNames: ['outcome'],
      registers,
      collect() {
        const now = relay();
        this.reset();
        this.inc({ outcome: 'found' }, now.polledFoundNs / 1e9);
        this.inc({ outcome: 'slept' }, now.polledSleptNs / 1e9);
      },
    });
    new Gauge({
      name: METRIC_NAMES.rules,
      help: 'Destination rules in the policy in force',
      registers,
      // Every worker holds the whole policy: across workers this is one number, not a sum. The
      // smallest: right after a reload it reads the new count once every worker has it.
      aggregator: 'min',
      collect() {
        this.set(gauges.rules());
      },
    });
  }

  /** A tunnel was established. */
  opened(r: AccessRecord): void {
    const labels = r.catalog ?? NO_CATALOG;
    this.openTunnels.set(r.id, labels);
    this.tunnelsOpen.add(1, labels.product, labels.service);
    if (r.setupMs !== null) this.connectSetup.observe(r.setupMs / 1000);
    if (r.upstreamConnectMs !== null) this.upstreamConnect.observe(r.upstreamConnectMs / 1000);
  }

  /** A request or tunnel is over (or was refused). */
  record(r: AccessRecord): void {
    const kind = r.method === 'CONNECT' ? 'connect' : r.method === '-' ? 'none' : 'http';
    const { decision, reason } = r;
    this.requests.add(1, kind, decision, reason);
    if (r.bytesFromClient > 0) this.bytes.add(r.bytesFromClient, 'from_client');
    if (r.bytesToClient > 0) this.bytes.add(r.bytesToClient, 'to_client');
    if (decision !== 'deny') this.duration.observe(r.durationMs / 1000, kind);
    const { product, service } = r.catalog ?? NO_CATALOG;
    this.serviceRequests.add(1, product, service, decision);
    const open = this.openTunnels.get(r.id);
    if (open !== undefined) {
      this.openTunnels.delete(r.id);
      this.tunnelsOpen.add(-1, open.product, open.service);
    }
    const failure = failureKind(r);
    if (failure !== null) this.serviceFailures.add(1, product, service, failure);
    if (r.bytesFromClient > 0) this.serviceBytes.add(r.bytesFromClient, product, service, 'from_client');
    if (r.bytesToClient > 0) this.serviceBytes.add(r.bytesToClient, product, service, 'to_client');
  }

  /** An upstream name lookup was answered. */
  dnsAnswer(result: DnsResult): void {
    this.dnsAnswers.add(1, result);
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
  private readonly workersStale: Gauge;

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
    this.workersStale = new Gauge({
      name: METRIC_NAMES.workersStale,
      help: 'Workers whose figures in this scrape are those of their last answer: they did not answer within 2 s, or exited and wait for their replacement',
      registers,
    });
  }

  /** How many workers' figures in the scrape being assembled are their last answer's. */
  staleWorkers(count: number): void {
    this.workersStale.set(count);
  }

  reloaded(ok: boolean, at: number, generation: number): void {
    this.reloads.inc({ result: ok ? 'ok' : 'failed' });
    this.lastReload.set(at / 1000);
    this.lastReloadSuccess.set(ok ? 1 : 0);
    this.generation.set(generation);
  }
}
