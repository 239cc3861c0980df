/**
 * Multi-host end-to-end test of the gateway's hardening, across network namespaces this file
 * creates and removes itself:
 *
 *   lan   10.77.0.2/24     ──┐
 *                            ├── gw  .1 on each side, ip_forward=0 ── inet  203.0.113.10, .11 (veth)
 *   pub   198.51.100.2/24  ──┘                                            10.0.0.5, 169.254.169.254 (lo)
 *                                                                         dnsmasq :53, TLS and HTTP origins
 *
 * Only the gateway namespace has an address on every network, and it does not forward packets,
 * so whatever an origin sees came through the gateway process. Every judgement is made on what
 * the origins actually logged plus the gateway's access log. Needs root, `ip`, `dnsmasq`,
 * `openssl` and `curl`; skips (with the reason) otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requirement } from '../helpers/skip.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import type { OriginConfig, OriginEvent } from './netns-origin.js';

/** Unique per run, so a concurrent run (or anything else on the host) is never touched. */
const PREFIX = `al${process.pid}`;
/** Namespaces of earlier runs of this file: `al<pid><role>`. */
const OWN_NAMESPACE = /^al(\d+)(gw|lan|pub|inet)$/;
const NS = {
  gw: `${PREFIX}gw`,
  lan: `${PREFIX}lan`,
  pub: `${PREFIX}pub`,
  inet: `${PREFIX}inet`,
} as const;
/** Interface names are at most 15 characters: the prefix is at most 9. */
const IF = {
  lan: `${PREFIX}lan`,
  lanPeer: `${PREFIX}lan0`,
  pub: `${PREFIX}pub`,
  pubPeer: `${PREFIX}pub0`,
  wan: `${PREFIX}wan`,
  wanPeer: `${PREFIX}wan0`,
} as const;

const GW_LAN = '10.77.0.1';
const LAN_CLIENT = '10.77.0.2';
const GW_PUB = '198.51.100.1';
const PUB_CLIENT = '198.51.100.2';
const GW_WAN = '203.0.113.1';
const ORIGIN_A = '203.0.113.10';
const ORIGIN_B = '203.0.113.11';
const REBIND = '10.0.0.5';
const METADATA = '169.254.169.254';
const NAMES = ['allowed.example.test', 'other.example.test', 'rebind.example.test', 'metadata.example.test'];

const GATEWAY_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ORIGIN_SCRIPT = fileURLToPath(new URL('./netns-origin.js', import.meta.url));
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CHILD_ENV = { PATH: SAFE_PATH, LANG: 'C' };

function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...SAFE_PATH.split(':')].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

const TOOLS = {
  ip: findTool('ip'),
  dnsmasq: findTool('dnsmasq'),
  openssl: findTool('openssl'),
  curl: findTool('curl'),
};

/** Why this test cannot run here, or null when it can. */
function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  const missing = Object.entries(TOOLS)
    .filter(([, path]) => path === null)
    .map(([name]) => name);
  if (missing.length > 0) return `missing tools: ${missing.join(', ')}`;
  for (const file of [GATEWAY_MAIN, ORIGIN_SCRIPT]) {
    if (!existsSync(file)) return `${file} is not built (npm run build)`;
  }
  const probe = `${PREFIX}probe`;
  try {
    execFileSync(TOOLS.ip!, ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (error) {
    return `cannot create network namespaces: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
  try {
    execFileSync(TOOLS.ip!, ['netns', 'del', probe], { stdio: 'pipe' });
  } catch {
    // Removed with the other leftovers at the next start.
  }
  return null;
}

const SKIP = skipReason();

// ---------------------------------------------------------------------------------------------
// Commands and processes

interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ip` (set-up commands, mostly `ip -n NS ...`); throws with its stderr on failure. */
function ip(...args: string[]): string {
  try {
    return execFileSync(TOOLS.ip!, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}

/** Runs a command inside namespace `ns` with stdin at end of file and a hard time limit. */
function runIn(
  ns: string,
  command: string,
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(TOOLS.ip!, ['netns', 'exec', ns, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: CHILD_ENV,
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Background {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stdout: string;
  stderr: string;
}

const processes: Background[] = [];

/** Starts a long-running process inside `ns`; `ip netns exec` execs it, so the PID is the process's own. */
function startIn(ns: string, name: string, command: string, args: readonly string[]): Background {
  const child = spawn(TOOLS.ip!, ['netns', 'exec', ns, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: CHILD_ENV,
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const proc: Background = { name, child, exited, stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (proc.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (proc.stderr += c.toString()));
  processes.push(proc);
  return proc;
}

function running(proc: Background): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function stop(proc: Background): Promise<void> {
  if (!running(proc) || proc.child.pid === undefined) return;
  proc.child.kill('SIGTERM');
  await Promise.race([proc.exited, sleep(3000)]);
  if (running(proc)) {
    proc.child.kill('SIGKILL');
    await Promise.race([proc.exited, sleep(2000)]);
  }
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with `what` and `context()`. */
async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(25);
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line still being written.
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Namespaces

/** Namespace names from `ip netns list` ("name" or "name (id: 3)"). */
function listNamespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Ends whatever still runs inside one of this test's namespaces, then deletes it. */
function removeNamespace(name: string): void {
  try {
    const pids = ip('netns', 'pids', name)
      .split('\n')
      .map((p) => Number(p.trim()))
      .filter((p) => Number.isInteger(p) && p > 0);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  } catch {
    // No such namespace.
  }
  try {
    ip('netns', 'del', name);
  } catch {
    // No such namespace.
  }
}

/** Leftovers of this prefix, and of earlier runs whose process no longer exists. */
function removeLeftovers(): void {
  for (const name of listNamespaces()) {
    const match = OWN_NAMESPACE.exec(name);
    if (match === null && name !== `${PREFIX}probe`) continue;
    const pid = match === null ? process.pid : Number(match[1]);
    if (pid === process.pid || !processAlive(pid)) removeNamespace(name);
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture state

interface AccessLine {
  readonly client: string;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly path: string | null;
  readonly decision: string;
  readonly reason: string;
  readonly sni: string | null;
  readonly upstream: string | null;
  readonly status: number;
}

type LoggedOriginEvent = OriginEvent & { readonly time: number };

const tempDirs: string[] = [];
let work = '';
let pki: TestPki;
let originLog = '';
let gatewayConfig = '';
let gateway: Background;
let origins: Background;
let dnsmasq: Background;
let cleaned = false;

function gatewayYaml(internalNetworks: readonly string[]): string {
  return [
    'version: 1',
    'listeners: ["0.0.0.0:3128"]',
    'policy:',
    '  sources: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]',
    '  destinations: [allowed.example.test, rebind.example.test, metadata.example.test]',
    `  internalNetworks: [${internalNetworks.join(', ')}]`,
    '  ports:',
    '    connect: [443]',
    '    http: [80]',
    'dns:',
    `  servers: ["${ORIGIN_A}"]`,
    '  hostsFile: null',
    '  timeout: 1s',
    '  tries: 2',
    'tls:',
    '  sniCheck: true',
    'timeouts:',
    '  connect: 3s',
    '  drain: 1s',
    '',
  ].join('\n');
}

function accessLines(): AccessLine[] {
  return jsonLines(gateway.stdout) as unknown as AccessLine[];
}

function opsEvents(event: string): Record<string, unknown>[] {
  return jsonLines(gateway.stderr).filter((line) => line.event === event);
}

function originEvents(): LoggedOriginEvent[] {
  if (!existsSync(originLog)) return [];
  return jsonLines(readFileSync(originLog, 'utf8')) as unknown as LoggedOriginEvent[];
}

function diagnostics(): string {
  return [
    `gateway access log:\n${gateway?.stdout ?? ''}`,
    `gateway stderr:\n${gateway?.stderr ?? ''}`,
    `origin log:\n${existsSync(originLog) ? readFileSync(originLog, 'utf8') : ''}`,
  ].join('\n');
}

/** The access line matching `predicate`, once the gateway has written it. */
function accessLine(what: string, predicate: (line: AccessLine) => boolean): Promise<AccessLine> {
  return waitFor(`access line: ${what}`, () => accessLines().find(predicate), 5000, diagnostics);
}

/**
 * Origin events after `mark` (a count of earlier events). An origin logs a connection as soon
 * as it accepts it, before the gateway could answer its client; the short pause only covers the
 * file write being observed.
 */
async function originEventsSince(mark: number): Promise<LoggedOriginEvent[]> {
  await sleep(200);
  return originEvents().slice(mark);
}

function curlIn(ns: string, args: readonly string[]): Promise<CommandResult> {
  return runIn(ns, TOOLS.curl!, ['-q', '-sS', '--connect-timeout', '5', '--max-time', '10', ...args]);
}

/** curl through the gateway: `%{http_connect}` is the CONNECT answer, `%{http_code}` the final one. */
async function viaGateway(
  ns: string,
  proxy: string,
  url: string,
): Promise<{ code: number | null; connect: number; status: number; body: string; stderr: string }> {
  const result = await curlIn(ns, [
    '--proxy',
    `http://${proxy}:3128`,
    '--cacert',
    pki.caFile,
    '-w',
    '\n%{http_connect} %{http_code}',
    url,
  ]);
  const lines = result.stdout.split('\n');
  const [connect = '0', status = '0'] = (lines.pop() ?? '').split(' ');
  return {
    code: result.code,
    connect: Number(connect),
    status: Number(status),
    body: lines.join('\n'),
    stderr: result.stderr,
  };
}

// ---------------------------------------------------------------------------------------------
// Set-up and clean-up

async function setUp(): Promise<void> {
  removeLeftovers();
  work = mkdtempSync(join(tmpdir(), 'airlock-netns-'));
  tempDirs.push(work);
  pki = createPki(NAMES, 'Airlock netns Test CA');
  tempDirs.push(pki.dir);

  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // Both ends are created inside namespaces: nothing appears in the root namespace.
  const links: [string, string, string, string, string][] = [
    [IF.lan, `${GW_LAN}/24`, IF.lanPeer, NS.lan, `${LAN_CLIENT}/24`],
    [IF.pub, `${GW_PUB}/24`, IF.pubPeer, NS.pub, `${PUB_CLIENT}/24`],
    [IF.wan, `${GW_WAN}/24`, IF.wanPeer, NS.inet, `${ORIGIN_A}/24`],
  ];
  for (const [gwSide, gwAddress, peer, peerNs, peerAddress] of links) {
    ip('-n', NS.gw, 'link', 'add', gwSide, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNs);
    ip('-n', NS.gw, 'addr', 'add', gwAddress, 'dev', gwSide);
    ip('-n', peerNs, 'addr', 'add', peerAddress, 'dev', peer);
    ip('-n', NS.gw, 'link', 'set', gwSide, 'up');
    ip('-n', peerNs, 'link', 'set', peer, 'up');
  }
  ip('-n', NS.inet, 'addr', 'add', `${ORIGIN_B}/24`, 'dev', IF.wanPeer);
  ip('-n', NS.inet, 'addr', 'add', `${REBIND}/32`, 'dev', 'lo');
  ip('-n', NS.inet, 'addr', 'add', `${METADATA}/32`, 'dev', 'lo');
  // The gateway could reach the internal addresses: a refusal proves the guard, not a missing route.
  ip('-n', NS.gw, 'route', 'add', `${REBIND}/32`, 'via', ORIGIN_A);
  ip('-n', NS.gw, 'route', 'add', `${METADATA}/32`, 'via', ORIGIN_A);
  const forward = await runIn(NS.gw, 'sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']);
  assert.equal(forward.code, 0, forward.stderr);

  // Origins.
  originLog = join(work, 'origins.jsonl');
  writeFileSync(join(work, 'server.pem'), pki.cert);
  writeFileSync(join(work, 'server.key'), pki.key);
  const originConfig: OriginConfig = {
    logFile: originLog,
    certFile: join(work, 'server.pem'),
    keyFile: join(work, 'server.key'),
    tls: [`${ORIGIN_A}:443`, `${ORIGIN_B}:443`, `${REBIND}:443`],
    http: [`${METADATA}:80`, `${ORIGIN_A}:80`],
  };
  writeFileSync(join(work, 'origins.json'), JSON.stringify(originConfig));
  origins = startIn(NS.inet, 'origins', process.execPath, [
    ORIGIN_SCRIPT,
    'serve',
    join(work, 'origins.json'),
  ]);
  await waitFor(
    'origins to listen',
    () => {
      if (!running(origins)) throw new Error(`origins exited:\n${origins.stderr}`);
      return jsonLines(origins.stdout).some((l) => l.event === 'ready') ? true : undefined;
    },
    5000,
    () => origins.stderr,
  );

  // DNS: four names, everything else NXDOMAIN.
  dnsmasq = startIn(NS.inet, 'dnsmasq', TOOLS.dnsmasq!, [
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--keep-in-foreground',
    '--log-facility=-',
    '--log-queries',
    `--pid-file=${join(work, 'dnsmasq.pid')}`,
    `--listen-address=${ORIGIN_A}`,
    '--bind-interfaces',
    '--port=53',
    '--address=/#/',
    `--address=/allowed.example.test/${ORIGIN_A}`,
    `--address=/other.example.test/${ORIGIN_B}`,
    `--address=/rebind.example.test/${REBIND}`,
    `--address=/metadata.example.test/${METADATA}`,
  ]);
  await waitFor(
    'dnsmasq to answer from the gateway namespace',
    async () => {
      if (!running(dnsmasq)) throw new Error(`dnsmasq exited:\n${dnsmasq.stderr}`);
      const r = await runIn(NS.gw, process.execPath, [ORIGIN_SCRIPT, 'resolve', ORIGIN_A, NAMES[0]!], 3000);
      return r.stdout.includes(`"${ORIGIN_A}"`) ? true : undefined;
    },
    8000,
    () => dnsmasq.stderr,
  );

  // Gateway.
  gatewayConfig = join(work, 'airlock.yaml');
  writeFileSync(gatewayConfig, gatewayYaml([]));
  gateway = startIn(NS.gw, 'gateway', process.execPath, [GATEWAY_MAIN, 'serve', '--config', gatewayConfig]);
  await waitFor(
    'the gateway to listen',
    () => {
      if (!running(gateway)) throw new Error(`gateway exited:\n${gateway.stderr}`);
      return opsEvents('listening').length > 0 ? true : undefined;
    },
    8000,
    () => gateway.stderr,
  );
}

async function cleanUp(): Promise<void> {
  if (cleaned) return;
  for (const proc of [...processes].reverse()) await stop(proc);
  for (const ns of Object.values(NS)) removeNamespace(ns);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  cleaned = true;
}

/** Last resort when the process ends without `after()`: kill, delete, remove, synchronously. */
function cleanUpNow(): void {
  if (cleaned) return;
  for (const proc of processes) {
    if (running(proc) && proc.child.pid !== undefined) {
      try {
        process.kill(proc.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const ns of Object.values(NS)) removeNamespace(ns);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  cleaned = true;
}

function onSignal(signal: NodeJS.Signals): void {
  cleanUpNow();
  process.kill(process.pid, signal);
}

// ---------------------------------------------------------------------------------------------
// Tests

const SKIPPED = requirement('netns end-to-end test', SKIP);

describe('gateway hardening across network namespaces', { skip: SKIPPED }, () => {
  before(async () => {
    process.once('exit', cleanUpNow);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await setUp();
    } catch (error) {
      await cleanUp();
      throw error;
    }
  });

  after(async () => {
    await cleanUp();
    process.removeListener('exit', cleanUpNow);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    const left = listNamespaces().filter((name) => name.startsWith(PREFIX));
    assert.deepEqual(left, [], 'every namespace of this run is deleted');
    for (const proc of processes) assert.ok(!running(proc), `${proc.name} (pid ${proc.child.pid}) stopped`);
  });

  test('sanity: the LAN client reaches nothing beyond its /24, and the gateway host does not forward', async () => {
    const mark = originEvents().length;
    const route = await runIn(NS.lan, TOOLS.ip!, ['route', 'get', ORIGIN_A]);
    assert.notEqual(route.code, 0, `route to ${ORIGIN_A} from the LAN: ${route.stdout}`);
    assert.match(route.stderr, /unreachable/i);
    const direct = await curlIn(NS.lan, ['-o', '/dev/null', '-w', '%{http_code}', `http://${ORIGIN_A}/`]);
    assert.equal(direct.code, 7, `direct curl must fail to connect: ${direct.stdout} ${direct.stderr}`);
    assert.equal(direct.stdout, '000');

    const forwarding = await runIn(NS.gw, 'cat', ['/proc/sys/net/ipv4/ip_forward']);
    assert.equal(forwarding.stdout.trim(), '0');
    for (const ns of Object.values(NS)) {
      const routes = await runIn(ns, TOOLS.ip!, ['route', 'show', 'default']);
      assert.equal(routes.stdout.trim(), '', `${ns} has no default route`);
    }
    assert.deepEqual(await originEventsSince(mark), [], 'no origin saw anything');
  });

  test('a LAN client is served: CONNECT to an allowed name, SNI seen by the origin from the gateway', async () => {
    const mark = originEvents().length;
    const r = await viaGateway(NS.lan, GW_LAN, 'https://allowed.example.test/x');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.connect, 200);
    assert.equal(r.status, 200);
    assert.match(r.body, new RegExp(`^origin ${ORIGIN_A}:443 GET /x$`, 'm'));

    const seen = await waitFor(
      'the origin request',
      () => {
        const events = originEvents().slice(mark);
        return events.some((e) => e.event === 'request') ? events : undefined;
      },
      5000,
      diagnostics,
    );
    const fromGateway = (remote: string): boolean => remote.startsWith(`${GW_WAN}:`);
    assert.ok(
      seen.some(
        (e) => e.event === 'sni' && e.servername === 'allowed.example.test' && e.local === `${ORIGIN_A}:443`,
      ),
      JSON.stringify(seen),
    );
    assert.ok(
      seen.some(
        (e) =>
          e.event === 'tls_established' &&
          e.servername === 'allowed.example.test' &&
          e.local === `${ORIGIN_A}:443` &&
          fromGateway(e.remote),
      ),
      JSON.stringify(seen),
    );
    assert.ok(
      seen.some((e) => e.event === 'request' && e.url === '/x' && fromGateway(e.remote)),
      JSON.stringify(seen),
    );
    for (const e of seen) {
      if ('remote' in e && e.remote !== null) assert.ok(fromGateway(e.remote), JSON.stringify(e));
    }

    const line = await accessLine(
      'allowed CONNECT',
      (l) => l.method === 'CONNECT' && l.host === 'allowed.example.test' && l.client === LAN_CLIENT,
    );
    assert.equal(line.decision, 'allow');
    assert.equal(line.status, 200);
    assert.equal(line.sni, 'allowed.example.test');
    assert.equal(line.upstream, `${ORIGIN_A}:443`);
  });

  test('a client outside policy.sources is refused with 403 and reaches no origin', async () => {
    const mark = originEvents().length;
    const tunnel = await viaGateway(NS.pub, GW_PUB, 'https://allowed.example.test/x');
    assert.notEqual(tunnel.code, 0);
    assert.equal(tunnel.connect, 403, tunnel.stderr);
    const plain = await viaGateway(NS.pub, GW_PUB, 'http://allowed.example.test/y');
    assert.equal(plain.status, 403, plain.stderr);

    for (const method of ['CONNECT', 'GET']) {
      const line = await accessLine(
        `${method} from ${PUB_CLIENT}`,
        (l) => l.client === PUB_CLIENT && l.method === method,
      );
      assert.equal(line.decision, 'deny');
      assert.equal(line.reason, 'DENY_SOURCE_NOT_ALLOWED');
      assert.equal(line.status, 403);
      assert.equal(line.upstream, null);
    }
    assert.deepEqual(await originEventsSince(mark), [], 'no origin saw a connection');
  });

  test('an allowlisted name that resolves to an internal address is refused (rebinding, metadata)', async () => {
    // Control: the gateway host itself can reach both addresses, so only the guard stops it.
    const direct = await curlIn(NS.gw, [
      '--cacert',
      pki.caFile,
      '--resolve',
      `rebind.example.test:443:${REBIND}`,
      '-w',
      '\n%{http_code}',
      'https://rebind.example.test/direct',
    ]);
    assert.match(direct.stdout, /\n200$/, direct.stderr);
    const directMetadata = await curlIn(NS.gw, ['-w', '\n%{http_code}', `http://${METADATA}/direct`]);
    assert.match(directMetadata.stdout, /\n200$/, directMetadata.stderr);

    const mark = originEvents().length;
    const rebind = await viaGateway(NS.lan, GW_LAN, 'https://rebind.example.test/r');
    assert.equal(rebind.connect, 403, rebind.stderr);
    const metadata = await viaGateway(NS.lan, GW_LAN, 'http://metadata.example.test/latest/meta-data/');
    assert.equal(metadata.status, 403, metadata.stderr);

    for (const [method, host] of [
      ['CONNECT', 'rebind.example.test'],
      ['GET', 'metadata.example.test'],
    ] as const) {
      const line = await accessLine(
        `${method} ${host}`,
        (l) => l.client === LAN_CLIENT && l.method === method && l.host === host,
      );
      assert.equal(line.decision, 'deny');
      assert.equal(line.reason, 'DENY_DESTINATION_ADDRESS');
      assert.equal(line.status, 403);
      assert.equal(line.upstream, null);
    }
    const seen = await originEventsSince(mark);
    assert.deepEqual(seen, [], `no origin saw a connection (${REBIND}:443, ${METADATA}:80)`);
  });

  test('a ClientHello naming another host than the CONNECT is cut before any byte is forwarded', async () => {
    const sClient = (servername: string): Promise<CommandResult> =>
      runIn(
        NS.lan,
        TOOLS.openssl!,
        [
          's_client',
          '-proxy',
          `${GW_LAN}:3128`,
          '-connect',
          'allowed.example.test:443',
          '-servername',
          servername,
          '-CAfile',
          pki.caFile,
        ],
        10_000,
      );
    // Control: the same command with the CONNECT's own name completes a verified handshake.
    const good = await sClient('allowed.example.test');
    assert.match(good.stdout, /BEGIN CERTIFICATE/, good.stdout + good.stderr);
    assert.match(good.stdout, /Verify return code: 0 \(ok\)/, good.stdout + good.stderr);

    const mark = originEvents().length;
    const evil = await sClient('other.example.test');
    assert.notEqual(evil.code, 0, evil.stdout);
    // s_client read only the gateway's "200 Connection established", then the close.
    assert.match(evil.stdout, /no peer certificate available/, evil.stdout + evil.stderr);
    assert.doesNotMatch(evil.stdout, /BEGIN CERTIFICATE/);

    const line = await accessLine(
      'SNI mismatch',
      (l) => l.client === LAN_CLIENT && l.method === 'CONNECT' && l.sni === 'other.example.test',
    );
    assert.equal(line.host, 'allowed.example.test');
    assert.equal(line.decision, 'deny');
    assert.equal(line.reason, 'DENY_SNI_MISMATCH');

    const seen = await originEventsSince(mark);
    assert.ok(
      !originEvents().some((e) => 'servername' in e && e.servername === 'other.example.test'),
      'no origin ever saw SNI other.example.test',
    );
    // The upstream connection may have been opened, but no ClientHello byte ever reached it.
    for (const e of seen) {
      assert.ok(
        e.event === 'connection' || e.event === 'tls_error',
        `origin saw only a bare connection: ${JSON.stringify(e)}`,
      );
    }
    assert.ok(!seen.some((e) => 'local' in e && e.local.startsWith(`${ORIGIN_B}:`)), JSON.stringify(seen));
  });

  test('policy.internalNetworks admits a split-horizon name after a reload (SIGHUP)', async () => {
    const reloadsBefore = opsEvents('reloaded').length;
    writeFileSync(gatewayConfig, gatewayYaml([`${REBIND}/32`]));
    assert.ok(gateway.child.kill('SIGHUP'));
    await waitFor(
      'the gateway to reload',
      () => {
        if (opsEvents('reload_failed').length > 0) throw new Error(`reload failed:\n${gateway.stderr}`);
        return opsEvents('reloaded').length > reloadsBefore ? true : undefined;
      },
      5000,
      () => gateway.stderr,
    );

    const mark = originEvents().length;
    const r = await viaGateway(NS.lan, GW_LAN, 'https://rebind.example.test/split');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.status, 200);
    assert.match(r.body, new RegExp(`^origin ${REBIND}:443 GET /split$`, 'm'));
    const seen = await waitFor(
      'the origin request',
      () => {
        const events = originEvents().slice(mark);
        return events.some((e) => e.event === 'request') ? events : undefined;
      },
      5000,
      diagnostics,
    );
    assert.ok(
      seen.some(
        (e) =>
          e.event === 'tls_established' &&
          e.local === `${REBIND}:443` &&
          e.servername === 'rebind.example.test' &&
          e.remote.startsWith(`${GW_WAN}:`),
      ),
      JSON.stringify(seen),
    );
    const line = await accessLine(
      'rebind allowed',
      (l) => l.method === 'CONNECT' && l.host === 'rebind.example.test' && l.decision === 'allow',
    );
    assert.equal(line.upstream, `${REBIND}:443`);
    assert.equal(line.sni, 'rebind.example.test');

    // Only the listed network: the metadata address is still refused.
    const metaMark = originEvents().length;
    const metadata = await viaGateway(NS.lan, GW_LAN, 'http://metadata.example.test/after-reload');
    assert.equal(metadata.status, 403);
    const denied = await accessLine(
      'metadata after the reload',
      (l) => l.host === 'metadata.example.test' && l.path === '/after-reload',
    );
    assert.equal(denied.reason, 'DENY_DESTINATION_ADDRESS');
    assert.deepEqual(await originEventsSince(metaMark), []);
  });
});
