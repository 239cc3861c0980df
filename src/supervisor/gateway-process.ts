import type { Logger } from '../deps/pino.js';
import { loadNative, type Gateway, type OriginFormResponder, type ShutdownResult } from '../gateway/index.js';
import {
  AccessLog,
  GatewayMetrics,
  StateRecorder,
  type AccessLogSink,
  type StateDelta,
} from '../observe/index.js';
import { buildGateway } from './build-gateway.js';
import { openFilesLimit } from './options.js';
import type { LoadedConfig } from './load-config.js';
import { RecordEnricher } from './record-enricher.js';

export interface ProcessStats {
  readonly connections: number;
  readonly sessions: number;
  readonly rules: number;
  readonly pid: number;
  /** Configuration generation this process applies. */
  readonly generation: number;
  readonly relayed: number;
}

/**
 * One gateway in one process: the gateway, its access log, its metrics and what it reports
 * for the operator view. The supervisor drives it directly (single process) or through IPC
 * (one per worker). Every record passes the enricher (client name, catalog entry), then goes to
 * the log, the metrics and the state recorder.
 */
export class GatewayProcess {
  readonly gateway: Gateway;
  readonly metrics: GatewayMetrics;
  private readonly accessLog: AccessLog;
  private readonly recorder: StateRecorder | null;
  private enricher: RecordEnricher;
  generation = 1;

  constructor(loaded: LoadedConfig, originForm: OriginFormResponder | null, ops: Logger) {
    const file = loaded.config.file;
    this.accessLog = new AccessLog({ format: file.log.format, file: file.log.file });
    let gateway: Gateway | null = null;
    this.metrics = new GatewayMetrics({
      connections: () => gateway?.stats().connections ?? 0,
      sessions: () => gateway?.stats().sessions ?? 0,
      rules: () => gateway?.currentPolicy.rules.length ?? 0,
      relay: () => {
        const addon = loadNative().addon;
        // (An addon from other sources, which might lack these counters, is never loaded.)
        if (addon === null) return null;
        const [splicedBytes, copiedBytes, pipesOpen, granted, polledFoundNs, polledSleptNs] =
          addon.relayStats();
        return { splicedBytes, copiedBytes, pipesOpen, granted, polledFoundNs, polledSleptNs };
      },
    });
    this.enricher = new RecordEnricher(file.observe.clientNames, file.catalog);
    this.recorder = file.observe.state ? new StateRecorder() : null;
    const log = this.accessLog;
    const metrics = this.metrics;
    const recorder = this.recorder;
    const sink: AccessLogSink = {
      opened: (raw) => {
        const record = this.enricher.enrich(raw);
        log.opened(record);
        metrics.opened(record);
        recorder?.tunnelOpened(record);
      },
      write: (raw) => {
        const record = this.enricher.enrich(raw);
        log.write(record);
        metrics.record(record);
        recorder?.finished(record);
      },
      reopen: () => log.reopen(),
      draining: () => log.draining(),
      flush: () => log.flush(),
    };
    gateway = buildGateway(loaded, sink, {
      originForm,
      openFilesLimit: openFilesLimit(),
      onDnsAnswer: (result) => metrics.dnsAnswer(result),
      faults: {
        report(error) {
          metrics.internalError();
          ops.error(
            { event: 'internal_error', pid: process.pid, stack: (error as Error).stack ?? String(error) },
            `internal error, the session was ended: ${(error as Error).message ?? String(error)}`,
          );
        },
      },
    });
    this.gateway = gateway;
  }

  /** What this process saw since the last call (null when nothing, or when observe.state is off). */
  takeState(): StateDelta | null {
    return this.recorder?.take() ?? null;
  }

  start(via?: Parameters<Gateway['start']>[0]): Promise<void> {
    return this.gateway.start(via);
  }

  apply(loaded: LoadedConfig, generation: number): void {
    this.gateway.reload({ policy: loaded.policy, hosts: loaded.hosts, systemHosts: loaded.systemHosts });
    const file = loaded.config.file;
    this.enricher = new RecordEnricher(file.observe.clientNames, file.catalog);
    this.generation = generation;
  }

  reopenLog(): void {
    this.accessLog.reopen();
  }

  stats(): ProcessStats {
    const s = this.gateway.stats();
    return {
      connections: s.connections,
      sessions: s.sessions,
      rules: this.gateway.currentPolicy.rules.length,
      pid: process.pid,
      generation: this.generation,
      relayed: s.relayed,
    };
  }

  /**
   * Drains and stops, once: a second call (a second signal) cuts what is left now and
   * resolves with the first call, so `stopped` is logged once.
   */
  stop(deadlineMs: number | undefined, ops: Logger | null): Promise<ShutdownResult> {
    if (this.stopping !== null) {
      void this.gateway.shutdown(0);
      return this.stopping;
    }
    this.stopping = (async () => {
      const result = await this.gateway.shutdown(deadlineMs);
      ops?.info(
        { event: 'stopped', ...result, pid: process.pid },
        result.drained
          ? 'all sessions drained'
          : `${plural(result.cut, 'session')} cut at the drain deadline`,
      );
      await this.accessLog.flush();
      return result;
    })();
    return this.stopping;
  }
  private stopping: Promise<ShutdownResult> | null = null;
}

/** "1 session", "2 sessions". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
