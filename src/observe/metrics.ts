import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { accessLogTrouble } from './access-log.js';
import type { AccessRecord } from './access-record.js';

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
  logWriteErrors: 'airlock_log_write_errors_total',
  logLinesDropped: 'airlock_log_lines_dropped_total',
} as const;

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
  private readonly reloads: Counter<'result'>;
  private readonly internalErrors: Counter;

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
    this.reloads = new Counter({
      name: METRIC_NAMES.reloads,
      help: 'Configuration reloads',
      labelNames: ['result'],
      registers,
    });
    this.internalErrors = new Counter({
      name: METRIC_NAMES.internalErrors,
      help: 'Unexpected exceptions caught inside a session (the session ended, the gateway kept serving)',
      registers,
    });
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

  record(r: AccessRecord): void {
    const kind = r.method === 'CONNECT' ? 'connect' : r.method === '-' ? 'none' : 'http';
    this.requests.inc({ kind, decision: r.decision, reason: r.reason });
    if (r.bytesFromClient > 0) this.bytes.inc({ direction: 'from_client' }, r.bytesFromClient);
    if (r.bytesToClient > 0) this.bytes.inc({ direction: 'to_client' }, r.bytesToClient);
    if (r.decision !== 'deny') this.duration.observe({ kind }, r.durationMs / 1000);
  }

  internalError(): void {
    this.internalErrors.inc();
  }

  reloaded(ok: boolean): void {
    this.reloads.inc({ result: ok ? 'ok' : 'failed' });
  }
}
