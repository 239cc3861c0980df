import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import {
  machineWakeIpis,
  parseMachineBusy,
  parseProcessIo,
  parseWakeIpis,
  processIo,
} from '../../../bench/procfs.js';
import {
  busyMachine,
  caveatFor,
  NODE_LIBRARIES_REFERENCE,
  NODE_REFERENCE,
  renderReport,
  Results,
  targetChecks,
} from '../../../bench/report.js';
import {
  coreShares,
  generatorDeltas,
  heldStill,
  kibPerCall,
  measureIdleMemory,
  type CpuSample,
  type Measurement,
} from '../../../bench/scenarios.js';
import {
  addCounts,
  busiestThreadShare,
  GENERATOR_BOUND_SHARE,
  histogramQuantile,
  escapeCell,
  formatCounts,
  formatNumber,
  formatRatio,
  formatSummary,
  markdownTable,
  median,
  percentile,
  quantileSorted,
  ratio,
  sortNumbers,
  summarize,
  straddles,
  verdict,
} from '../../../bench/stats.js';

test('median of odd and even counts, unsorted input, empty input', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([10]), 10);
  assert.ok(Number.isNaN(median([])));
});

test('numbers sort numerically, not as strings, and NaN is dropped', () => {
  assert.deepEqual(sortNumbers([10, 9, 100, Number.NaN, 1]), [1, 9, 10, 100]);
  assert.equal(median([10, 9, 100]), 10);
});

test('percentiles interpolate between closest ranks', () => {
  const values = Array.from({ length: 101 }, (_, i) => i); // 0..100
  assert.equal(percentile(values, 0), 0);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(quantileSorted([1, 2], 0.25), 1.25);
  assert.equal(percentile(new Float64Array([5, 1, 3]), 50), 3, 'typed arrays work too');
  assert.throws(() => quantileSorted([1], 1.5), RangeError);
});

test('summaries give median, min, max and the count, ignoring NaN rounds', () => {
  assert.deepEqual(summarize([3, 9, 6]), { median: 6, min: 3, max: 9, n: 3 });
  assert.deepEqual(summarize([Number.NaN, 2]), { median: 2, min: 2, max: 2, n: 1 });
  const empty = summarize([]);
  assert.equal(empty.n, 0);
  assert.ok(Number.isNaN(empty.median));
});

test('ratios are null when a side is missing or zero', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(1, 0), null);
  assert.equal(ratio(undefined, 2), null);
  assert.equal(ratio(1, Number.NaN), null);
  assert.equal(formatRatio(1.5), '1.50×');
  assert.equal(formatRatio(12.34), '12.3×');
  assert.equal(formatRatio(null), '–');
});

test('numbers keep significant digits and group thousands', () => {
  assert.equal(formatNumber(1234.5), '1,235');
  assert.equal(formatNumber(12.345), '12.3');
  assert.equal(formatNumber(0.012345), '0.0123');
  assert.equal(formatNumber(-5.678), '-5.68');
  assert.equal(formatNumber(50_000), '50,000', 'integers print without decimals');
  assert.equal(formatNumber(300, 6), '300');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(Number.NaN), '–');
  assert.equal(formatNumber(Number.POSITIVE_INFINITY), '–');
});

test('a summary cell shows the range only when there is one', () => {
  assert.equal(formatSummary({ median: 1500, min: 1400, max: 1600, n: 3 }), '1,500 (1,400–1,600)');
  assert.equal(formatSummary({ median: 2.5, min: 2.5, max: 2.5, n: 3 }), '2.50 (±0)');
  assert.equal(formatSummary({ median: 7, min: 7, max: 7, n: 1 }), '7');
  assert.equal(formatSummary({ median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }), '–');
});

test('Markdown tables align, pad short rows and escape pipes', () => {
  const table = markdownTable(['name', 'n'], [['a|b', '1'], ['c']], ['left', 'right']);
  assert.equal(table, ['| name |   n |', '| ---- | --: |', '| a\\|b |   1 |', '| c    |     |'].join('\n'));
  assert.throws(() => markdownTable([], []), RangeError);
  assert.throws(() => markdownTable(['one'], [['1', '2']]), RangeError);
  assert.equal(escapeCell('x\ny'), 'x y');
});

test('target verdicts compare in the stated direction', () => {
  assert.equal(verdict({ name: 'rate', actual: 1.5, op: '>=', threshold: 1.5 }), 'met');
  assert.equal(verdict({ name: 'rate', actual: 1.49, op: '>=', threshold: 1.5 }), 'missed');
  assert.equal(verdict({ name: 'p99', actual: 0.9, op: '<=', threshold: 1 }), 'met');
  assert.equal(verdict({ name: 'p99', actual: null, op: '<=', threshold: 1 }), 'n/a');
  assert.equal(
    verdict({ name: 'cost', actual: 0.01, op: '<=', threshold: 0.05, pending: 'no switch' }),
    'pending',
    'a pending check is never met or missed',
  );
});

test('error tallies add up and print highest first', () => {
  const into: Record<string, number> = { timeout: 1 };
  addCounts(into, { timeout: 2, EMFILE: 5 });
  assert.deepEqual(into, { timeout: 3, EMFILE: 5 });
  assert.equal(formatCounts(into), 'EMFILE 5, timeout 3');
  assert.equal(formatCounts({ a: 1, b: 1, c: 1 }, 2), 'a 1, b 1, +1 more');
  assert.equal(formatCounts({ none: 0 }), '');
});

/** The report of `rows`, with a table for each of `targets` (labelled by id). */
function reportOf(rows: Measurement[], targets: string[]): string {
  return renderReport(
    {
      title: 'T',
      preamble: [],
      targets: targets.map((id) => ({ id, label: id })),
      measurements: rows,
      notes: [],
    },
    { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
  );
}

function m(
  scenario: Measurement['scenario'],
  param: string,
  target: string,
  round: number,
  values: Record<string, number>,
): Measurement {
  return { scenario, param, target, label: target, round, values, errors: {} };
}

test('results take medians per scenario, parameter and target', () => {
  const results = new Results([
    m('a', '64', 'airlock', 1, { rate: 300 }),
    m('a', '64', 'airlock', 2, { rate: 100 }),
    m('a', '64', 'airlock', 3, { rate: 200 }),
    m('a', '64', 'squid-w1', 1, { rate: 100 }),
  ]);
  assert.equal(results.median('a', '64', 'airlock', 'rate'), 200);
  assert.deepEqual(results.summary('a', '64', 'airlock', 'rate'), { median: 200, min: 100, max: 300, n: 3 });
  assert.equal(results.median('a', '512', 'airlock', 'rate'), undefined);
  assert.deepEqual(results.params('a'), ['64']);
  const mixed = new Results([m('b', '50000', 'direct', 1, {}), m('b', '10000', 'airlock', 1, {})]);
  assert.deepEqual(mixed.params('b'), ['10000', '50000'], 'numeric parameters sort ascending');
});

test('the targets are computed from medians: rate and p99 against Squid w2, CPU against the cheaper Squid', () => {
  const rows: Measurement[] = [];
  for (let round = 1; round <= 3; round++) {
    rows.push(m('a', '64', 'airlock', round, { rate: 3000 + round, p99: 5, cpuPerOpUs: 150 }));
    rows.push(m('a', '64', 'squid-w1', round, { rate: 1000, p99: 9, cpuPerOpUs: 220 }));
    rows.push(m('a', '64', 'squid-w2', round, { rate: 2000, p99: 8, cpuPerOpUs: 240 }));
    rows.push(m('a', '64', 'airlock-w1', round, { rate: 3100 }));
  }
  rows.push(m('b', '50000', 'airlock', 1, { alive: 50_000, rssPerTunnelKiB: 2.2 }));
  const checks = targetChecks(new Results(rows));
  const byName = new Map(checks.map((c) => [c.name, c]));
  const w2 = byName.get('a: tunnels/s at concurrency 64, Airlock / Squid w2');
  assert.ok(w2);
  assert.equal(w2.actual, 3002 / 2000);
  assert.equal(w2.threshold, 1.3);
  assert.equal(verdict(w2), 'met');
  const cpu = byName.get('a: CPU per tunnel at concurrency 64, Airlock / the cheaper Squid');
  assert.equal(cpu?.actual, 150 / 220, 'compared with the cheaper of the two Squids');
  assert.equal(verdict(cpu), 'met');
  const workers = byName.get('a: tunnels/s at concurrency 64, default workers / workers 1');
  assert.equal(verdict(workers!), 'missed', 'the default was slower than workers: 1');
  const lost = byName.get('b: 50,000 idle tunnels lost or never up (Airlock)');
  assert.equal(lost?.actual, 0);
  assert.equal(verdict(byName.get('b: RSS KiB per tunnel at 50,000 (Airlock, keep)')!), 'met');
  assert.equal(
    checks.some((c) => c.name.includes('per tunnel added')),
    false,
    'one size: no step to judge',
  );
  assert.equal(
    checks.some((c) => c.name.includes('concurrency 512') || c.name.includes('concurrency 1,')),
    false,
    'no row for a parameter that was not measured',
  );
  assert.equal(w2.caveat, undefined, 'nothing weakens these figures');
});

test('a comparison with generator-bound rounds or a busy machine carries a caveat', () => {
  const rows = [
    m('a', '512', 'airlock', 1, { rate: 6000, generatorBound: 1, otherCores: 0.1 }),
    m('a', '512', 'airlock', 2, { rate: 6100, generatorBound: 0, otherCores: 0.1 }),
    m('a', '512', 'squid-w2', 1, { rate: 4000, generatorBound: 0, otherCores: 0.9 }),
    m('a', '512', 'squid-w2', 2, { rate: 4000, generatorBound: 0, otherCores: 0.7 }),
  ];
  const results = new Results(rows);
  assert.equal(results.generatorBoundRounds('a', '512', 'airlock'), 1);
  const caveat = caveatFor(results, 'a', '512', ['airlock', 'squid-w2']);
  assert.equal(caveat, 'generator-bound in 1 round of airlock; other work used 0.80 cores during squid-w2');
  const text = reportOf(rows, ['airlock', 'squid-w2']);
  assert.match(
    text,
    /\| +512 \| airlock +\| 6,050 \(6,000–6,100\) † \|/,
    'the generator-bound cell is marked',
  );
  assert.match(
    text,
    /tunnels\/s at concurrency 512, Airlock \/ Squid w2 +\| +1\.51 \| +1\.50–1\.52 \| +≥ 1\.3 \| met +\| generator-bound/,
  );
});

test('the observation cost is pending until the gateway confirms the switch', () => {
  const rows = [
    m('a', '512', 'airlock', 1, { rate: 5000 }),
    m('a', '512', 'airlock-obs-off', 1, { rate: 5100 }),
  ];
  const find = (supported: boolean | null) =>
    targetChecks(new Results(rows), supported).find((c) => c.name.startsWith('a: observation cost'))!;
  const pending = find(false);
  assert.equal(verdict(pending), 'pending');
  assert.ok(Math.abs(pending.actual! - (1 - 5000 / 5100)) < 1e-12);
  assert.equal(verdict(find(true)), 'met', '2 % cost with a switch that took effect');
  const costly = targetChecks(
    new Results([
      m('a', '512', 'airlock', 1, { rate: 4000 }),
      m('a', '512', 'airlock-obs-off', 1, { rate: 5000 }),
    ]),
    true,
  ).find((c) => c.name.startsWith('a: observation cost'))!;
  assert.equal(verdict(costly), 'missed', '20 % cost');
});

test('idle memory: the largest Airlock process and the supervisor against its workers, settled', () => {
  const checks = targetChecks(
    new Results([
      m('mem', 'start', 'airlock', 1, { largestMiB: 40, rootMiB: 99, largestChildMiB: 40 }),
      m('mem', 'settled', 'airlock', 1, { largestMiB: 97, rootMiB: 80, largestChildMiB: 97 }),
    ]),
  );
  const largest = checks.find((c) => c.name === 'idle: RSS of the largest Airlock process, MiB (settled)')!;
  assert.equal(largest.actual, 97, 'the settled reading, not the one at start');
  assert.equal(verdict(largest), 'missed');
  const supervisor = checks.find(
    (c) => c.name === 'idle: Airlock supervisor RSS / largest worker RSS (settled)',
  )!;
  assert.equal(supervisor.actual, 80 / 97);
  assert.equal(verdict(supervisor), 'met');
  assert.equal(checks.filter((c) => c.name.startsWith('idle:')).length, 2, 'one reading is judged');
  const startOnly = targetChecks(
    new Results([
      m('mem', 'start', 'airlock', 1, { largestMiB: 45, rootMiB: 45, largestChildMiB: Number.NaN }),
    ]),
  );
  const early = startOnly.find((c) => c.name.startsWith('idle: RSS of the largest'))!;
  assert.equal(early.name, 'idle: RSS of the largest Airlock process, MiB (start)');
  assert.equal(verdict(early), 'met');
  assert.equal(
    startOnly.some((c) => c.name.startsWith('idle: Airlock supervisor')),
    false,
    'no supervisor comparison for a single process',
  );
});

test('idle memory: a proxy that exited while idle gives no reading, fails the target and shows the failure', () => {
  const gone = {
    pids: [],
    rssKiB: 0,
    rssPerProcessKiB: [],
    anonPerProcessKiB: [],
    cpuSeconds: 0,
    openFiles: [],
  };
  const airlock = { id: 'airlock', label: 'Airlock', proxy: null };
  const start = measureIdleMemory(airlock, 'start', {
    ...gone,
    pids: [10],
    rssKiB: 64 * 1024,
    rssPerProcessKiB: [64 * 1024],
    anonPerProcessKiB: [20 * 1024],
  });
  assert.equal(start.values.largestMiB, 64);
  // Listed but already gone when its memory was read.
  const zombie = measureIdleMemory(airlock, 'settled', {
    ...gone,
    pids: [10],
    rssPerProcessKiB: [0],
    anonPerProcessKiB: [0],
  });
  for (const settled of [measureIdleMemory(airlock, 'settled', gone), zombie]) {
    assert.deepEqual(settled.errors, { 'exited-while-idle': 1 });
    assert.equal(settled.values.largestMiB, undefined);
    const results = new Results([start, settled]);
    const check = targetChecks(results).find((c) => c.name.startsWith('idle: RSS of the largest'))!;
    assert.equal(check.name, 'idle: RSS of the largest Airlock process, MiB (settled)');
    assert.equal(check.actual, null);
    assert.notEqual(verdict(check), 'met');
  }
  const report = renderReport(
    {
      title: 'T',
      preamble: [],
      targets: [{ id: 'airlock', label: 'Airlock' }],
      measurements: [start, measureIdleMemory(airlock, 'settled', gone)],
      notes: [],
    },
    { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
  );
  assert.match(report, /\| Airlock +\| settled +\| +0 \|.*exited-while-idle 1/);
});

test('idle memory: the empty Node.js reference has rows of its own and the difference is reported', () => {
  const memory = (target: string, largestMiB: number, largestAnonMiB: number): Measurement[] =>
    (['start', 'settled'] as const).map((phase) =>
      m('mem', phase, target, 1, {
        processes: 1,
        totalMiB: largestMiB + (phase === 'start' ? 10 : 0),
        rootMiB: largestMiB + (phase === 'start' ? 10 : 0),
        largestChildMiB: Number.NaN,
        largestMiB: largestMiB + (phase === 'start' ? 10 : 0),
        largestAnonMiB,
      }),
    );
  const rows = [...memory('airlock', 63.5, 20.5), ...memory(NODE_REFERENCE, 40, 6)];
  const text = renderReport(
    {
      title: 'T',
      preamble: [],
      targets: [{ id: 'airlock', label: 'airlock' }],
      measurements: rows,
      notes: [],
    },
    { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
  );
  assert.match(text, /\| node-empty +\| settled \| +1 \| +40 \|/, 'the reference row, settled');
  assert.match(text, /\| node-empty +\| start +\| +1 \| +50 \|/, 'the reference row, at start');
  assert.match(
    text,
    /Above the reference \(settled\): Airlock's largest process holds 23\.5 MiB more RSS than an empty Node\.js script, 14\.5 MiB more of its own/,
  );
  // The reference is not a target: the idle target still judges Airlock's own figure.
  const largest = targetChecks(new Results(rows)).find((c) => c.name.startsWith('idle: RSS of the largest'))!;
  assert.equal(largest.actual, 63.5);
  const without = renderReport(
    {
      title: 'T',
      preamble: [],
      targets: [{ id: 'airlock', label: 'airlock' }],
      measurements: memory('airlock', 63.5, 20.5),
      notes: [],
    },
    { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
  );
  assert.doesNotMatch(without, /Above the reference/, 'no sentence without a reference reading');
});

test("idle memory: the libraries' reference is reported with what it loaded, and judges nothing", () => {
  const memory = (target: string, largestMiB: number, largestAnonMiB: number): Measurement[] =>
    (['start', 'settled'] as const).map((phase) =>
      m('mem', phase, target, 1, {
        processes: 1,
        totalMiB: largestMiB,
        rootMiB: largestMiB,
        largestChildMiB: Number.NaN,
        largestMiB,
        largestAnonMiB,
      }),
    );
  const rows = [
    ...memory('airlock', 63.5, 20.5),
    ...memory(NODE_REFERENCE, 42, 7),
    ...memory(NODE_LIBRARIES_REFERENCE, 55.5, 14.5),
  ];
  const input = {
    title: 'T',
    preamble: [],
    targets: [{ id: 'airlock', label: 'airlock' }],
    measurements: rows,
    notes: [],
    servingLibraries: [
      { specifier: 'pino', via: 'require' as const },
      { specifier: 'zod', via: 'import' as const },
    ],
  };
  const params = { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 };
  const text = renderReport(input, params);
  assert.match(text, /\| node-libraries +\| settled \| +1 \| +55\.5 \|/, 'its row, settled');
  assert.match(
    text,
    /The libraries alone \(settled\): .*static imports: pino \(require\), zod \(import\)\).* holds 55\.5 MiB \(14\.5 MiB of its own\); Airlock's largest process holds 8 MiB more\./,
  );
  assert.match(
    text,
    /holds 21\.5 MiB more RSS than an empty Node\.js script/,
    'the empty reference as before',
  );
  const largest = targetChecks(new Results(rows)).find((c) => c.name.startsWith('idle: RSS of the largest'))!;
  assert.equal(largest.actual, 63.5, 'the target judges the gateway, not a reference');
  const alone = renderReport(
    { ...input, measurements: [...memory('airlock', 63.5, 20.5), ...memory(NODE_REFERENCE, 42, 7)] },
    params,
  );
  assert.doesNotMatch(alone, /The libraries alone/, 'no sentence without its reading');
});

test('histogram quantiles interpolate inside the bucket that holds the rank', () => {
  assert.equal(histogramQuantile([[100, 110, 1]], 0.5), 105, 'one value: the middle of its bucket');
  const h: [number, number, number][] = [
    [10, 11, 50],
    [200, 210, 49],
    [5000, 5200, 1],
  ];
  assert.ok(histogramQuantile(h, 0.25) >= 10 && histogramQuantile(h, 0.25) < 11);
  assert.ok(histogramQuantile(h, 0.75) >= 200 && histogramQuantile(h, 0.75) < 210);
  assert.ok(
    histogramQuantile(h, 1) >= 5000 && histogramQuantile(h, 1) <= 5200,
    'the maximum is in the last bucket',
  );
  assert.ok(Number.isNaN(histogramQuantile([], 0.5)));
  assert.ok(Number.isNaN(histogramQuantile([[1, 2, 0]], 0.5)), 'empty buckets hold nothing');
  assert.throws(() => histogramQuantile(h, 2), RangeError);
  // Against exact percentiles of the same values (uniform within 1 µs buckets).
  const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 997);
  const buckets = new Map<number, number>();
  for (const v of values) buckets.set(v, (buckets.get(v) ?? 0) + 1);
  const hist = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([v, n]) => [v, v + 1, n] as [number, number, number]);
  for (const q of [0.5, 0.9, 0.99])
    assert.ok(Math.abs(histogramQuantile(hist, q) - quantileSorted(sortNumbers(values), q)) <= 1, `q ${q}`);
});

test('the busiest generator thread is its share of one core', () => {
  assert.equal(busiestThreadShare([0.5, 2.7], 3), 0.9);
  assert.ok(busiestThreadShare([2.7], 3) >= GENERATOR_BOUND_SHARE);
  assert.ok(Number.isNaN(busiestThreadShare([], 3)));
  assert.ok(Number.isNaN(busiestThreadShare([1], 0)));
});

const NO_IO = { reads: 0, readBytes: 0, writes: 0, writeBytes: 0 };

/** A CPU sample at a window's edge: zeros and no I/O but for what a test sets. */
const sample = (values: Partial<CpuSample>): CpuSample => ({
  proxy: 0,
  origins: 0,
  machine: 0,
  wakeIpis: 0,
  generators: [],
  generatorIo: NO_IO,
  originIo: NO_IO,
  ...values,
});

test('cores over a window split into proxy, generator, origins and other work', () => {
  const a = sample({ proxy: 10, origins: 5, machine: 100 });
  const b = sample({ proxy: 13, origins: 5.3, machine: 105 });
  const shares = coreShares(a, b, 3, 0.9, [0.9], true);
  assert.equal(shares.proxy, 1);
  assert.ok(Math.abs(shares.generator - 0.3) < 1e-12);
  assert.ok(Math.abs(shares.origins - 0.1) < 1e-12);
  assert.ok(Math.abs(shares.other - (5 / 3 - 1 - 0.3 - 0.1)) < 1e-12);
  assert.equal(coreShares(a, b, 3, 0.9, [0.9], false).proxy, 0, 'direct has no proxy');
  assert.equal(coreShares(a, { ...b, machine: 100.5 }, 3, 0.9, [0.9], true).other, 0, 'never below zero');
});

test("the generators' CPU over a window is what each process used between the window's edges", () => {
  const a = sample({ generators: [10, 20] });
  const b = sample({ generators: [11.5, 20.25] });
  assert.deepEqual(generatorDeltas(a, b), [1.5, 0.25]);
  // Its work before the window (setting up tunnels) does not dilute the window's share.
  const shares = coreShares(a, { ...b, machine: 3 }, 2, 1.75, generatorDeltas(a, b), false);
  assert.equal(shares.generator, 0.875);
  assert.equal(shares.generatorThread, 0.75);
  assert.equal(shares.other, 1.5 - 0.875);
  assert.ok(
    Number.isNaN(generatorDeltas({ ...a, generators: [] }, b)[0]!),
    'a process read at one edge only',
  );
});

test('cross-core wake-up interrupts: the RES and CAL rows of /proc/interrupts, over every core', () => {
  const interrupts = [
    '           CPU0       CPU1       ',
    '  0:         40          0   IO-APIC    2-edge      timer',
    'LOC:    5174711    5003947   Local timer interrupts',
    'RES:    1327676    1304137   Rescheduling interrupts',
    'CAL:    5728651    5880707   Function call interrupts',
    'TLB:     182564     190142   TLB shootdowns',
  ].join('\n');
  assert.equal(parseWakeIpis(interrupts), 1327676 + 1304137 + 5728651 + 5880707);
  // Without both rows (another kernel, another architecture) there is no figure, not a zero.
  assert.ok(Number.isNaN(parseWakeIpis(interrupts.replace(/^CAL:.*$/m, ''))));
  // This machine's own file reads as a count where it has both rows (x86 Linux, where the
  // benchmark runs; other architectures name their IPIs differently), and as no figure elsewhere.
  const own = readFileSync('/proc/interrupts', 'utf8');
  if (/^\s*RES:/m.test(own) && /^\s*CAL:/m.test(own)) assert.ok(machineWakeIpis() >= 0);
  else assert.ok(Number.isNaN(machineWakeIpis()));
});

test('machine busy time comes from the first line of /proc/stat', () => {
  const stat = 'cpu  100 20 30 1000 50 5 7 3 0 0\ncpu0 50 10 15 500 25 2 3 1 0 0\n';
  // user + nice + system + irq + softirq + steal; idle and iowait are not busy.
  assert.equal(parseMachineBusy(stat, 100), (100 + 20 + 30 + 5 + 7 + 3) / 100);
  assert.ok(Number.isNaN(parseMachineBusy('intr 1 2 3\n', 100)));
});

test('the report renders ratios to both Squids and to direct', () => {
  const rows = [
    m('c', '8', 'direct', 1, { mbps: 4000 }),
    m('c', '8', 'airlock', 1, { mbps: 2000, cpuPerGB: 1.2 }),
    m('c', '8', 'squid-w1', 1, { mbps: 1000, cpuPerGB: 2 }),
  ];
  const text = renderReport(
    {
      title: 'T',
      preamble: ['p'],
      targets: [
        { id: 'direct', label: 'direct' },
        { id: 'airlock', label: 'airlock' },
        { id: 'squid-w1', label: 'squid-w1' },
      ],
      measurements: rows,
      notes: ['n'],
    },
    { holdSeconds: 60, httpConnections: 32, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
  );
  assert.match(text, /\| +8 \| airlock +\| +2,000 \| +2\.00× \| +– \| +0\.50× \|/);
  assert.match(
    text,
    /c: MB\/s on 8 tunnels, Airlock \/ direct \(keep\) +\| +0\.500 \| +\| +≥ 0\.55 \| missed/,
  );
  assert.match(text, /## Notes\n\n- n/);
});

test('a run whose windows shared the machine with other work says it is not a result', () => {
  const quiet = [
    m('a', '64', 'airlock', 1, { otherCores: 0.05 }),
    m('a', '64', 'squid-w2', 1, { otherCores: 0.1 }),
  ];
  const busy = [
    m('a', '64', 'airlock', 1, { otherCores: 1.4 }),
    m('a', '64', 'squid-w2', 1, { otherCores: 0.9 }),
  ];
  assert.equal(busyMachine(quiet), null);
  assert.equal(busyMachine(busy), 1.15);
  assert.equal(busyMachine([m('mem', 'idle', 'airlock', 1, {})]), null, 'nothing windowed, nothing to say');
  const render = (rows: Measurement[]): string =>
    renderReport(
      {
        title: 'T',
        preamble: ['p'],
        targets: [{ id: 'airlock', label: 'airlock' }],
        measurements: rows,
        notes: [],
      },
      { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
    );
  assert.match(render(busy), /^# T\n\n\*\*Busy machine: other work used a median of 1\.15 cores/);
  assert.doesNotMatch(render(quiet), /Busy machine/);
});

test('the idle holds say how long each baseline took to settle, and which never did', () => {
  const report = (settled: number): string =>
    renderReport(
      {
        title: 'T',
        preamble: [],
        targets: [
          { id: 'airlock', label: 'airlock' },
          { id: 'tinyproxy', label: 'tinyproxy' },
        ],
        measurements: [
          // The measurement carries the label of what the run started; the target list, the id.
          {
            ...m('b', '10000', 'airlock', 1, {
              alive: 10_000,
              rssPerTunnelKiB: 2,
              baseWaitS: 46.2,
              baseSettled: settled,
            }),
            label: 'Airlock (8 workers)',
          },
          m('b', '50000', 'airlock', 1, {
            alive: 50_000,
            rssPerTunnelKiB: 3,
            baseWaitS: 46.2,
            baseSettled: settled,
          }),
          m('b', '10000', 'tinyproxy', 1, {
            alive: 10_000,
            rssPerTunnelKiB: 1,
            baseWaitS: 20.1,
            baseSettled: 1,
          }),
        ],
        notes: [],
      },
      { holdSeconds: 60, httpConnections: 64, stormSpreadMs: 2000, stormTimeoutMs: 10_000 },
    );
  assert.match(report(1), /waited: Airlock \(8 workers\) 46 s, tinyproxy 20 s\. /);
  assert.doesNotMatch(report(1), /Still falling/);
  assert.match(
    report(0),
    /Still falling at the limit, so its figures are low by what it had yet to give back: Airlock \(8 workers\)\./,
  );
});

test('RSS per tunnel is also judged by what each tunnel added between the two largest sizes', () => {
  const checks = targetChecks(
    new Results([
      m('b', '10000', 'airlock', 1, { alive: 10_000, rssPerTunnelKiB: -1.9 }),
      m('b', '50000', 'airlock', 1, { alive: 50_000, rssPerTunnelKiB: 2.15, rssStepPerTunnelKiB: 3.18 }),
    ]),
  );
  const byName = new Map(checks.map((c) => [c.name, c]));
  assert.equal(verdict(byName.get('b: RSS KiB per tunnel at 50,000 (Airlock, keep)')!), 'met');
  const step = byName.get('b: RSS KiB per tunnel added from 10,000 to 50,000 (Airlock, keep)');
  assert.equal(step?.actual, 3.18);
  assert.equal(verdict(step), 'missed');
});

test('each check also compares its targets round by round, and says when the rounds disagree', () => {
  const rows: Measurement[] = [];
  // Airlock against Squid w2 at 64: 1.2, 1.5, 1.4 round by round; the medians take every round.
  const airlock = [2400, 3000, 2800];
  airlock.forEach((rate, i) => {
    rows.push(m('a', '64', 'airlock', i + 1, { rate, cpuPerOpUs: 100 + i }));
    rows.push(m('a', '64', 'squid-w2', i + 1, { rate: 2000, cpuPerOpUs: 200 }));
    rows.push(m('a', '64', 'squid-w1', i + 1, { rate: 1500, cpuPerOpUs: 300 }));
  });
  // A round one of them did not measure pairs with nothing.
  rows.push(m('a', '64', 'airlock', 4, { rate: 9000, cpuPerOpUs: 100 }));
  rows.unshift(m('a', '64', 'squid-w2', 0, { rate: 100, cpuPerOpUs: 200 }));
  const results = new Results(rows);
  assert.deepEqual(results.perRound('a', '64', 'airlock', 'squid-w2', 'rate'), [1.2, 1.5, 1.4]);
  const checks = new Map(targetChecks(results).map((c) => [c.name, c]));
  const rate = checks.get('a: tunnels/s at concurrency 64, Airlock / Squid w2')!;
  assert.deepEqual(rate.rounds, { min: 1.2, max: 1.5, n: 3 });
  assert.equal(verdict(rate), 'met', 'the medians decide');
  assert.equal(straddles(rate), true, '1.2 misses 1.3, 1.5 meets it');
  const cpu = checks.get('a: CPU per tunnel at concurrency 64, Airlock / the cheaper Squid')!;
  assert.deepEqual(cpu.rounds, { min: 0.5, max: 0.51, n: 3 }, 'against the cheaper Squid, w2 here');
  assert.equal(straddles(cpu), false);
  const text = reportOf(rows, ['airlock', 'squid-w1', 'squid-w2']);
  assert.match(
    text,
    /concurrency 64, Airlock \/ Squid w2 +\| +1\.45 \| +1\.20–1\.50 \| +≥ 1\.3 \| met +\| the rounds fall on both sides of the threshold +\|/,
  );
  assert.match(
    text,
    /CPU per tunnel at concurrency 64, Airlock \/ the cheaper Squid +\| +0\.502 \| +0\.500–0\.510 \| +≤ 0\.75 \| met +\| +\|/,
  );
  // One round: nothing to spread.
  const one = targetChecks(
    new Results([m('a', '64', 'airlock', 1, { rate: 1 }), m('a', '64', 'squid-w2', 1, { rate: 1 })]),
  );
  assert.equal(straddles(one[0]!), false);
});

test('idle memory is settled once no process of the tree still falls, not once their sum holds', () => {
  const readings = (...pairs: [number, number][]): Map<number, number> => new Map(pairs);
  assert.equal(heldStill(readings([1, 70_000], [2, 64_000]), readings([1, 69_500], [2, 64_600])), true);
  // The supervisor gives back 8 MiB while a worker grows by as much: the sum holds, it is not settled.
  assert.equal(heldStill(readings([1, 72_000], [2, 60_000]), readings([1, 64_000], [2, 68_000])), false);
  // Growing is not falling.
  assert.equal(heldStill(readings([1, 60_000]), readings([1, 80_000])), true);
  // A process that came or went since the window's start: not the same tree yet.
  assert.equal(heldStill(readings([1, 60_000]), readings([1, 60_000], [3, 50_000])), false);
  assert.equal(heldStill(readings([1, 60_000], [2, 1]), readings([1, 60_000], [3, 1])), false);
});

test("section a: where a tunnel's time goes at the lowest concurrency, beside the loop's period", () => {
  const a = (
    param: string,
    target: string,
    round: number,
    rate: number,
    phases: number[],
    ipis?: number,
  ): Measurement =>
    m('a', param, target, round, {
      rate,
      p50: 0.1,
      p99: 0.3,
      cpuPerOpUs: 150,
      connectUs: phases[0]!,
      setupUs: phases[1]!,
      echoUs: phases[2]!,
      closeUs: phases[3]!,
      ...(ipis === undefined ? {} : { wakeIpis: ipis }),
    });
  const rows = [
    a('1', 'airlock', 1, 4000, [14, 110, 125, 1], 5.2),
    a('1', 'airlock', 2, 3000, [16, 130, 145, 3], 4.6),
    a('1', 'airlock', 3, 3500, [15, 120, 135, 2], 4.9),
    a('1', 'tinyproxy', 1, 4000, [28, 100, 95, 2]),
    // Higher concurrencies queue in every phase: only the lowest gets the table.
    a('64', 'airlock', 1, 14000, [500, 2600, 900, 40]),
  ];
  const text = reportOf(rows, ['airlock', 'tinyproxy']);
  assert.match(text, /Where a tunnel's time goes at concurrency 1,/);
  // Medians per phase over rounds; their sum; the period 1e6 × slots / tunnels per second.
  // The wake-up IPIs per tunnel, a median too; "–" where a run did not read them.
  assert.match(text, /\| airlock +\| +15 \| +120 \| +135 \| +2 \| +272 \| +286 \| +4\.9 \|/);
  assert.match(text, /\| tinyproxy +\| +28 \| +100 \| +95 \| +2 \| +225 \| +250 \| +– \|/);
  assert.doesNotMatch(text, /time goes at concurrency 64/);
  // A run without phases (an older generator's figures) has no such table.
  const bare = reportOf(
    [m('a', '1', 'airlock', 1, { rate: 4000, p50: 0.1, p99: 0.3, cpuPerOpUs: 150 })],
    ['airlock'],
  );
  assert.doesNotMatch(bare, /Where a tunnel's time goes/);
});

test('/proc/PID/io: the calls and bytes of reads and writes, and KiB per call over a window', () => {
  const io = parseProcessIo(
    'rchar: 2097152\nwchar: 65536\nsyscr: 64\nsyscw: 16\nread_bytes: 0\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n',
  );
  assert.deepEqual(io, { reads: 64, readBytes: 2097152, writes: 16, writeBytes: 65536 });
  assert.equal(kibPerCall(io.readBytes, io.reads), 32);
  assert.equal(kibPerCall(io.writeBytes, io.writes), 4);
  assert.ok(Number.isNaN(kibPerCall(100, 0)), 'no calls in the window');
  assert.ok(Number.isNaN(parseProcessIo('').reads), 'a file without the field');
  // The process running this test has read its own files.
  assert.ok(processIo(process.pid).reads > 0);
  assert.deepEqual(processIo(2 ** 22 + 7), { reads: 0, readBytes: 0, writes: 0, writeBytes: 0 }, 'gone');
});

test('section c: the pieces the clients read in, beside what the proxy and the endpoints spent per GB', () => {
  const c = (target: string, round: number, clientKiBPerRead: number): Measurement =>
    m('c', '8', target, round, {
      mbps: 1500,
      cpuPerGB: 0.3,
      endpointCpuPerGB: 1.1,
      clientKiBPerRead,
      originKiBPerWrite: 190,
    });
  const text = reportOf([c('airlock', 1, 63.9), c('airlock', 2, 64), c('airlock', 3, 12.5)], ['airlock']);
  assert.match(text, /\| client KiB \/ read \|/);
  // The median over rounds, after the endpoints' column.
  assert.match(text, /\| +8 \| airlock +\| .*\| +0\.300 \| +1\.10 \| +63\.9 \|/);
});
