import cluster, { type Worker } from 'node:cluster';
import { readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { AdminServer, type AdminState } from '../../admin/index.js';
import { AirlockError, isAirlockError } from '../../errors/index.js';
import type { GatewayMetrics } from '../../observe/index.js';
import { createOpsLogger } from '../../observe/index.js';
import { loadConfig, type LoadedConfig, type LoadOptions } from '../load-config.js';
import { GatewayProcess, type ProcessStats } from '../runtime/gateway-process.js';
import { pacFor } from '../runtime/pac.js';
import type { FromWorker, ToWorker } from '../runtime/worker-messages.js';

export type ServeOptions = LoadOptions & {
  readonly watch?: boolean | undefined;
  /** --workers: "auto" or a number; overrides the configuration's `workers`. */
  readonly workers?: string | undefined;
};

/** Reads the open-files limit; null where /proc is not there. */
function openFilesLimit(): number | null {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function workerCount(value: string | number): number {
  if (value === 'auto') return availableParallelism();
  const n = typeof value === 'number' ? value : /^[1-9][0-9]{0,2}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new AirlockError('USAGE', `--workers: "${String(value)}" is not "auto" or a number from 1 to 256`);
  }
  return n;
}

/** Gateway-wide limits shared out over the workers (connections are spread round-robin). */
function perWorker(loaded: LoadedConfig, workers: number): LoadedConfig {
  if (workers === 1) return loaded;
  const file = loaded.config.file;
  const share = (n: number): number => Math.max(1, Math.ceil(n / workers));
  const limits = {
    ...file.limits,
    maxConnections: share(file.limits.maxConnections),
    maxConnectionsPerClient: share(file.limits.maxConnectionsPerClient),
    newConnectionsPerClientPerSecond: share(file.limits.newConnectionsPerClientPerSecond),
  };
  return { ...loaded, config: { ...loaded.config, file: { ...file, limits } } };
}

/** The bound port clients use as their proxy: the first listener without PROXY protocol (port 0 resolved). */
function proxyPortOf(loaded: LoadedConfig, addresses: readonly { port: number }[]): number {
  return (
    addresses[
      Math.max(
        0,
        loaded.listeners.findIndex((l) => !l.proxyProtocol),
      )
    ]?.port ?? 0
  );
}

/** What a reload cannot change in a running process; changing it needs a restart. */
function restartOnly(a: LoadedConfig, b: LoadedConfig): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  const keys = ['limits', 'timeouts', 'log', 'tls', 'mode', 'dns', 'admin', 'workers'] as const;
  if (!same(a.listeners, b.listeners)) out.push('listeners');
  for (const key of keys) if (!same(a.config.file[key], b.config.file[key])) out.push(key);
  return out;
}

function pacResponder(
  loadedPolicy: () => LoadedConfig,
  proxyPort: () => number,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const state: AdminState = {
    ready: () => true,
    stats: () => ({}),
    pac: (host) => pacFor(loadedPolicy().policy, loadedPolicy().config.file.admin.pac, proxyPort(), host),
  };
  return (req, res) => AdminServer.servePac(state, req, res);
}

/** The part of the gateway the supervisor drives: in this process, or a worker over IPC. */
interface Member {
  reload(trigger: string, next: LoadedConfig): void;
  reopen(): void;
  stats(): Promise<ProcessStats | null>;
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | null>;
  stop(deadlineMs?: number): void;
}

class LocalMember implements Member {
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

class WorkerMember implements Member {
  private readonly pending = new Map<number, (value: unknown) => void>();
  constructor(readonly worker: Worker) {
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
    if (this.worker.isConnected()) this.worker.send(message);
  }
  private ask<T>(t: 'stats' | 'metrics'): Promise<T | null> {
    if (!this.worker.isConnected()) return Promise.resolve(null);
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

/** A worker process: one gateway, driven by the supervisor's messages. */
async function runWorker(options: ServeOptions): Promise<number> {
  const workers = Number(process.env.AIRLOCK_WORKERS ?? '1');
  let current: LoadedConfig;
  try {
    current = perWorker(await loadConfig(options), workers);
  } catch (error) {
    process.send?.({
      t: 'failed',
      message: (error as Error).message,
      exit: isAirlockError(error) ? error.exitCode : 1,
    } satisfies FromWorker);
    return isAirlockError(error) ? error.exitCode : 1;
  }
  const file = current.config.file;
  const ops = createOpsLogger(file.log.level === 'info' ? 'warn' : file.log.level);
  let proxyPort = 0;
  const gp = new GatewayProcess(
    current,
    file.admin.servePacOnProxyPort
      ? pacResponder(
          () => current,
          () => proxyPort,
        )
      : undefined,
  );
  try {
    await gp.start();
  } catch (error) {
    process.send?.({
      t: 'failed',
      message: (error as Error).message,
      exit: isAirlockError(error) ? error.exitCode : 1,
    } satisfies FromWorker);
    return isAirlockError(error) ? error.exitCode : 1;
  }
  const addresses = gp.gateway.addresses();
  proxyPort = proxyPortOf(current, addresses);
  process.send?.({
    t: 'ready',
    addresses: addresses.map((a) => ({ address: a.address, family: a.family, port: a.port })),
  } satisfies FromWorker);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (deadlineMs?: number): void => {
      if (stopping) {
        void gp.gateway.shutdown(0);
        return;
      }
      stopping = true;
      void gp.stop(deadlineMs, null).then(() => resolve(0));
    };
    process.on('message', (message: ToWorker) => {
      switch (message.t) {
        case 'reload':
          loadConfig(options).then(
            (next) => {
              current = perWorker(next, workers);
              gp.apply(current);
            },
            (error: unknown) =>
              ops.error({ event: 'reload_failed', pid: process.pid }, (error as Error).message),
          );
          return;
        case 'reopen':
          gp.reopenLog();
          return;
        case 'shutdown':
          stop(message.deadlineMs);
          return;
        case 'stats':
          process.send?.({ t: 'stats', id: message.id, value: gp.stats() } satisfies FromWorker);
          return;
        case 'metrics':
          void gp.metrics.registry
            .getMetricsAsJSON()
            .then((value) => process.send?.({ t: 'metrics', id: message.id, value } satisfies FromWorker));
          return;
      }
    });
    // A signal to the whole process group (terminal, service manager) reaches workers too.
    process.on('SIGTERM', () => stop());
    process.on('SIGINT', () => stop());
    process.on('SIGHUP', () => undefined);
    process.on('SIGUSR1', () => undefined);
    // The supervisor is gone: nothing will ever tell this worker to stop, so drain now.
    process.on('disconnect', () => stop());
  });
}

interface Fleet {
  members: Member[];
  addresses: readonly { address: string; family: string; port: number }[];
}

/** Forks `count` workers and waits until each is listening (or one fails: then all stop). */
async function startWorkers(
  count: number,
  ops: Logger,
  onExit: (worker: Worker, code: number | null, signal: string | null) => void,
): Promise<Fleet> {
  cluster.setupPrimary({ silent: false });
  const fleet: Fleet = { members: [], addresses: [] };
  const starting: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const worker = cluster.fork({ AIRLOCK_WORKERS: String(count), AIRLOCK_WORKER_INDEX: String(i) });
    fleet.members.push(new WorkerMember(worker));
    starting.push(
      new Promise<void>((resolve, reject) => {
        const onMessage = (message: FromWorker): void => {
          if (message.t === 'ready') {
            fleet.addresses = message.addresses;
            worker.off('message', onMessage);
            worker.off('exit', onEarlyExit);
            worker.on('exit', (code, signal) => onExit(worker, code, signal));
            resolve();
          } else if (message.t === 'failed') {
            reject(
              Object.assign(new AirlockError('LISTEN_FAILED', message.message), {
                exitOverride: message.exit,
              }),
            );
          }
        };
        const onEarlyExit = (code: number | null): void =>
          reject(
            new AirlockError('LISTEN_FAILED', `worker ${i} exited during startup (code ${String(code)})`),
          );
        worker.on('message', onMessage);
        worker.on('exit', onEarlyExit);
      }),
    );
  }
  try {
    await Promise.all(starting);
  } catch (error) {
    for (const id in cluster.workers) cluster.workers[id]?.kill('SIGKILL');
    throw error;
  }
  ops.debug({ event: 'workers_ready', count }, `${count} workers listening`);
  return fleet;
}

/**
 * `airlock serve`: the supervisor. It loads and validates the configuration, runs the gateway in
 * this process or in `workers` processes sharing the listeners, serves the admin listener with
 * the whole gateway's metrics, and turns signals into reloads and a graceful shutdown.
 */
export async function serve(options: ServeOptions): Promise<number> {
  if (cluster.isWorker) return runWorker(options);

  let current = await loadConfig(options);
  const file = current.config.file;
  const workers = workerCount(options.workers ?? file.workers);
  const ops = createOpsLogger(file.log.level);
  for (const warning of current.warnings) ops.warn({ event: 'policy_warning' }, warning);

  const nofile = openFilesLimit();
  const needed = Math.ceil((file.limits.maxConnections * 2) / workers) + 64;
  if (nofile !== null && nofile < needed) {
    ops.warn(
      { event: 'fd_limit', nofile, needed, workers },
      `open-files limit ${nofile} is below 2 x limits.maxConnections / workers + 64 = ${needed}; raise LimitNOFILE, add workers, or lower limits.maxConnections`,
    );
  }

  let ready = false;
  let stopping = false;
  let proxyPort = 0;
  const localMetrics: GatewayMetrics[] = [];
  let members: Member[];
  let addresses: readonly { address: string; family: string; port: number }[];
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  if (workers === 1) {
    const gp = new GatewayProcess(
      current,
      file.admin.servePacOnProxyPort
        ? pacResponder(
            () => current,
            () => proxyPort,
          )
        : undefined,
    );
    await gp.start();
    localMetrics.push(gp.metrics);
    members = [new LocalMember(gp, ops, resolveStopped)];
    addresses = gp.gateway.addresses();
  } else {
    let alive = workers;
    let crashes = 0;
    const fleet = await startWorkers(workers, ops, function onExit(worker, code, signal) {
      const index = fleet.members.findIndex((m) => m instanceof WorkerMember && m.worker === worker);
      if (stopping) {
        alive--;
        if (alive === 0) resolveStopped();
        return;
      }
      // A crashed worker is replaced, with a backoff that grows while crashes keep coming.
      crashes++;
      const delay = Math.min(10_000, 100 * 2 ** Math.min(crashes - 1, 7));
      ops.error(
        { event: 'worker_exited', pid: worker.process.pid, code, signal, restartInMs: delay },
        `worker ${String(worker.process.pid)} exited (${signal ?? `code ${String(code)}`}); restarting in ${delay} ms`,
      );
      setTimeout(() => {
        if (stopping) {
          alive--;
          if (alive === 0) resolveStopped();
          return;
        }
        const replacement = cluster.fork({
          AIRLOCK_WORKERS: String(workers),
          AIRLOCK_WORKER_INDEX: String(index),
        });
        const member = new WorkerMember(replacement);
        if (index >= 0) fleet.members[index] = member;
        replacement.on('message', (message: FromWorker) => {
          if (message.t === 'ready') {
            ops.info(
              { event: 'worker_replaced', pid: replacement.process.pid },
              `worker ${String(replacement.process.pid)} is serving`,
            );
            setTimeout(() => (crashes = Math.max(0, crashes - 1)), 30_000).unref();
          }
        });
        replacement.on('exit', (c, s) => onExit(replacement, c, s));
      }, delay);
    });
    members = fleet.members;
    addresses = fleet.addresses;
  }
  const all = (): Member[] => members;
  proxyPort = proxyPortOf(current, addresses);

  const sumStats = async (): Promise<Record<string, unknown>> => {
    const stats = (await Promise.all(all().map((m) => m.stats()))).filter(
      (s): s is ProcessStats => s !== null,
    );
    return {
      ready,
      mode: current.config.file.mode,
      workers: stats.length,
      connections: stats.reduce((n, s) => n + s.connections, 0),
      sessions: stats.reduce((n, s) => n + s.sessions, 0),
      rules: current.policy.rules.length,
      pid: process.pid,
    };
  };

  let admin: AdminServer | null = null;
  if (file.admin.listen !== null) {
    const metricsSource = {
      contentType: localMetrics[0]?.registry.contentType ?? 'text/plain; version=0.0.4; charset=utf-8',
      async metrics(): Promise<string> {
        const parts = (await Promise.all(all().map((m) => m.metrics()))).filter(
          (p): p is MetricObjectWithValues<MetricValue<string>>[] => p !== null,
        );
        return AggregatorRegistry.aggregate(parts).metrics();
      },
    };
    const state: AdminState = {
      ready: () => ready,
      stats: sumStats,
      pac: (host) => pacFor(current.policy, current.config.file.admin.pac, proxyPort, host),
    };
    admin = new AdminServer(file.admin.listen, state, metricsSource);
    try {
      await admin.start();
    } catch (error) {
      stopping = true;
      for (const m of all()) m.stop(0);
      throw error;
    }
  }
  ready = true;

  const shown = addresses.map((a) =>
    a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
  );
  const adminAddress = admin?.address();
  if (file.pidFile !== null) writeFileSync(file.pidFile, `${process.pid}\n`);
  ops.info(
    {
      event: 'listening',
      listeners: shown,
      admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null,
      workers,
      rules: current.policy.rules.length,
      mode: file.mode,
      config: current.config.fileName,
      pid: process.pid,
    },
    `airlock listening on ${shown.join(', ')} with ${current.policy.rules.length} destination rules${workers > 1 ? ` in ${workers} workers` : ''}${file.mode === 'audit' ? ' (AUDIT MODE)' : ''}`,
  );

  // Reload: validate here first; only a configuration that loads completely reaches the gateway.
  let reloading: Promise<void> = Promise.resolve();
  const reload = (trigger: string): void => {
    reloading = reloading.then(async () => {
      let next: LoadedConfig;
      try {
        next = await loadConfig(options);
      } catch (error) {
        const message = isAirlockError(error) ? error.message : String(error);
        ops.error(
          { event: 'reload_failed', trigger },
          `reload rejected, the running policy is unchanged:\n${message}`,
        );
        for (const m of localMetrics) m.reloaded(false);
        return;
      }
      for (const warning of next.warnings) ops.warn({ event: 'policy_warning' }, warning);
      const ignored = restartOnly(current, next);
      if (ignored.length > 0) {
        ops.warn(
          { event: 'reload_needs_restart', keys: ignored },
          `changes to ${ignored.join(', ')} take effect only after a restart`,
        );
      }
      for (const m of all()) m.reload(trigger, next);
      current = next;
      for (const m of localMetrics) m.reloaded(true);
      ops.info(
        { event: 'reloaded', trigger, rules: next.policy.rules.length },
        `policy reloaded (${next.policy.rules.length} destination rules)`,
      );
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  process.on('SIGUSR1', () => {
    for (const m of all()) m.reopen();
    ops.info({ event: 'log_reopened' }, 'access log reopened');
  });

  const watchers: FSWatcher[] = [];
  if (options.watch === true || file.reload.watch) {
    const files = options.configFile ? [options.configFile] : [];
    files.push(
      ...(options.allowlist?.length ? options.allowlist : current.config.allowlistFiles.map((f) => f.path)),
    );
    let timer: NodeJS.Timeout | undefined;
    for (const path of files) {
      try {
        // Editors replace files; watching the file's events with a debounce covers both.
        watchers.push(
          watch(path, { persistent: false }, () => {
            clearTimeout(timer);
            timer = setTimeout(() => reload(`watch ${path}`), 300);
          }),
        );
      } catch (error) {
        ops.warn({ event: 'watch_failed', path }, `cannot watch ${path}: ${(error as Error).message}`);
      }
    }
  }

  const stop = (signal: string): void => {
    if (stopping) {
      ops.warn({ event: 'shutdown_forced' }, `${signal} again: closing everything now`);
      for (const m of all()) m.stop(0);
      return;
    }
    stopping = true;
    ready = false;
    for (const w of watchers) w.close();
    void sumStats().then((stats) =>
      ops.info(
        { event: 'shutdown', signal, sessions: stats.sessions, drainMs: file.timeouts.drain },
        `${signal}: no longer accepting; draining ${String(stats.sessions)} open sessions`,
      ),
    );
    for (const m of all()) m.stop();
    // Workers that do not exit after the drain deadline are killed.
    setTimeout(() => {
      for (const id in cluster.workers) cluster.workers[id]?.kill('SIGKILL');
    }, file.timeouts.drain + 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await stopped;
  if (workers > 1) ops.info({ event: 'stopped', workers }, 'all workers stopped');
  await admin?.close();
  if (file.pidFile !== null) {
    try {
      unlinkSync(file.pidFile);
    } catch {
      // Already gone.
    }
  }
  return 0;
}
