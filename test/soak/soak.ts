/**
 * Soak: `npm run soak -- --minutes N`. Runs `airlock serve` (two workers by default) against
 * origins on 127.0.0.1 for N minutes under a mix of long tunnels, short tunnels, plain-HTTP
 * requests, refused requests, slowloris-style half heads and clients that walk away, sampling
 * the gateway's processes (RSS, descriptors) and its metrics (event-loop delay, open
 * connections) every few seconds. At the end it checks that nothing grows (RSS and descriptors
 * under load, descriptors at rest), that no internal error happened, that every access-log line
 * parses and that the connection and session gauges are back to zero, and writes a Markdown
 * summary to stdout (and to --out FILE). Exits 1 when a check fails, 2 on a usage error.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { serve, stopServed, type Served } from '../helpers/cli.js';
import {
  adminGet,
  adminPortOf,
  childPids,
  descriptors,
  established,
  localOrigins,
  metricSum,
  metricValue,
  rssKiB,
} from '../helpers/faults.js';
import { startOrigin, startTcpEcho } from '../helpers/origins.js';
import { Traffic } from '../helpers/traffic.js';
import { waitFor } from '../helpers/wait.js';

const USAGE = `usage: npm run soak -- --minutes N [--workers N] [--sample-seconds S] [--pause-ms MS] [--out FILE]

  --minutes N         how long the load runs (0.5 to 1440; default 2)
  --workers N         gateway worker processes (1 to 16; default 2)
  --sample-seconds S  time between two samples (1 to 60; default 5)
  --pause-ms MS       pause of each client loop between two operations (0 to 1000; default 25)
  --out FILE          also write the summary to FILE`;

/** RSS all processes together may gain from the first quarter of the run (after warm-up) to the last. */
const RSS_GROWTH_BOUND_KIB = 48 * 1024;
/** Descriptors under load: the last quarter's median within this of the first quarter's. */
const FD_GROWTH_FACTOR = 1.25;
const FD_GROWTH_SLACK = 16;
/** Everything started from the load's end must be over by then (the head deadline is 2 s). */
const SETTLE_MS = 20_000;

interface Options {
  minutes: number;
  workers: number;
  sampleSeconds: number;
  pauseMs: number;
  out: string | null;
}

function options(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '2' },
      workers: { type: 'string', default: '2' },
      'sample-seconds': { type: 'string', default: '5' },
      'pause-ms': { type: 'string', default: '25' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const number = (name: string, text: string, min: number, max: number, integer: boolean): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new Error(
        `--${name}: "${text}" is not ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`,
      );
    }
    return n;
  };
  return {
    minutes: number('minutes', values.minutes, 0.5, 1440, false),
    workers: number('workers', values.workers, 1, 16, true),
    sampleSeconds: number('sample-seconds', values['sample-seconds'], 1, 60, false),
    pauseMs: number('pause-ms', values['pause-ms'], 0, 1000, true),
    out: values.out ?? null,
  };
}

interface Sample {
  readonly at: number;
  /** Per process: supervisor first (or the only process), then the workers. */
  readonly processes: { pid: number; rssKiB: number; fds: number }[];
  readonly rssKiB: number;
  readonly fds: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  readonly connections: number;
  readonly sessions: number;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of `y` over time, per minute. */
function slopePerMinute(samples: readonly Sample[], y: (s: Sample) => number): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => (s.at - samples[0]!.at) / 60_000);
  const ys = samples.map(y);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** A process's RSS and descriptors; zeros once it is gone. */
function measure(pid: number): { pid: number; rssKiB: number; fds: number } {
  try {
    return { pid, rssKiB: rssKiB(pid), fds: descriptors(pid).total };
  } catch {
    return { pid, rssKiB: 0, fds: 0 };
  }
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');

/** Every line of the access log parsed; the refusals and failures by reason. */
async function readAccessLog(
  file: string,
): Promise<{ lines: number; torn: string[]; byReason: Map<string, number> }> {
  const byReason = new Map<string, number>();
  const torn: string[] = [];
  let lines = 0;
  const reader = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of reader) {
    if (line === '') continue;
    lines++;
    let record: { event?: string; decision?: string; reason?: string; end?: string | null };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      if (torn.length < 5) torn.push(line.slice(0, 200));
      continue;
    }
    if (record.event !== 'close') continue;
    const key =
      record.decision === 'allow'
        ? record.end === 'CLOSED' || record.end === null
          ? null
          : `allow, ended ${record.end ?? '-'}`
        : `${record.decision ?? '-'} ${record.reason ?? '-'}`;
    if (key !== null) byReason.set(key, (byReason.get(key) ?? 0) + 1);
  }
  return { lines, torn, byReason };
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    const parsed = options(process.argv.slice(2));
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    opts = parsed;
  } catch (error) {
    console.error(`soak: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const echo = await startTcpEcho();
  const web = await startOrigin();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-soak-'));
  const logFile = join(dir, 'access.log');
  const configFile = join(dir, 'airlock.yaml');
  writeFileSync(
    configFile,
    `workers: ${opts.workers}
${localOrigins({ echoPort: echo.port, webPort: web.port })}log: { file: ${JSON.stringify(logFile)}, format: json }
admin: { listen: "127.0.0.1:0" }
limits: { newConnectionsPerClientPerSecond: 100000 }
timeouts: { requestHead: 2s, upstreamKeepAlive: 2s, drain: 2s }
`,
  );
  let gw: Served | null = null;
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
  };
  try {
    gw = await serve(['--config', configFile, '--listen', '127.0.0.1:0'], 60_000);
    const served = gw;
    const admin = adminPortOf(served.stderr);
    const root = served.child.pid!;
    const pids = (): number[] => (opts.workers > 1 ? [root, ...childPids(root)] : [root]);
    const startPids = pids();
    const metrics = (): Promise<string> => adminGet(admin, '/metrics');
    /** What is still open: client connections and sessions (gauges), connections to the origins. */
    const stillOpen = async (): Promise<string> => {
      const text = await metrics();
      const open = {
        airlock_connections_open: metricValue(text, 'airlock_connections_open'),
        airlock_sessions_open: metricValue(text, 'airlock_sessions_open'),
        airlock_tunnels_open: metricSum(text, 'airlock_tunnels_open'),
        'connections to the web origin': established(web.port),
        'connections to the echo server': established(echo.port),
      };
      return Object.entries(open)
        .filter(([, n]) => n !== 0)
        .map(([what, n]) => `${what} ${n}`)
        .join(', ');
    };
    let open = '';
    const atRest = async (): Promise<boolean> => (open = await stillOpen()) === '';
    await waitFor('the gateway at rest before the load', atRest, { timeoutMs: SETTLE_MS });
    // The fewest descriptors over a third of a second: not the admin connection being closed.
    let idleBefore = startPids.map(measure);
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 30));
      idleBefore = startPids.map(measure).map((p, j) => (p.fds < idleBefore[j]!.fds ? p : idleBefore[j]!));
    }
    await metrics(); // Starts the event-loop histograms' first interval.

    const minutesMs = opts.minutes * 60_000;
    const traffic = new Traffic({
      gatewayPort: served.port,
      tunnelTarget: `echo.example.test:${echo.port}`,
      httpTarget: `web.example.test:${web.port}`,
      deniedHost: 'denied.example.test',
      longTunnels: 16,
      longTunnelMs: 60_000,
      tunnelClients: 3,
      httpClients: 3,
      deniedClients: 1,
      slowlorisClients: 2,
      slowlorisHoldMs: 6000,
      abortClients: 1,
      maxMs: minutesMs,
      maxIterations: 10_000_000,
      pauseMs: opts.pauseMs,
      exchangeTimeoutMs: 10_000,
    });
    const startedAt = Date.now();
    await traffic.start();
    const samples: Sample[] = [];
    const exitedBefore = served.stderr.split('"event":"worker_exited"').length - 1;
    while (Date.now() - startedAt < minutesMs) {
      await new Promise((r) =>
        setTimeout(r, Math.min(opts.sampleSeconds * 1000, minutesMs - (Date.now() - startedAt))),
      );
      const text = await metrics();
      const processes = pids().map(measure);
      samples.push({
        at: Date.now(),
        processes,
        rssKiB: processes.reduce((a, p) => a + p.rssKiB, 0),
        fds: processes.reduce((a, p) => a + p.fds, 0),
        lagP99Ms: metricValue(text, 'airlock_nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMaxMs: metricValue(text, 'airlock_nodejs_eventloop_lag_max_seconds') * 1000,
        connections: metricValue(text, 'airlock_connections_open'),
        sessions: metricValue(text, 'airlock_sessions_open'),
      });
      const last = samples.at(-1)!;
      process.stderr.write(
        `soak: ${((last.at - startedAt) / 60_000).toFixed(1)} min, RSS ${mib(last.rssKiB)} MiB, ${last.fds} descriptors, ` +
          `${last.connections} connections, loop p99 ${ms(last.lagP99Ms)} ms, ${traffic.failures.length} client failures\n`,
      );
    }
    await traffic.stop();
    const loadMs = Date.now() - startedAt;

    // At rest again: the gauges back to zero, the descriptors where they were.
    const rested = await waitFor('the gateway at rest after the load', atRest, {
      timeoutMs: SETTLE_MS,
    }).catch(() => false);
    const text = await metrics();
    // The admin connection of the scrape just made may take the supervisor a moment to close.
    let idleAfter = startPids.map(measure);
    await waitFor(
      'descriptors at rest',
      () => (idleAfter = startPids.map(measure)).every((p, i) => p.fds <= idleBefore[i]!.fds),
      { timeoutMs: 5000 },
    ).catch(() => undefined);
    check(
      'connections, sessions and tunnels back to zero',
      rested === true,
      rested === true ? 'all 0 (gauges and connections to the origins)' : `still open: ${open}`,
    );
    check(
      'descriptors at rest back to where they were',
      idleAfter.every((p, i) => p.fds > 0 && p.fds <= idleBefore[i]!.fds),
      idleBefore
        .map((p, i) => `${p.pid}: ${p.fds} -> ${idleAfter[i]!.fds === 0 ? 'gone' : idleAfter[i]!.fds}`)
        .join(', '),
    );
    const internal = metricValue(text, 'airlock_internal_errors_total');
    check('no internal error', internal === 0, `airlock_internal_errors_total ${internal}`);
    const exited = served.stderr.split('"event":"worker_exited"').length - 1 - exitedBefore;
    check('no worker exited', exited === 0 && pids().length === startPids.length, `${exited} worker exits`);

    // Trends under load: after the first fifth (warm-up), first quarter against last quarter.
    const warm = samples.slice(Math.max(1, Math.floor(samples.length / 5)));
    const quarter = Math.max(1, Math.floor(warm.length / 4));
    const first = warm.slice(0, quarter);
    const lastQ = warm.slice(-quarter);
    const rssGrowth = median(lastQ.map((s) => s.rssKiB)) - median(first.map((s) => s.rssKiB));
    check(
      `RSS does not grow (at most ${mib(RSS_GROWTH_BOUND_KIB)} MiB from the first quarter to the last)`,
      warm.length >= 2 && rssGrowth <= RSS_GROWTH_BOUND_KIB,
      `${mib(median(first.map((s) => s.rssKiB)))} -> ${mib(median(lastQ.map((s) => s.rssKiB)))} MiB (slope ${mib(slopePerMinute(warm, (s) => s.rssKiB))} MiB/min over ${warm.length} samples)`,
    );
    const fdsFirst = median(first.map((s) => s.fds));
    const fdsLast = median(lastQ.map((s) => s.fds));
    check(
      'descriptors under load do not grow',
      warm.length >= 2 && fdsLast <= fdsFirst * FD_GROWTH_FACTOR + FD_GROWTH_SLACK,
      `median ${fdsFirst} -> ${fdsLast} (slope ${slopePerMinute(warm, (s) => s.fds).toFixed(2)}/min)`,
    );

    const log = await readAccessLog(logFile);
    check(
      'every access-log line parses',
      log.torn.length === 0 && log.lines > 0,
      `${log.lines} lines${log.torn.length > 0 ? `; torn: ${log.torn.join(' | ')}` : ''}`,
    );
    const failures = new Map<string, number>();
    for (const f of traffic.failures) {
      const key = `${f.kind} ${f.code}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    check(
      'no client saw a failure',
      traffic.failures.length === 0,
      traffic.failures.length === 0
        ? 'none'
        : traffic.failures
            .slice(0, 5)
            .map((f) => `${f.kind} ${f.code}: ${f.message}`)
            .join('; '),
    );
    const slowlorisAnswered = [...traffic.statuses].filter(([k]) => k.startsWith('slowloris'));

    // The summary.
    const row = (name: string, values: number[], format: (v: number) => string): string =>
      `| ${name} | ${format(median(values))} | ${format(Math.max(...values))} |`;
    const lines: string[] = [];
    lines.push(
      `# Airlock soak: ${(loadMs / 60_000).toFixed(1)} min, ${opts.workers} worker${opts.workers > 1 ? 's' : ''}`,
    );
    lines.push('');
    lines.push(
      `${samples.length} samples every ${opts.sampleSeconds} s; Node ${process.version}; load: 16 long tunnels (renewed every 60 s), 3 short-tunnel, 3 plain-HTTP, 1 refused-request, 2 half-head and 1 aborting client loop, ${opts.pauseMs} ms between operations.`,
    );
    lines.push('');
    lines.push('| under load | median | max |');
    lines.push('| --- | ---: | ---: |');
    lines.push(
      row(
        'RSS, all processes (MiB)',
        samples.map((s) => s.rssKiB),
        mib,
      ),
    );
    for (const [i, pid] of startPids.entries()) {
      const name = opts.workers > 1 ? (i === 0 ? 'supervisor' : `worker ${i}`) : 'gateway';
      lines.push(
        row(
          `RSS, ${name} (MiB)`,
          samples.map((s) => s.processes.find((p) => p.pid === pid)?.rssKiB ?? 0),
          mib,
        ),
      );
    }
    lines.push(
      row(
        'descriptors, all processes',
        samples.map((s) => s.fds),
        (v) => String(v),
      ),
    );
    lines.push(
      row(
        'event-loop delay p99 (ms)',
        samples.map((s) => s.lagP99Ms),
        ms,
      ),
    );
    lines.push(
      row(
        'event-loop delay max (ms)',
        samples.map((s) => s.lagMaxMs),
        ms,
      ),
    );
    lines.push(
      row(
        'client connections open',
        samples.map((s) => s.connections),
        (v) => String(v),
      ),
    );
    lines.push(
      row(
        'sessions open',
        samples.map((s) => s.sessions),
        (v) => String(v),
      ),
    );
    lines.push('');
    lines.push(
      `At rest before and after: ${idleBefore.map((p, i) => `${p.fds} -> ${idleAfter[i]!.fds} descriptors, RSS ${mib(p.rssKiB)} -> ${mib(idleAfter[i]!.rssKiB)} MiB`).join('; ')}.`,
    );
    lines.push('');
    lines.push('| done | count |');
    lines.push('| --- | ---: |');
    const labels: Record<string, string> = {
      long: 'echo rounds in long tunnels',
      tunnel: 'short tunnels',
      http: 'plain-HTTP requests',
      denied: 'refused requests (403)',
      slowloris: 'half heads ended by the gateway',
      abort: 'connections abandoned by the client',
    };
    for (const [kind, label] of Object.entries(labels)) {
      lines.push(`| ${label} | ${traffic.done[kind as keyof typeof traffic.done]} |`);
    }
    lines.push(`| access-log lines | ${log.lines} |`);
    lines.push('');
    lines.push('| refusals and failures by reason (access log) | count |');
    lines.push('| --- | ---: |');
    for (const [reason, n] of [...log.byReason].sort((a, b) => b[1] - a[1]))
      lines.push(`| ${reason} | ${n} |`);
    if (slowlorisAnswered.length > 0) {
      lines.push('');
      lines.push(
        `Half heads: ${slowlorisAnswered.map(([k, n]) => `${n} answered ${k.slice('slowloris '.length)}`).join(', ')}.`,
      );
    }
    lines.push('');
    lines.push(
      `Client-side failures: ${failures.size === 0 ? 'none' : [...failures].map(([k, n]) => `${k}: ${n}`).join(', ')}.`,
    );
    lines.push('');
    lines.push('| check | result | seen |');
    lines.push('| --- | --- | --- |');
    for (const c of checks)
      lines.push(`| ${c.name} | ${c.ok ? 'pass' : 'FAIL'} | ${c.detail.replaceAll('|', '\\|')} |`);
    const summary = `${lines.join('\n')}\n`;
    process.stdout.write(summary);
    if (opts.out !== null) await writeFile(opts.out, summary);
    return checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    await stopServed(gw, 10_000);
    await echo.close();
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`soak: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  },
);
