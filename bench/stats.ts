/**
 * Statistics and Markdown tables for the side-by-side benchmark. Pure: numbers in, strings out.
 */

/** The q-quantile (0 ≤ q ≤ 1) of already sorted values, linear between closest ranks (R type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const a = sorted[lower]!;
  const b = sorted[upper]!;
  return a + (b - a) * (position - lower);
}

/** Sorts a copy numerically (the default sort compares strings). NaN values are dropped. */
export function sortNumbers(values: Iterable<number>): number[] {
  const out: number[] = [];
  for (const v of values) if (!Number.isNaN(v)) out.push(v);
  return out.sort((x, y) => x - y);
}

/** The p-th percentile (0–100) of unsorted values. */
export function percentile(values: Iterable<number>, p: number): number {
  return quantileSorted(sortNumbers(values), p / 100);
}

export function median(values: Iterable<number>): number {
  return quantileSorted(sortNumbers(values), 0.5);
}

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many values (rounds) were summarised. */
  readonly n: number;
}

/** Median, min and max of per-round values; NaN (a round that produced nothing) is left out. */
export function summarize(values: Iterable<number>): Summary {
  const sorted = sortNumbers(values);
  if (sorted.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return {
    median: quantileSorted(sorted, 0.5),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    n: sorted.length,
  };
}

/** a / b, or null when either side is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return null;
  return a / b;
}

/**
 * A number for a table: thousands separated, at most `digits` significant digits but never
 * fewer integer digits than the value has; integers print without decimals. NaN and infinities
 * print as "–".
 */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  if (Number.isInteger(value))
    return value.toLocaleString('en-US', { useGrouping: true, maximumFractionDigits: 0 });
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  const rounded = Number(value.toFixed(decimals));
  const [intPart, fraction] = Math.abs(rounded).toFixed(decimals).split('.') as [string, string | undefined];
  const grouped = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${rounded < 0 ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

export function formatRatio(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '–';
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

/** "median (min–max)", or just the median when there was one round or min equals max. */
export function formatSummary(s: Summary, digits = 3): string {
  if (s.n === 0) return '–';
  const m = formatNumber(s.median, digits);
  if (s.n === 1) return m;
  const lo = formatNumber(s.min, digits);
  const hi = formatNumber(s.max, digits);
  return lo === hi ? `${m} (±0)` : `${m} (${lo}–${hi})`;
}

export type Align = 'left' | 'right';

/** Escapes what would break a Markdown table cell. */
export function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A GitHub-flavoured Markdown table; rows shorter than the header are padded with empty cells. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  if (headers.length === 0) throw new RangeError('a table needs at least one column');
  const width = headers.length;
  const cells = (row: readonly string[]): string[] => {
    if (row.length > width) throw new RangeError(`row has ${row.length} cells, the header ${width}`);
    return Array.from({ length: width }, (_, i) => escapeCell(row[i] ?? ''));
  };
  const head = cells(headers);
  const body = rows.map(cells);
  const widths = head.map((h, i) => Math.max(3, h.length, ...body.map((r) => r[i]!.length)));
  const pad = (text: string, i: number): string =>
    align[i] === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (row: readonly string[]): string => `| ${row.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** A comparison against a target from the issue, e.g. "rate ≥ 1.5 × Squid". */
export interface TargetCheck {
  readonly name: string;
  readonly actual: number | null;
  readonly op: '>=' | '<=';
  readonly threshold: number;
  /** Why the check cannot be judged yet (e.g. the gateway lacks a switch it needs). */
  readonly pending?: string;
  /** What weakens the figure (e.g. rounds in which the load generator set the pace). */
  readonly caveat?: string;
  /**
   * The same comparison round by round (every round runs all targets, interleaved): its lowest
   * and highest value, where the check compares targets measured in the same rounds.
   */
  readonly rounds?: { readonly min: number; readonly max: number; readonly n: number };
}

/**
 * Whether the rounds of a check fall on both sides of its threshold: the median decides the
 * verdict, but another run of the same code could well decide the other way.
 */
export function straddles(check: TargetCheck): boolean {
  const r = check.rounds;
  if (r === undefined || r.n < 2) return false;
  const meets = (v: number): boolean => (check.op === '>=' ? v >= check.threshold : v <= check.threshold);
  return meets(r.min) !== meets(r.max);
}

export type Verdict = 'met' | 'missed' | 'n/a' | 'pending';

export function verdict(check: TargetCheck): Verdict {
  if (check.pending !== undefined) return 'pending';
  if (check.actual === null || !Number.isFinite(check.actual)) return 'n/a';
  return (check.op === '>=' ? check.actual >= check.threshold : check.actual <= check.threshold)
    ? 'met'
    : 'missed';
}

/** Counts by key, highest first, as "EMFILE 12, timeout 3" (empty string for none). */
export function formatCounts(counts: Readonly<Record<string, number>>, limit = 4): string {
  const entries = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries.slice(0, limit).map(([k, n]) => `${k} ${formatNumber(n, 6)}`);
  if (entries.length > limit) shown.push(`+${entries.length - limit} more`);
  return shown.join(', ');
}

/** Adds counts into `into` (per-process error tallies). */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of a histogram of [lower, upper, count] buckets (ascending, upper
 * exclusive), interpolated linearly inside the bucket that holds it; NaN when it is empty.
 */
export function histogramQuantile(
  buckets: readonly (readonly [number, number, number])[],
  q: number,
): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const total = buckets.reduce((n, b) => n + b[2], 0);
  if (total === 0) return Number.NaN;
  // The rank of the quantile among `total` values, counted from 0 (as in quantileSorted).
  const rank = (total - 1) * q;
  let seen = 0;
  for (const [lo, hi, n] of buckets) {
    if (n <= 0) continue;
    if (rank < seen + n) return lo + (hi - lo) * ((rank - seen + 0.5) / n);
    seen += n;
  }
  const last = buckets[buckets.length - 1]!;
  return last[1];
}

/** A load generator thread at or above this share of one core sets the pace, not the proxy. */
export const GENERATOR_BOUND_SHARE = 0.9;

/** The busiest generator thread's share of one core over the window. */
export function busiestThreadShare(threadCpuS: readonly number[], windowS: number): number {
  if (!(windowS > 0) || threadCpuS.length === 0) return Number.NaN;
  return Math.max(...threadCpuS) / windowS;
}
