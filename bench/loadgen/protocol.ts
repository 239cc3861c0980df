/**
 * Messages between the benchmark orchestrator and its load-generator processes.
 *
 * Time windows are wall-clock (Date.now()) instants so that every generator and the orchestrator,
 * which samples proxy CPU at the same instants, agree on them without a round trip.
 */

/** How the generator reaches an origin: through an HTTP proxy, or straight to the origin port. */
export type Via =
  { readonly kind: 'proxy'; readonly host: string; readonly port: number } | { readonly kind: 'direct' };

/**
 * Source addresses: IPv4 addresses as unsigned 32-bit numbers, `count` consecutive from `base`
 * (the host part never ends in .0 or .255). Connection i binds to address i mod count.
 */
export interface SourceRange {
  readonly base: number;
  readonly count: number;
}

interface Common {
  readonly id: number;
  readonly via: Via;
  /** Name in the CONNECT line and Host header (resolved by each proxy to the loopback origins). */
  readonly destName: string;
  /** Address the origins listen on (direct connections go here). */
  readonly originHost: string;
  readonly sources: SourceRange;
  /** Per tunnel: from the TCP connect to the end of the small exchange. */
  readonly timeoutMs: number;
}

/**
 * Scenarios b and storm: open `count` tunnels and keep them. With `spreadMs` the i-th tunnel
 * starts at startAt + i·spreadMs/count whatever happens to the others (a reconnect storm);
 * without it at most `inFlight` setups run at once. A generator stops starting new tunnels after
 * `maxConsecutiveFailures` failures in a row or at `deadline` (the rest count as not attempted).
 */
export interface HoldOpenJob extends Common {
  readonly kind: 'hold-open';
  readonly group: string;
  readonly ports: readonly number[];
  readonly count: number;
  readonly inFlight: number;
  readonly spreadMs: number | null;
  readonly hello: Uint8Array;
  readonly startAt: number;
  readonly deadline: number;
  readonly maxConsecutiveFailures: number;
}

/** Sends one byte over every held tunnel of `group` and counts the tunnels that echo it. */
export interface HoldCheckJob {
  readonly id: number;
  readonly kind: 'hold-check';
  readonly group: string;
  readonly timeoutMs: number;
}

/** Waits until the tunnels of `group` are closed (the origins close them), then destroys the rest. */
export interface HoldReleaseJob {
  readonly id: number;
  readonly kind: 'hold-release';
  readonly group: string;
  readonly timeoutMs: number;
}

/**
 * Scenario c: opens `tunnels` tunnels, and at startAt sends `hello`, after which the origin streams
 * without end. Counts bytes received inside [windowStart, windowEnd), then closes the tunnels.
 */
export interface BulkJob extends Common {
  readonly kind: 'bulk';
  readonly ports: readonly number[];
  readonly tunnels: number;
  readonly hello: Uint8Array;
  readonly startAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
}

export type Job = HoldOpenJob | HoldCheckJob | HoldReleaseJob | BulkJob;

export interface HoldOpenResult {
  readonly kind: 'hold-open';
  readonly attempted: number;
  readonly established: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  /** Since startAt, when the last tunnel of this generator was established (−1: none). */
  readonly lastEstablishedMs: number;
  /** Setup latency (TCP connect started → small exchange done) of every established tunnel. */
  readonly setupMs: Float64Array;
  readonly stoppedEarly: string | null;
  readonly cpuSeconds: number;
}

export interface HoldCheckResult {
  readonly kind: 'hold-check';
  readonly held: number;
  readonly alive: number;
  readonly errors: Record<string, number>;
}

export interface HoldReleaseResult {
  readonly kind: 'hold-release';
  readonly closedByPeer: number;
  readonly destroyed: number;
}

export interface BulkResult {
  readonly kind: 'bulk';
  readonly opened: number;
  readonly bytes: number;
  readonly errors: Record<string, number>;
  readonly cpuSeconds: number;
}

export type JobResult = HoldOpenResult | HoldCheckResult | HoldReleaseResult | BulkResult;

export type ToGenerator = { readonly t: 'job'; readonly job: Job } | { readonly t: 'exit' };

export type FromGenerator =
  | { readonly t: 'ready'; readonly pid: number }
  | { readonly t: 'result'; readonly id: number; readonly result: JobResult }
  | { readonly t: 'error'; readonly id: number; readonly message: string };

/** 127.1.2.3 → number; throws on anything else than a dotted quad. */
export function ipv4ToNumber(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${address}`);
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new RangeError(`not an IPv4 address: ${address}`);
    n = n * 256 + v;
  }
  return n;
}

export function numberToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * The i-th address of a range, skipping host parts .0 and .255: the range counts usable
 * addresses only (254 per /24).
 */
export function sourceAddress(range: SourceRange, i: number): string {
  const k = i % range.count;
  const block = Math.floor(k / 254);
  const within = (k % 254) + 1;
  return numberToIpv4(range.base - (range.base % 256) + block * 256 + within);
}

/**
 * Hands out fresh, never reused source ranges inside 127.0.0.0/8 (from 127.1.0.1 up), so that a
 * run never meets the TIME_WAIT leftovers of an earlier one and every simulated endpoint of a
 * large scenario has an address of its own. Each range starts on a /24 boundary.
 */
export class SourceAllocator {
  private nextBlock: number;
  private readonly endBlock: number;

  constructor(first = '127.1.0.0', last = '127.254.255.0') {
    this.nextBlock = ipv4ToNumber(first) >>> 8;
    this.endBlock = ipv4ToNumber(last) >>> 8;
  }

  take(count: number): SourceRange {
    if (!(count >= 1)) throw new RangeError('a source range needs at least one address');
    const blocks = Math.ceil(count / 254);
    if (this.nextBlock + blocks > this.endBlock) throw new RangeError('loopback source addresses exhausted');
    const base = this.nextBlock * 256;
    this.nextBlock += blocks;
    return { base, count };
  }
}
