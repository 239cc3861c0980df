/**
 * One measurement of one scenario against one target. The orchestrator calls these in
 * interleaved order (A B C A B C …) and the report takes medians over rounds.
 */
import type { GeneratorPool, JobWithoutId } from './loadgen/pool.js';
import type {
  BulkResult,
  ConnectRateResult,
  HoldCheckResult,
  HoldOpenResult,
  HttpResult,
  SourceAllocator,
  Via,
} from './loadgen/protocol.js';
import type { Origins } from './origins.js';
import type { RunningProxy, TreeSample } from './proxies.js';
import { addCounts, percentile } from './stats.js';

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'storm';

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
  readonly pool: GeneratorPool;
  readonly origins: Origins;
  readonly sources: SourceAllocator;
  readonly destName: string;
  readonly hello: Uint8Array;
  /** Emits progress lines. */
  readonly log: (line: string) => void;
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

function sampleAt(proxy: RunningProxy | null, at: number, withFiles = false): Promise<TreeSample | null> {
  return new Promise((resolve) =>
    setTimeout(() => resolve(proxy === null ? null : proxy.sample(withFiles)), Math.max(0, at - Date.now())),
  );
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

// ---------------------------------------------------------------- a. CONNECT setup rate

/** The timeline of one windowed measurement: jobs start at `startAt`, count inside the window. */
interface MeasureWindow {
  readonly startAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
}

/**
 * Runs one job per generator share over a measurement window (after `leadMs` and the warm-up)
 * and samples the proxy's CPU at the window's edges: the common part of a, c and d.
 */
async function overWindow<R extends ConnectRateResult | BulkResult | HttpResult>(
  bench: Bench,
  target: Target,
  shares: readonly number[],
  leadMs: number,
  s: { readonly warmupMs: number; readonly windowMs: number },
  job: (share: number, window: MeasureWindow) => JobWithoutId,
): Promise<{ results: R[]; proxyCpu: number; errors: Record<string, number>; generatorCpuS: number }> {
  const startAt = Date.now() + leadMs;
  const windowStart = startAt + s.warmupMs;
  const window: MeasureWindow = { startAt, windowStart, windowEnd: windowStart + s.windowMs };
  const cpu0 = sampleAt(target.proxy, window.windowStart);
  const cpu1 = sampleAt(target.proxy, window.windowEnd);
  const results = (await Promise.all(shares.map((share, g) => bench.pool.run(g, job(share, window))))) as R[];
  const [a, b] = await Promise.all([cpu0, cpu1]);
  const errors: Record<string, number> = {};
  for (const r of results) addCounts(errors, r.errors);
  return {
    results,
    proxyCpu: a !== null && b !== null ? b.cpuSeconds - a.cpuSeconds : Number.NaN,
    errors,
    generatorCpuS: results.reduce((n, r) => n + r.cpuSeconds, 0),
  };
}

export interface RateSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly generators: number;
  readonly timeoutMs: number;
}

export async function measureConnectRate(
  bench: Bench,
  target: Target,
  concurrency: number,
  round: number,
  s: RateSettings,
): Promise<Measurement> {
  const { results, proxyCpu, errors, generatorCpuS } = await overWindow<ConnectRateResult>(
    bench,
    target,
    split(concurrency, concurrency === 1 ? 1 : s.generators),
    200,
    s,
    (share, window) => ({
      kind: 'connect-rate',
      via: via(target),
      destName: bench.destName,
      originHost: bench.origins.host,
      sources: bench.sources.take(2032),
      timeoutMs: s.timeoutMs,
      ports: bench.origins.ports.close,
      concurrency: share,
      hello: bench.hello,
      ...window,
    }),
  );
  const completed = results.reduce((n, r) => n + r.completed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const setup = concat(results.map((r) => r.setupMs));
  return {
    scenario: 'a',
    param: String(concurrency),
    target: target.id,
    label: target.label,
    round,
    values: {
      rate: completed / (s.windowMs / 1000),
      p50: percentile(setup, 50),
      p99: percentile(setup, 99),
      failed,
      proxyCpuS: proxyCpu,
      proxyCpuMsPer1k: completed > 0 ? (proxyCpu * 1e6) / completed : Number.NaN,
      generatorCpuS,
    },
    errors,
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
  const { results, proxyCpu, errors, generatorCpuS } = await overWindow<BulkResult>(
    bench,
    target,
    split(tunnels, s.generators),
    500,
    s,
    (share, window) => ({
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
  );
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  const opened = results.reduce((n, r) => n + r.opened, 0);
  if (opened < tunnels) errors['not-opened'] = tunnels - opened;
  return {
    scenario: 'c',
    param: String(tunnels),
    target: target.id,
    label: target.label,
    round,
    values: {
      mbps: bytes / 1e6 / (s.windowMs / 1000),
      proxyCpuS: proxyCpu,
      cpuPerGB: bytes > 0 ? proxyCpu / (bytes / 1e9) : Number.NaN,
      opened,
      generatorCpuS,
    },
    errors,
  };
}

// ---------------------------------------------------------------- d. plain-HTTP forwarding

export interface HttpSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly generators: number;
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
  const { results, proxyCpu, errors, generatorCpuS } = await overWindow<HttpResult>(
    bench,
    target,
    split(s.connections, s.generators),
    200,
    s,
    (share, window) => ({
      kind: 'http',
      via: via(target),
      destName: bench.destName,
      originHost: bench.origins.host,
      sources: bench.sources.take(1016),
      timeoutMs: s.timeoutMs,
      port: bench.origins.ports.http,
      path,
      expectBytes: size,
      connections: share,
      ...window,
    }),
  );
  const responses = results.reduce((n, r) => n + r.responses, 0);
  const latency = concat(results.map((r) => r.latencyMs));
  return {
    scenario: 'd',
    param: path,
    target: target.id,
    label: target.label,
    round,
    values: {
      rps: responses / (s.windowMs / 1000),
      p50: percentile(latency, 50),
      p99: percentile(latency, 99),
      mbps: results.reduce((n, r) => n + r.bytes, 0) / 1e6 / (s.windowMs / 1000),
      failed: Object.values(errors).reduce((n, v) => n + v, 0),
      connects: results.reduce((n, r) => n + r.connects, 0),
      proxyCpuS: proxyCpu,
      generatorCpuS,
    },
    errors,
  };
}

// ---------------------------------------------------------------- b and storm: held tunnels

let groupCounter = 0;

async function release(bench: Bench, group: string, generators: number): Promise<void> {
  await bench.origins.closeHeld();
  await Promise.all(
    Array.from({ length: generators }, (_, g) =>
      bench.pool.run(g, { kind: 'hold-release', group, timeoutMs: 15_000 }),
    ),
  );
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
      bench.pool.run(g, {
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
  /** Pause between the proxy's start and the baseline RSS sample. */
  readonly settleMs: number;
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
  await delay(s.settleMs);
  const base = target.proxy?.sample(true) ?? null;
  const out: Measurement[] = [];
  let alive = 0;
  let previous = 0;
  try {
    for (const size of sizes) {
      const add = size - previous;
      previous = size;
      const shares = split(add, generators);
      const startAt = Date.now() + 300;
      const results = (await Promise.all(
        shares.map((share, g) =>
          bench.pool.run(g, {
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
          bench.pool.run(g, { kind: 'hold-check', group, timeoutMs: 15_000 }),
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
          processes: afterRamp === null ? Number.NaN : afterRamp.pids.length,
          maxOpenFiles: afterRamp === null ? Number.NaN : Math.max(...afterRamp.openFiles),
          generatorCpuS: results.reduce((n, r) => n + r.cpuSeconds, 0),
        },
        errors,
        ...(stopped === undefined ? {} : { note: `a generator stopped opening tunnels early: ${stopped}` }),
      });
    }
  } finally {
    const releaseStarted = Date.now();
    await release(bench, group, generators);
    bench.log(`    released (${((Date.now() - releaseStarted) / 1000).toFixed(1)} s)`);
  }
  return out;
}
