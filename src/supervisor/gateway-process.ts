import type { Logger } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway/index.js';
import { AccessLog, GatewayMetrics, type AccessLogSink } from '../observe/index.js';
import { buildGateway } from './build-gateway.js';
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

  constructor(
    loaded: LoadedConfig,
    originFormResponder?: (req: IncomingMessage, res: ServerResponse) => boolean,
  ) {
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
    gateway = buildGateway(loaded, sink, originFormResponder);
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

  async stop(deadlineMs: number | undefined, ops: Logger | null): Promise<void> {
    const result = await this.gateway.shutdown(deadlineMs);
    ops?.info(
      { event: 'stopped', ...result, pid: process.pid },
      result.drained ? 'all sessions drained' : `${result.cut} sessions cut at the drain deadline`,
    );
    await this.accessLog.flush();
  }
}
