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
import { GeneratorPool } from './loadgen/pool.js';
import { SourceAllocator } from './loadgen/protocol.js';
import { createCertificate, HTTP_OBJECTS, recordClientHello, startOrigins, type Origins } from './origins.js';
import {
  airlockHasWorkers,
  freePort,
  killSpawnedGroupsSync,
  SQUID,
  squidSmpUsable,
  startProxy,
  TINYPROXY,
  toolVersion,
  type ProxyEnv,
  type ProxySpec,
  type RunningProxy,
} from './proxies.js';
import { renderReport } from './report.js';
import {
  measureBulk,
  measureConnectRate,
  measureHttp,
  measureIdle,
  measureStorm,
  settle,
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
  readonly rounds: number;
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
  readonly airlockWorkers: string;
  readonly airlockWideWorkers: string;
  /** b starts every proxy afresh (a clean RSS baseline); the smoke run reuses the running ones. */
  readonly freshIdleProxies: boolean;
}

const FULL: Settings = {
  rounds: 3,
  idleRounds: 1,
  concurrency: [1, 64, 512],
  rate: { warmupMs: 500, windowMs: 2_000, generators: 2, timeoutMs: 10_000 },
  bulkTunnels: [1, 8, 64],
  bulk: { warmupMs: 500, windowMs: 2_000, generators: 2, timeoutMs: 10_000 },
  httpPaths: ['/1k', '/1m'],
  http: { warmupMs: 500, windowMs: 2_000, generators: 2, connections: 32, timeoutMs: 10_000 },
  storm: { clients: 20_000, spreadMs: 2_000, timeoutMs: 10_000, generators: 4 },
  idleSizes: [10_000, 50_000],
  idle: {
    holdMs: 60_000,
    settleMs: 1_000,
    generators: 8,
    inFlight: 128,
    timeoutMs: 5_000,
    rampLimitMs: 90_000,
    maxConsecutiveFailures: 128,
  },
  generators: 8,
  echoProcesses: 6,
  bulkProcesses: 2,
  airlockWorkers: 'auto',
  airlockWideWorkers: '8',
  freshIdleProxies: true,
};

const SMOKE: Settings = {
  ...FULL,
  rounds: 1,
  concurrency: [16],
  rate: { ...FULL.rate, warmupMs: 100, windowMs: 300 },
  bulkTunnels: [4],
  bulk: { ...FULL.bulk, warmupMs: 100, windowMs: 300 },
  httpPaths: ['/1k', '/1m'],
  http: { ...FULL.http, warmupMs: 100, windowMs: 300, connections: 4 },
  storm: { clients: 400, spreadMs: 300, timeoutMs: 5_000, generators: 2 },
  idleSizes: [300],
  idle: { ...FULL.idle, holdMs: 500, settleMs: 100, generators: 2, rampLimitMs: 10_000 },
  generators: 2,
  echoProcesses: 2,
  bulkProcesses: 1,
  airlockWideWorkers: 'auto',
  freshIdleProxies: false,
};

const SCENARIOS: readonly ScenarioId[] = ['a', 'b', 'c', 'd', 'storm'];
/** airlock-js: the same gateway with JavaScript tunnels and supervisor hand-off (no native addon). */
const TARGETS = ['direct', 'airlock', 'airlock-js', 'squid-w1', 'squid-w2', 'tinyproxy'] as const;
type TargetId = (typeof TARGETS)[number];

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
}

const USAGE = `usage: node dist/bench/run.js [options]
  --smoke                 tiny counts, about 20 s (CI); exits non-zero when anything fails
  --only a,b,c,d,storm    scenarios to run (default: all)
  --targets LIST          direct,airlock,airlock-js,squid-w1,squid-w2,tinyproxy (default: all available)
  --rounds N              rounds for a, c, d and the storm (default 3)
  --idle-rounds N         rounds for the idle holds (default 1)
  --hold SECONDS          idle hold (default 60)
  --idle-sizes LIST       idle tunnel counts (default 10000,50000)
  --storm-clients N       reconnect-storm clients (default 20000)
  --storm-timeout SECONDS a storm client that is not up after this has failed (default 10)
  --workers W             Airlock workers for a, c, d (default auto)
  --wide-workers W        Airlock workers for b and the storm (default 8)
  --no-access-log         Airlock and Squid write no access log (default: both write one)
  --note TEXT             a line for the report (e.g. what else ran on the machine)
  --out FILE              also write the report here`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const smoke = argv.includes('--smoke');
  let s: Settings = smoke ? SMOKE : FULL;
  let only: ScenarioId[] = [...SCENARIOS];
  let targets: TargetId[] = [...TARGETS];
  let out: string | null = null;
  let note: string | null = null;
  let accessLog = true;
  const int = (v: string | undefined, name: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer`);
    return n;
  };
  const list = (v: string | undefined): string[] => (v ?? '').split(',').filter((x) => x !== '');
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
      case '--idle-rounds':
        s = { ...s, idleRounds: int(value(), arg) };
        break;
      case '--hold':
        s = { ...s, idle: { ...s.idle, holdMs: int(value(), arg) * 1000 } };
        break;
      case '--idle-sizes':
        s = { ...s, idleSizes: list(value()).map((x) => int(x, arg)) };
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
      case '--no-access-log':
        accessLog = false;
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
  return { smoke, only, targets, out, settings: s, note, accessLog };
}

// ---------------------------------------------------------------- helpers

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

/** The commit the Airlock under test was built from, and whether the tree had changes. */
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
  if (!existsSync(join(repoRoot, 'dist/src/cli/main.js'))) {
    log('bench: dist/src/cli/main.js is missing; run `npm run build` first');
    return 1;
  }
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
    id === 'direct' || id === 'airlock' || id === 'airlock-js'
      ? true
      : id === 'tinyproxy'
        ? tinyproxyVersion !== null
        : id === 'squid-w2'
          ? squidVersion !== null && smpProblem === null
          : squidVersion !== null;
  const targetIds = options.targets.filter(available);
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

  const workDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  // Squid and tinyproxy drop root privileges: they must be able to reach their directories.
  chmodSync(workDir, 0o755);
  const running = new Set<RunningProxy>();
  let origins: Origins | null = null;
  let pool: GeneratorPool | null = null;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all([...running].map((p) => p.stop()));
    running.clear();
    await pool?.stop();
    await origins?.stop();
    rmSync(workDir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`bench: ${signal}, stopping everything this run started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killSpawnedGroupsSync);

  const measurements: Measurement[] = [];
  try {
    const cert = createCertificate(workDir, DEST_NAME);
    const hello = await recordClientHello(DEST_NAME, join(workDir, 'client-hello.bin'));
    origins = await startOrigins({
      host: '127.0.0.1',
      echoProcesses: s.echoProcesses,
      bulkProcesses: s.bulkProcesses,
      helloLength: hello.length,
      tls: cert,
    });
    pool = await GeneratorPool.start(s.generators);
    const notAllowed = await freePort();
    const env: ProxyEnv = {
      workDir,
      repoRoot,
      destName: DEST_NAME,
      allowlist: ALLOWLIST,
      originHost: origins.host,
      connectPorts: origins.connectPorts,
      tlsPorts: origins.tlsPorts,
      httpPorts: [origins.ports.http],
      accessLog: options.accessLog,
    };
    const checkCtx: CheckContext = {
      destName: DEST_NAME,
      deniedName: DENIED_NAME,
      hello,
      ports: {
        close: origins.ports.close[0]!,
        hold: origins.ports.hold[0]!,
        plain: origins.ports.plain[0]!,
        tls: origins.ports.tls,
        http: origins.ports.http,
        notAllowed,
      },
      objects: HTTP_OBJECTS,
      originCert: cert.cert,
    };
    const bench: Bench = {
      pool,
      origins,
      sources: new SourceAllocator(),
      destName: DEST_NAME,
      hello,
      log,
    };
    const directFailures = await checkDirect(origins.host, checkCtx);
    if (directFailures.length > 0)
      throw new Error(`the origins do not answer:\n  ${directFailures.join('\n  ')}`);

    const specFor = (id: TargetId, wide: boolean): ProxySpec | null =>
      id === 'airlock'
        ? { kind: 'airlock', workers: wide ? s.airlockWideWorkers : s.airlockWorkers }
        : id === 'airlock-js'
          ? {
              kind: 'airlock',
              workers: wide ? s.airlockWideWorkers : s.airlockWorkers,
              engine: { tunnels: 'js', listen: 'handoff' },
            }
          : id === 'squid-w1'
            ? { kind: 'squid', workers: 1 }
            : id === 'squid-w2'
              ? { kind: 'squid', workers: 2 }
              : id === 'tinyproxy'
                ? { kind: 'tinyproxy' }
                : null;
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
    const has = (x: ScenarioId): boolean => options.only.includes(x);
    /** Proxies kept running from the first phase for the idle holds (smoke only). */
    let idleTargets: Target[] = [];

    // ------------------------------------------------ a, c, d: every proxy up at once, interleaved
    if (has('a') || has('c') || has('d') || has('storm')) {
      log('bench: starting the proxies');
      const targets: Target[] = [];
      for (const id of targetIds) targets.push(await start(id, false));
      targets.forEach(remember);
      if (has('a')) {
        log('bench: a. CONNECT setup rate');
        for (const c of s.concurrency)
          for (let round = 1; round <= s.rounds; round++)
            for (const t of targets) {
              const m = await measureConnectRate(bench, t, c, round, s.rate);
              record(
                m,
                `${(m.values.rate ?? 0).toFixed(0)} tunnels/s, p99 ${(m.values.p99 ?? 0).toFixed(2)} ms`,
              );
              await settle(t.proxy, baseFiles.get(t.id) ?? 0, 5_000);
            }
      }
      if (has('c')) {
        log('bench: c. bulk throughput');
        for (const n of s.bulkTunnels)
          for (let round = 1; round <= s.rounds; round++)
            for (const t of targets) {
              const m = await measureBulk(bench, t, n, round, s.bulk);
              record(m, `${(m.values.mbps ?? 0).toFixed(0)} MB/s`);
            }
      }
      if (has('d')) {
        log('bench: d. plain-HTTP forwarding');
        for (const path of s.httpPaths)
          for (let round = 1; round <= s.rounds; round++)
            for (const t of targets) {
              const m = await measureHttp(bench, t, path, HTTP_OBJECTS[path]!, round, s.http);
              record(
                m,
                `${(m.values.rps ?? 0).toFixed(0)} requests/s, p99 ${(m.values.p99 ?? 0).toFixed(2)} ms, ${m.values.connects} connections`,
              );
            }
      }
      if (has('storm')) {
        // 20k tunnels are 40k proxy sockets: more than two processes can open here.
        for (const airlock of targets.filter((t) => t.id === 'airlock' || t.id === 'airlock-js')) {
          if (!hasWorkers || s.airlockWideWorkers === s.airlockWorkers) break;
          await stop(airlock);
          const wide = await start(airlock.id as TargetId, true);
          airlock.label = wide.label;
          airlock.proxy = wide.proxy;
          remember(airlock);
        }
        log(`bench: reconnect storm (${s.storm.clients} clients within ${s.storm.spreadMs / 1000} s)`);
        for (let round = 1; round <= s.rounds; round++)
          for (const t of targets) {
            const m = await measureStorm(bench, t, round, s.storm);
            record(
              m,
              `${m.values.established} established, ${m.values.failed} failed, last at ${(m.values.lastEstablishedS ?? 0).toFixed(2)} s`,
            );
            await settle(t.proxy, baseFiles.get(t.id) ?? 0);
          }
      }
      if (!s.freshIdleProxies && has('b')) idleTargets = targets;
      else await Promise.all(targets.map(stop));
    }

    // ------------------------------------------------ b: a fresh proxy for every hold
    if (has('b')) {
      const sizes = [...s.idleSizes].sort((x, y) => x - y);
      log(`bench: b. idle tunnels held ${s.idle.holdMs / 1000} s at ${sizes.join(', ')}`);
      for (let round = 1; round <= s.idleRounds; round++)
        for (const id of targetIds) {
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
          `The idle holds ran ${s.idleRounds} round(s) per size (each takes over ${s.idle.holdMs / 1000} s per target), fewer than the 3 rounds of the other scenarios: their cells are single measurements, not medians.`,
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
  const preamble = [
    `${options.smoke ? 'Smoke run (tiny counts: checks that the harness works, the numbers mean nothing). ' : ''}` +
      `Run ${new Date(began).toISOString()} on ${cpus().length} × ${cpuModel}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; took ${minutes.toFixed(1)} min. ` +
      `Load average (1 min) at the start ${loadAtStart.toFixed(1)}, at the end ${loadAtEnd.toFixed(1)}: anything well above 0 means other work shared the cores.`,
    '',
    `Proxies: Airlock (${gitDescription(repoRoot)}${hasWorkers ? '' : ', no --workers support'}), ${squidVersion ?? 'Squid: not installed'}, ${tinyproxyVersion ?? 'tinyproxy: not installed'}. ` +
      `Open files per process: ${openFilesLimit()}; ephemeral ports ${portRange()}.`,
    '',
    `Rounds: ${s.rounds} for a, c, d and the storm (targets interleaved A B C … within each round); ${s.idleRounds} for the idle holds. ` +
      `Cells: median (min–max) over rounds. Windows: a ${s.rate.windowMs / 1000} s after ${s.rate.warmupMs / 1000} s warm-up, ` +
      `c ${s.bulk.windowMs / 1000} s after ${s.bulk.warmupMs / 1000} s, d ${s.http.windowMs / 1000} s after ${s.http.warmupMs / 1000} s.`,
    '',
    `Airlock: \`workers ${s.airlockWorkers}\` for a, c, d; \`workers ${s.airlockWideWorkers}\` for b and the storm (40k–100k sockets need more processes than one can open). ` +
      `SNI check on (tunnels to ${DEST_NAME} carry a ClientHello naming it); Squid and tinyproxy do not check SNI. ` +
      `Access logs: ${options.accessLog ? 'Airlock and Squid write one to a file; tinyproxy logs at Critical only' : 'none'}. ` +
      'Only `limits.maxConnections` is raised (to 60,000); per-client limits stay at their defaults because every simulated endpoint has its own 127.x.y.z source address.',
  ];
  const report = renderReport(
    {
      title: options.smoke ? 'Airlock side-by-side benchmark (smoke)' : 'Airlock side-by-side benchmark',
      preamble,
      targets: TARGETS.map((id) => ({ id, label: id })),
      measurements,
      notes,
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
