import type { ChildProcess } from 'node:child_process';
import { readlinkSync, statSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../deps/pino.js';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from '../deps/prom-client.js';
import {
  AdminServer,
  checkAdminExposure,
  pacFor,
  pacResponder,
  type AdminApi,
  type AdminState,
} from '../admin/index.js';
import { OPT_IN_SERVICES, SERVICES } from '../catalog/index.js';
import { isAirlockError } from '../errors/index.js';
import { loadNative, nativeFor, RESERVED_DESCRIPTORS } from '../gateway/index.js';
import { createOpsLogger, SupervisorMetrics } from '../observe/index.js';
import { forkWorker, startWorkers, type Fleet } from './fleet.js';
import { GatewayProcess, plural, type ProcessStats } from './gateway-process.js';
import { startQuietCollector } from './quiet-collector.js';
import { keepServingOnUncaught } from './last-resort.js';
import {
  acceptForWorkers,
  closeListening,
  listeningMode,
  reservePorts,
  type Listening,
} from './listening.js';
import { loadConfig, type LoadedConfig } from './load-config.js';
import {
  fleetStopped,
  HAND_OFF_STALL_MS,
  LocalMember,
  WorkerMember,
  type HandOffOptions,
  type Member,
} from './members.js';
import { openFilesLimit, proxyPortOf, restartOnly, workerCount, type ServeOptions } from './options.js';
import { OperatorView } from './operator-view.js';
import {
  reloadResultPath,
  resolveAdminToken,
  writeReloadResult,
  type ReloadResult,
} from './reload-result.js';
import { runWorker } from './worker.js';
import type { FromWorker, WorkerListen } from './worker-messages.js';
import { hostPort } from '../text/host-port.js';

/**
 * `airlock serve`: the supervisor. It loads and validates the configuration, runs the gateway in
 * this process or in `workers` processes sharing the listeners, serves the admin listener with
 * the whole gateway's metrics, and turns signals into reloads and a graceful shutdown.
 */
export async function supervise(options: ServeOptions): Promise<number> {
  if (process.env.AIRLOCK_WORKER_INDEX !== undefined && process.send !== undefined) return runWorker(options);

  let current = await loadConfig(options);
  const file = current.config.file;
  const workers = workerCount(options.workers ?? file.workers);
  const adminToken = await resolveAdminToken(file.admin);
  // Refuse an exposed admin listener before anything starts.
  if (file.admin.listen !== null) checkAdminExposure(file.admin.listen, adminToken);
  const ops = createOpsLogger(file.log.level);
  const startedAt = Date.now();
  let generation = 1;
  let reloadSeq = 0;
  let lastReload: ReloadResult | null = null;
  const view = new OperatorView(current);
  const supervisorMetrics = new SupervisorMetrics();
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
  const needed = Math.ceil((file.limits.maxConnections * 2) / workers) + RESERVED_DESCRIPTORS;
  if (nofile !== null && nofile < needed) {
    ops.warn(
      { event: 'fd_limit', nofile, needed, workers },
      `open-files limit ${nofile} is below 2 x limits.maxConnections / workers + ${RESERVED_DESCRIPTORS} (the process's own) = ${needed}; raise LimitNOFILE, add workers, or lower limits.maxConnections`,
    );
  }

  let ready = false;
  let stopping = false;
  let proxyPort = 0;
  let localContentType: string | null = null;
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
            () => ({ policy: current.policy, pac: current.config.file.admin.pac }),
            () => proxyPort,
          )
        : null,
      ops,
    );
    keepServingOnUncaught(ops, () => gp.metrics.internalError());
    await gp.start();
    localContentType = gp.metrics.registry.contentType;
    const local = new LocalMember(gp, ops, resolveStopped);
    local.onState((delta) => view.apply(delta, 'local'));
    members = [local];
    addresses = gp.gateway.addresses();
  } else {
    let alive = workers;
    let crashes = 0;
    const how = listeningMode(current);
    // Hand-off: the ready worker with the fewest sockets waiting for it (in turn among equals),
    // so a worker that is busy gets fewer. Sockets waiting in the supervisor hold descriptors of
    // its own: past its budget, a connection is closed at once rather than failing accept.
    const waitingBudget = nofile === null ? 65_536 : Math.max(64, nofile - RESERVED_DESCRIPTORS);
    let next = 0;
    const pick = (): WorkerMember | null => {
      let best: WorkerMember | null = null;
      let waiting = 0;
      const n = fleet.members.length;
      for (let i = 0; i < n; i++) {
        const member = fleet.members[(next + i) % n];
        if (!(member instanceof WorkerMember)) continue;
        waiting += member.backlog;
        if (member.ready && member.worker.connected && (best === null || member.backlog < best.backlog))
          best = member;
      }
      next = (next + 1) % Math.max(1, n);
      if (waiting >= waitingBudget) {
        handOffFull(waiting);
        return null;
      }
      return best;
    };
    // Sockets a worker never received when it died go to another; a worker slow to take one
    // is reported.
    const handOff: HandOffOptions = {
      rehome: (index, socket) => pick()?.handOff(index, socket) === true,
      onStall: (pid) =>
        ops.warn(
          { event: 'handoff_stalled', pid, afterMs: HAND_OFF_STALL_MS },
          `worker ${String(pid)} did not take a connection within ${HAND_OFF_STALL_MS / 1000} s; sending it the next anyway`,
        ),
    };
    let fullSince = 0;
    const handOffFull = (waiting: number): void => {
      const now = Date.now();
      if (now - fullSince < 10_000) return;
      fullSince = now;
      ops.warn(
        { event: 'handoff_full', waiting },
        `${waiting} accepted connections are waiting for workers to take them; new connections are closed until they do (raise LimitNOFILE or add workers)`,
      );
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
      const inForce = (): LoadedConfig => current;
      fleet = await startWorkers(
        workers,
        listen,
        provisional,
        ops,
        inForce,
        function onExit(worker, code, signal) {
          fleet.children.delete(worker);
          view.dropSource(String(worker.pid));
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
            const replacement = forkWorker(workers, index, listen, proxyPort, generation);
            fleet.children.add(replacement);
            const member = new WorkerMember(replacement, inForce, handOff);
            member.onState((delta) => view.apply(delta, String(replacement.pid)));
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
        },
        handOff,
      );
      if (listening === null) listening = await acceptForWorkers(current, pick, ops);
    } catch (error) {
      closeListening(listening);
      throw error;
    }
    children = fleet.children;
    members = fleet.members;
    for (const member of fleet.members) {
      if (member instanceof WorkerMember)
        member.onState((delta) => view.apply(delta, String(member.worker.pid)));
    }
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
    const answers = await Promise.all(all().map((m) => m.stats()));
    const stats = answers.filter((s): s is ProcessStats => s !== null);
    return {
      ready,
      mode: current.config.file.mode,
      workers: stats.length,
      connections: stats.reduce((n, s) => n + s.connections, 0),
      sessions: stats.reduce((n, s) => n + s.sessions, 0),
      rules: current.policy.rules.length,
      pid: process.pid,
      version: '0.1.0',
      config: current.config.fileName,
      generation,
      startedAt,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      reload: { last: lastReload, attempts: reloadSeq },
      processes: answers.map((s, index) =>
        s === null
          ? { index, up: false }
          : {
              index,
              up: true,
              pid: s.pid,
              connections: s.connections,
              sessions: s.sessions,
              relayed: s.relayed,
              generation: s.generation,
            },
      ),
      warnings: current.warnings,
      lint: current.lint,
      observe: view.summary(),
    };
  };

  let admin: AdminServer | null = null;
  if (file.admin.listen !== null) {
    /** Each worker's last answer to a metrics request. */
    const lastMetrics = new WeakMap<Member, MetricObjectWithValues<MetricValue<string>>[]>();
    const metricsSource = {
      contentType: localContentType ?? 'text/plain; version=0.0.4; charset=utf-8',
      async metrics(): Promise<string> {
        // A copy: a crashed worker's replacement takes its place in the list while this waits.
        const asked = [...all()];
        const answers = await Promise.all(asked.map((m) => m.metrics()));
        const parts: MetricObjectWithValues<MetricValue<string>>[][] = [];
        let stale = 0;
        asked.forEach((m, i) => {
          const answer = answers[i] ?? null;
          if (answer !== null) {
            lastMetrics.set(m, answer);
            parts.push(answer);
            return;
          }
          // A worker that did not answer in time (a busy event loop), or exited and waits for
          // its replacement, counts with its last answer: left out, its counters would fall in
          // the sum and read as a reset while it is slow, then rise again.
          const last = lastMetrics.get(m);
          if (last !== undefined) {
            parts.push(last);
            stale++;
          }
        });
        supervisorMetrics.staleWorkers(stale);
        parts.push(await supervisorMetrics.registry.getMetricsAsJSON());
        return AggregatorRegistry.aggregate(parts).metrics();
      },
    };
    const state: AdminState = {
      ready: () => ready,
      stats: sumStats,
      pac: (host) => pacFor(current.policy, current.config.file.admin.pac, proxyPort, host),
    };
    const api: AdminApi = {
      status: sumStats,
      clients: (query) => view.clients(query),
      client: (address) => view.client(address),
      services: () => view.services(),
      denials: (query) => view.denials(query),
      tunnels: (query) => view.tunnels(query),
      history: () => view.history(),
      policy: () => ({
        generation,
        mode: current.config.file.mode,
        catalogInForce: current.catalogInForce,
        selection: current.config.file.catalog,
        defaultServices: SERVICES.filter((s) => !OPT_IN_SERVICES.includes(s)),
        rules: current.policy.rules.map((r) => ({
          rule: r.text,
          ports: r.ports === null ? null : [...r.ports].sort((a, b) => a - b),
          origin: r.origin.where,
          source: r.origin.source,
          catalog: r.origin.catalog ?? [],
        })),
        sources: current.policy.sources.list().map((s) => s.value.cidr),
        ports: {
          connect: [...current.policy.connectPorts],
          http: [...current.policy.httpPorts],
        },
        lint: current.lint,
        warnings: current.warnings,
      }),
      reload: (trigger) => reload(trigger),
      subscribe: (listener) => view.subscribe(listener),
    };
    admin = new AdminServer(file.admin.listen, state, metricsSource, { api, token: adminToken, log: ops });
    try {
      await admin.start();
    } catch (error) {
      stopping = true;
      for (const m of all()) m.stop(0);
      throw error;
    }
  }
  ready = true;

  const shown = addresses.map((a) => hostPort(a.address, a.port));
  const adminAddress = admin?.address();
  if (file.pidFile !== null) {
    writeFileSync(file.pidFile, `${process.pid}\n`);
    // A result file of an earlier run must not look like an answer to the next reload.
    await writeReloadResult(file.pidFile, {
      seq: 0,
      at: startedAt,
      trigger: 'start',
      ok: true,
      error: null,
      generation,
      pid: process.pid,
    });
  }
  const summaries = setInterval(() => {
    if (view.listening) view.emit('summary', { ...view.summary(), generation });
  }, 1000);
  summaries.unref();
  // This process (the gateway itself, or the workers' supervisor) gives back a burst's garbage once quiet.
  const stopCollector = startQuietCollector();
  // Reload: validate here first; only a configuration that loads completely reaches the gateway.
  let reloading: Promise<unknown> = Promise.resolve();
  // The --watch / reload.watch file watcher, set up below once reloads can be taken.
  let watcher: FileWatcher | null = null;
  const reload = (trigger: string, watchTriggered = false): Promise<ReloadResult> => {
    const run = reloading.then(async (): Promise<ReloadResult> => {
      const seq = ++reloadSeq;
      const at = Date.now();
      let next: LoadedConfig;
      let result: ReloadResult;
      try {
        next = await loadConfig(options);
      } catch (error) {
        const message = isAirlockError(error) ? error.message : String(error);
        ops.error(
          { event: 'reload_failed', trigger },
          `reload rejected, the running policy is unchanged:\n${message}`,
        );
        result = { seq, at, trigger, ok: false, error: message, generation, pid: process.pid };
        return finishReload(result);
      }
      // A watched file read empty is almost always one being rewritten in place (truncated, not
      // yet refilled): applied, it would put the built-in defaults in force for a moment. Its
      // content brings another event; a signal or `airlock reload` applies an empty file as it is.
      const empty = watchTriggered
        ? next.texts.find((t) => t.text !== null && t.text.trim() === '')
        : undefined;
      if (empty !== undefined) {
        const message = `${empty.path} was empty when read: taken as a file being written, the running policy is unchanged`;
        ops.warn({ event: 'reload_deferred', trigger, path: empty.path }, message);
        result = { seq, at, trigger, ok: false, error: message, generation, pid: process.pid };
        return finishReload(result);
      }
      // Warnings already printed for the running policy are not repeated on every reload.
      for (const warning of next.warnings)
        if (!current.warnings.includes(warning)) ops.warn({ event: 'policy_warning' }, warning);
      const ignored = restartOnly(current, next);
      if (ignored.length > 0) {
        ops.warn(
          { event: 'reload_needs_restart', keys: ignored },
          `changes to ${ignored.join(', ')} take effect only after a restart`,
        );
      }
      generation++;
      const answers = await Promise.all(all().map((m) => m.reload(trigger, next, generation)));
      current = next;
      view.configure(next);
      // The watch follows the files the new configuration names.
      watcher?.refresh();
      const failed = answers.filter((a) => !a.ok).map((a) => a.message);
      result = {
        seq,
        at,
        trigger,
        ok: failed.length === 0,
        error: failed.length === 0 ? null : `not every worker applied it: ${failed.join('; ')}`,
        generation,
        pid: process.pid,
      };
      ops.info(
        { event: 'reloaded', trigger, rules: next.policy.rules.length, generation },
        `policy reloaded (${next.policy.rules.length} destination rules)`,
      );
      return finishReload(result);
    });
    reloading = run.catch(() => undefined);
    return run;
  };
  const finishReload = async (result: ReloadResult): Promise<ReloadResult> => {
    lastReload = result;
    supervisorMetrics.reloaded(result.ok, result.at, generation);
    view.emit('reload', result);
    if (file.pidFile !== null) {
      try {
        await writeReloadResult(file.pidFile, result);
      } catch (error) {
        ops.warn(
          { event: 'reload_result_unwritten' },
          `cannot write the reload result: ${(error as Error).message}`,
        );
      }
    }
    return result;
  };
  process.on('SIGHUP', () => void reload('SIGHUP'));
  process.on('SIGUSR1', () => {
    for (const m of all()) m.reopen();
    ops.info({ event: 'log_reopened' }, 'access log reopened');
  });

  if (options.watch === true || file.reload.watch) {
    // The files of the configuration in force: a reload that names other allowlists moves the watch.
    const watched = (): string[] => [
      ...(options.configFile ? [options.configFile] : []),
      ...(options.allowlist?.length ? options.allowlist : current.config.allowlistFiles.map((f) => f.path)),
    ];
    watcher = new FileWatcher(watched, (path) => void reload(`watch ${path}`, true), ops);
  }

  const stop = (signal: string): void => {
    if (stopping) {
      ops.warn({ event: 'shutdown_forced' }, `${signal} again: closing everything now`);
      for (const m of all()) m.stop(0);
      return;
    }
    stopping = true;
    ready = false;
    clearInterval(summaries);
    stopCollector();
    watcher?.close();
    void sumStats().then((stats) =>
      ops.info(
        { event: 'shutdown', signal, sessions: stats.sessions, drainMs: file.timeouts.drain },
        `${signal}: no longer accepting; draining ${plural(Number(stats.sessions), 'open session')}`,
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

  // Only now, with every signal handled, does the gateway say it is listening: a SIGHUP sent on
  // that line reloads instead of ending the process.
  ops.info(
    {
      event: 'listening',
      listeners: shown,
      admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null,
      workers,
      rules: current.policy.rules.length,
      mode: file.mode,
      observation: file.observe.state ? 'on' : 'off',
      config: current.config.fileName,
      pid: process.pid,
    },
    `airlock listening on ${shown.join(', ')} with ${current.policy.rules.length} destination rules${workers > 1 ? ` in ${workers} workers` : ''}${file.mode === 'audit' ? ' (AUDIT MODE)' : ''}`,
  );

  await stopped;
  if (workers > 1) {
    // A worker's report can still be unread when its exit is seen: wait until every channel
    // has closed, at most a second (the line must not wait on a channel that never reports).
    const closed = all().flatMap((m) => (m instanceof WorkerMember ? [m.closed] : []));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      void Promise.all(closed).then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const { fields, message } = fleetStopped(
      all().map((m) => (m instanceof WorkerMember ? m.stopResult : null)),
    );
    ops.info({ event: 'stopped', workers, ...fields }, message);
  }
  await admin?.close();
  if (file.pidFile !== null) {
    for (const path of [file.pidFile, reloadResultPath(file.pidFile)]) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  }
  return 0;
}

/** How long a burst of file events must be quiet before the watched files are compared. */
const WATCH_SETTLE_MS = 300;

/**
 * The longest a burst of events postpones the comparison, counted from its first event: a file
 * rewritten without pause (a tool in a loop) still gets reloaded.
 */
const WATCH_MAX_DELAY_MS = 1000;

/**
 * `--watch` / `reload.watch`: calls `changed` when a watched file changes, whether it is edited in
 * place, replaced (written elsewhere and renamed over the name, as editors and configuration
 * management do) or reached through a symlink that is swapped (as Kubernetes does with a mounted
 * ConfigMap). The directories are watched, not the files: a watch on a file follows its inode and
 * hears nothing once the name points at a new one. Only events that name a watched file, or an
 * entry one of its symlinks goes through, count: other files in the same directory (an access
 * log under load) may change all the time and must not hold the reload back. Each burst of events
 * is debounced, at most `WATCH_MAX_DELAY_MS` after its first, then the files are compared with
 * what was last seen (inode, size, modification time); while one of them is missing (between a
 * tool's unlink and its rename) nothing is reloaded, and the event of its return triggers the
 * comparison again.
 */
class FileWatcher {
  private readonly dirs = new Map<string, FSWatcher>();
  private seen = new Map<string, string | null>();
  /** Per watched directory, the entry names whose events can change a watched file. */
  private names = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  /** When the first event of the burst being debounced came (undefined between bursts). */
  private burstStart: number | undefined;
  private missingReported = new Set<string>();
  private closed = false;

  constructor(
    private readonly files: () => string[],
    private readonly changed: (path: string) => void,
    private readonly ops: Logger,
  ) {
    this.refresh();
  }

  /** Watches the directories of the current files; files new to the watch are taken as they are now. */
  refresh(): void {
    if (this.closed) return;
    const paths = [...new Set(this.files().map((f) => resolve(f)))];
    const seen = new Map<string, string | null>();
    for (const path of paths) seen.set(path, this.seen.has(path) ? this.seen.get(path)! : signature(path));
    this.seen = seen;
    this.findNames();
    for (const [dir, w] of this.dirs) {
      if (this.names.has(dir)) continue;
      w.close();
      this.dirs.delete(dir);
    }
    for (const dir of this.names.keys()) {
      if (this.dirs.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // Without a name (platforms that do not report one) the event may concern a watched file.
          if (name === null || this.names.get(dir)?.has(name) === true) this.schedule();
        });
        w.on('error', (error) =>
          this.ops.warn({ event: 'watch_failed', path: dir }, `cannot watch ${dir}: ${error.message}`),
        );
        this.dirs.set(dir, w);
      } catch (error) {
        this.ops.warn(
          { event: 'watch_failed', path: dir },
          `cannot watch ${dir}: ${(error as Error).message}`,
        );
      }
    }
  }

  /**
   * Takes again the names that matter in each directory: the symlinks of a ConfigMap point at a
   * new timestamped directory after each update.
   */
  private findNames(): void {
    const names = new Map<string, Set<string>>();
    for (const path of this.seen.keys()) {
      const dir = dirname(path);
      const set = names.get(dir) ?? new Set<string>();
      for (const name of linkChain(path)) set.add(name);
      names.set(dir, set);
    }
    this.names = names;
  }

  private schedule(): void {
    const now = Date.now();
    this.burstStart ??= now;
    // A quiet pause of WATCH_SETTLE_MS ends the burst, but events that never pause cannot push
    // the comparison past WATCH_MAX_DELAY_MS after the first of them.
    const wait = Math.max(0, Math.min(WATCH_SETTLE_MS, this.burstStart + WATCH_MAX_DELAY_MS - now));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.burstStart = undefined;
      this.compare();
    }, wait);
  }

  private compare(): void {
    if (this.closed) return;
    const now = new Map<string, string | null>();
    for (const path of this.seen.keys()) now.set(path, signature(path));
    const missing = [...now].filter(([, sig]) => sig === null).map(([path]) => path);
    if (missing.length > 0) {
      for (const path of missing) {
        if (this.missingReported.has(path)) continue;
        this.missingReported.add(path);
        this.ops.warn(
          { event: 'watch_missing', path },
          `${path} is missing; the reload waits until it is back`,
        );
      }
      return;
    }
    this.missingReported.clear();
    const changed = [...now].find(([path, sig]) => this.seen.get(path) !== sig);
    this.seen = now;
    this.findNames();
    if (changed !== undefined) this.changed(changed[0]);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.burstStart = undefined;
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
  }
}

/**
 * The names in the directory of `path` whose events can change what `path` reads: its own, and
 * each entry of that directory its symlinks lead through (for a ConfigMap's `airlock.yaml`, the
 * `..data` link and the timestamped directory it points at). A link out of the directory ends the
 * chain: nothing there is heard by the directory's watch anyway.
 */
function linkChain(path: string): string[] {
  const dir = dirname(path);
  const names = [basename(path)];
  // Bounded, so that a loop of links ends.
  for (let i = 0; i < 8; i++) {
    let target: string;
    try {
      target = readlinkSync(join(dir, names[names.length - 1]!));
    } catch {
      break; // Not a link (or missing): the chain ends here.
    }
    const first = relative(dir, resolve(dir, target)).split(sep)[0];
    if (first === undefined || first === '' || first === '..' || names.includes(first)) break;
    names.push(first);
  }
  return names;
}

/** What identifies a file's content for the watch (symlinks followed), or null when it is missing. */
function signature(path: string): string | null {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return null;
  }
}
