/**
 * Request smuggling and hostile upstream responses against the forwarding path: what the
 * origin (Node's own HTTP parser, not ours) saw decides, not what the gateway says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, startRawOrigin, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';

const PLAIN = 'plain.example.test';
const EVIL = 'evil.example.test';

let origin: TestOrigin;
let gw: RunningGateway;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [${PLAIN}]
  ports: { connect: [443], http: [${origin.port}] }
hosts:
  ${PLAIN}: 127.0.0.1
  ${EVIL}: 127.0.0.1
`);
});

after(async () => {
  await gw.close();
  await origin.close();
});

/** A GET that carries a second request as its "body". */
function smuggle(connection: string, framing: string, body: string): string {
  return (
    `GET http://${PLAIN}:${origin.port}/first HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n` +
    `Connection: ${connection}\r\n${framing}\r\n\r\n${body}`
  );
}

const SECOND = `GET /smuggled HTTP/1.1\r\nHost: ${EVIL}\r\n\r\n`;

describe('request smuggling', () => {
  const cases: [string, () => string][] = [
    [
      'Connection: content-length',
      () => smuggle('content-length', `Content-Length: ${SECOND.length}`, SECOND),
    ],
    [
      'Connection: close, Content-Length',
      () => smuggle('close, Content-Length', `Content-Length: ${SECOND.length}`, SECOND),
    ],
    [
      'Connection: transfer-encoding',
      () =>
        smuggle(
          'transfer-encoding',
          'Transfer-Encoding: chunked',
          `${SECOND.length.toString(16)}\r\n${SECOND}\r\n0\r\n\r\n`,
        ),
    ],
    ['Connection: host', () => smuggle('host', 'X-A: 1', '')],
  ];
  for (const [name, raw] of cases) {
    test(`${name} is refused with 400 BAD_FRAMING and nothing reaches the origin`, async () => {
      const before = origin.requests.length;
      const reply = await rawExchange(gw.port, raw(), 600);
      assert.match(reply, /^HTTP\/1\.1 400 /);
      assert.match(reply, /BAD_FRAMING/);
      assert.equal(origin.requests.length, before, 'the origin received a request');
      assert.ok(!origin.requests.some((r) => r.url === '/smuggled'));
    });
  }

  test('a GET with a chunked body is refused (a GET or HEAD body must have a length)', async () => {
    const before = origin.requests.length;
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}:${origin.port}/x HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${SECOND.length.toString(16)}\r\n${SECOND}\r\n0\r\n\r\n`,
      600,
    );
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal(origin.requests.length, before);
  });

  for (const [name, framing] of [
    ['two Content-Length headers', 'Content-Length: 5\r\nContent-Length: 6'],
    ['Content-Length and Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding: chunked'],
    ['Transfer-Encoding other than chunked', 'Transfer-Encoding: gzip, chunked'],
    ['a Content-Length that is not a number', 'Content-Length: +5'],
  ] as const) {
    test(`a POST with ${name} is refused`, async () => {
      const before = origin.requests.length;
      const reply = await rawExchange(
        gw.port,
        `POST http://${PLAIN}:${origin.port}/p HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n${framing}\r\n\r\nhello`,
        600,
      );
      assert.match(reply, /^HTTP\/1\.1 400 /);
      assert.equal(origin.requests.length, before);
    });
  }

  test('a GET body with a length is framed for the origin: one request arrives, not two', async () => {
    const before = origin.requests.length;
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}:${origin.port}/with-body HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n` +
        `Content-Length: ${SECOND.length}\r\nConnection: close\r\n\r\n${SECOND}`,
      600,
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const seen = origin.requests.slice(before);
    assert.deepEqual(
      seen.map((r) => r.url),
      ['/with-body'],
    );
    const lengths = seen[0]!.rawHeaders.filter(
      (_, i, a) => i % 2 === 0 && a[i]!.toLowerCase() === 'content-length',
    );
    assert.equal(lengths.length, 1);
  });

  test('a chunked POST body reaches the origin re-framed, whole, as one request', async () => {
    const before = origin.requests.length;
    const reply = await rawExchange(
      gw.port,
      `POST http://${PLAIN}:${origin.port}/echo-body HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n` +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
      600,
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n$/);
    assert.equal(origin.requests.length - before, 1);
  });

  test('pipelined requests are answered in order, each decided on its own', async () => {
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}:${origin.port}/one HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\n\r\n` +
        `GET http://${EVIL}:${origin.port}/two HTTP/1.1\r\nHost: ${EVIL}:${origin.port}\r\n\r\n` +
        `GET http://${PLAIN}:${origin.port}/three HTTP/1.1\r\nHost: ${PLAIN}:${origin.port}\r\nConnection: close\r\n\r\n`,
      600,
    );
    const statuses = [...reply.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '403', '200']);
    assert.ok(!origin.requests.some((r) => r.url === '/two'));
  });
});

describe('requests the gateway refuses outright', () => {
  for (const [name, raw, status, code] of [
    [
      'two Host headers',
      `GET http://${PLAIN}:ORIGIN/ HTTP/1.1\r\nHost: ${PLAIN}:ORIGIN\r\nHost: ${EVIL}\r\n\r\n`,
      400,
      'BAD_HOST_HEADER',
    ],
    [
      'HTTP/2.0 in the request line',
      `GET http://${PLAIN}:ORIGIN/ HTTP/2.0\r\nHost: ${PLAIN}\r\n\r\n`,
      505,
      'BAD_VERSION',
    ],
    ['TRACE', `TRACE http://${PLAIN}:ORIGIN/ HTTP/1.1\r\nHost: ${PLAIN}:ORIGIN\r\n\r\n`, 405, 'DENY_METHOD'],
    ['a bare LF line ending', `GET http://${PLAIN}:ORIGIN/ HTTP/1.1\nHost: ${PLAIN}\n\n`, 400, 'BAD_REQUEST'],
    [
      'obsolete line folding',
      `GET http://${PLAIN}:ORIGIN/ HTTP/1.1\r\nHost: ${PLAIN}:ORIGIN\r\nX-A: 1\r\n 2\r\n\r\n`,
      400,
      'BAD_REQUEST',
    ],
    [
      'a space before the colon',
      `GET http://${PLAIN}:ORIGIN/ HTTP/1.1\r\nHost : ${PLAIN}\r\n\r\n`,
      400,
      'BAD_REQUEST',
    ],
    [
      'a percent-encoded host with a Host header',
      `GET http://pl%61in.example.test:ORIGIN/ HTTP/1.1\r\nHost: ${PLAIN}:ORIGIN\r\n\r\n`,
      400,
      'BAD_HOST',
    ],
  ] as const) {
    test(`${name}: ${status} ${code}, nothing forwarded`, async () => {
      const before = origin.requests.length;
      const reply = await rawExchange(gw.port, raw.replaceAll('ORIGIN', String(origin.port)), 600);
      assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(reply, new RegExp(code));
      assert.equal(origin.requests.length, before);
      await gw.waitForRecord((r) => r.reason === code);
    });
  }
});

describe('hostile upstream responses', () => {
  const cases: [string, string][] = [
    ['a control character in the reason phrase', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok'],
    ['DEL in the reason phrase', 'HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\n\r\nok'],
    ['status 099', 'HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok'],
    ['status 600', 'HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok'],
    ['a status that is not a number', 'HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok'],
    ['HTTP/2 in the status line', 'HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    ['a header with a NUL', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok'],
    ['two Content-Length headers', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'],
    [
      'a malformed chunked body',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
    ],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'],
  ];
  let bad: RunningGateway;
  let good: TestOrigin;

  before(async () => {
    good = await startOrigin();
  });
  after(async () => {
    await good.close();
  });

  for (const [name, response] of cases) {
    test(`${name}: the client gets 502 (or a cut body), the gateway keeps serving`, async () => {
      const hostile = await startRawOrigin(Buffer.from(response, 'latin1'));
      bad = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [${PLAIN}, bad.example.test]
  ports: { connect: [443], http: [${hostile.port}, ${good.port}] }
hosts:
  ${PLAIN}: 127.0.0.1
  bad.example.test: 127.0.0.1
`);
      try {
        const reply = await rawExchange(
          bad.port,
          `GET http://bad.example.test:${hostile.port}/ HTTP/1.1\r\nHost: bad.example.test:${hostile.port}\r\n\r\n`,
          600,
        );
        if (name === 'a malformed chunked body') {
          // The head was valid and went out; the body cannot be completed, so the client is cut.
          assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
          assert.doesNotMatch(reply, /0\r\n\r\n$/);
        } else {
          assert.match(reply, /^HTTP\/1\.1 502 /);
          assert.match(reply, /FAIL_UPSTREAM_PROTOCOL/);
        }
        const after = await rawExchange(
          bad.port,
          `GET http://${PLAIN}:${good.port}/after HTTP/1.1\r\nHost: ${PLAIN}:${good.port}\r\nConnection: close\r\n\r\n`,
          600,
        );
        assert.match(after, /^HTTP\/1\.1 200 /);
      } finally {
        await bad.close();
        await hostile.close();
      }
    });
  }
});
