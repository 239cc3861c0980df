/**
 * Side-by-side benchmark: Airlock against Squid (workers 1 and 2), tinyproxy and a direct
 * no-proxy baseline, on loopback with local origins. See bench/README.md.
 *
 *   node dist/bench/run.js [--smoke] [--only a,b,c,d,storm] [--rounds N] [--out results.md]
 *
 * Progress goes to stderr, the Markdown report to stdout (and to --out; a full run without
 * --out writes bench/results/<date>.md).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDirect, checkProxy, type CheckContext } from './checks.js';
import { buildCGenerator, startCOrigin, type COrigin, type SourceBlock } from './loadgen/c-generator.js';
import { GeneratorPool } from './loadgen/pool.js';
import { ipv4ToNumber, numberToIpv4, SourceAllocator } from './loadgen/protocol.js';
import { createCertificate, HTTP_OBJECTS, recordClientHello, startOrigins, type Origins } from './origins.js';
import {
  airlockHasWorkers,
  freePort,
  killSpawnedGroupsSync,
  startNodeReference,
  type ReferenceProcess,
  OBSERVATION_ENV,
  SQUID,
  squidSmpUsable,
  startProxy,
  TINYPROXY,
  toolVersion,
  type ProxyEnv,
  type ProxySpec,
  type RunningProxy,
} from './proxies.js';
import { configSchema } from '../src/config/index.js';
import { workerCount } from '../src/supervisor/options.js';
import { loadNative } from '../src/gateway/native.js';
import {
  NODE_LIBRARIES_REFERENCE,
  NODE_LIBRARIES_REFERENCE_LABEL,
  NODE_REFERENCE,
  NODE_REFERENCE_LABEL,
  renderReport,
  type LoadPoint,
} from './report.js';
import { libraryLoads, referenceScript } from './serving-libraries.js';
import { AUTOGROUP_SETTING, describeAutogroups, switchOffAutogroups } from './scheduler.js';
import { GENERATOR_BOUND_SHARE } from './stats.js';
import type { TreeSample } from './procfs.js';
import {
  measureBulk,
  measureConnectRate,
  measureHttp,
  measureIdle,
  measureIdleMemory,
  measureStorm,
  settle,
  settledSample,
  type Bench,
  type BulkSettings,
  type HttpSettings,
  type IdleSettings,
  type Measurement,
  type RateSettings,
  type ScenarioId,
  type StormSettings,
  type Target,
} from './scenarios.js';

// ---------------------------------------------------------------- settings

interface Settings {
  /** Rounds of a, c and d (targets interleaved in every round). */
  readonly rounds: number;
  readonly stormRounds: number;
  readonly idleRounds: number;
  readonly concurrency: readonly number[];
  readonly rate: RateSettings;
  readonly bulkTunnels: readonly number[];
  readonly bulk: BulkSettings;
  readonly httpPaths: readonly string[];
  readonly http: HttpSettings;
  readonly storm: StormSettings;
  readonly idleSizes: readonly number[];
  readonly idle: IdleSettings;
  readonly generators: number;
  readonly echoProcesses: number;
  readonly bulkProcesses: number;
  /** null: the product's default (no --workers flag). */
  readonly airlockWorkers: string | null;
  readonly airlockWideWorkers: string;
  /** engine.busyPollUs of airlock-poll. */
  readonly busyPollUs: number;
  /** b starts every proxy afresh (a clean RSS baseline); the smoke run reuses the running ones. */
  readonly freshIdleProxies: boolean;
  /** Threads of the C generator (each runs its own epoll loop; one core at most each). */
  readonly generatorThreads: number;
  /** Client source addresses of a and d: 127.0.1.1 upward. */
  readonly clientSources: number;
  /** Echo-then-close ports of the C origin (the proxies' upstream connections spread over them). */
  readonly closePorts: number;
  /** Pause after a proxy's checks before its idle memory is first read ("start"). */
  readonly idleMemorySettleMs: number;
  /**
   * Least time after the checks before it is read again ("settled"), and the most: the reading
   * waits until no process of the tree has fallen by more than 1 MiB over 20 s (`settledSample`). A
   * Node.js process gives back about 10 MiB of start-up memory once, when V8's memory reducer
   * runs: 12–25 s after start on an idle machine, later while other proxies start beside it. A
   * reading at a fixed 20 s caught some processes before it and some after (64 or 74 MiB for
   * the same build in one run).
   */
  readonly idleMemorySteadyMs: number;
  readonly idleMemorySteadyMaxMs: number;
}

const FULL: Settings = {
  rounds: 5,
  stormRounds: 3,
  idleRounds: 1,
  concurrency: [1, 64, 512],
  rate: { warmupMs: 1_000, windowMs: 3_000, timeoutMs: 10_000 },
  bulkTunnels: [1, 8, 64],
  bulk: { warmupMs: 500, windowMs: 2_000, generators: 2, timeoutMs: 10_000 },
  httpPaths: ['/1k', '/1m'],
  http: { warmupMs: 1_000, windowMs: 3_000, connections: 64, timeoutMs: 10_000 },
  storm: { clients: 20_000, spreadMs: 2_000, timeoutMs: 10_000, generators: 4 },
  idleSizes: [10_000, 50_000],
  idle: {
    holdMs: 60_000,
    settleMs: 20_000,
    settleMaxMs: 120_000,
    generators: 8,
    inFlight: 128,
    timeoutMs: 5_000,
    rampLimitMs: 90_000,
    maxConsecutiveFailures: 128,
  },
  generators: 8,
  echoProcesses: 6,
  bulkProcesses: 2,
  airlockWorkers: null,
  airlockWideWorkers: '8',
  busyPollUs: 100,
  freshIdleProxies: true,
  generatorThreads: 1,
  clientSources: 8,
  closePorts: 4,
  idleMemorySettleMs: 2_000,
  idleMemorySteadyMs: 45_000,
  idleMemorySteadyMaxMs: 90_000,
};

const SMOKE: Settings = {
  ...FULL,
  rounds: 1,
  stormRounds: 1,
  concurrency: [16],
  rate: { ...FULL.rate, warmupMs: 100, windowMs: 300 },
  bulkTunnels: [4],
  bulk: { ...FULL.bulk, warmupMs: 100, windowMs: 300 },
  httpPaths: ['/1k', '/1m'],
  http: { ...FULL.http, warmupMs: 100, windowMs: 300, connections: 4 },
  idleMemorySettleMs: 100,
  idleMemorySteadyMs: 200,
  idleMemorySteadyMaxMs: 200,
  storm: { clients: 400, spreadMs: 300, timeoutMs: 5_000, generators: 2 },
  idleSizes: [300],
  idle: { ...FULL.idle, holdMs: 500, settleMs: 100, settleMaxMs: 100, generators: 2, rampLimitMs: 10_000 },
  generators: 2,
  echoProcesses: 2,
  bulkProcesses: 1,
  airlockWideWorkers: 'auto',
  freshIdleProxies: false,
};

const SCENARIOS: readonly ScenarioId[] = ['a', 'b', 'c', 'd', 'storm'];
/**
 * airlock: the default `workers`; airlock-w1: `workers: 1` (the default must never be slower);
 * airlock-js: JavaScript tunnels and supervisor hand-off (what runs without the native addon);
 * airlock-obs-off: the default with the gateway's observation state switched off;
 * airlock-poll: `workers: 1` with the relay thread busy polling (`engine.busyPollUs`).
 */
const TARGETS = [
  'direct',
  'airlock',
  'airlock-w1',
  'airlock-js',
  'airlock-obs-off',
  'airlock-poll',
  'squid-w1',
  'squid-w2',
  'tinyproxy',
] as const;
type TargetId = (typeof TARGETS)[number];
/** Targets measured in some scenarios only (the others: every scenario). */
const ONLY_IN: Partial<Record<TargetId, readonly ScenarioId[]>> = {
  'airlock-w1': ['a', 'd'],
  'airlock-obs-off': ['a'],
  'airlock-poll': ['a'],
};
const runsIn = (id: string, scenario: ScenarioId): boolean =>
  ONLY_IN[id as TargetId]?.includes(scenario) ?? true;

/** A loopback address for the benchmark's DNS server (port 53), away from anything else's. */
const DNS_HOST = '127.53.0.1';
const FIRST_CLIENT = '127.0.1.1';

/** The destination every proxy resolves to the loopback origins without DNS (see README). */
const DEST_NAME = 'localhost';
const DENIED_NAME = 'denied.example.test';
/** The allowlist all proxies get: the benchmark name plus Defender-style rules. */
const ALLOWLIST = [
  DEST_NAME,
  '.wdcp.microsoft.com',
  '.wdcpalt.microsoft.com',
  '.wd.microsoft.com',
  'winatp-gw-eus.microsoft.com',
  'winatp-gw-cus.microsoft.com',
  'winatp-gw-neu.microsoft.com',
  'winatp-gw-weu.microsoft.com',
  '.endpoint.security.microsoft.com',
  '.events.data.microsoft.com',
  '.smartscreen-prod.microsoft.com',
  '.checkappexec.microsoft.com',
  '.urs.microsoft.com',
  'crl.microsoft.com',
  'ctldl.windowsupdate.com',
  'go.microsoft.com',
  'definitionupdates.microsoft.com',
];

// ---------------------------------------------------------------- arguments

interface Options {
  readonly smoke: boolean;
  readonly only: readonly ScenarioId[];
  readonly targets: readonly TargetId[];
  readonly out: string | null;
  readonly settings: Settings;
  readonly note: string | null;
  readonly accessLog: boolean;
  readonly keepAutogroup: boolean;
}

const USAGE = `usage: node dist/bench/run.js [options]
  --smoke                 tiny counts, about 30 s (CI); exits non-zero when anything fails
  --only a,b,c,d,storm    scenarios to run (default: all)
  --targets LIST          ${TARGETS.join(',')}
                          (default: all available)
  --rounds N              rounds for a, c and d (default 5)
  --storm-rounds N        rounds for the storm (default 3)
  --window SECONDS        measurement window of a and d (default 3)
  --warmup SECONDS        warm-up before it (default 1)
  --generator-threads N   threads of the C load generator (default 1)
  --sources N             client source addresses of a and d, from ${FIRST_CLIENT} (default 8)
  --objects LIST          objects of d (default /1k,/1m)
  --idle-rounds N         rounds for the idle holds (default 1)
  --hold SECONDS          idle hold (default 60)
  --idle-sizes LIST       idle tunnel counts (default 10000,50000)
  --concurrency LIST      connection slots of a (default 1,64,512)
  --storm-clients N       reconnect-storm clients (default 20000)
  --storm-timeout SECONDS a storm client that is not up after this has failed (default 10)
  --workers W             Airlock workers for a, c, d (default: what airlock serve defaults to)
  --wide-workers W        Airlock workers for b and the storm (default 8)
  --busy-poll-us N        engine.busyPollUs of airlock-poll (default 100)
  --no-access-log         no proxy logs requests (default: every proxy logs every request)
  --keep-autogroup        leave the kernel's session autogroups on (default: off for the run,
                          then restored; see bench/README.md)
  --note TEXT             a line for the report (e.g. what else ran on the machine)
  --out FILE              also write the report here`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const smoke = argv.includes('--smoke');
  let s: Settings = smoke ? SMOKE : FULL;
  let only: ScenarioId[] = [...SCENARIOS];
  // The smoke run leaves out airlock-obs-off (the same paths as airlock) unless asked for.
  let targets: TargetId[] = TARGETS.filter((t) => !smoke || t !== 'airlock-obs-off');
  let out: string | null = null;
  let note: string | null = null;
  let accessLog = true;
  let keepAutogroup = false;
  const int = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer`);
    return n;
  };
  const list = (v: string | undefined): string[] => (v ?? '').split(',').filter((x) => x !== '');
  const seconds = (v: string, name: string, zero = false): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < (zero ? 0 : 0.1) || n > 600)
      throw new UsageError(`${name} needs a number of seconds (${zero ? '0' : '0.1'}–600)`);
    return Math.round(n * 1000);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--smoke':
        break;
      case '--only':
        only = list(value()).map((x) => {
          if (!(SCENARIOS as readonly string[]).includes(x)) throw new UsageError(`unknown scenario ${x}`);
          return x as ScenarioId;
        });
        break;
      case '--targets':
        targets = list(value()).map((x) => {
          if (!(TARGETS as readonly string[]).includes(x)) throw new UsageError(`unknown target ${x}`);
          return x as TargetId;
        });
        break;
      case '--rounds':
        s = { ...s, rounds: int(value(), arg) };
        break;
      case '--storm-rounds':
        s = { ...s, stormRounds: int(value(), arg) };
        break;
      case '--window': {
        const ms = seconds(value(), arg);
        s = { ...s, rate: { ...s.rate, windowMs: ms }, http: { ...s.http, windowMs: ms } };
        break;
      }
      case '--warmup': {
        const ms = seconds(value(), arg, true);
        s = { ...s, rate: { ...s.rate, warmupMs: ms }, http: { ...s.http, warmupMs: ms } };
        break;
      }
      case '--generator-threads':
        s = { ...s, generatorThreads: Math.min(16, int(value(), arg)) };
        break;
      case '--sources':
        s = { ...s, clientSources: Math.min(254, int(value(), arg)) };
        break;
      case '--idle-rounds':
        s = { ...s, idleRounds: int(value(), arg) };
        break;
      case '--hold':
        s = { ...s, idle: { ...s.idle, holdMs: int(value(), arg) * 1000 } };
        break;
      case '--objects':
        s = {
          ...s,
          httpPaths: list(value()).map((x) => {
            const path = x.startsWith('/') ? x : `/${x}`;
            if (HTTP_OBJECTS[path] === undefined)
              throw new UsageError(`unknown object ${x} (${Object.keys(HTTP_OBJECTS).join(', ')})`);
            return path;
          }),
        };
        break;
      case '--idle-sizes':
        s = { ...s, idleSizes: list(value()).map((x) => int(x, arg)) };
        break;
      case '--concurrency':
        s = { ...s, concurrency: list(value()).map((x) => int(x, arg)) };
        break;
      case '--storm-clients':
        s = { ...s, storm: { ...s.storm, clients: int(value(), arg) } };
        break;
      case '--storm-timeout':
        s = { ...s, storm: { ...s.storm, timeoutMs: int(value(), arg) * 1000 } };
        break;
      case '--workers':
        s = { ...s, airlockWorkers: value() };
        break;
      case '--wide-workers':
        s = { ...s, airlockWideWorkers: value() };
        break;
      case '--busy-poll-us':
        s = { ...s, busyPollUs: int(value(), arg) };
        break;
      case '--no-access-log':
        accessLog = false;
        break;
      case '--keep-autogroup':
        keepAutogroup = true;
        break;
      case '--note':
        note = value();
        break;
      case '--out':
        out = value();
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return { smoke, only, targets, out, settings: s, note, accessLog, keepAutogroup };
}

// ---------------------------------------------------------------- helpers

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `path` is a tmpfs mount point (per /proc/mounts). */
function onTmpfs(path: string): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((line) => {
        const [, mountPoint, type] = line.split(' ');
        return mountPoint === path && type === 'tmpfs';
      });
  } catch {
    return false;
  }
}

const startedAt = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
};

function portRange(): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().replace(/\s+/, '–');
  } catch {
    return 'unknown';
  }
}

function openFilesLimit(): string {
  const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? `${m[1]} soft / ${m[2]} hard` : 'unknown';
}

/** The commit the tree is at, and whether it has changes (read at the start: what was built). */
function gitDescription(repoRoot: string): string {
  try {
    const run = (...args: string[]): string =>
      execFileSync('git', args, {
        cwd: repoRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const commit = run('rev-parse', '--short', 'HEAD');
    return `commit ${commit}${run('status', '--porcelain', '--untracked-files=no') === '' ? '' : ' with uncommitted changes'}`;
  } catch {
    return 'this tree';
  }
}

function resultsPath(repoRoot: string): string {
  const now = new Date();
  const date = now.toISOString().slice(0, 10);
  const dir = join(repoRoot, 'bench/results');
  mkdirSync(dir, { recursive: true });
  let path = join(dir, `${date}.md`);
  if (existsSync(path)) path = join(dir, `${date}-${now.toISOString().slice(11, 16).replace(':', '')}.md`);
  return path;
}

/** Smoke mode: every target carried every scenario's traffic without a single failure. */
function smokeFailures(measurements: readonly Measurement[], s: Settings): string[] {
  const out: string[] = [];
  for (const m of measurements) {
    const v = m.values;
    const what = `${m.scenario} ${m.param} ${m.label}`;
    const errs = Object.entries(m.errors).filter(([, n]) => n > 0);
    if (errs.length > 0) out.push(`${what}: ${errs.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    if (m.scenario === 'a' && !((v.rate ?? 0) > 0)) out.push(`${what}: no tunnel completed`);
    if (m.scenario === 'c' && !((v.mbps ?? 0) > 0)) out.push(`${what}: no bytes moved`);
    if (m.scenario === 'd' && !((v.rps ?? 0) > 0)) out.push(`${what}: no response`);
    if (m.scenario === 'b' && v.alive !== Number(m.param))
      out.push(`${what}: ${v.alive} of ${m.param} alive`);
    if (m.scenario === 'storm' && v.established !== s.storm.clients)
      out.push(`${what}: ${v.established} of ${s.storm.clients} established`);
  }
  return out;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message !== '') log(`bench: ${error.message}`);
      log(USAGE);
      return error.message === '' ? 0 : 2;
    }
    throw error;
  }
  const s = options.settings;
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  // Read now, when the build under test is the tree's: the tree may change while the run goes.
  const treeAtStart = gitDescription(repoRoot);
  if (!existsSync(join(repoRoot, 'dist/src/cli/main.js'))) {
    log('bench: dist/src/cli/main.js is missing; run `npm run build` first');
    return 1;
  }
  // The libraries `airlock serve` loads at start-up (static imports from its entry points).
  const dependencies = Object.keys(
    (
      JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      }
    ).dependencies ?? {},
  );
  const servingLibraries = libraryLoads(
    [join(repoRoot, 'dist/src/cli/main.js'), join(repoRoot, 'dist/src/cli/commands/serve.js')],
    dependencies,
  );
  const began = Date.now();
  const loadAtStart = loadavg()[0]!;
  const notes: string[] = [];
  if (options.note !== null) notes.push(options.note);

  // What is available here.
  const squidVersion = toolVersion(SQUID);
  const tinyproxyVersion = toolVersion(TINYPROXY);
  const smpProblem = squidVersion === null ? null : squidSmpUsable();
  const hasWorkers = airlockHasWorkers(repoRoot);
  const available = (id: TargetId): boolean =>
    id === 'airlock-poll'
      ? loadNative().addon !== null
      : id === 'direct' || id.startsWith('airlock')
        ? true
        : id === 'tinyproxy'
          ? tinyproxyVersion !== null
          : id === 'squid-w2'
            ? squidVersion !== null && smpProblem === null
            : squidVersion !== null;
  // `workers 1` is measured beside the default only where they differ: with the default at one
  // process the two targets are one configuration, and their ratio would be run-to-run noise.
  const defaultWorkers = workerCount(s.airlockWorkers ?? configSchema.parse({}).workers);
  const sameAsDefault = (id: TargetId): boolean => id === 'airlock-w1' && defaultWorkers === 1;
  const targetIds = options.targets.filter((id) => available(id) && !sameAsDefault(id));
  if (options.targets.some(sameAsDefault)) {
    const what = s.airlockWorkers === null ? 'the default `workers`' : `\`workers ${s.airlockWorkers}\``;
    log(`bench: skipping airlock-w1: ${what} is one process here, the same configuration`);
    notes.push(
      `airlock-w1 was not measured: ${what} is one process on this machine, the same configuration as \`workers 1\`.`,
    );
  }
  for (const id of options.targets.filter((t) => !available(t))) {
    const why =
      id === 'tinyproxy'
        ? `${TINYPROXY} is not installed`
        : id === 'squid-w2' && squidVersion !== null
          ? smpProblem
          : `${SQUID} is not installed`;
    log(`bench: skipping ${id}: ${why}`);
    notes.push(`${id} was not measured: ${why}.`);
  }
  if (!hasWorkers)
    notes.push(
      'This build of `airlock serve` has no `--workers` option: Airlock ran as a single process throughout.',
    );

  // Configurations and every proxy's log on tmpfs: logging costs CPU, not disk waits.
  const shm = onTmpfs('/dev/shm') ? '/dev/shm' : null;
  if (shm === null)
    notes.push('/dev/shm is not a tmpfs here: the proxies logged to a file under ' + tmpdir() + '.');
  const workDir = mkdtempSync(join(shm ?? tmpdir(), 'airlock-bench-'));
  // Squid and tinyproxy drop root privileges: they must be able to reach their directories.
  chmodSync(workDir, 0o755);
  const running = new Set<RunningProxy>();
  // Before anything is started: where each proxy was started must not decide how it is scheduled.
  const autogroups = switchOffAutogroups(
    options.keepAutogroup,
    AUTOGROUP_SETTING,
    (message) => log(`bench: ${message}`),
    (message) => {
      log(`bench: ${message}`);
      notes.push(`Before the run: ${message}.`);
    },
  );
  const restoreAutogroups = (): void => {
    if (autogroups.kind === 'switched-off') autogroups.restore();
  };
  let references: { id: string; label: string; proc: ReferenceProcess }[] = [];
  let origins: Origins | null = null;
  let cOrigin: COrigin | null = null;
  let pool: GeneratorPool | null = null;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    try {
      await Promise.all([...running].map((p) => p.stop()));
      running.clear();
      await Promise.all(references.map((r) => r.proc.stop()));
      await pool?.stop();
      await origins?.stop();
      await cOrigin?.stop();
      rmSync(workDir, { recursive: true, force: true });
    } finally {
      // Also when stopping something failed (the exit handler would otherwise be the only one).
      restoreAutogroups();
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`bench: ${signal}, stopping everything this run started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    killSpawnedGroupsSync();
    restoreAutogroups();
  });

  const measurements: Measurement[] = [];
  const loads: LoadPoint[] = [];
  /** Request-log lines each proxy wrote in the first phase. */
  const logged: { label: string; lines: number }[] = [];
  /** Whether the gateway confirmed the observation switch (null: airlock-obs-off not run). */
  let observationSupported: boolean | null = null;
  const has = (x: ScenarioId): boolean => options.only.includes(x);
  try {
    const binary = buildCGenerator(repoRoot, workDir);
    const cert = createCertificate(workDir, DEST_NAME);
    const payloadFile = join(workDir, 'client-hello.bin');
    const hello = await recordClientHello(DEST_NAME, payloadFile);
    origins = await startOrigins({
      host: '127.0.0.1',
      echoProcesses: s.echoProcesses,
      bulkProcesses: s.bulkProcesses,
      tls: cert,
    });
    cOrigin = await startCOrigin(binary, {
      host: '127.0.0.1',
      closePorts: s.closePorts,
      helloLength: hello.length,
      dnsHost: DNS_HOST,
      threads: 1,
      maxSeconds: 6 * 3600,
    });
    if (cOrigin.dns !== 'ok')
      notes.push(
        `The benchmark's DNS server could not listen on ${DNS_HOST}:53 (${cOrigin.dns ?? 'not started'}): Squid's lookups of client names went unanswered, which inflates its CPU per connection.`,
      );
    if (has('b') || has('c') || has('storm')) pool = await GeneratorPool.start(s.generators);
    const notAllowed = await freePort();
    const clients: SourceBlock = { first: FIRST_CLIENT, count: s.clientSources };
    const clientAddresses = Array.from({ length: clients.count }, (_, i) =>
      numberToIpv4(ipv4ToNumber(FIRST_CLIENT) + i),
    );
    const env: ProxyEnv = {
      workDir,
      repoRoot,
      destName: DEST_NAME,
      allowlist: ALLOWLIST,
      originHost: origins.host,
      connectPorts: [...cOrigin.close, ...origins.connectPorts],
      tlsPorts: [...cOrigin.close, ...origins.tlsPorts],
      httpPorts: [cOrigin.http],
      accessLog: options.accessLog,
      clientAddresses,
      dnsServer: cOrigin.dns === 'ok' ? DNS_HOST : null,
    };
    const checkCtx: CheckContext = {
      destName: DEST_NAME,
      deniedName: DENIED_NAME,
      hello,
      ports: {
        close: cOrigin.close[0]!,
        hold: origins.ports.hold[0]!,
        plain: origins.ports.plain[0]!,
        tls: origins.ports.tls,
        http: cOrigin.http,
        notAllowed,
      },
      objects: HTTP_OBJECTS,
      originCert: cert.cert,
    };
    const bench: Bench = {
      pool,
      origins,
      c: { binary, origin: cOrigin, payloadFile, sources: clients, threads: s.generatorThreads },
      originPids: [...origins.pids, cOrigin.pid],
      sources: new SourceAllocator(),
      destName: DEST_NAME,
      hello,
      log,
    };
    const directFailures = await checkDirect(origins.host, checkCtx);
    if (directFailures.length > 0)
      throw new Error(`the origins do not answer:\n  ${directFailures.join('\n  ')}`);

    const specFor = (id: TargetId, wide: boolean): ProxySpec | null => {
      const workers = wide ? s.airlockWideWorkers : s.airlockWorkers;
      switch (id) {
        case 'airlock':
          return { kind: 'airlock', workers };
        case 'airlock-w1':
          return { kind: 'airlock', workers: '1' };
        case 'airlock-js':
          return { kind: 'airlock', workers, engine: { tunnels: 'js', listen: 'handoff' } };
        case 'airlock-obs-off':
          return { kind: 'airlock', workers, observation: 'off' };
        case 'airlock-poll':
          // Beside airlock-w1: with more workers each relay thread sees a share of the clients,
          // with gaps between their events too long to poll through.
          return { kind: 'airlock', workers: '1', engine: { busyPollUs: s.busyPollUs } };
        case 'squid-w1':
          return { kind: 'squid', workers: 1 };
        case 'squid-w2':
          return { kind: 'squid', workers: 2 };
        case 'tinyproxy':
          return { kind: 'tinyproxy' };
        case 'direct':
          return null;
      }
    };
    const start = async (id: TargetId, wide: boolean): Promise<Target> => {
      const spec = specFor(id, wide);
      if (spec === null) return { id, label: 'direct (no proxy)', proxy: null };
      const proxy = await startProxy(spec, env, {
        probePort: origins!.ports.plain[0]!,
        airlockHasWorkers: hasWorkers,
      });
      running.add(proxy);
      const failures = await checkProxy(proxy.port, checkCtx);
      if (failures.length > 0) {
        throw new Error(
          `${proxy.label} fails the functional checks:\n  ${failures.join('\n  ')}\n${proxy.output()}`,
        );
      }
      log(
        `  ${proxy.label} on 127.0.0.1:${proxy.port} (pid ${proxy.pid}, ${proxy.processes} process(es)): checks passed`,
      );
      return { id, label: proxy.label, proxy };
    };
    const stop = async (t: Target): Promise<void> => {
      if (t.proxy === null) return;
      await t.proxy.stop();
      running.delete(t.proxy);
      t.proxy = null;
    };
    const baseFiles = new Map<string, number>();
    const remember = (t: Target): void => {
      if (t.proxy !== null)
        baseFiles.set(
          t.id,
          t.proxy.sample(true).openFiles.reduce((n, x) => n + x, 0),
        );
    };
    const record = (m: Measurement, summary: string): void => {
      measurements.push(m);
      const errs = Object.values(m.errors).reduce((n, v) => n + v, 0);
      log(
        `    ${m.scenario} ${m.param} round ${m.round} ${m.label}: ${summary}${errs > 0 ? ` (${errs} failures)` : ''}`,
      );
    };
    /** Load average before every scenario pass: how busy the machine was. */
    const loadPoint = (what: string): void => {
      const [one, five] = loadavg();
      loads.push({ what, one: one!, five: five! });
      log(`bench: ${what} (load average ${one!.toFixed(2)}, ${five!.toFixed(2)})`);
    };
    const shares = (m: Measurement): string =>
      `proxy ${(m.values.proxyCores ?? 0).toFixed(2)} cores, generator thread ${((m.values.generatorThread ?? 0) * 100).toFixed(0)} %, other ${(m.values.otherCores ?? 0).toFixed(2)} cores`;
    /** Proxies kept running from the first phase for the idle holds (smoke only). */
    let idleTargets: Target[] = [];

    // ------------------------------------------------ a, c, d: every proxy up at once, interleaved
    if (has('a') || has('c') || has('d') || has('storm')) {
      log('bench: starting the proxies');
      // Started side by side (startup is mostly waiting); measured one after the other.
      const wanted = targetIds.filter((id) => options.only.some((x) => runsIn(id, x)));
      // Beside the proxies, an empty Node.js script with the gateway's binary, flags and
      // environment: the part of Airlock's idle memory that any Node.js process holds.
      // Beside it, a script that loads only the libraries a serving gateway loads at start-up, the
      // way it loads them: the part of its idle memory that its libraries account for.
      if (wanted.some((id) => id.startsWith('airlock'))) {
        references.push({ id: NODE_REFERENCE, label: NODE_REFERENCE_LABEL, proc: startNodeReference() });
        references.push({
          id: NODE_LIBRARIES_REFERENCE,
          label: NODE_LIBRARIES_REFERENCE_LABEL,
          proc: startNodeReference({ source: referenceScript(servingLibraries), cwd: repoRoot }),
        });
      }
      // Every start settles before a failure is thrown, so cleanup finds every proxy started.
      const started = await Promise.allSettled(wanted.map((id) => start(id, false)));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const targets = started.map((r) => (r as PromiseFulfilledResult<Target>).value);
      targets.forEach(remember);
      const checked = Date.now();
      const idleMemory = (t: Target, phase: 'start' | 'settled', sample: TreeSample): void => {
        const m = measureIdleMemory(t, phase, sample);
        record(
          m,
          m.values.processes === 0
            ? `exited while idle, ${phase}: no reading`
            : `${(m.values.totalMiB ?? 0).toFixed(1)} MiB in ${m.values.processes} process(es) at idle, ${phase} (${((Date.now() - checked) / 1000).toFixed(0)} s after the checks)`,
        );
      };
      await delay(Math.max(0, checked + s.idleMemorySettleMs - Date.now()));
      const measured: { target: Target; proc: Pick<RunningProxy, 'sample'> }[] = [];
      for (const t of targets) if (t.proxy !== null) measured.push({ target: t, proc: t.proxy });
      for (const r of references)
        measured.push({ target: { id: r.id, label: r.label, proxy: null }, proc: r.proc });
      for (const { target, proc } of measured) idleMemory(target, 'start', proc.sample());
      const sinceChecks = Date.now() - checked;
      await Promise.all(
        measured.map(async ({ target, proc }) => {
          const { sample, settled } = await settledSample(
            proc,
            Math.max(0, s.idleMemorySteadyMs - sinceChecks),
            Math.max(0, s.idleMemorySteadyMaxMs - sinceChecks),
          );
          if (settled === false) log(`    mem ${target.label}: RSS still falling at the last reading`);
          idleMemory(target, 'settled', sample);
        }),
      );
      await Promise.all(references.map((r) => r.proc.stop()));
      references = [];
      const observationOff = targets.find((t) => t.id === 'airlock-obs-off');
      if (observationOff?.proxy !== undefined && observationOff.proxy !== null)
        observationSupported = observationOff.proxy.observation === 'off';
      const among = (x: ScenarioId): Target[] => targets.filter((t) => runsIn(t.id, x));
      if (has('a')) {
        for (const c of s.concurrency) {
          loadPoint(`a. CONNECT setup rate, concurrency ${c}`);
          for (let round = 1; round <= s.rounds; round++)
            for (const t of among('a')) {
              const m = await measureConnectRate(bench, t, c, round, s.rate);
              record(
                m,
                `${(m.values.rate ?? 0).toFixed(0)} tunnels/s, p99 ${(m.values.p99 ?? 0).toFixed(2)} ms, ${(m.values.cpuPerOpUs ?? 0).toFixed(0)} µs CPU/tunnel; ${shares(m)}`,
              );
              await settle(t.proxy, baseFiles.get(t.id) ?? 0, 5_000);
            }
        }
      }
      if (has('c')) {
        loadPoint('c. bulk throughput');
        for (const n of s.bulkTunnels)
          for (let round = 1; round <= s.rounds; round++)
            for (const t of among('c')) {
              const m = await measureBulk(bench, t, n, round, s.bulk);
              record(
                m,
                `${(m.values.mbps ?? 0).toFixed(0)} MB/s, clients ${(m.values.clientKiBPerRead ?? 0).toFixed(1)} KiB per read, origins ${(m.values.originKiBPerWrite ?? 0).toFixed(1)} KiB per write; ${shares(m)}`,
              );
            }
      }
      if (has('d')) {
        for (const path of s.httpPaths) {
          loadPoint(`d. plain-HTTP forwarding, ${path}`);
          for (let round = 1; round <= s.rounds; round++)
            for (const t of among('d')) {
              const m = await measureHttp(bench, t, path, HTTP_OBJECTS[path]!, round, s.http);
              record(
                m,
                `${(m.values.rps ?? 0).toFixed(0)} requests/s, p99 ${(m.values.p99 ?? 0).toFixed(2)} ms, ${m.values.connects} connections, ${(m.values.cpuPerOpUs ?? 0).toFixed(0)} µs CPU/request; ${shares(m)}`,
              );
            }
        }
      }
      if (has('storm')) {
        // 20k tunnels are 40k proxy sockets: more than two processes can open here.
        for (const airlock of among('storm').filter((t) => t.id === 'airlock' || t.id === 'airlock-js')) {
          if (!hasWorkers || s.airlockWideWorkers === s.airlockWorkers) break;
          // What it logged in a, c and d, before the wide proxy for the storm replaces it.
          if (airlock.proxy !== null) logged.push({ label: airlock.label, lines: airlock.proxy.logLines() });
          await stop(airlock);
          const wide = await start(airlock.id as TargetId, true);
          airlock.label = wide.label;
          airlock.proxy = wide.proxy;
          remember(airlock);
        }
        loadPoint(`reconnect storm (${s.storm.clients} clients within ${s.storm.spreadMs / 1000} s)`);
        for (let round = 1; round <= s.stormRounds; round++)
          for (const t of among('storm')) {
            const m = await measureStorm(bench, t, round, s.storm);
            record(
              m,
              `${m.values.established} established, ${m.values.failed} failed, last at ${(m.values.lastEstablishedS ?? 0).toFixed(2)} s`,
            );
            await settle(t.proxy, baseFiles.get(t.id) ?? 0);
          }
      }
      // Evidence that every proxy did the logging it was configured for.
      logged.push(
        ...targets
          .filter((t) => t.proxy !== null)
          .map((t) => ({ label: t.label, lines: t.proxy!.logLines() })),
      );
      if (!s.freshIdleProxies && has('b')) idleTargets = among('b');
      await Promise.all(targets.filter((t) => !idleTargets.includes(t)).map(stop));
    }

    // ------------------------------------------------ b: a fresh proxy for every hold
    if (has('b')) {
      const sizes = [...s.idleSizes].sort((x, y) => x - y);
      loadPoint(`b. idle tunnels held ${s.idle.holdMs / 1000} s at ${sizes.join(', ')}`);
      for (let round = 1; round <= s.idleRounds; round++)
        for (const id of targetIds.filter((x) => runsIn(x, 'b'))) {
          const reused = idleTargets.find((x) => x.id === id);
          const t = reused ?? (await start(id, true));
          try {
            // Without a proxy only the largest size says something (what the generator can hold).
            const steps = id === 'direct' ? sizes.slice(-1) : sizes;
            for (const m of await measureIdle(bench, t, steps, round, s.idle))
              record(
                m,
                `${m.values.alive} of ${m.param} alive, ${Number.isFinite(m.values.rssPerTunnelKiB) ? `${(m.values.rssPerTunnelKiB ?? 0).toFixed(2)} KiB/tunnel` : 'no RSS'}`,
              );
          } finally {
            if (reused === undefined) await stop(t);
          }
        }
      await Promise.all(idleTargets.map(stop));
      if (s.idleRounds < 3)
        notes.push(
          `The idle holds ran ${s.idleRounds} round(s) per size (each takes over ${s.idle.holdMs / 1000} s per target), fewer than the ${s.rounds} rounds of a, c and d: their cells are single measurements, not medians.`,
        );
    }
  } catch (error) {
    log(`bench: ${(error as Error).stack ?? String(error)}`);
    await cleanup();
    return 1;
  }
  await cleanup();

  // ------------------------------------------------ report
  const minutes = (Date.now() - began) / 60_000;
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  const loadAtEnd = loadavg()[0]!;
  // Proxies that closed client connections after responses (plain HTTP reopened them).
  for (const m of measurements)
    if (m.scenario === 'd' && m.round === 1 && (m.values.connects ?? 0) > 2 * s.http.connections)
      notes.push(
        `${m.label} closed client connections after responses in d (${m.param}: ${m.values.connects} connections opened for ${Math.round((m.values.rps ?? 0) * (s.http.windowMs / 1000))} requests in round 1); the generator reopened them.`,
      );
  if (observationSupported === false)
    notes.push(
      `\`airlock-obs-off\` ran with ${OBSERVATION_ENV}=off, but the gateway's "listening" event reports no \`observation\` field: it has no such switch yet, so both Airlock rows ran the same configuration and the observation cost is pending.`,
    );
  if (logged.length > 0)
    notes.push(
      `Request-log lines written while a, c, d and the storm ran: ${logged.map((l) => `${l.label} ${l.lines.toLocaleString('en-US')}`).join('; ')}.`,
    );
  const anyBound = measurements.some((m) => (m.values.generatorBound ?? 0) > 0);
  const treeAtEnd = gitDescription(repoRoot);
  const preamble = [
    `${options.smoke ? 'Smoke run (tiny counts: checks that the harness works, the numbers mean nothing). ' : ''}` +
      `Run ${new Date(began).toISOString()} on ${cpus().length} × ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; took ${minutes.toFixed(1)} min. ` +
      `Load average (1 min) at the start ${loadAtStart.toFixed(2)}, at the end ${loadAtEnd.toFixed(2)}; before each scenario in the table "How busy the machine was". ` +
      'The "other" column of every table is the CPU the rest of the machine used inside the window: well above 0 means other work shared the cores and the figures are not to be claimed.',
    '',
    `Proxies: Airlock (${treeAtStart}${treeAtEnd === treeAtStart ? '' : `; the tree changed while the run went, now ${treeAtEnd}`}${hasWorkers ? '' : ', no --workers support'}), ${squidVersion ?? 'Squid: not installed'}, ${tinyproxyVersion ?? 'tinyproxy: not installed'}. ` +
      `Open files per process: ${openFilesLimit()}; ephemeral ports ${portRange()}. ${describeAutogroups(autogroups)}`,
    '',
    `Load: the C generator (bench/loadgen-c, ${s.generatorThreads} thread${s.generatorThreads === 1 ? '' : 's'}) for a and d, from ${s.clientSources} source addresses (${FIRST_CLIENT} upward); Node generators for b, c and the storm. ` +
      `Rounds: ${s.rounds} for a, c and d, ${s.stormRounds} for the storm (targets interleaved A B C … within each round); ${s.idleRounds} for the idle holds. ` +
      `Cells: median (min–max) over rounds. Windows: a ${s.rate.windowMs / 1000} s after ${s.rate.warmupMs / 1000} s warm-up, ` +
      `c ${s.bulk.windowMs / 1000} s after ${s.bulk.warmupMs / 1000} s, d ${s.http.windowMs / 1000} s after ${s.http.warmupMs / 1000} s. ` +
      `Proxy CPU: utime + stime of every process of the proxy (workers, supervisor, coordinator, helpers) from /proc over the window.` +
      (anyBound
        ? ` Cells marked † had a generator thread at ≥ ${GENERATOR_BOUND_SHARE * 100} % of a core in at least one round: the generator, not the proxy, may have set the pace there.`
        : ' No generator thread reached ' + `${GENERATOR_BOUND_SHARE * 100} % of a core in any round.`),
    '',
    `Airlock: ${s.airlockWorkers === null ? 'the default `workers` (no --workers flag)' : `\`workers ${s.airlockWorkers}\``}${defaultWorkers === 1 ? ' (one process here)' : ` (${defaultWorkers} processes here) and \`workers 1\``} for a and d; \`workers ${s.airlockWideWorkers}\` for b and the storm (40k–100k sockets need more processes than one can open). ` +
      `SNI check on (tunnels to ${DEST_NAME} carry a ClientHello naming it); Squid and tinyproxy do not check SNI. ` +
      `Logging: ${options.accessLog ? `every proxy logs every request to a file on ${shm === null ? 'disk' : 'tmpfs'} in its native format (Airlock JSON lines, Squid \`squid\` format one file per worker, tinyproxy \`LogLevel Connect\`)` : 'none'}. ` +
      `Names: Airlock's \`hosts:\` and Squid's \`hosts_file\` map ${DEST_NAME} to the origins (tinyproxy: /etc/hosts); Squid's hosts file also names the client addresses, and its DNS server (${DNS_HOST}, the benchmark's) answers anything else NXDOMAIN. ` +
      "Airlock's per-client limits are raised out of the way (a few addresses carry thousands of connections per second); Squid and tinyproxy have none.",
  ];
  const report = renderReport(
    {
      title: options.smoke ? 'Airlock side-by-side benchmark (smoke)' : 'Airlock side-by-side benchmark',
      preamble,
      targets: TARGETS.map((id) => ({ id, label: id })),
      measurements,
      notes,
      loads,
      observationSupported,
      servingLibraries,
    },
    {
      holdSeconds: s.idle.holdMs / 1000,
      httpConnections: s.http.connections,
      stormSpreadMs: s.storm.spreadMs,
      stormTimeoutMs: s.storm.timeoutMs,
    },
  );
  process.stdout.write(`${report}\n`);
  const out = options.out ?? (options.smoke ? null : resultsPath(repoRoot));
  if (out !== null) {
    writeFileSync(out, `${report}\n`);
    log(`bench: report written to ${out}`);
  }
  if (options.smoke) {
    const failures = smokeFailures(measurements, s);
    if (options.accessLog)
      for (const l of logged) if (l.lines === 0) failures.push(`${l.label} wrote no request log`);
    const expected = options.only.length > 0 && measurements.length === 0;
    if (failures.length > 0 || expected) {
      log(`bench: smoke run failed:\n  ${failures.join('\n  ') || 'nothing was measured'}`);
      return 1;
    }
    log(`bench: smoke run passed (${measurements.length} measurements, ${minutes.toFixed(1)} min)`);
  }
  return 0;
}

// Leave nothing behind even if main() throws past its own cleanup.
main().then(
  (code) => {
    process.exitCode = code;
    // Sockets of the checks may linger a moment; nothing else is running.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (error: unknown) => {
    log(`bench: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
