import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRequestHead, parseResponseHead } from '../../../src/gateway/http-head.js';

const LIMITS = { maxBytes: 4096, maxHeaders: 20 };

function request(text: string, limits = LIMITS) {
  return parseRequestHead(Buffer.from(text, 'latin1'), limits);
}

function response(text: string) {
  return parseResponseHead(Buffer.from(text, 'latin1'), LIMITS);
}

describe('parseRequestHead()', () => {
  test('a CONNECT head', () => {
    const r = request('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nUser-Agent: x\r\n\r\nEARLY');
    assert.equal(r.status, 'ok');
    if (r.status !== 'ok') return;
    assert.equal(r.head.method, 'CONNECT');
    assert.equal(r.head.target, 'a.example:443');
    assert.equal(r.head.minor, 1);
    assert.equal(r.head.host, 'a.example:443');
    assert.equal(
      r.head.length,
      'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nUser-Agent: x\r\n\r\n'.length,
    );
    assert.deepEqual(r.head.headers, ['Host', 'a.example:443', 'User-Agent', 'x']);
    assert.equal(r.head.keepAlive, true);
  });

  test('optional whitespace around values is trimmed; empty values are kept', () => {
    const r = request('GET http://a/ HTTP/1.1\r\nX-A: \t v \t\r\nX-B:\r\n\r\n');
    assert.equal(r.status, 'ok');
    if (r.status === 'ok') assert.deepEqual(r.head.headers, ['X-A', 'v', 'X-B', '']);
  });

  test('leading empty lines are skipped', () => {
    assert.equal(request('\r\n\r\nGET http://a/ HTTP/1.1\r\n\r\n').status, 'ok');
  });

  test('keep-alive: HTTP/1.1 by default, HTTP/1.0 only when asked, close always wins', () => {
    const ka = (t: string): boolean | null => {
      const r = request(t);
      return r.status === 'ok' ? r.head.keepAlive : null;
    };
    assert.equal(ka('GET http://a/ HTTP/1.1\r\n\r\n'), true);
    assert.equal(ka('GET http://a/ HTTP/1.1\r\nConnection: close\r\n\r\n'), false);
    assert.equal(ka('GET http://a/ HTTP/1.0\r\n\r\n'), false);
    assert.equal(ka('GET http://a/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'), true);
    assert.equal(ka('GET http://a/ HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n'), false);
  });

  test('framing: Content-Length and chunked', () => {
    const cl = request('POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n');
    assert.ok(cl.status === 'ok' && cl.head.contentLength === 12 && !cl.head.chunked);
    const te = request('POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n');
    assert.ok(te.status === 'ok' && te.head.chunked && te.head.contentLength === null);
    // A tab before the value and spaces after it are whitespace llhttp reads as we do.
    const ows = request('POST http://a/ HTTP/1.1\r\nContent-Length:\t12  \r\n\r\n');
    assert.ok(ows.status === 'ok' && ows.head.contentLength === 12);
  });

  test('a response whose framing field has a tab after its value is refused', () => {
    for (const field of ['Content-Length: 3\t', 'Transfer-Encoding: chunked\t']) {
      const r = response(`HTTP/1.1 200 OK\r\n${field}\r\n\r\n`);
      assert.ok(r.status === 'error' && r.reason === 'FAIL_UPSTREAM_PROTOCOL', field);
    }
  });

  test('incomplete until the blank line, however the bytes are split', () => {
    const text = 'GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n';
    for (let cut = 0; cut < text.length; cut++) {
      assert.equal(request(text.slice(0, cut)).status, 'incomplete', `cut at ${cut}`);
    }
  });

  test('resuming with `scanned` finds the same head', () => {
    const text = Buffer.from('GET http://a/ HTTP/1.1\r\nX: 1\r\n\r\n');
    for (let cut = 1; cut < text.length; cut++) {
      assert.equal(parseRequestHead(text.subarray(0, cut), LIMITS).status, 'incomplete');
      const whole = parseRequestHead(text, LIMITS, cut);
      assert.equal(whole.status, 'ok', `resumed at ${cut}`);
    }
  });

  // prettier-ignore
  const REFUSED: [string, string, string][] = [
    ['bare LF ending a line', 'GET http://a/ HTTP/1.1\nHost: a\r\n\r\n', 'BAD_REQUEST'],
    ['bare LF inside a value', 'GET http://a/ HTTP/1.1\r\nX: a\nb\r\n\r\n', 'BAD_REQUEST'],
    ['bare CR inside a value', 'GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n', 'BAD_REQUEST'],
    ['NUL in a value', 'GET http://a/ HTTP/1.1\r\nX: a\x00b\r\n\r\n', 'BAD_REQUEST'],
    ['obs-fold', 'GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n', 'BAD_REQUEST'],
    ['space before the colon', 'GET http://a/ HTTP/1.1\r\nX : a\r\n\r\n', 'BAD_REQUEST'],
    ['a header line without a colon', 'GET http://a/ HTTP/1.1\r\nX a\r\n\r\n', 'BAD_REQUEST'],
    ['an empty header name', 'GET http://a/ HTTP/1.1\r\n: a\r\n\r\n', 'BAD_REQUEST'],
    ['two spaces in the request line', 'GET  http://a/ HTTP/1.1\r\n\r\n', 'BAD_REQUEST'],
    ['a space in the target', 'GET http://a/ b HTTP/1.1\r\n\r\n', 'BAD_REQUEST'],
    ['no version', 'GET http://a/\r\n\r\n', 'BAD_REQUEST'],
    ['a lower-case version', 'GET http://a/ http/1.1\r\n\r\n', 'BAD_REQUEST'],
    ['HTTP/2.0', 'GET http://a/ HTTP/2.0\r\n\r\n', 'BAD_VERSION'],
    ['HTTP/1.2', 'GET http://a/ HTTP/1.2\r\n\r\n', 'BAD_VERSION'],
    ['HTTP/0.9 style', 'GET /\r\n\r\n', 'BAD_REQUEST'],
    ['a method with a non-token character', 'G(T http://a/ HTTP/1.1\r\n\r\n', 'BAD_REQUEST'],
    ['two Host headers', 'GET http://a/ HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', 'BAD_HOST_HEADER'],
    ['two Content-Length headers', 'POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 'BAD_FRAMING'],
    ['a Content-Length list', 'POST http://a/ HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n', 'BAD_FRAMING'],
    ['a signed Content-Length', 'POST http://a/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n', 'BAD_FRAMING'],
    ['a huge Content-Length', 'POST http://a/ HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n', 'BAD_FRAMING'],
    ['both framings', 'POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'BAD_FRAMING'],
    ['a coding other than chunked', 'POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'BAD_FRAMING'],
    ['chunked twice', 'POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 'BAD_FRAMING'],
    ['chunked in HTTP/1.0', 'POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 'BAD_FRAMING'],
    // HTTP allows a tab as whitespace after a value; llhttp refuses one after these two.
    ['a tab after Content-Length', 'POST http://a/ HTTP/1.1\r\nContent-Length: 4\t\r\n\r\n', 'BAD_FRAMING'],
    ['a space and a tab after Content-Length', 'POST http://a/ HTTP/1.1\r\nContent-Length: 4 \t\r\n\r\n', 'BAD_FRAMING'],
    ['a tab after Transfer-Encoding', 'POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\t\r\n\r\n', 'BAD_FRAMING'],
    ['Connection naming Content-Length', 'GET http://a/ HTTP/1.1\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\n', 'BAD_FRAMING'],
    ['Connection naming Transfer-Encoding', 'POST http://a/ HTTP/1.1\r\nConnection: close, transfer-encoding\r\n\r\n', 'BAD_FRAMING'],
    ['Connection naming Host', 'GET http://a/ HTTP/1.1\r\nConnection: host\r\n\r\n', 'BAD_FRAMING'],
  ];
  for (const [name, text, reason] of REFUSED) {
    test(`refused: ${name} (${reason})`, () => {
      const r = request(text);
      assert.equal(r.status, 'error');
      if (r.status === 'error') assert.equal(r.reason, reason);
    });
  }

  test('TLS sent to the proxy port is refused from its first byte, not after a timeout', () => {
    const r = parseRequestHead(Buffer.from('16030100a5010000a10303', 'hex'), LIMITS);
    assert.equal(r.status, 'error');
  });

  test('a head over the size limit is HEAD_TOO_LARGE, complete or not', () => {
    const big = `GET http://a/ HTTP/1.1\r\nX: ${'a'.repeat(5000)}`;
    for (const text of [big, `${big}\r\n\r\n`]) {
      const r = request(text);
      assert.ok(r.status === 'error' && r.reason === 'HEAD_TOO_LARGE');
    }
  });

  test('more header fields than allowed is HEAD_TOO_LARGE', () => {
    const text = `GET http://a/ HTTP/1.1\r\n${'X: 1\r\n'.repeat(21)}\r\n`;
    const r = request(text);
    assert.ok(r.status === 'error' && r.reason === 'HEAD_TOO_LARGE');
  });
});

describe('parseResponseHead()', () => {
  test('a response head with its framing', () => {
    const r = response('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc');
    assert.equal(r.status, 'ok');
    if (r.status !== 'ok') return;
    assert.equal(r.head.status, 200);
    assert.equal(r.head.reason, 'OK');
    assert.equal(r.head.contentLength, 3);
    assert.equal(r.head.length, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\n\r\n'.length);
  });

  test('an empty reason phrase, with or without its space', () => {
    for (const text of ['HTTP/1.1 204 \r\n\r\n', 'HTTP/1.1 204\r\n\r\n']) {
      const r = response(text);
      assert.ok(r.status === 'ok' && r.head.status === 204 && r.head.reason === '', text);
    }
  });

  test('obs-text in the reason phrase is allowed', () => {
    const r = response('HTTP/1.1 200 Gr\xfc\xdfe\r\n\r\n');
    assert.ok(r.status === 'ok' && r.head.reason === 'Gr\xfc\xdfe');
  });

  // prettier-ignore
  const REFUSED: [string, string][] = [
    ['a control character in the reason', 'HTTP/1.1 200 O\x01K\r\n\r\n'],
    ['DEL in the reason', 'HTTP/1.1 200 O\x7fK\r\n\r\n'],
    ['status 099', 'HTTP/1.1 099 X\r\n\r\n'],
    ['status 600', 'HTTP/1.1 600 X\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 X\r\n\r\n'],
    ['a four-digit status', 'HTTP/1.1 2000 X\r\n\r\n'],
    ['HTTP/2', 'HTTP/2 200 OK\r\n\r\n'],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n'],
    ['no space after the version', 'HTTP/1.1200 OK\r\n\r\n'],
    ['bare LF', 'HTTP/1.1 200 OK\nX: a\r\n\r\n'],
    ['two Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['both framings', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['gzip transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'],
  ];
  for (const [name, text] of REFUSED) {
    test(`refused: ${name}`, () => {
      const r = response(text);
      assert.ok(r.status === 'error' && r.reason === 'FAIL_UPSTREAM_PROTOCOL', JSON.stringify(r));
    });
  }
});
