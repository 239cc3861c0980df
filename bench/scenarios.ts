/**
 * One measurement of one scenario against one target. The orchestrator calls these in
 * interleaved order (A B C A B C …) and the report takes medians over rounds.
 */
import {
  runClient,
  type ClientJob,
  type ClientResult,
  type COrigin,
  type SourceBlock,
} from './loadgen/c-generator.js';
import type { GeneratorPool } from './loadgen/pool.js';
import type {
  BulkResult,
  HoldCheckResult,
  HoldOpenResult,
  SourceAllocator,
  Via,
} from './loadgen/protocol.js';
import type { Origins } from './origins.js';
import {
  machineBusySeconds,
  machineWakeIpis,
  processCpuSeconds,
  processIo,
  type ProcessIo,
  type TreeSample,
} from './procfs.js';
import type { RunningProxy } from './proxies.js';
import {
  addCounts,
  busiestThreadShare,
  GENERATOR_BOUND_SHARE,
  histogramQuantile,
  percentile,
} from './stats.js';

/** a–d and the storm can be chosen with --only; `mem` (idle memory) rides along with them. */
export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'storm' | 'mem';

export interface Target {
  /** direct, airlock, squid-w1, squid-w2, tinyproxy */
  readonly id: string;
  label: string;
  proxy: RunningProxy | null;
}

export interface Measurement {
  readonly scenario: ScenarioId;
  /** The scenario's parameter, e.g. "64" (concurrency), "8" (tunnels), "/1k". */
  readonly param: string;
  readonly target: string;
  readonly label: string;
  readonly round: number;
  readonly values: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly note?: string;
}

export interface Bench {
  /** The Node generators (b, c and the storm); null when none of those runs. */
  readonly pool: GeneratorPool | null;
  readonly origins: Origins;
  /** The C generator (scenarios a and d) and its origin. */
  readonly c: {
    readonly binary: string;
    readonly origin: COrigin;
    /** The bytes a tunnel sends after the 200 (the recorded ClientHello), echoed by the origin. */
    readonly payloadFile: string;
    readonly sources: SourceBlock;
    readonly threads: number;
  };
  /** Every origin process (Node and C): their CPU is reported apart from the proxy's. */
  readonly originPids: readonly number[];
  readonly sources: SourceAllocator;
  readonly destName: string;
  readonly hello: Uint8Array;
  /** Emits progress lines. */
  readonly log: (line: string) => void;
}

function nodePool(bench: Bench): GeneratorPool {
  if (bench.pool === null) throw new Error('the Node load generators were not started for this run');
  return bench.pool;
}

function via(target: Target): Via {
  return target.proxy === null
    ? { kind: 'direct' }
    : { kind: 'proxy', host: '127.0.0.1', port: target.proxy.port };
}

/** Splits `total` over at most `parts` generators, none getting zero. */
export function split(total: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, total));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

function concat(arrays: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- windows

/** The timeline of one windowed measurement: jobs start at `startAt`, count inside the window. */
interface MeasureWindow {
  readonly startAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
}

function windowFrom(
  leadMs: number,
  s: { readonly warmupMs: number; readonly windowMs: number },
): MeasureWindow {
  const startAt = Date.now() + leadMs;
  const windowStart = startAt + s.warmupMs;
  return { startAt, windowStart, windowEnd: windowStart + s.windowMs };
}

/**
 * CPU-seconds at one instant: the proxy's process tree, the origins, the whole machine, and each
 * of `generators` (load generator processes read from /proc, in the order given).
 */
export interface CpuSample {
  readonly proxy: number;
  readonly origins: number;
  readonly machine: number;
  /** Cross-core wake-up interrupts, machine-wide (`machineWakeIpis`). */
  readonly wakeIpis: number;
  readonly generators: readonly number[];
  /** Reads and writes of the generator processes given, summed (/proc/PID/io). */
  readonly generatorIo: ProcessIo;
  /** The same of the origin processes. */
  readonly originIo: ProcessIo;
}

function sumIo(pids: readonly number[]): ProcessIo {
  let reads = 0;
  let readBytes = 0;
  let writes = 0;
  let writeBytes = 0;
  for (const pid of pids) {
    const io = processIo(pid);
    reads += io.reads;
    readBytes += io.readBytes;
    writes += io.writes;
    writeBytes += io.writeBytes;
  }
  return { reads, readBytes, writes, writeBytes };
}

/** Mean KiB per call over a window: `bytes` moved in `calls` (NaN without calls). */
export function kibPerCall(bytes: number, calls: number): number {
  return calls > 0 ? bytes / calls / 1024 : Number.NaN;
}

function cpuAt(
  bench: Bench,
  target: Target,
  at: number,
  generators: readonly number[] = [],
): Promise<CpuSample> {
  return new Promise((resolve) =>
    setTimeout(
      () =>
        resolve({
          proxy: target.proxy === null ? 0 : target.proxy.sample().cpuSeconds,
          origins: bench.originPids.reduce((n, pid) => n + processCpuSeconds(pid), 0),
          machine: machineBusySeconds(),
          wakeIpis: machineWakeIpis(),
          generators: generators.map((pid) => processCpuSeconds(pid)),
          generatorIo: sumIo(generators),
          originIo: sumIo(bench.originPids),
        }),
      Math.max(0, at - Date.now()),
    ),
  );
}

/** What each generator process used between two samples, in CPU-seconds. */
export function generatorDeltas(a: CpuSample, b: CpuSample): number[] {
  return b.generators.map((v, i) => v - (a.generators[i] ?? Number.NaN));
}

/** Where the cores went over a window, in cores (CPU-seconds per second). */
export interface CoreShares {
  readonly proxy: number;
  readonly generator: number;
  readonly origins: number;
  /** The busiest generator thread's share of one core. */
  readonly generatorThread: number;
  /** Everything else that ran on the machine (other jobs, the orchestrator, the kernel's own threads). */
  readonly other: number;
}

export function coreShares(
  a: CpuSample,
  b: CpuSample,
  windowS: number,
  generatorCpuS: number,
  threadCpuS: readonly number[],
  hasProxy: boolean,
): CoreShares {
  const proxy = hasProxy ? (b.proxy - a.proxy) / windowS : 0;
  const origins = (b.origins - a.origins) / windowS;
  const generator = generatorCpuS / windowS;
  const machine = (b.machine - a.machine) / windowS;
  return {
    proxy,
    generator,
    origins,
    generatorThread: busiestThreadShare(threadCpuS, windowS),
    other: Math.max(0, machine - proxy - generator - origins),
  };
}

/** Runs one C generator job over a window and samples CPU at the window's edges. */
async function overCWindow(
  bench: Bench,
  target: Target,
  s: { readonly warmupMs: number; readonly windowMs: number },
  job: (window: MeasureWindow) => ClientJob,
): Promise<{ result: ClientResult; shares: CoreShares; proxyCpuS: number; wakeIpis: number }> {
  const window = windowFrom(300, s);
  const c0 = cpuAt(bench, target, window.windowStart);
  const c1 = cpuAt(bench, target, window.windowEnd);
  const result = await runClient(bench.c.binary, job(window));
  const [a, b] = await Promise.all([c0, c1]);
  const windowS = s.windowMs / 1000;
  const shares = coreShares(
    a,
    b,
    windowS,
    result.cpuUserS + result.cpuSysS,
    result.threadCpuS,
    target.proxy !== null,
  );
  return {
    result,
    shares,
    proxyCpuS: target.proxy === null ? Number.NaN : b.proxy - a.proxy,
    wakeIpis: b.wakeIpis - a.wakeIpis,
  };
}

/** The values every windowed C-generator measurement carries about where the CPU went. */
function shareValues(shares: CoreShares, proxyCpuS: number): Record<string, number> {
  return {
    proxyCpuS,
    proxyCores: shares.proxy,
    generatorCores: shares.generator,
    generatorThread: shares.generatorThread,
    generatorBound: shares.generatorThread >= GENERATOR_BOUND_SHARE ? 1 : 0,
    originCores: shares.origins,
    otherCores: shares.other,
  };
}

// ---------------------------------------------------------------- a. CONNECT setup rate

export interface RateSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly timeoutMs: number;
}

export async function measureConnectRate(
  bench: Bench,
  target: Target,
  concurrency: number,
  round: number,
  s: RateSettings,
): Promise<Measurement> {
  const { result, shares, proxyCpuS, wakeIpis } = await overCWindow(bench, target, s, (window) => ({
    mode: 'connect',
    via: via(target),
    destName: bench.destName,
    originHost: bench.origins.host,
    sources: bench.c.sources,
    concurrency,
    threads: bench.c.threads,
    timeoutMs: s.timeoutMs,
    ports: bench.c.origin.close,
    payloadFile: bench.c.payloadFile,
    ...window,
  }));
  const completed = result.completed;
  const perTunnel = (total: number): number => (completed > 0 ? total / completed : Number.NaN);
  return {
    scenario: 'a',
    param: String(concurrency),
    target: target.id,
    label: target.label,
    round,
    values: {
      rate: completed / (s.windowMs / 1000),
      p50: histogramQuantile(result.histogramUs, 0.5) / 1000,
      p99: histogramQuantile(result.histogramUs, 0.99) / 1000,
      failed: result.failed,
      cpuPerOpUs: perTunnel(proxyCpuS * 1e6),
      // Where a tunnel's time goes, in µs (means over the tunnels finished in the window).
      connectUs: perTunnel(result.phaseUs[0]),
      setupUs: perTunnel(result.phaseUs[1]),
      echoUs: perTunnel(result.phaseUs[2]),
      closeUs: perTunnel(result.phaseUs[3]),
      // Machine-wide (generator, origins and proxy): the wake-ups that crossed cores.
      wakeIpis: perTunnel(wakeIpis),
      ...shareValues(shares, proxyCpuS),
    },
    errors: result.errors,
  };
}

// ---------------------------------------------------------------- c. bulk throughput

export interface BulkSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly generators: number;
  readonly timeoutMs: number;
}

export async function measureBulk(
  bench: Bench,
  target: Target,
  tunnels: number,
  round: number,
  s: BulkSettings,
): Promise<Measurement> {
  // The tunnels are opened before startAt (500 ms lead); the origins stream from startAt on.
  const window = windowFrom(500, s);
  const shares = split(tunnels, s.generators);
  // The generators' CPU is read from /proc at the window's edges, as the proxy's is.
  // (`split` gives at most one share per generator: job g runs on generator g.)
  const generatorPids = nodePool(bench).pids.slice(0, shares.length);
  const c0 = cpuAt(bench, target, window.windowStart, generatorPids);
  const c1 = cpuAt(bench, target, window.windowEnd, generatorPids);
  const results = (await Promise.all(
    shares.map((share, g) =>
      nodePool(bench).run(g, {
        kind: 'bulk',
        via: via(target),
        destName: bench.destName,
        originHost: bench.origins.host,
        sources: bench.sources.take(share),
        timeoutMs: s.timeoutMs,
        ports: bench.origins.ports.bulk,
        tunnels: share,
        hello: bench.hello,
        ...window,
      }),
    ),
  )) as BulkResult[];
  const [a, b] = await Promise.all([c0, c1]);
  const errors: Record<string, number> = {};
  for (const r of results) addCounts(errors, r.errors);
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  const opened = results.reduce((n, r) => n + r.opened, 0);
  if (opened < tunnels) errors['not-opened'] = tunnels - opened;
  const proxyCpuS = target.proxy === null ? Number.NaN : b.proxy - a.proxy;
  const perProcess = generatorDeltas(a, b);
  const generatorCpuS = perProcess.reduce((n, v) => n + v, 0);
  const core = coreShares(a, b, s.windowMs / 1000, generatorCpuS, perProcess, target.proxy !== null);
  return {
    scenario: 'c',
    param: String(tunnels),
    target: target.id,
    label: target.label,
    round,
    values: {
      mbps: bytes / 1e6 / (s.windowMs / 1000),
      cpuPerGB: bytes > 0 ? proxyCpuS / (bytes / 1e9) : Number.NaN,
      // What the clients and origins spent per GB with this proxy between them: on a full
      // machine, what they spend more per byte is throughput the proxy takes from them.
      endpointCpuPerGB: bytes > 0 ? (generatorCpuS + b.origins - a.origins) / (bytes / 1e9) : Number.NaN,
      // In what pieces the bytes reached the clients and left the origins: mean KiB per read
      // of the generator processes and per write of the origins over the window.
      clientKiBPerRead: kibPerCall(
        b.generatorIo.readBytes - a.generatorIo.readBytes,
        b.generatorIo.reads - a.generatorIo.reads,
      ),
      originKiBPerWrite: kibPerCall(
        b.originIo.writeBytes - a.originIo.writeBytes,
        b.originIo.writes - a.originIo.writes,
      ),
      opened,
      ...shareValues(core, proxyCpuS),
    },
    errors,
  };
}

// ---------------------------------------------------------------- d. plain-HTTP forwarding

export interface HttpSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly connections: number;
  readonly timeoutMs: number;
}

export async function measureHttp(
  bench: Bench,
  target: Target,
  path: string,
  size: number,
  round: number,
  s: HttpSettings,
): Promise<Measurement> {
  const { result, shares, proxyCpuS } = await overCWindow(bench, target, s, (window) => ({
    mode: 'http',
    via: via(target),
    destName: bench.destName,
    originHost: bench.origins.host,
    sources: bench.c.sources,
    concurrency: s.connections,
    threads: bench.c.threads,
    timeoutMs: s.timeoutMs,
    port: bench.c.origin.http,
    path,
    expectBytes: size,
    ...window,
  }));
  const responses = result.responses;
  return {
    scenario: 'd',
    param: path,
    target: target.id,
    label: target.label,
    round,
    values: {
      rps: responses / (s.windowMs / 1000),
      p50: histogramQuantile(result.histogramUs, 0.5) / 1000,
      p99: histogramQuantile(result.histogramUs, 0.99) / 1000,
      mbps: result.bytes / 1e6 / (s.windowMs / 1000),
      failed: result.failed,
      connects: result.connects,
      cpuPerOpUs: responses > 0 ? (proxyCpuS * 1e6) / responses : Number.NaN,
      ...shareValues(shares, proxyCpuS),
    },
    errors: result.errors,
  };
}

// ---------------------------------------------------------------- idle memory

/**
 * Memory of a proxy that is up and has passed its checks but carries no load: VmRSS of every
 * process of its tree. The first process is the one the benchmark started (Airlock's
 * supervisor, Squid's master); the others are its workers and helpers. `phase`: read soon
 * after the checks (start) or once start-up garbage is gone (settled).
 */
export function measureIdleMemory(
  target: Target,
  phase: 'start' | 'settled',
  sample: TreeSample,
): Measurement {
  const perProcess = sample.rssPerProcessKiB.map((k) => k / 1024);
  const children = perProcess.slice(1);
  const head = { scenario: 'mem', param: phase, target: target.id, label: target.label, round: 1 } as const;
  // The proxy exited while idle (no process left, or only processes already gone when their
  // memory was read): no figure, for an empty tree would read as 0 MiB or as the largest of
  // nothing, and the failure is counted where the report shows failures.
  if (!perProcess.some((mib) => mib > 0))
    return { ...head, values: { processes: 0 }, errors: { 'exited-while-idle': 1 } };
  return {
    ...head,
    values: {
      processes: perProcess.length,
      totalMiB: sample.rssKiB / 1024,
      largestMiB: Math.max(...perProcess),
      largestAnonMiB: Math.max(...sample.anonPerProcessKiB.map((k) => k / 1024)),
      rootMiB: perProcess[0] ?? Number.NaN,
      largestChildMiB: children.length > 0 ? Math.max(...children) : Number.NaN,
    },
    errors: {},
  };
}

// ---------------------------------------------------------------- b and storm: held tunnels

let groupCounter = 0;

async function release(bench: Bench, group: string, generators: number): Promise<void> {
  await bench.origins.closeHeld();
  await Promise.all(
    Array.from({ length: generators }, (_, g) =>
      nodePool(bench).run(g, { kind: 'hold-release', group, timeoutMs: 15_000 }),
    ),
  );
}

/** How far each process's RSS may still fall over `SETTLE_WINDOW_MS` and count as settled. */
const SETTLE_FALL_KIB = 1024;
const SETTLE_WINDOW_MS = 20_000;
const SETTLE_EVERY_MS = 2_000;

/**
 * The proxy tree's RSS once it has stopped giving start-up memory back: sampled every 2 s until
 * `minMs` has passed and no process of the tree has fallen by more than 1 MiB over the last 20 s,
 * or taken as it is at `maxMs` (`settled` false; null when `maxMs` leaves no room for a 20 s
 * window, as in the smoke run). A Node.js process shrinks its heap some seconds after start, and
 * in a tree of several processes that can come a minute later: a baseline read before it is
 * high, and every RSS-per-tunnel figure computed from it low. Each process is judged on its own:
 * the tree's sum can hold still while one process still shrinks and another grows.
 */
export async function settledSample(
  proxy: Pick<RunningProxy, 'sample'>,
  minMs: number,
  maxMs: number,
): Promise<{ sample: TreeSample; waitedMs: number; settled: boolean | null }> {
  const started = Date.now();
  if (maxMs < SETTLE_WINDOW_MS) {
    await delay(minMs);
    return { sample: proxy.sample(true), waitedMs: Date.now() - started, settled: null };
  }
  const history: { at: number; rss: Map<number, number> }[] = [];
  for (;;) {
    const sample = proxy.sample(true);
    const at = Date.now();
    const rss = new Map(sample.pids.map((pid, i) => [pid, sample.rssPerProcessKiB[i] ?? 0]));
    history.push({ at, rss });
    const waitedMs = at - started;
    // The oldest sample still inside the window, when the window is covered.
    const from = history.find((h) => h.at >= at - SETTLE_WINDOW_MS);
    const covered = from !== undefined && at - from.at >= SETTLE_WINDOW_MS - SETTLE_EVERY_MS;
    if (waitedMs >= minMs && covered && heldStill(from.rss, rss)) return { sample, waitedMs, settled: true };
    if (waitedMs >= maxMs) return { sample, waitedMs, settled: false };
    await delay(SETTLE_EVERY_MS);
  }
}

/** The same processes in both readings, none of them fallen by more than SETTLE_FALL_KIB. */
export function heldStill(before: ReadonlyMap<number, number>, now: ReadonlyMap<number, number>): boolean {
  if (before.size !== now.size) return false;
  for (const [pid, kib] of now) {
    const was = before.get(pid);
    if (was === undefined || was - kib > SETTLE_FALL_KIB) return false;
  }
  return true;
}

/** Waits until the proxy has closed what the last scenario left (open files back near `base`). */
export async function settle(proxy: RunningProxy | null, baseFiles: number, maxMs = 15_000): Promise<void> {
  if (proxy === null) return;
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const files = proxy.sample(true).openFiles.reduce((n, f) => n + f, 0);
    if (files <= baseFiles + 64) return;
    await delay(250);
  }
}

export interface StormSettings {
  readonly clients: number;
  readonly spreadMs: number;
  readonly timeoutMs: number;
  readonly generators: number;
}

/** Part 4: `clients` tunnels started evenly within `spreadMs`, each with its own source address. */
export async function measureStorm(
  bench: Bench,
  target: Target,
  round: number,
  s: StormSettings,
): Promise<Measurement> {
  const shares = split(s.clients, s.generators);
  const group = `storm-${++groupCounter}`;
  const startAt = Date.now() + 200;
  const results = (await Promise.all(
    shares.map((share, g) =>
      nodePool(bench).run(g, {
        kind: 'hold-open',
        group,
        via: via(target),
        destName: bench.destName,
        originHost: bench.origins.host,
        sources: bench.sources.take(share),
        timeoutMs: s.timeoutMs,
        ports: bench.origins.ports.hold,
        count: share,
        inFlight: Number.MAX_SAFE_INTEGER,
        spreadMs: s.spreadMs,
        hello: bench.hello,
        startAt,
        deadline: startAt + s.spreadMs + s.timeoutMs,
        maxConsecutiveFailures: Number.MAX_SAFE_INTEGER,
      }),
    ),
  )) as HoldOpenResult[];
  const peak = target.proxy?.sample(true) ?? null;
  await release(bench, group, shares.length);
  const established = results.reduce((n, r) => n + r.established, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const setup = concat(results.map((r) => r.setupMs));
  const errors: Record<string, number> = {};
  for (const r of results) addCounts(errors, r.errors);
  return {
    scenario: 'storm',
    param: String(s.clients),
    target: target.id,
    label: target.label,
    round,
    values: {
      established,
      failed,
      lastEstablishedS: Math.max(...results.map((r) => r.lastEstablishedMs)) / 1000,
      allEstablishedS:
        failed === 0 ? Math.max(...results.map((r) => r.lastEstablishedMs)) / 1000 : Number.NaN,
      p50: percentile(setup, 50),
      p99: percentile(setup, 99),
      maxOpenFiles: peak === null ? Number.NaN : Math.max(...peak.openFiles),
      generatorCpuS: results.reduce((n, r) => n + r.cpuSeconds, 0),
    },
    errors,
  };
}

export interface IdleSettings {
  readonly holdMs: number;
  /**
   * Least pause between the proxy's start and the baseline RSS sample: long enough for one
   * Node.js process to have given back its start-up memory (about 8 s after start; otherwise the
   * baseline is several MiB per process high). A tree of processes may give it back later still:
   * the baseline waits on until the tree's RSS stops falling (see `settledSample`).
   */
  readonly settleMs: number;
  /** Longest wait for the baseline (then it is taken as it is, and the report says so). */
  readonly settleMaxMs: number;
  readonly generators: number;
  readonly inFlight: number;
  readonly timeoutMs: number;
  readonly rampLimitMs: number;
  readonly maxConsecutiveFailures: number;
}

/**
 * b: ramps the tunnels up to each of `sizes` in turn (one proxy start for all of them), each
 * tunnel from its own source address; at every size it holds them `holdMs`, then pings every
 * tunnel. RSS per tunnel = (tree RSS at the end of the hold − before the first tunnel) / alive.
 * "established" at a size = tunnels alive after the previous hold + tunnels newly opened.
 */
export async function measureIdle(
  bench: Bench,
  target: Target,
  sizes: readonly number[],
  round: number,
  s: IdleSettings,
): Promise<Measurement[]> {
  const group = `idle-${++groupCounter}`;
  const generators = s.generators;
  const baseline =
    target.proxy === null ? null : await settledSample(target.proxy, s.settleMs, s.settleMaxMs);
  const base = baseline?.sample ?? null;
  if (baseline !== null)
    bench.log(
      `    baseline ${(baseline.sample.rssKiB / 1024).toFixed(1)} MiB after ${(baseline.waitedMs / 1000).toFixed(0)} s${baseline.settled === false ? ' (still falling: taken at the limit)' : ''}`,
    );
  const out: Measurement[] = [];
  let alive = 0;
  let previous = 0;
  /** The tree's RSS and live tunnels at the end of the previous size's hold. */
  let before: { rssKiB: number; alive: number } | null = null;
  try {
    for (const size of sizes) {
      const add = size - previous;
      previous = size;
      const shares = split(add, generators);
      const startAt = Date.now() + 300;
      const results = (await Promise.all(
        shares.map((share, g) =>
          nodePool(bench).run(g, {
            kind: 'hold-open',
            group,
            via: via(target),
            destName: bench.destName,
            originHost: bench.origins.host,
            sources: bench.sources.take(share),
            timeoutMs: s.timeoutMs,
            ports: bench.origins.ports.hold,
            count: share,
            inFlight: s.inFlight,
            spreadMs: null,
            hello: bench.hello,
            startAt,
            deadline: startAt + s.rampLimitMs,
            maxConsecutiveFailures: s.maxConsecutiveFailures,
          }),
        ),
      )) as HoldOpenResult[];
      const opened = results.reduce((n, r) => n + r.established, 0);
      const established = alive + opened;
      const last = Math.max(...results.map((r) => r.lastEstablishedMs));
      const rampS = last < 0 ? Number.NaN : last / 1000;
      const afterRamp = target.proxy?.sample(true) ?? null;
      bench.log(
        `    ${established} of ${size} tunnels up (${opened} opened in ${rampS.toFixed(1)} s); holding ${s.holdMs / 1000} s`,
      );
      await delay(s.holdMs);
      const end = target.proxy?.sample(true) ?? null;
      const checkStarted = Date.now();
      const checks = (await Promise.all(
        Array.from({ length: generators }, (_, g) =>
          nodePool(bench).run(g, { kind: 'hold-check', group, timeoutMs: 15_000 }),
        ),
      )) as HoldCheckResult[];
      alive = checks.reduce((n, r) => n + r.alive, 0);
      bench.log(`    ${alive} answered the ping (${((Date.now() - checkStarted) / 1000).toFixed(1)} s)`);
      const errors: Record<string, number> = {};
      for (const r of results) addCounts(errors, r.errors);
      for (const r of checks) for (const [k, v] of Object.entries(r.errors)) errors[`after-hold ${k}`] = v;
      const stopped = results.map((r) => r.stoppedEarly).find((x) => x !== null);
      out.push({
        scenario: 'b',
        param: String(size),
        target: target.id,
        label: target.label,
        round,
        values: {
          attempted: results.reduce((n, r) => n + r.attempted, 0) + (established - opened),
          established,
          alive,
          lost: established - alive,
          rampS,
          rssBaseMiB: base === null ? Number.NaN : base.rssKiB / 1024,
          rssPeakMiB: afterRamp === null ? Number.NaN : afterRamp.rssKiB / 1024,
          rssEndMiB: end === null ? Number.NaN : end.rssKiB / 1024,
          rssPerTunnelKiB:
            base !== null && end !== null && alive > 0 ? (end.rssKiB - base.rssKiB) / alive : Number.NaN,
          rssStepPerTunnelKiB:
            before !== null && end !== null && alive > before.alive
              ? (end.rssKiB - before.rssKiB) / (alive - before.alive)
              : Number.NaN,
          processes: afterRamp === null ? Number.NaN : afterRamp.pids.length,
          baseWaitS: baseline === null ? Number.NaN : baseline.waitedMs / 1000,
          baseSettled: baseline === null || baseline.settled === null ? Number.NaN : baseline.settled ? 1 : 0,
          maxOpenFiles: afterRamp === null ? Number.NaN : Math.max(...afterRamp.openFiles),
          generatorCpuS: results.reduce((n, r) => n + r.cpuSeconds, 0),
        },
        errors,
        ...(stopped === undefined ? {} : { note: `a generator stopped opening tunnels early: ${stopped}` }),
      });
      before = end === null ? null : { rssKiB: end.rssKiB, alive };
    }
  } finally {
    const releaseStarted = Date.now();
    await release(bench, group, generators);
    bench.log(`    released (${((Date.now() - releaseStarted) / 1000).toFixed(1)} s)`);
  }
  return out;
}
