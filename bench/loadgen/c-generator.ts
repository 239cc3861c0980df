/**
 * The orchestrator's side of the C load generator and origin (`bench/loadgen-c/loadgen.c`):
 * compiles it with the system C compiler at the start of a run, runs one client job per
 * measurement (a process that prints one JSON object), and starts the origin servers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Via } from './protocol.js';

/** Compiles the generator into `outDir`; throws a message that says what is missing. */
export function buildCGenerator(repoRoot: string, outDir: string): string {
  const source = join(repoRoot, 'bench/loadgen-c/loadgen.c');
  if (!existsSync(source)) throw new Error(`the C load generator's source is missing: ${source}`);
  const binary = join(outDir, 'loadgen');
  const cc = process.env.CC ?? 'cc';
  try {
    execFileSync(cc, ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-pthread', '-o', binary, source], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new Error(`no C compiler: \`${cc}\` was not found (install gcc, or set CC)`, { cause: error });
    throw new Error(`${cc} could not compile ${source}:\n${e.stderr?.toString() ?? e.message}`, {
      cause: error,
    });
  }
  return binary;
}

/** Client source addresses: `count` consecutive IPv4 addresses from `first`. */
export interface SourceBlock {
  readonly first: string;
  readonly count: number;
}

interface ClientCommon {
  readonly via: Via;
  /** Name in the CONNECT line and Host header. */
  readonly destName: string;
  readonly originHost: string;
  readonly sources: SourceBlock;
  readonly concurrency: number;
  readonly threads: number;
  readonly startAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly timeoutMs: number;
}

/** CONNECT → 200 → payload echoed → the origin closes, in a loop per connection slot. */
export interface ConnectClientJob extends ClientCommon {
  readonly mode: 'connect';
  readonly ports: readonly number[];
  readonly payloadFile: string;
}

/** Keep-alive GETs, one at a time per connection. */
export interface HttpClientJob extends ClientCommon {
  readonly mode: 'http';
  readonly port: number;
  readonly path: string;
  readonly expectBytes: number;
}

export type ClientJob = ConnectClientJob | HttpClientJob;

/** [lower µs, upper µs (exclusive), count] */
export type HistogramBucket = readonly [number, number, number];

export interface ClientResult {
  readonly mode: 'connect' | 'http';
  readonly threads: number;
  readonly concurrency: number;
  readonly windowS: number;
  /** connect: tunnels finished inside the window. */
  readonly completed: number;
  readonly failed: number;
  readonly connects: number;
  /** http: responses finished inside the window, and their body bytes. */
  readonly responses: number;
  readonly bytes: number;
  readonly cpuUserS: number;
  readonly cpuSysS: number;
  /** CPU seconds of every thread inside the window (a thread can use at most one core). */
  readonly threadCpuS: readonly number[];
  readonly errors: Readonly<Record<string, number>>;
  /** connect: setup latency (CONNECT written → 200 read; direct: TCP connect); http: request → last byte. */
  readonly histogramUs: readonly HistogramBucket[];
  /**
   * connect: microseconds summed over the tunnels finished inside the window, per phase: TCP
   * connect, CONNECT written → 200 read (direct: 0), payload written → echo read, echo read →
   * the origin's close read. Divided by `completed`, where one tunnel's time goes.
   */
  readonly phaseUs: readonly [number, number, number, number];
}

export function clientArgs(job: ClientJob): string[] {
  const args: string[] = [job.mode];
  if (job.via.kind === 'proxy') args.push('--proxy', `${job.via.host}:${job.via.port}`);
  else args.push('--direct');
  args.push(
    '--origin-host',
    job.originHost,
    '--name',
    job.destName,
    '--sources',
    `${job.sources.first},${job.sources.count}`,
    '--concurrency',
    String(job.concurrency),
    '--threads',
    String(Math.max(1, Math.min(job.threads, job.concurrency))),
    '--start-at',
    String(job.startAt),
    '--window-start',
    String(job.windowStart),
    '--window-end',
    String(job.windowEnd),
    '--timeout-ms',
    String(job.timeoutMs),
  );
  if (job.mode === 'connect') args.push('--ports', job.ports.join(','), '--payload-file', job.payloadFile);
  else args.push('--ports', String(job.port), '--path', job.path, '--expect-bytes', String(job.expectBytes));
  return args;
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Error(`generator output: ${what} is not a number`);
  return v;
};

/** Checks and types the generator's JSON line. */
export function parseClientResult(text: string): ClientResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text.trim());
  } catch {
    throw new Error(`generator output is not JSON: ${text.slice(0, 200)}`);
  }
  const o = raw as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || (o.mode !== 'connect' && o.mode !== 'http'))
    throw new Error(`generator output has no mode: ${text.slice(0, 200)}`);
  const threadCpu = o.threadCpuS;
  const hist = o.histogramUs;
  const errors = o.errors;
  const phases = o.phaseUs;
  if (!Array.isArray(phases) || phases.length !== 4)
    throw new Error('generator output: phaseUs is not [connect, setup, echo, close]');
  if (!Array.isArray(threadCpu) || !Array.isArray(hist) || errors === null || typeof errors !== 'object')
    throw new Error('generator output lacks threadCpuS, histogramUs or errors');
  const buckets = hist.map((b: unknown): HistogramBucket => {
    if (!Array.isArray(b) || b.length !== 3)
      throw new Error('generator output: a histogram bucket is not [lo, hi, n]');
    return [num(b[0], 'bucket'), num(b[1], 'bucket'), num(b[2], 'bucket')];
  });
  const errs: Record<string, number> = {};
  for (const [k, v] of Object.entries(errors as Record<string, unknown>)) errs[k] = num(v, `errors.${k}`);
  return {
    mode: o.mode,
    threads: num(o.threads, 'threads'),
    concurrency: num(o.concurrency, 'concurrency'),
    windowS: num(o.windowS, 'windowS'),
    completed: num(o.completed, 'completed'),
    failed: num(o.failed, 'failed'),
    connects: num(o.connects, 'connects'),
    responses: num(o.responses, 'responses'),
    bytes: num(o.bytes, 'bytes'),
    cpuUserS: num(o.cpuUserS, 'cpuUserS'),
    cpuSysS: num(o.cpuSysS, 'cpuSysS'),
    threadCpuS: threadCpu.map((v: unknown) => num(v, 'threadCpuS')),
    errors: errs,
    histogramUs: buckets,
    phaseUs: [
      num(phases[0], 'phaseUs'),
      num(phases[1], 'phaseUs'),
      num(phases[2], 'phaseUs'),
      num(phases[3], 'phaseUs'),
    ],
  };
}

/** Runs one client job; resolves with its result, rejects when it fails or outlives its window. */
export function runClient(binary: string, job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, clientArgs(job), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    // The generator ends itself at the window's end; this is the backstop.
    const limit = job.windowEnd - Date.now() + job.timeoutMs + 15_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(limit, 5_000));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`the C load generator could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`the C load generator failed (${signal ?? `exit ${String(code)}`}): ${err.trim()}`));
        return;
      }
      try {
        resolve(parseClientResult(out));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

export interface COrigin {
  readonly pid: number;
  /** Echo-then-close ports. */
  readonly close: readonly number[];
  /** The HTTP server (/1k, /1m). */
  readonly http: number;
  /** "ok", the errno name why the DNS server could not bind, or null when none was asked. */
  readonly dns: string | null;
  stop(): Promise<void>;
}

/** Starts the C origin: echo-then-close ports, the HTTP server and (optionally) a DNS server. */
export async function startCOrigin(
  binary: string,
  options: {
    readonly host: string;
    readonly closePorts: number;
    readonly helloLength: number;
    readonly dnsHost: string | null;
    readonly threads: number;
    readonly maxSeconds: number;
  },
): Promise<COrigin> {
  const args = [
    'origin',
    '--origin-host',
    options.host,
    '--close-ports',
    String(options.closePorts),
    '--hello-len',
    String(options.helloLength),
    '--http',
    '--threads',
    String(options.threads),
    '--max-seconds',
    String(options.maxSeconds),
  ];
  if (options.dnsHost !== null) args.push('--dns', options.dnsHost);
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the C origin did not start within 10 s')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
      } catch {
        reject(new Error(`the C origin printed ${out.slice(0, 200)}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the C origin exited (code ${String(code)}): ${err.trim()}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  child.removeAllListeners('exit');
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return {
    pid: child.pid!,
    close: (ready.close as number[]) ?? [],
    http: Number(ready.http),
    dns: typeof ready.dns === 'string' ? ready.dns : null,
    stop,
  };
}
