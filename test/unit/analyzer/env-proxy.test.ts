import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  envProxyFor,
  matchNoProxy,
  noProxyWarnings,
  parseProxySpec,
  routeKey,
  splitNoProxy,
  type Environment,
} from '../../../src/analyzer/index.js';

test('splitNoProxy: commas and blanks around them; a blank without a comma ends the list (as curl)', () => {
  const cases: [string, string[]][] = [
    ['a.example,b.example', ['a.example', 'b.example']],
    [' a.example , b.example ,, c ', ['a.example', 'b.example', 'c']],
    ['a.example b.example', ['a.example']],
    ['', []],
    [',,,', []],
  ];
  for (const [value, expected] of cases) assert.deepEqual(splitNoProxy(value), expected, value);
});

test('matchNoProxy follows curl: domains with or without a leading dot, trailing dots, IPs and CIDR, no ports', () => {
  const cases: { host: string; noProxy: string; match: string | null }[] = [
    { host: 'anything.example', noProxy: '*', match: '*' },
    { host: 'anything.example', noProxy: '*,other', match: null },
    { host: 'example.com', noProxy: 'example.com', match: 'example.com' },
    { host: 'www.example.com', noProxy: 'example.com', match: 'example.com' },
    { host: 'www.example.com', noProxy: '.example.com', match: '.example.com' },
    { host: 'example.com', noProxy: '.example.com', match: '.example.com' },
    { host: 'notexample.com', noProxy: 'example.com', match: null },
    { host: 'example.com.', noProxy: 'example.com', match: 'example.com' },
    { host: 'WWW.Example.COM', noProxy: 'example.com.', match: 'example.com.' },
    { host: 'example.com', noProxy: 'example.com:443', match: null },
    { host: 'example.com', noProxy: 'other.test, example.com', match: 'example.com' },
    { host: 'example.com', noProxy: 'other.test example.com', match: null },
    { host: '10.1.2.3', noProxy: '10.0.0.0/8', match: '10.0.0.0/8' },
    { host: '10.1.2.3', noProxy: '10.1.2.3', match: '10.1.2.3' },
    { host: '10.1.2.4', noProxy: '10.1.2.3', match: null },
    { host: '11.1.2.3', noProxy: '10.0.0.0/8', match: null },
    { host: '10.1.2.3', noProxy: '10.0.0.0', match: null },
    { host: '10.1.2.3', noProxy: 'example.com', match: null },
    { host: '[::1]', noProxy: '::1', match: '::1' },
    { host: '[2001:db8::5]', noProxy: '2001:db8::/32', match: '2001:db8::/32' },
    { host: '[2001:db9::5]', noProxy: '2001:db8::/32', match: null },
    { host: 'example.com', noProxy: '', match: null },
  ];
  for (const c of cases)
    assert.equal(matchNoProxy(c.host, c.noProxy), c.match, `${c.host} vs "${c.noProxy}"`);
});

test('noProxyWarnings names entries curl can never match', () => {
  assert.deepEqual(noProxyWarnings('*'), []);
  assert.deepEqual(noProxyWarnings('.corp.example, 10.0.0.0/8'), []);
  const warnings = noProxyWarnings('proxy.corp:8080,*,*.corp.example,[::1]');
  assert.equal(warnings.length, 4, warnings.join('\n'));
  assert.match(warnings[0]!, /has a port/);
  assert.match(warnings[1]!, /only works as the whole value/);
  assert.match(warnings[2]!, /wildcard/);
  assert.match(warnings[3]!, /without brackets/);
  assert.match(noProxyWarnings('a.example b.example')[0]!, /blanks only/);
});

test('envProxyFor picks the variable curl reads for the scheme', () => {
  const https = new URL('https://winatp-gw-cus.microsoft.com/commands/test');
  const http = new URL('http://ctldl.windowsupdate.com/x.cab');
  const cases: {
    env: Environment;
    url: URL;
    route: string;
    variable: string | null;
    bypass: string | null;
  }[] = [
    { env: {}, url: https, route: 'DIRECT', variable: null, bypass: 'no https_proxy or all_proxy' },
    {
      env: { HTTPS_PROXY: 'proxy.corp:3128' },
      url: https,
      route: 'PROXY proxy.corp:3128',
      variable: 'HTTPS_PROXY',
      bypass: null,
    },
    {
      env: { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' },
      url: https,
      route: 'PROXY lower:1',
      variable: 'https_proxy',
      bypass: null,
    },
    {
      env: { https_proxy: '', HTTPS_PROXY: 'http://upper:2' },
      url: https,
      route: 'DIRECT',
      variable: 'https_proxy',
      bypass: 'https_proxy is empty',
    },
    {
      env: { HTTP_PROXY: 'http://upper:2' },
      url: http,
      route: 'DIRECT',
      variable: null,
      bypass: 'no http_proxy or all_proxy (curl ignores HTTP_PROXY)',
    },
    {
      env: { http_proxy: 'http://lower:3' },
      url: http,
      route: 'PROXY lower:3',
      variable: 'http_proxy',
      bypass: null,
    },
    {
      env: { ALL_PROXY: 'http://all:4' },
      url: https,
      route: 'PROXY all:4',
      variable: 'ALL_PROXY',
      bypass: null,
    },
    {
      env: { all_proxy: 'http://a:1', ALL_PROXY: 'http://b:2' },
      url: http,
      route: 'PROXY a:1',
      variable: 'all_proxy',
      bypass: null,
    },
    {
      env: { HTTPS_PROXY: 'proxy.corp' },
      url: https,
      route: 'PROXY proxy.corp:1080',
      variable: 'HTTPS_PROXY',
      bypass: null,
    },
    {
      env: { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '.microsoft.com' },
      url: https,
      route: 'DIRECT',
      variable: 'HTTPS_PROXY',
      bypass: 'NO_PROXY entry ".microsoft.com"',
    },
    {
      env: { HTTPS_PROXY: 'http://p:3128', no_proxy: 'other.test', NO_PROXY: '*' },
      url: https,
      route: 'PROXY p:3128',
      variable: 'HTTPS_PROXY',
      bypass: null,
    },
    {
      env: { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '*' },
      url: https,
      route: 'DIRECT',
      variable: 'HTTPS_PROXY',
      bypass: 'NO_PROXY=*',
    },
    {
      env: { HTTPS_PROXY: 'socks5://p:1080' },
      url: https,
      route: 'SOCKS socks5://p:1080',
      variable: 'HTTPS_PROXY',
      bypass: null,
    },
  ];
  for (const c of cases) {
    const decision = envProxyFor(c.url, c.env);
    const label = `${JSON.stringify(c.env)} ${c.url.protocol}`;
    assert.equal(routeKey(decision.route), c.route, label);
    assert.equal(decision.variable, c.variable, label);
    assert.equal(decision.bypass, c.bypass, label);
  }
});

test('parseProxySpec: curl defaults, credentials, unsupported kinds and errors', () => {
  assert.deepEqual(parseProxySpec('10.0.0.1:3128'), { kind: 'http-proxy', host: '10.0.0.1', port: 3128 });
  assert.deepEqual(parseProxySpec('http://proxy.corp'), {
    kind: 'http-proxy',
    host: 'proxy.corp',
    port: 1080,
  });
  assert.deepEqual(parseProxySpec('http://[::1]:8080'), { kind: 'http-proxy', host: '::1', port: 8080 });
  assert.deepEqual(parseProxySpec('http://us%40er:p%3Ass@proxy:3128'), {
    kind: 'http-proxy',
    host: 'proxy',
    port: 3128,
    credentials: 'us@er:p:ss',
  });
  assert.equal(parseProxySpec('https://proxy:443').constructor, Object);
  assert.equal((parseProxySpec('https://proxy:443') as { kind: string }).kind, 'unsupported');
  assert.equal((parseProxySpec('socks5h://proxy') as { kind: string }).kind, 'unsupported');
  for (const bad of ['', 'http://', 'ftp://proxy:21', 'http://proxy:99999', 'http://proxy:3128/path']) {
    assert.ok('error' in parseProxySpec(bad), bad);
  }
});
