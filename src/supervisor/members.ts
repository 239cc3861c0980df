import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { GatewayProcess, ProcessStats } from './gateway-process.js';
import type { LoadedConfig } from './load-config.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

/** The part of the gateway the supervisor drives: in this process, or a worker over IPC. */
export interface Member {
  reload(trigger: string, next: LoadedConfig): void;
  reopen(): void;
  stats(): Promise<ProcessStats | null>;
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | null>;
  stop(deadlineMs?: number): void;
}

export class LocalMember implements Member {
  constructor(
    private readonly process: GatewayProcess,
    private readonly ops: Logger,
    private readonly onStopped: () => void,
  ) {}
  reload(_trigger: string, next: LoadedConfig): void {
    this.process.apply(next);
  }
  reopen(): void {
    this.process.reopenLog();
  }
  stats(): Promise<ProcessStats> {
    return Promise.resolve(this.process.stats());
  }
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.process.metrics.registry.getMetricsAsJSON();
  }
  stop(deadlineMs?: number): void {
    void this.process.stop(deadlineMs, this.ops).then(this.onStopped);
  }
}

let requestId = 0;

export class WorkerMember implements Member {
  private readonly pending = new Map<number, (value: unknown) => void>();
  constructor(readonly worker: ChildProcess) {
    worker.on('message', (message: FromWorker) => {
      if (message.t === 'stats' || message.t === 'metrics') {
        this.pending.get(message.id)?.(message.value);
        this.pending.delete(message.id);
      }
    });
    worker.on('exit', () => {
      for (const resolve of this.pending.values()) resolve(null);
      this.pending.clear();
    });
  }
  private send(message: ToWorker): void {
    if (this.worker.connected) this.worker.send(message);
  }
  /** Hands an accepted socket to this worker; false if it cannot take it. */
  handOff(index: number, socket: Socket): boolean {
    if (!this.worker.connected) return false;
    this.worker.send({ t: 'connection', index } satisfies ToWorker, socket, (error) => {
      if (error) socket.destroy();
    });
    return true;
  }
  private ask<T>(t: 'stats' | 'metrics'): Promise<T | null> {
    if (!this.worker.connected) return Promise.resolve(null);
    const id = ++requestId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, 2000);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
      this.send({ t, id });
    });
  }
  reload(trigger: string): void {
    this.send({ t: 'reload', trigger });
  }
  reopen(): void {
    this.send({ t: 'reopen' });
  }
  stats(): Promise<ProcessStats | null> {
    return this.ask<ProcessStats>('stats');
  }
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | null> {
    return this.ask('metrics');
  }
  stop(deadlineMs?: number): void {
    this.send({ t: 'shutdown', deadlineMs });
  }
}
