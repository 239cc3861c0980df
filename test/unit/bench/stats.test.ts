import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderReport, Results, targetChecks } from '../../../bench/report.js';
import type { Measurement } from '../../../bench/scenarios.js';
import {
  addCounts,
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
});

test('error tallies add up and print highest first', () => {
  const into: Record<string, number> = { timeout: 1 };
  addCounts(into, { timeout: 2, EMFILE: 5 });
  assert.deepEqual(into, { timeout: 3, EMFILE: 5 });
  assert.equal(formatCounts(into), 'EMFILE 5, timeout 3');
  assert.equal(formatCounts({ a: 1, b: 1, c: 1 }, 2), 'a 1, b 1, +1 more');
  assert.equal(formatCounts({ none: 0 }), '');
});

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

test("the issue's targets are computed from medians", () => {
  const rows: Measurement[] = [];
  for (let round = 1; round <= 3; round++) {
    rows.push(m('a', '64', 'airlock', round, { rate: 3000 + round, p99: 5 }));
    rows.push(m('a', '64', 'squid-w1', round, { rate: 1000, p99: 9 }));
    rows.push(m('a', '64', 'squid-w2', round, { rate: 2000, p99: 8 }));
  }
  rows.push(m('b', '50000', 'airlock', 1, { alive: 50_000, rssPerTunnelKiB: 5.5 }));
  const checks = targetChecks(new Results(rows));
  const byName = new Map(checks.map((c) => [c.name, c]));
  const w1 = byName.get('a: tunnels/s at concurrency 64, Airlock / Squid w1');
  assert.ok(w1);
  assert.equal(w1.actual, 3.002);
  assert.equal(verdict(w1), 'met');
  const lost = byName.get('b: 50,000 idle tunnels lost or never up (Airlock)');
  assert.equal(lost?.actual, 0);
  assert.equal(verdict(byName.get('b: RSS KiB per tunnel at 50,000 (Airlock)')!), 'met');
  assert.equal(
    checks.some((c) => c.name.includes('concurrency 512')),
    false,
    'no row for a parameter that was not measured',
  );
});

test('the report renders ratios to Squid w1 and to direct', () => {
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
  assert.match(text, /\| +8 \| airlock +\| +2,000 \| +2\.00× \| +0\.50× \|/);
  assert.match(text, /c: MB\/s on 8 tunnels, Airlock \/ direct +\| +0\.500 \|/);
  assert.match(text, /## Notes\n\n- n/);
});
