/**
 * Starting, measuring and stopping the proxies under test: Airlock, Squid (workers 1 and N) and
 * tinyproxy, all on loopback, configured equivalently (same allowlist, same client network, same
 * ports, no cache, no added forwarding headers). Each is spawned in a process group of its own,
 * so stopping it can never reach anything the harness did not start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GATEWAY_NODE_FLAGS, withGatewayEnv } from '../src/supervisor/node-flags.js';
import { proxyConnect } from './checks.js';
import { processTree, sampleTree, type TreeSample } from './procfs.js';

export type { TreeSample } from './procfs.js';

/** A port that was free a moment ago on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------- configuration

export interface ProxyEnv {
  /** Private temporary directory for configs, logs and pid files. */
  readonly workDir: string;
  readonly repoRoot: string;
  /** The name every tunnel and request goes to (resolved by each proxy to originHost). */
  readonly destName: string;
  /** Allowlist in Squid dstdomain syntax (leading dot: the domain and its subdomains). */
  readonly allowlist: readonly string[];
  readonly originHost: string;
  readonly connectPorts: readonly number[];
  /** CONNECT ports where tunnels start with a TLS ClientHello (Airlock checks SNI there). */
  readonly tlsPorts: readonly number[];
  readonly httpPorts: readonly number[];
  /** Every proxy logs every request to a file in workDir (true), or none logs (false). */
  readonly accessLog: boolean;
  /**
   * Client source addresses the proxies' hosts files name (Squid looks up the name of every
   * client address; a site's DNS would answer and Squid would cache the answer).
   */
  readonly clientAddresses: readonly string[];
  /** A DNS server on loopback that answers every query NXDOMAIN, or null when there is none. */
  readonly dnsServer: string | null;
}

/** `engine` of the Airlock configuration; absent: the defaults (native relay, SO_REUSEPORT). */
export interface AirlockEngine {
  readonly tunnels?: 'native' | 'js';
  readonly listen?: 'reuseport' | 'handoff';
  /** The relay thread's busy polling, in microseconds. */
  readonly busyPollUs?: number;
}

/** What a target's label says of its engine settings ('' for the defaults). */
function engineLabel(engine: AirlockEngine | undefined): string {
  if (engine === undefined) return '';
  const parts: string[] = [];
  if (engine.tunnels !== undefined) parts.push(`${engine.tunnels} tunnels`);
  if (engine.listen !== undefined) parts.push(engine.listen);
  if (engine.busyPollUs !== undefined) parts.push(`busy poll ${engine.busyPollUs} µs`);
  return parts.length === 0 ? '' : ` ${parts.join(', ')}`;
}

/**
 * The environment variable that turns the gateway's observation state (live sessions, event
 * stream) off, and the field of its "listening" event that confirms it took effect.
 */
export const OBSERVATION_ENV = 'AIRLOCK_OBSERVATION';

export type ProxySpec =
  | {
      readonly kind: 'airlock';
      readonly workers: string | null;
      readonly engine?: AirlockEngine;
      /** 'off': started with AIRLOCK_OBSERVATION=off. */
      readonly observation?: 'off';
    }
  | { readonly kind: 'squid'; readonly workers: number }
  | { readonly kind: 'tinyproxy' };

export const SQUID = '/usr/sbin/squid';
export const TINYPROXY = '/usr/bin/tinyproxy';

/** Where Squid keeps its SMP IPC sockets (Debian: /run/squid); null when it is not usable. */
const SQUID_IPC_DIR = '/run/squid';

function userIds(name: string): { uid: number; gid: number } | null {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (line === undefined) return null;
    const f = line.split(':');
    return { uid: Number(f[2]), gid: Number(f[3]) };
  } catch {
    return null;
  }
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** A directory the proxy's unprivileged user can write (Squid and tinyproxy drop root). */
function ownedDir(path: string, user: string | null): void {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o755);
  if (user !== null && isRoot()) {
    const ids = userIds(user);
    if (ids !== null) chownSync(path, ids.uid, ids.gid);
  }
}

export function airlockConfig(env: ProxyEnv, port: number, logFile: string, engine?: AirlockEngine): string {
  // JSON is YAML: the file is written as JSON to avoid quoting questions.
  return `${JSON.stringify(
    {
      version: 1,
      listeners: [`127.0.0.1:${port}`],
      policy: {
        sources: ['127.0.0.0/8'],
        destinations: env.allowlist,
        ports: { connect: env.connectPorts, http: env.httpPorts },
      },
      hosts: { [env.destName]: env.originHost },
      // The name comes from `hosts:`; the servers are never asked (the benchmark's own when there is one).
      dns: { servers: [env.dnsServer === null ? '127.0.0.1:9' : `${env.dnsServer}:53`], hostsFile: null },
      tls: { sniCheck: true, ports: env.tlsPorts },
      log: { file: logFile },
      // Sizing for 50k tunnels; the per-client limits are raised out of the way: a few source
      // addresses carry thousands of new connections per second, which the defaults (sized for
      // one endpoint per address) would throttle. Squid and tinyproxy have no such limits.
      limits: {
        maxConnections: 60_000,
        maxConnectionsPerClient: 60_000,
        newConnectionsPerClientPerSecond: 1_000_000,
      },
      timeouts: { drain: '1s' },
      ...(engine === undefined ? {} : { engine }),
    },
    null,
    2,
  )}\n`;
}

export function squidConfig(env: ProxyEnv, port: number, workers: number, dir: string): string {
  const lines = [
    `http_port 127.0.0.1:${port}`,
    `workers ${workers}`,
    'cache deny all',
    'cache_mem 0 MB',
    'via off',
    'forwarded_for delete',
    `acl dest dstdomain ${env.allowlist.join(' ')}`,
    'acl localnet src 127.0.0.0/8',
    'acl CONNECT method CONNECT',
    `acl connect_ports port ${env.connectPorts.join(' ')}`,
    `acl http_ports port ${env.httpPorts.join(' ')}`,
    'http_access allow localnet CONNECT connect_ports dest',
    'http_access allow localnet !CONNECT http_ports dest',
    'http_access deny all',
    `pid_filename ${join(dir, 'squid.pid')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    // One file per process: stdio logging does not share a file between SMP workers.
    env.accessLog ? `access_log stdio:${join(dir, 'access-${process_number}.log')} squid` : 'access_log none',
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'netdb_filename none',
    'pinger_enable off',
    'icp_port 0',
    'htcp_port 0',
    'shutdown_lifetime 1 seconds',
    'max_filedescriptors 20000',
    `hosts_file ${join(dir, 'hosts')}`,
    // Squid looks up the name of every client address; without an answer a lookup stays
    // pending for dns_timeout and every new one walks the pending list.
    `dns_nameservers ${env.dnsServer ?? '127.0.0.1'}`,
    'visible_hostname airlock-bench',
  ];
  return `${lines.join('\n')}\n`;
}

/** Lines in the files of `dir` whose names match. */
function countLines(dir: string, name: RegExp): number {
  let lines = 0;
  for (const f of existsSync(dir) ? readdirSync(dir) : [])
    if (name.test(f))
      try {
        const text = readFileSync(join(dir, f));
        for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) lines++;
      } catch {
        // gone in between
      }
  return lines;
}

/** Squid's hosts file: the origin's name, and a name for every client address. */
export function squidHosts(env: ProxyEnv): string {
  const lines = [`${env.originHost} ${env.destName}`];
  env.clientAddresses.forEach((address, i) => lines.push(`${address} bench-client-${i + 1}`));
  return `${lines.join('\n')}\n`;
}

/** The `observation` field of Airlock's "listening" event, or null when it has none. */
export function observationOf(line: string): string | null {
  try {
    const event = JSON.parse(line) as Record<string, unknown>;
    const value = event.observation;
    return typeof value === 'string' ? value : typeof value === 'boolean' ? (value ? 'on' : 'off') : null;
  } catch {
    return null;
  }
}

/** tinyproxy filters with regular expressions: the dstdomain rules, translated. */
export function tinyproxyFilter(allowlist: readonly string[]): string {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `${allowlist.map((r) => (r.startsWith('.') ? `(^|\\.)${esc(r.slice(1))}$` : `^${esc(r)}$`)).join('\n')}\n`;
}

export function tinyproxyConfig(env: ProxyEnv, port: number, dir: string): string {
  const lines = [
    ...(isRoot() ? ['User nobody', 'Group 65534'] : []),
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 600',
    'MaxClients 100000',
    'Allow 127.0.0.0/8',
    'DisableViaHeader Yes',
    ...env.connectPorts.map((p) => `ConnectPort ${p}`),
    `Filter "${join(dir, 'filter')}"`,
    'FilterType ere',
    'FilterDefaultDeny Yes',
    // Connect: the client, the request line and the upstream connection of every request.
    env.accessLog ? 'LogLevel Connect' : 'LogLevel Critical',
    `LogFile "${join(dir, 'tinyproxy.log')}"`,
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- running

export interface RunningProxy {
  readonly id: string;
  readonly label: string;
  readonly spec: ProxySpec;
  readonly port: number;
  readonly pid: number;
  /** Processes in the proxy's tree once it was ready. */
  readonly processes: number;
  /**
   * Airlock: the `observation` field of its "listening" event ("on"/"off"), or null when the
   * gateway does not report one (it has no such switch yet). Other proxies: null.
   */
  readonly observation: string | null;
  sample(withFiles?: boolean): TreeSample;
  /** The last lines the proxy printed (for error messages). */
  output(): string;
  /** Lines in the proxy's request log files so far (0 when it logs nothing). */
  logLines(): number;
  stop(): Promise<void>;
}

/** Keeps the last lines of a stream and lets a caller wait for a line. */
class Tail {
  private lines: string[] = [];
  private partial = '';
  private waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  feed(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > 40) this.lines.shift();
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }
  waitFor(test: (line: string) => boolean): Promise<string> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
  text(): string {
    return [...this.lines, this.partial].join('\n').trim();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Whether any process of the group `pgid` still exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Process groups this process spawned and has not seen gone yet. */
const liveGroups = new Set<number>();

/**
 * Last resort for an exit without cleanup (an exception, a signal): SIGKILL every process group
 * this process spawned. Synchronous, so it can run in an 'exit' handler.
 */
export function killSpawnedGroupsSync(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
}

/** SIGTERM to the leader, then SIGKILL to the whole group (ours: spawned detached) if needed. */
async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (alive(child)) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, delay(graceMs)]);
  }
  for (let i = 0; i < 50 && groupAlive(pid); i++) {
    if (i === 0 || i === 20) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone in between
      }
    }
    await delay(100);
  }
  if (!groupAlive(pid)) liveGroups.delete(pid);
}

/** Polls until a CONNECT through the proxy reaches the plain echo origin. */
async function waitForProxy(
  port: number,
  env: ProxyEnv,
  probePort: number,
  child: ChildProcess,
  timeoutMs: number,
  extra: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (!alive(child))
      throw new Error(`exited during startup (${String(child.exitCode ?? child.signalCode)})`);
    if (extra()) {
      const r = await proxyConnect({
        proxyPort: port,
        name: env.destName,
        port: probePort,
        timeoutMs: 2_000,
      });
      r.socket?.destroy();
      if (r.status === 200) return;
      last = r.error ?? `status ${r.status}`;
    }
    await delay(200);
  }
  throw new Error(`not ready within ${timeoutMs / 1000} s (last probe: ${last})`);
}

let serviceCounter = 0;

export interface StartOptions {
  /** A plain (non-TLS) echo port for the readiness probe. */
  readonly probePort: number;
  /** Whether `airlock serve` accepts --workers. */
  readonly airlockHasWorkers: boolean;
}

export async function startProxy(
  spec: ProxySpec,
  env: ProxyEnv,
  options: StartOptions,
): Promise<RunningProxy> {
  const port = await freePort();
  const id = spec.kind === 'squid' ? `squid-w${spec.workers}` : spec.kind;
  const dir = join(env.workDir, `${id}-${port}`);
  const tail = new Tail();
  let child: ChildProcess;
  let ready: Promise<void>;
  let afterStop: () => void = () => undefined;
  let observation: string | null = null;

  if (spec.kind === 'airlock') {
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'airlock.yaml');
    writeFileSync(
      config,
      airlockConfig(env, port, env.accessLog ? join(dir, 'access.log') : '/dev/null', spec.engine),
    );
    // AIRLOCK_BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the gateway under load.
    const nodeArgs = (process.env.AIRLOCK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // Started as `npm start` and the installed service start it: with the gateway's Node.js flags
    // and environment.
    const args = [
      ...GATEWAY_NODE_FLAGS,
      ...nodeArgs,
      join(env.repoRoot, 'dist/src/cli/main.js'),
      'serve',
      '--config',
      config,
    ];
    if (spec.workers !== null && options.airlockHasWorkers) args.push('--workers', spec.workers);
    const childEnv = withGatewayEnv(process.env);
    delete childEnv[OBSERVATION_ENV];
    if (spec.observation === 'off') childEnv[OBSERVATION_ENV] = 'off';
    child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: childEnv,
    });
    child.stderr!.on('data', (d: Buffer) => tail.feed(d));
    const listening = tail.waitFor((line) => line.includes('"event":"listening"'));
    ready = Promise.race([
      listening.then((line) => {
        observation = observationOf(line);
      }),
      new Promise<void>((_, reject) =>
        child.once('exit', (c) => reject(new Error(`exited (code ${String(c)})`))),
      ),
      delay(60_000).then(() => {
        throw new Error('no "listening" line within 60 s');
      }),
    ]).then(() => waitForProxy(port, env, options.probePort, child, 20_000));
  } else if (spec.kind === 'squid') {
    ownedDir(dir, 'proxy');
    writeFileSync(join(dir, 'hosts'), squidHosts(env));
    writeFileSync(join(dir, 'squid.conf'), squidConfig(env, port, spec.workers, dir));
    const service = `airlockbench${process.pid}x${++serviceCounter}`;
    // As Debian's service unit runs it: a master that watches its kid(s) (`--foreground`).
    const args = ['--foreground', '-n', service, '-f', join(dir, 'squid.conf')];
    child = spawn(SQUID, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => tail.feed(d));
    child.stderr!.on('data', (d: Buffer) => tail.feed(d));
    // The master and its worker; with more workers (SMP) also a coordinator.
    const expected = spec.workers === 1 ? 2 : spec.workers + 2;
    const pid = child.pid!;
    ready = waitForProxy(
      port,
      env,
      options.probePort,
      child,
      30_000,
      () => processTree(pid).length >= expected,
    );
    afterStop = () => {
      // Squid leaves its SMP IPC sockets behind (and, if killed, its shared memory); both carry
      // our unique service name.
      for (const shared of [SQUID_IPC_DIR, '/dev/shm'])
        if (existsSync(shared))
          for (const f of readdirSync(shared))
            if (f.startsWith(`${service}-`)) rmSync(join(shared, f), { force: true });
    };
  } else {
    ownedDir(dir, isRoot() ? 'nobody' : null);
    writeFileSync(join(dir, 'filter'), tinyproxyFilter(env.allowlist));
    writeFileSync(join(dir, 'tinyproxy.conf'), tinyproxyConfig(env, port, dir));
    child = spawn(TINYPROXY, ['-d', '-c', join(dir, 'tinyproxy.conf')], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => tail.feed(d));
    child.stderr!.on('data', (d: Buffer) => tail.feed(d));
    ready = waitForProxy(port, env, options.probePort, child, 20_000);
  }
  child.on('error', (e) => tail.feed(Buffer.from(`spawn error: ${e.message}\n`)));

  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  const stop = async (): Promise<void> => {
    await stopGroup(child, spec.kind === 'airlock' ? 8_000 : 5_000);
    afterStop();
  };
  if (pid === undefined) throw new Error(`${id}: could not be started`);
  try {
    await ready;
  } catch (error) {
    await stop();
    const log =
      spec.kind === 'squid' && existsSync(join(dir, 'cache.log'))
        ? readFileSync(join(dir, 'cache.log'), 'utf8')
        : '';
    throw new Error(
      `${id}: ${(error as Error).message}\n${tail.text()}${log === '' ? '' : `\n--- cache.log\n${log.split('\n').slice(-15).join('\n')}`}`,
      { cause: error },
    );
  }
  const processes = processTree(pid).length;
  const label =
    spec.kind === 'airlock'
      ? `Airlock${engineLabel(spec.engine)}${spec.observation === 'off' ? ', observation off' : ''} (${processes <= 1 ? '1 process' : `${processes - 1} workers`})`
      : spec.kind === 'squid'
        ? `Squid (workers ${spec.workers})`
        : 'tinyproxy';
  return {
    id,
    label,
    spec,
    port,
    pid,
    processes,
    observation,
    sample: (withFiles = false) => sampleTree(pid, withFiles),
    output: () => tail.text(),
    logLines: () =>
      countLines(
        dir,
        spec.kind === 'airlock'
          ? /^access\.log$/
          : spec.kind === 'squid'
            ? /^access-\d+\.log$/
            : /^tinyproxy\.log$/,
      ),
    stop,
  };
}

/** `squid -v` / `tinyproxy -v` first line, or null when not installed. */
export function toolVersion(path: string): string | null {
  if (!existsSync(path)) return null;
  try {
    return execFileSync(path, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return null;
  }
}

/**
 * Whether Squid can run SMP workers here: it needs its IPC directory (Debian: /run/squid, made
 * by the package's service unit; /run is emptied at boot). Running as root, a missing one is
 * created the way the unit does (owned by the proxy user). Returns the problem, or null.
 */
export function squidSmpUsable(): string | null {
  if (!existsSync(SQUID_IPC_DIR)) {
    if (!isRoot()) return `${SQUID_IPC_DIR} (Squid's SMP IPC directory) does not exist`;
    ownedDir(SQUID_IPC_DIR, 'proxy');
  }
  return null;
}

/** Whether this build of Airlock has multi-process workers (`serve --help` lists --workers). */
export function airlockHasWorkers(repoRoot: string): boolean {
  try {
    const help = execFileSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'serve', '--help'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return /--workers\b/.test(help);
  } catch {
    return false;
  }
}

/** A process whose idle memory is read beside the proxies' for reference; not a proxy. */
export interface ReferenceProcess {
  readonly pid: number;
  sample(withFiles?: boolean): TreeSample;
  stop(): Promise<void>;
}

/**
 * A Node.js script run with the gateway's binary, Node.js flags and environment: without
 * `module`, an empty one (what any Node.js process of that binary holds at idle, the part of
 * Airlock's figure that is not Airlock); with it, an ES module evaluated in `cwd` (the libraries'
 * reference: see serving-libraries.ts).
 */
export function startNodeReference(module?: {
  readonly source: string;
  readonly cwd: string;
}): ReferenceProcess {
  const args =
    module === undefined
      ? ['-e', 'setInterval(() => {}, 2 ** 30)']
      : ['--input-type=module', '-e', module.source];
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...args], {
    detached: true,
    stdio: 'ignore',
    env: withGatewayEnv(process.env),
    ...(module === undefined ? {} : { cwd: module.cwd }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('a Node.js reference process could not be started');
  liveGroups.add(pid);
  return {
    pid,
    sample: (withFiles = false) => sampleTree(pid, withFiles),
    stop: () => stopGroup(child, 2_000),
  };
}
