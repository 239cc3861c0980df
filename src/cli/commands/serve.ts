import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { AdminServer, type AdminState } from '../../admin/index.js';
import { AirlockError, isAirlockError } from '../../errors/index.js';
import { ipv6Only, listenFailure, loadNative, nativeFor, type NativeAddon } from '../../gateway/index.js';
import type { GatewayMetrics } from '../../observe/index.js';
import { createOpsLogger } from '../../observe/index.js';
import { loadConfig, type LoadedConfig, type LoadOptions } from '../load-config.js';
import { GatewayProcess, type ProcessStats } from '../runtime/gateway-process.js';
import { pacFor } from '../runtime/pac.js';
import type { FromWorker, ToWorker, WorkerListen } from '../runtime/worker-messages.js';

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
  const keys = ['limits', 'timeouts', 'log', 'tls', 'mode', 'dns', 'admin', 'workers', 'engine'] as const;
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
  const listen = JSON.parse(process.env.AIRLOCK_LISTEN ?? '{"mode":"handoff"}') as WorkerListen;
  const addon = loadNative().addon;
  try {
    await gp.start((index) => {
      if (listen.mode === 'handoff' || addon === null) return 'handoff';
      return { fd: nativeListen(addon, current, index, listen.ports[index]!, true) };
    });
  } catch (error) {
    process.send?.({
      t: 'failed',
      message: (error as Error).message,
      exit: isAirlockError(error) ? error.exitCode : 1,
    } satisfies FromWorker);
    return isAirlockError(error) ? error.exitCode : 1;
  }
  proxyPort = Number(process.env.AIRLOCK_PROXY_PORT ?? '0');
  process.send?.({ t: 'ready' } satisfies FromWorker);

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
    process.on('message', (message: ToWorker, handle?: unknown) => {
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
        case 'connection':
          if (handle !== undefined) gp.gateway.accept(message.index, handle as Socket);
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

/** An SO_REUSEPORT socket for listener `index` on `port` (bound, and listening when `listen`). */
function nativeListen(
  addon: NativeAddon,
  loaded: LoadedConfig,
  index: number,
  port: number,
  listen: boolean,
): number {
  const listener = loaded.listeners[index]!;
  try {
    return addon.listen(listener.host, port, ipv6Only(loaded.listeners, index), 4096, listen, true);
  } catch (error) {
    throw listenFailure(listener.text, error);
  }
}

/**
 * How the workers share the listeners. reuseport: the supervisor reserves each port with a
 * socket that is bound but never listens (after checking nobody else holds the port), and every
 * worker listens on a SO_REUSEPORT socket of its own; the kernel spreads connections by flow
 * hash and no connection passes through the supervisor. handoff: the supervisor accepts and
 * passes each socket to the next worker over IPC.
 */
type Listening =
  | {
      readonly mode: 'reuseport';
      readonly holders: number[];
      readonly ports: number[];
      readonly addon: NativeAddon;
    }
  | { readonly mode: 'handoff'; readonly servers: TcpServer[] };

function reservePorts(loaded: LoadedConfig, addon: NativeAddon): Listening {
  const holders: number[] = [];
  const ports: number[] = [];
  try {
    for (const [index, listener] of loaded.listeners.entries()) {
      // A plain bind first: another process on the port (even another reuseport group) fails it.
      let probe: number;
      try {
        probe = addon.listen(
          listener.host,
          listener.port,
          ipv6Only(loaded.listeners, index),
          0,
          false,
          false,
        );
      } catch (error) {
        throw listenFailure(listener.text, error);
      }
      const port = addon.boundPort(probe);
      addon.closeFd(probe);
      holders.push(nativeListen(addon, loaded, index, port, false));
      ports.push(port);
    }
  } catch (error) {
    for (const fd of holders) addon.closeFd(fd);
    throw error;
  }
  return { mode: 'reuseport', holders, ports, addon };
}

async function acceptForWorkers(loaded: LoadedConfig, pick: () => WorkerMember | null): Promise<Listening> {
  const servers: TcpServer[] = [];
  for (const [index, listener] of loaded.listeners.entries()) {
    const server = createTcpServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      if (pick()?.handOff(index, socket) !== true) socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(listenFailure(listener.text, error)));
      server.listen(
        {
          host: listener.host,
          port: listener.port,
          ipv6Only: ipv6Only(loaded.listeners, index),
          backlog: 4096,
        },
        () => resolve(),
      );
    }).catch((error: unknown) => {
      for (const s of servers) s.close();
      throw error;
    });
  }
  return { mode: 'handoff', servers };
}

function listeningMode(
  loaded: LoadedConfig,
): { mode: 'reuseport'; addon: NativeAddon } | { mode: 'handoff' } {
  const wanted = loaded.config.file.engine.listen;
  const addon = nativeFor(
    'engine.listen: reuseport',
    wanted === 'handoff' ? 'off' : wanted === 'reuseport' ? 'required' : 'auto',
  );
  return addon === null ? { mode: 'handoff' } : { mode: 'reuseport', addon };
}

/** Stops the supervisor's own listening: hand-off servers close, reserved ports are released. */
function closeListening(listening: Listening | null): void {
  if (listening === null) return;
  if (listening.mode === 'handoff') for (const server of listening.servers) server.close();
  else for (const fd of listening.holders.splice(0)) listening.addon.closeFd(fd);
}

interface Fleet {
  members: Member[];
  children: Set<ChildProcess>;
}

function forkWorker(count: number, index: number, listen: WorkerListen, proxyPort: number): ChildProcess {
  return fork(process.argv[1]!, process.argv.slice(2), {
    env: {
      ...process.env,
      AIRLOCK_WORKERS: String(count),
      AIRLOCK_WORKER_INDEX: String(index),
      AIRLOCK_LISTEN: JSON.stringify(listen),
      AIRLOCK_PROXY_PORT: String(proxyPort),
    },
  });
}

/** Forks `count` workers and waits until each is serving (or one fails: then all stop). */
async function startWorkers(
  count: number,
  listen: WorkerListen,
  proxyPort: number,
  ops: Logger,
  onExit: (worker: ChildProcess, code: number | null, signal: string | null) => void,
): Promise<Fleet> {
  const fleet: Fleet = { members: [], children: new Set() };
  const starting: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const worker = forkWorker(count, i, listen, proxyPort);
    fleet.children.add(worker);
    fleet.members.push(new WorkerMember(worker));
    starting.push(
      new Promise<void>((resolve, reject) => {
        const onMessage = (message: FromWorker): void => {
          if (message.t === 'ready') {
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
    for (const child of fleet.children) child.kill('SIGKILL');
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
  if (process.env.AIRLOCK_WORKER_INDEX !== undefined && process.send !== undefined) return runWorker(options);

  let current = await loadConfig(options);
  const file = current.config.file;
  const workers = workerCount(options.workers ?? file.workers);
  const ops = createOpsLogger(file.log.level);
  for (const warning of current.warnings) ops.warn({ event: 'policy_warning' }, warning);
  // "native" without the addon fails here, before any worker starts; "auto" says what it lacks.
  const tunnels = file.engine.tunnels;
  if (
    tunnels !== 'js' &&
    nativeFor('engine.tunnels: native', tunnels === 'native' ? 'required' : 'auto') === null
  ) {
    ops.warn(
      { event: 'native_relay_missing' },
      `${loadNative().why ?? ''}; tunnels are spliced in JavaScript (engine.tunnels: js)`,
    );
  }

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
  let listening: Listening | null = null;
  let children = new Set<ChildProcess>();
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
    const how = listeningMode(current);
    let next = 0;
    const pick = (): WorkerMember | null => {
      for (let tries = 0; tries < fleet.members.length; tries++) {
        const member = fleet.members[next++ % fleet.members.length];
        if (member instanceof WorkerMember && member.worker.connected) return member;
      }
      return null;
    };
    // reuseport: the ports are reserved before the workers start; hand-off: the supervisor
    // listens once the workers are ready to take connections.
    listening = how.mode === 'reuseport' ? reservePorts(current, how.addon) : null;
    const listen: WorkerListen =
      listening?.mode === 'reuseport' ? { mode: 'reuseport', ports: listening.ports } : { mode: 'handoff' };
    const provisional = proxyPortOf(
      current,
      listening?.mode === 'reuseport' ? listening.ports.map((port) => ({ port })) : current.listeners,
    );
    let fleet: Fleet;
    try {
      fleet = await startWorkers(workers, listen, provisional, ops, function onExit(worker, code, signal) {
        fleet.children.delete(worker);
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
          { event: 'worker_exited', pid: worker.pid, code, signal, restartInMs: delay },
          `worker ${String(worker.pid)} exited (${signal ?? `code ${String(code)}`}); restarting in ${delay} ms`,
        );
        setTimeout(() => {
          if (stopping) {
            alive--;
            if (alive === 0) resolveStopped();
            return;
          }
          const replacement = forkWorker(workers, index, listen, proxyPort);
          fleet.children.add(replacement);
          const member = new WorkerMember(replacement);
          if (index >= 0) fleet.members[index] = member;
          replacement.on('message', (message: FromWorker) => {
            if (message.t === 'ready') {
              ops.info(
                { event: 'worker_replaced', pid: replacement.pid },
                `worker ${String(replacement.pid)} is serving`,
              );
              setTimeout(() => (crashes = Math.max(0, crashes - 1)), 30_000).unref();
            }
          });
          replacement.on('exit', (c, s) => onExit(replacement, c, s));
        }, delay);
      });
      if (listening === null) listening = await acceptForWorkers(current, pick);
    } catch (error) {
      closeListening(listening);
      throw error;
    }
    children = fleet.children;
    members = fleet.members;
    addresses =
      listening.mode === 'reuseport'
        ? current.listeners.map((l, i) => ({
            address: l.host,
            family: l.family === 6 ? 'IPv6' : 'IPv4',
            port: (listening as { ports: number[] }).ports[i]!,
          }))
        : listening.servers.map((server) => server.address() as AddressInfo);
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
    closeListening(listening);
    setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
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
