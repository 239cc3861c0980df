import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cmdQuoted,
  parseArcBypass,
  parseBypassEntry,
  parseGatewayAddress,
  parsePacUrl,
  psSingle,
  regString,
  sedPattern,
  shSingle,
} from '../../../src/clients/index.js';
import { scanPowerShell } from './powershell-scan.js';

const valid = [
  { input: 'gw1.contoso.com:3128', authority: 'gw1.contoso.com:3128', url: 'http://gw1.contoso.com:3128' },
  { input: 'GW1.Contoso.COM:8080', authority: 'gw1.contoso.com:8080', url: 'http://gw1.contoso.com:8080' },
  { input: 'proxy:1', authority: 'proxy:1', url: 'http://proxy:1' },
  { input: '10.0.0.6:65535', authority: '10.0.0.6:65535', url: 'http://10.0.0.6:65535' },
  { input: '[2001:db8::6]:3128', authority: '[2001:db8::6]:3128', url: 'http://[2001:db8::6]:3128' },
];

for (const c of valid) {
  test(`gateway ${c.input} is accepted as ${c.authority}`, () => {
    const parsed = parseGatewayAddress(c.input);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.equal(parsed.value.authority, c.authority);
    assert.equal(parsed.value.url, c.url);
  });
}

const invalid: { input: string; why: RegExp }[] = [
  { input: 'gw1.contoso.com', why: /not host:port/ },
  { input: 'gw1.contoso.com:0', why: /port from 1 to 65535/ },
  { input: 'gw1.contoso.com:65536', why: /port from 1 to 65535/ },
  { input: 'gw1.contoso.com:31x8', why: /not host:port/ },
  { input: 'http://gw1.contoso.com:3128', why: /"\/" is not allowed/ },
  { input: "gw1'.contoso.com:3128", why: /a single quote \('\) is not allowed/ },
  { input: 'gw1".contoso.com:3128', why: /a double quote \("\) is not allowed/ },
  { input: 'gw$1.contoso.com:3128', why: /"\$" is not allowed/ },
  { input: 'gw`1.contoso.com:3128', why: /a backtick \(`\) is not allowed/ },
  { input: 'gw 1.contoso.com:3128', why: /a space is not allowed/ },
  { input: 'gw%1.contoso.com:3128', why: /"%" is not allowed/ },
  { input: 'gw1.contoso.com:3128;calc', why: /";" is not allowed/ },
  { input: 'gw1&calc:3128', why: /"&" is not allowed/ },
  { input: 'gw1|x:3128', why: /"\|" is not allowed/ },
  { input: 'gw1\n:3128', why: /control character U\+000a/ },
  { input: 'gw\u20191:3128', why: /"\u2019" is not allowed/ },
  { input: 'gw1..contoso.com:3128', why: /empty label/ },
  { input: '-gw1.contoso.com:3128', why: /not a valid DNS label/ },
  { input: 'gw_1.contoso.com:3128', why: /"_" is not allowed/ },
  { input: '999.1.1.1:3128', why: /not a valid IPv4/ },
  { input: '', why: /empty/ },
];

for (const c of invalid) {
  test(`gateway ${JSON.stringify(c.input)} is refused with the input named`, () => {
    const parsed = parseGatewayAddress(c.input);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.match(parsed.error, c.why);
    assert.ok(parsed.error.startsWith(`--gateway ${JSON.stringify(c.input)}`), parsed.error);
  });
}

test('bypass entries: names, wildcards, IPv4 patterns and <local>; nothing a shell or cmd would read', () => {
  for (const ok of ['<local>', 'intranet.contoso.com', '*.contoso.com', '10.*', '192.168.1.5', 'HOST']) {
    assert.ok(parseBypassEntry(ok).ok, ok);
  }
  for (const bad of ['a b', 'a;b', '"x"', '$x', 'a*b.com', '*', 'x..y', '%TEMP%', '<other>']) {
    const parsed = parseBypassEntry(bad);
    assert.equal(parsed.ok, false, bad);
    if (!parsed.ok) assert.ok(parsed.error.startsWith(`--bypass ${JSON.stringify(bad)}`), parsed.error);
  }
});

test('PAC URL: http(s) only, no credentials, none of the characters scripts expand', () => {
  assert.ok(parsePacUrl('http://gw1.contoso.com:8081/proxy.pac').ok);
  assert.ok(parsePacUrl('https://pac.contoso.com/wpad.dat?x=1&y=2').ok);
  for (const bad of [
    'ftp://x/p.pac',
    'http://u:p@x/p.pac',
    "http://x/'a'",
    'http://x/$a',
    'http://x/%41',
    'x/p.pac',
  ]) {
    assert.equal(parsePacUrl(bad).ok, false, bad);
  }
});

test('Arc bypass groups are the documented ones, case-insensitive', () => {
  const parsed = parseArcBypass('arcdata');
  assert.ok(parsed.ok);
  assert.equal(parsed.value, 'ArcData');
  assert.equal(parseArcBypass('Everything').ok, false);
});

test('quoting: each language gets a literal it reads back unchanged', () => {
  const tricky = "it's $HOME `x` \u2019q\u2019";
  const scan = scanPowerShell(`$a = ${psSingle(tricky)}`);
  assert.deepEqual(scan.singleQuoted, [tricky]);
  assert.equal(psSingle("a'b"), "'a''b'");
  assert.equal(psSingle('a\u2019b'), "'a\u2019\u2019b'");
  assert.equal(shSingle("a'b"), `'a'\\''b'`);
  assert.equal(regString('C:\\Path\\"x"'), '"C:\\\\Path\\\\\\"x\\""');
  assert.equal(sedPattern('http://a.b:1/[x]'), 'http:\\/\\/a\\.b:1\\/\\[x\\]');
  assert.equal(cmdQuoted('<local>;x'), '"<local>;x"');
  assert.throws(() => cmdQuoted('%PATH%'), /cmd line/);
  assert.throws(() => cmdQuoted('a"b'), /cmd line/);
  assert.throws(() => psSingle('a\nb'), /control character/);
});
