import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCompleteness } from '../../runner/completeness.js';

/** TAP as Node's reporter writes it: `# Subtest:` on start, `ok N - name` and details on the end. */
function passed(depth: number, n: number, name: string, suffix = ''): string[] {
  const pad = '    '.repeat(depth);
  return [`${pad}ok ${n} - ${name}${suffix}`, `${pad}  ---`, `${pad}  duration_ms: 0.1`, `${pad}  ...`];
}
const start = (depth: number, name: string): string => `${'    '.repeat(depth)}# Subtest: ${name}`;

test('a run in which every test reported a result is complete', () => {
  const tap = [
    'TAP version 13',
    start(0, 'proxy addresses'),
    start(1, '"10.0.0.6:8080"'),
    ...passed(1, 1, '"10.0.0.6:8080"'),
    start(1, 'a skipped one'),
    ...passed(1, 2, 'a skipped one', ' # SKIP needs root'),
    start(1, 'a failing one'),
    '    not ok 3 - a failing one',
    '      ---',
    '      ...',
    '    1..3',
    'not ok 1 - proxy addresses',
    start(0, 'causeOf'),
    ...passed(0, 2, 'causeOf'),
    '1..2',
    '# tests 4',
  ].join('\n');
  assert.deepEqual(checkCompleteness(tap), { finished: 5, unfinished: [] });
});

test('a suite whose output stops after a test started is reported with that test', () => {
  // What a CI log showed: the output of `proxy addresses` stopped after a test's start line, the
  // next suite followed, and the totals counted neither as passed nor as failed.
  const lines = [
    'TAP version 13',
    start(0, 'proxy addresses'),
    start(1, '"10.0.0.6:8080"'),
    ...passed(1, 1, '"10.0.0.6:8080"'),
    start(1, '"10.0.0.6 :8080"'),
    start(0, 'proxyErrorCode'),
    start(1, "a proxy's answer is a refusal"),
    ...passed(1, 1, "a proxy's answer is a refusal"),
    '    1..1',
    ...passed(0, 111, 'proxyErrorCode'),
  ];
  const result = checkCompleteness(lines.join('\n'));
  assert.equal(result.finished, 3);
  assert.deepEqual(result.unfinished, [
    { path: ['proxy addresses'], line: 2 },
    { path: ['proxy addresses', '"10.0.0.6 :8080"'], line: 8 },
  ]);
});

test('a suite that never closed is reported alone, not as the parent of the suites after it', () => {
  const tap = [
    start(0, 'checkResolvedAddress()'),
    start(1, 'metadata is refused'),
    ...passed(1, 3, 'metadata is refused'),
    start(0, 'catalogRefFor()'),
    start(1, 'attributes a request'),
    ...passed(1, 1, 'attributes a request'),
    ...passed(0, 468, 'catalogRefFor()'),
  ].join('\n');
  assert.deepEqual(checkCompleteness(tap), {
    finished: 3,
    unfinished: [{ path: ['checkResolvedAddress()'], line: 1 }],
  });
});

test('a test still open at the end of the output did not finish', () => {
  const tap = [start(0, 'suite'), start(1, 'hangs'), ''].join('\r\n');
  assert.deepEqual(
    checkCompleteness(tap).unfinished.map((u) => u.path.join(' > ')),
    ['suite', 'suite > hangs'],
  );
});

test('a result for another name does not close the test that started', () => {
  const tap = [start(0, 'one'), ...passed(0, 1, 'other')].join('\n');
  const result = checkCompleteness(tap);
  assert.equal(result.finished, 1);
  assert.deepEqual(result.unfinished, [{ path: ['one'], line: 1 }]);
});

test('no output: nothing finished and nothing open', () => {
  assert.deepEqual(checkCompleteness(''), { finished: 0, unfinished: [] });
});
