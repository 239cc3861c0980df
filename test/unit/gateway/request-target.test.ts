import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forwardHeaders } from '../../../src/gateway/headers.js';
import { parseConnectTarget, parseHttpTarget } from '../../../src/gateway/request-target.js';
import { keptText } from '../../../src/text/kept.js';

describe('parseHttpTarget()', () => {
  const ok: [string, string, number, string, string][] = [
    [
      'http://crl.microsoft.com/pki/crl/products/a.crl',
      'crl.microsoft.com',
      80,
      '/pki/crl/products/a.crl',
      'crl.microsoft.com',
    ],
    ['HTTP://Example.com:8080', 'Example.com', 8080, '/', 'Example.com:8080'],
    ['http://example.com?x=1', 'example.com', 80, '/?x=1', 'example.com'],
    ['http://example.com/a#frag', 'example.com', 80, '/a', 'example.com'],
    ['http://[2001:db8::1]:81/x', '[2001:db8::1]', 81, '/x', '[2001:db8::1]:81'],
    ['http://[2001:db8::1]/x', '[2001:db8::1]', 80, '/x', '[2001:db8::1]'],
    ['http://example.com:/x', 'example.com', 80, '/x', 'example.com:'],
  ];
  for (const [url, host, port, path, authority] of ok) {
    test(url, () => assert.deepEqual(parseHttpTarget(url), { host, port, path, authority }));
  }
  const bad: [string, string][] = [
    ['/index.html', 'BAD_ORIGIN_FORM'],
    ['*', 'BAD_ORIGIN_FORM'],
    ['https://example.com/', 'BAD_SCHEME'],
    ['ftp://example.com/', 'BAD_SCHEME'],
    ['example.com/x', 'BAD_REQUEST'],
    ['http://example.com#frag', 'BAD_REQUEST'],
    ['http://a.#xe/', 'BAD_REQUEST'],
    ['http://user:pw@example.com/', 'BAD_HOST'],
    ['http://allowed.example@evil.example/', 'BAD_HOST'],
    ['http:///x', 'BAD_HOST'],
    ['http://example.com:99999/', 'BAD_HOST'],
    ['http://:80/', 'BAD_HOST'],
  ];
  for (const [url, error] of bad)
    test(`${url} → ${error}`, () => assert.deepEqual(parseHttpTarget(url), { error }));
});

describe('parseConnectTarget()', () => {
  test('authority form', () =>
    assert.deepEqual(parseConnectTarget('a.example:443'), { host: 'a.example', port: 443 }));
  for (const bad of ['a.example', 'http://a.example:443/', '/a', 'a.example:443/x']) {
    test(`${bad} is refused`, () =>
      assert.deepEqual(parseConnectTarget(bad), { error: 'BAD_CONNECT_TARGET' }));
  }
});

describe('forwardHeaders()', () => {
  test('drops hop-by-hop, Connection-named, Proxy-*, forwarding and framing headers', () => {
    const raw = [
      'Host',
      'a',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'x',
      'Proxy-Authorization',
      'Basic x',
      'TE',
      'trailers',
      'Trailer',
      'X',
      'Upgrade',
      'h2c',
      'Via',
      '1.1 p',
      'X-Forwarded-For',
      '10.0.0.1',
      'Forwarded',
      'for=x',
      'Expect',
      '100-continue',
      'Transfer-Encoding',
      'chunked',
      'User-Agent',
      'ua',
      'Accept',
      '*/*',
    ];
    assert.deepEqual(forwardHeaders(raw, ['keep-alive', 'x-hop']), ['User-Agent', 'ua', 'Accept', '*/*']);
  });

  test('framing headers are dropped even when nothing names them: the gateway writes its own', () => {
    assert.deepEqual(forwardHeaders(['Content-Length', '5', 'X-A', '1', 'content-length', '7'], []), [
      'X-A',
      '1',
    ]);
  });
});

describe('keptText', () => {
  test('gives back the same text, whatever it holds, past the size of its table', () => {
    for (const name of ['events.data.microsoft.com', 'ÉXEMPLE.test', 'a\u0000b', '\ud800x', '日本.jp', ''])
      assert.equal(keptText(name), name);
    for (let i = 0; i < 10_000; i++)
      assert.equal(keptText(`host-${i}.example.test`), `host-${i}.example.test`);
    assert.equal(keptText('events.data.microsoft.com'), 'events.data.microsoft.com');
  });

  test('a CONNECT target parsed from a request head has its host and port', () => {
    const head =
      'CONNECT winatp-gw-eus.microsoft.com:443 HTTP/1.1\r\nHost: winatp-gw-eus.microsoft.com:443\r\n\r\n';
    const target = parseConnectTarget(head.slice(8, head.indexOf(' ', 8)));
    assert.deepEqual(target, { host: 'winatp-gw-eus.microsoft.com', port: 443 });
  });
});
