import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compilePolicy, decide, parseDstdomain, singleLabelWarning } from '../../../src/policy/index.js';

const SQUIDMDEMDI = `# comment line
.atp.azure.com
.microsoft.com   
login.live.com # trailing comment

.blob.core.windows.net
`;

test('reads names, leading dots, comments, blank lines and trailing spaces, with line numbers', () => {
  const result = parseDstdomain(SQUIDMDEMDI, 'mdemdi.conf');
  assert.deepEqual(result.errors, []);
  assert.deepEqual(
    result.destinations.map((d) => [d.host, d.origin.where]),
    [
      ['.atp.azure.com', 'mdemdi.conf:2'],
      ['.microsoft.com', 'mdemdi.conf:3'],
      ['login.live.com', 'mdemdi.conf:4'],
      ['.blob.core.windows.net', 'mdemdi.conf:6'],
    ],
  );
});

test('CRLF line endings and a BOM', () => {
  const result = parseDstdomain('\uFEFF.a.example\r\nb.example\r\n', 'x.conf');
  assert.deepEqual(
    result.destinations.map((d) => d.host),
    ['.a.example', 'b.example'],
  );
});

test('a binary file is refused with its name', () => {
  const result = parseDstdomain('PK\u0003\u0004\u0000\u0000', 'catalog.xlsx');
  assert.match(result.errors[0]!, /^catalog\.xlsx: is a binary file/);
});

test('a bad entry is reported by the compiler with file and line', () => {
  const { destinations } = parseDstdomain('good.example\nbad*.example\n', 'list.conf');
  const compiled = compilePolicy({ sources: [], destinations, ports: { connect: [443], http: [80] } });
  assert.equal(compiled.ok, false);
  assert.match(compiled.ok ? '' : compiled.errors[0]!, /^list\.conf:2: /);
});

test('the squidmdemdi list compiles and behaves as Squid dstdomain does', () => {
  const text = readFileSync(new URL('../../../../test/fixtures/mdemdi.conf', import.meta.url), 'utf8');
  const { destinations } = parseDstdomain(text, 'mdemdi.conf');
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: { source: 'config', where: 't' } }],
    destinations,
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok);
  const policy = compiled.ok ? compiled.policy : null!;
  const allow = (host: string) =>
    decide(policy, { source: '10.0.0.1', method: 'CONNECT', host, port: 443 }).verdict;
  assert.equal(allow('winatp-gw-eus.microsoft.com'), 'allow');
  assert.equal(allow('microsoft.com'), 'allow');
  assert.equal(allow('x.blob.core.windows.net'), 'allow');
  assert.equal(allow('login.live.com'), 'allow');
  assert.equal(allow('evilmicrosoft.com'), 'deny');
  assert.equal(allow('x.login.live.com'), 'deny');
});

test('several names on one line are read as Squid does, with a warning naming the line', () => {
  const result = parseDstdomain('good.example.com\nbad host name # a typo\n', 'list.conf');
  assert.deepEqual(
    result.destinations.map((d) => [d.host, d.origin.where]),
    [
      ['good.example.com', 'list.conf:1'],
      ['bad', 'list.conf:2'],
      ['host', 'list.conf:2'],
      ['name', 'list.conf:2'],
    ],
  );
  assert.deepEqual(result.warnings, [
    'list.conf:2: 3 names on one line ("bad", "host", "name"): each becomes a rule of its own; write one name per line, or remove the spaces if it is one name',
  ]);
  assert.deepEqual(parseDstdomain(SQUIDMDEMDI, 'mdemdi.conf').warnings, []);
});

test('single-label names and top-level domains are flagged', () => {
  const at = { source: 'allowlist', where: 'l.conf:1' } as const;
  assert.match(
    singleLabelWarning({ host: 'intranet', origin: at }) ?? '',
    /^l\.conf:1: "intranet" is a single-label name/,
  );
  assert.match(
    singleLabelWarning({ host: '.com', origin: at }) ?? '',
    /admits the whole top-level domain com$/,
  );
  assert.equal(singleLabelWarning({ host: 'a.example.com', origin: at }), null);
  assert.equal(singleLabelWarning({ cidr: '10.0.0.0/8', origin: at }), null);
});
