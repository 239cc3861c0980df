import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { pacOptionErrors, renderPac, type PacRule } from '../../../src/clients/index.js';
import { isAirlockError } from '../../../src/errors/index.js';
import { parseHostPattern } from '../../../src/policy/index.js';
import { assertGolden } from './golden.js';

function rules(...texts: string[]): PacRule[] {
  return texts.map((t) => {
    const pattern = parseHostPattern(t);
    if ('error' in pattern) throw new Error(pattern.error);
    return { pattern };
  });
}

const RULES = rules('login.live.com', '.wd.microsoft.com', '*.blob.core.windows.net', 'crl.microsoft.com');
const PROXIES = ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'];

test('PAC: golden file; failover order and the fallback as given', () => {
  const pac = renderPac(RULES, { proxies: PROXIES, generatedBy: 'the unit test' });
  assertGolden('proxy.pac', pac);
  assert.match(pac, /^var AIRLOCK_PROXY = "PROXY gw1\.contoso\.test:3128; PROXY gw2\.contoso\.test:3128";$/m);
  assert.match(pac, /^var AIRLOCK_OTHERWISE = "DIRECT";$/m);
  assert.match(pac, /^\/\/ Proxy auto-config for the Airlock egress gateway/);
  assert.doesNotMatch(pac, /dnsDomainIs|shExpMatch/, 'no bare suffix matching');
});

const CASES: [host: string, proxied: boolean][] = [
  ['login.live.com', true],
  ['LOGIN.Live.COM', true],
  ['login.live.com.', true],
  ['x.login.live.com', false],
  ['live.com', false],
  ['wd.microsoft.com', true],
  ['a.b.wd.microsoft.com', true],
  ['evilwd.microsoft.com', false],
  ['wd.microsoft.com.evil.test', false],
  ['blob.core.windows.net', false],
  ['acct.blob.core.windows.net', true],
  ['x.acctblob.core.windows.net', false],
  ['crl.microsoft.com', true],
  ['www.crl.microsoft.com', false],
  ['microsoft.com', false],
  ['10.0.0.1', false],
  ['[::1]', false],
  ['a..wd.microsoft.com', false],
  ['-bad.wd.microsoft.com', false],
  ['x.wd.microsoft.com..', false],
];

test("PAC answers follow the gateway's matching (label boundaries, no bare suffix test)", async () => {
  const find = createPacResolver(await QuickJS.create(), renderPac(RULES, { proxies: PROXIES }));
  for (const [host, proxied] of CASES) {
    // The script reads only the host argument; the URL is a fixed valid one so odd hosts can be passed.
    const answer = await find('https://example.invalid/', host);
    assert.equal(
      answer,
      proxied ? 'PROXY gw1.contoso.test:3128; PROXY gw2.contoso.test:3128' : 'DIRECT',
      host,
    );
  }
});

test('PAC with a corporate proxy for everything else', async () => {
  const pac = renderPac(RULES, {
    proxies: ['gw1.contoso.test:3128'],
    otherwise: 'PROXY corp.contoso.test:8080; DIRECT',
  });
  const find = createPacResolver(await QuickJS.create(), pac);
  assert.equal(await find('https://example.org/', 'example.org'), 'PROXY corp.contoso.test:8080; DIRECT');
  assert.equal(await find('https://login.live.com/', 'login.live.com'), 'PROXY gw1.contoso.test:3128');
});

test('a rule named __proto__ is a name like any other, in every table', async () => {
  const pac = renderPac(rules('__proto__', '.__proto__', '*.__proto__.test'), { proxies: PROXIES });
  const find = createPacResolver(await QuickJS.create(), pac);
  const proxied = 'PROXY gw1.contoso.test:3128; PROXY gw2.contoso.test:3128';
  assert.equal(await find('https://x/', '__proto__'), proxied);
  assert.equal(await find('https://x/', 'a.__proto__'), proxied);
  assert.equal(await find('https://x/', 'a.__proto__.test'), proxied);
  assert.equal(await find('https://x/', '__proto__.test'), 'DIRECT');
  assert.equal(await find('https://x/', 'toString'), 'DIRECT');
});

test('PAC with no rules sends everything to the fallback', async () => {
  const find = createPacResolver(await QuickJS.create(), renderPac([], { proxies: PROXIES }));
  assert.equal(await find('https://login.live.com/', 'login.live.com'), 'DIRECT');
});

test('PAC inputs are validated, each problem named', () => {
  assert.deepEqual(pacOptionErrors({ proxies: PROXIES }), []);
  assert.deepEqual(pacOptionErrors({ proxies: ['[2001:db8::1]:3128'], otherwise: 'PROXY corp:8080' }), []);
  const errors = pacOptionErrors({
    proxies: ['gw1.contoso.test', 'gw";alert(1);"x:1', 'gw2:70000'],
    otherwise: 'SOCKS x:1',
  });
  assert.equal(errors.length, 4);
  assert.match(errors[0]!, /"gw1\.contoso\.test" is not host:port/);
  assert.match(errors[3]!, /"SOCKS x:1" is not "PROXY host:port"/);
  assert.deepEqual(pacOptionErrors({ proxies: [] }), ['the PAC file needs at least one gateway (host:port)']);
  assert.equal(
    pacOptionErrors({ proxies: PROXIES, otherwise: 'DIRECT; PROXY a:1' }).length,
    1,
    'DIRECT only last',
  );
  assert.throws(
    () => renderPac(RULES, { proxies: ['bad'] }),
    (e: unknown) => isAirlockError(e) && e.code === 'USAGE' && /"bad" is not host:port/.test(e.message),
  );
});
