import type { Logger } from 'pino';
import type { Gateway, OriginFormResponder } from '../gateway/index.js';
import { AccessLog, GatewayMetrics, type AccessLogSink } from '../observe/index.js';
import { buildGateway } from './build-gateway.js';
import { openFilesLimit } from './options.js';
import type { LoadedConfig } from './load-config.js';

export interface ProcessStats {
  readonly connections: number;
  readonly sessions: number;
  readonly rules: number;
  readonly pid: number;
}

/**
 * One gateway in one process: the gateway, its access log and its metrics. The supervisor
 * drives it directly (single process) or through IPC (one per worker).
 */
export class GatewayProcess {
  readonly gateway: Gateway;
  readonly metrics: GatewayMetrics;
  private readonly accessLog: AccessLog;

  constructor(loaded: LoadedConfig, originForm: OriginFormResponder | null, ops: Logger) {
    const file = loaded.config.file;
    this.accessLog = new AccessLog({ format: file.log.format, file: file.log.file });
    let gateway: Gateway | null = null;
    this.metrics = new GatewayMetrics({
      connections: () => gateway?.stats().connections ?? 0,
      sessions: () => gateway?.stats().sessions ?? 0,
      rules: () => gateway?.currentPolicy.rules.length ?? 0,
    });
    const log = this.accessLog;
    const metrics = this.metrics;
    const sink: AccessLogSink = {
      write(record) {
        log.write(record);
        metrics.record(record);
      },
      reopen: () => log.reopen(),
      flush: () => log.flush(),
    };
    gateway = buildGateway(loaded, sink, {
      originForm,
      openFilesLimit: openFilesLimit(),
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

  start(via?: Parameters<Gateway['start']>[0]): Promise<void> {
    return this.gateway.start(via);
  }

  apply(loaded: LoadedConfig): void {
    this.gateway.reload({ policy: loaded.policy, hosts: loaded.hosts, systemHosts: loaded.systemHosts });
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
    };
  }

  /**
   * Drains and stops, once: a second call (a second signal) cuts what is left now and
   * resolves with the first call, so `stopped` is logged once.
   */
  stop(deadlineMs: number | undefined, ops: Logger | null): Promise<void> {
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
    })();
    return this.stopping;
  }
  private stopping: Promise<void> | null = null;
}

/** "1 session", "2 sessions". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
