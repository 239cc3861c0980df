import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProxyAgent, fetch } from 'undici';
import { waitFor } from '../helpers/wait.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { closedPort, patternBytes, sha256, startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { rawExchange, run } from '../helpers/run.js';

const SECURE = 'secure.example.test';
const PLAIN = 'plain.example.test';

let pki: TestPki;
let tlsOrigin: TestOrigin;
let httpOrigin: TestOrigin;
let gw: RunningGateway;
let deadPort: number;

function headerNames(raw: readonly string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
}

async function curl(args: string[], timeoutMs = 20_000) {
  const result = await run(
    'curl',
    ['-sS', '--max-time', '15', '-w', '\n%{http_code} %{http_connect}', ...args],
    timeoutMs,
  );
  const text = result.stdout.toString('latin1');
  const cut = text.lastIndexOf('\n');
  const [code, connectCode] = text.slice(cut + 1).split(' ');
  return { ...result, body: text.slice(0, cut), httpCode: Number(code), connectCode: Number(connectCode) };
}

before(async () => {
  pki = createPki([SECURE, PLAIN, 'other.example.test']);
  tlsOrigin = await startOrigin(pki);
  httpOrigin = await startOrigin();
  deadPort = await closedPort();
  gw = await startGateway(`
policy:
  sources: [127.0.0.1/32, "::1/128"]
  destinations:
    - ${SECURE}
    - ${PLAIN}
    - .wild.example.test
    - dead.example.test
    - unresolvable.example.test
  ports:
    connect: [${tlsOrigin.port}, ${deadPort}]
    http: [${httpOrigin.port}, ${deadPort}]
hosts:
  ${SECURE}: 127.0.0.1
  ${PLAIN}: 127.0.0.1
  other.example.test: 127.0.0.1
  a.wild.example.test: 127.0.0.1
  dead.example.test: 127.0.0.1
timeouts:
  requestHead: 1s
limits:
  maxRequestHeadBytes: 16384
`);
});

after(async () => {
  await gw?.close();
  await tlsOrigin?.close();
  await httpOrigin?.close();
});

describe('CONNECT tunnels with real clients', () => {
  test('curl reaches an allowed HTTPS origin; TLS is end to end (the origin sees the SNI)', async () => {
    const before = tlsOrigin.requests.length;
    const r = await curl([
      '--proxy',
      gw.proxyUrl,
      '--cacert',
      pki.caFile,
      `https://${SECURE}:${tlsOrigin.port}/echo`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.httpCode, 200);
    assert.equal(r.connectCode, 200);
    assert.equal((JSON.parse(r.body) as { sni: string }).sni, SECURE);
    assert.equal(tlsOrigin.requests.length, before + 1);
    const record = await gw.waitForRecord(
      (x) => x.method === 'CONNECT' && x.host === SECURE && x.end !== null,
    );
    assert.equal(record.reason, 'ALLOWED');
    assert.equal(record.rule, SECURE);
    assert.equal(record.upstream, `127.0.0.1:${tlsOrigin.port}`);
    assert.equal(record.status, 200);
    assert.equal(record.end, 'CLOSED');
    assert.ok(record.bytesFromClient > 100 && record.bytesToClient > 100, JSON.stringify(record));
  });

  test("Node's fetch through undici's ProxyAgent", async () => {
    const dispatcher = new ProxyAgent({ uri: gw.proxyUrl, requestTls: { ca: pki.ca } });
    try {
      const res = await fetch(`https://${SECURE}:${tlsOrigin.port}/echo`, { dispatcher });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { sni: string };
      assert.equal(body.sni, SECURE);
    } finally {
      await dispatcher.close();
    }
  });

  test('undici is refused with 403 for a host not on the allowlist', async () => {
    const dispatcher = new ProxyAgent({ uri: gw.proxyUrl, requestTls: { ca: pki.ca } });
    try {
      await assert.rejects(
        fetch(`https://other.example.test:${tlsOrigin.port}/echo`, { dispatcher }),
        (error: Error) => {
          const chain: string[] = [];
          for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e.message);
          assert.match(chain.join(' <- '), /Proxy response \(403\)/);
          return true;
        },
      );
    } finally {
      await dispatcher.close();
    }
  });

  test('a denied host gets 403 naming the reason, and no upstream connection is made', async () => {
    const connections = tlsOrigin.connections;
    const r = await curl([
      '--proxy',
      gw.proxyUrl,
      '--cacert',
      pki.caFile,
      '-v',
      `https://other.example.test:${tlsOrigin.port}/`,
    ]);
    assert.equal(r.code, 56);
    assert.equal(r.connectCode, 403);
    assert.match(
      r.stderr,
      /Proxy-Status: airlock; error=http_request_denied; details="DENY_HOST_NOT_ALLOWED"/,
    );
    assert.equal(tlsOrigin.connections, connections);
    const record = await gw.waitForRecord((x) => x.host === 'other.example.test');
    assert.equal(record.reason, 'DENY_HOST_NOT_ALLOWED');
    assert.equal(record.decision, 'deny');
    assert.equal(record.status, 403);
    assert.equal(record.upstream, null);
  });

  test('a denied port gets 403 DENY_PORT with the matched rule', async () => {
    const reply = await rawExchange(
      gw.port,
      `CONNECT ${SECURE}:8443 HTTP/1.1\r\nHost: ${SECURE}:8443\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(reply, /DENY_PORT/);
    const record = await gw.waitForRecord((x) => x.port === 8443);
    assert.equal(record.reason, 'DENY_PORT');
    assert.equal(record.rule, SECURE);
  });

  test('a client outside policy.sources (127.0.0.2) gets 403 DENY_SOURCE_NOT_ALLOWED', async () => {
    const connections = tlsOrigin.connections;
    const r = await curl([
      '--interface',
      '127.0.0.2',
      '--proxy',
      gw.proxyUrl,
      '--cacert',
      pki.caFile,
      `https://${SECURE}:${tlsOrigin.port}/`,
    ]);
    assert.equal(r.connectCode, 403);
    assert.equal(tlsOrigin.connections, connections);
    const record = await gw.waitForRecord((x) => x.client === '127.0.0.2' && x.method === 'CONNECT');
    assert.equal(record.reason, 'DENY_SOURCE_NOT_ALLOWED');
    const plain = await curl([
      '--interface',
      '127.0.0.2',
      '--proxy',
      gw.proxyUrl,
      `http://${PLAIN}:${httpOrigin.port}/x`,
    ]);
    assert.equal(plain.httpCode, 403);
  });

  test('CONNECT without a port, or to a URL, is 400 and nothing is contacted', async () => {
    for (const target of [SECURE, `https://${SECURE}:${tlsOrigin.port}/`]) {
      const reply = await rawExchange(gw.port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 400 /, target);
      assert.match(reply, /BAD_CONNECT_TARGET/);
    }
  });

  test('an IP-literal destination is refused', async () => {
    const reply = await rawExchange(gw.port, `CONNECT 127.0.0.1:${tlsOrigin.port} HTTP/1.1\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 403 .*\r\n[\s\S]*DENY_IP_LITERAL/);
  });

  test('bytes sent right behind the CONNECT head reach the origin', async () => {
    const socket = connect(gw.port, '127.0.0.1');
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write(
      `CONNECT ${PLAIN}:${httpOrigin.port} HTTP/1.1\r\n\r\nGET /early HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: close\r\n\r\n`,
    );
    await new Promise((r) => socket.on('close', r));
    const text = Buffer.concat(got).toString('latin1');
    // Port of the plain origin is not a CONNECT port: refused, and the early bytes never left.
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.ok(!httpOrigin.requests.some((r) => r.url === '/early'));
  });

  test('a 10 MiB body streams both ways intact through a tunnel (checksums)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-body-'));
    const data = randomBytes(10 * 1024 * 1024);
    writeFileSync(join(dir, 'up.bin'), data);
    const r = await curl(
      [
        '--proxy',
        gw.proxyUrl,
        '--cacert',
        pki.caFile,
        '--data-binary',
        `@${join(dir, 'up.bin')}`,
        '-H',
        'Content-Type: application/octet-stream',
        '-o',
        join(dir, 'down.bin'),
        `https://${SECURE}:${tlsOrigin.port}/echo-body`,
      ],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.httpCode, 200);
    assert.equal(sha256(readFileSync(join(dir, 'down.bin'))), sha256(data));
    const record = await gw.waitForRecord(
      (x) => x.method === 'CONNECT' && x.bytesFromClient > 10 * 1024 * 1024,
    );
    assert.ok(record.bytesToClient > 10 * 1024 * 1024);
  });
});

describe('plain-HTTP forwarding', () => {
  test('curl: forwarded in origin form, Host from the URL, no Via / X-Forwarded-For / Forwarded / Proxy-* upstream', async () => {
    const r = await curl([
      '--proxy',
      gw.proxyUrl,
      '--proxy-user',
      'u:p',
      '-H',
      'X-Forwarded-For: 10.9.9.9',
      '-H',
      'Via: 1.0 inner',
      '-H',
      'Connection: X-Secret',
      '-H',
      'X-Secret: 1',
      '-H',
      'X-Kept: yes',
      `http://${PLAIN.toUpperCase()}.:${httpOrigin.port}/crl/products/a.crl?x=1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.httpCode, 200);
    const seen = httpOrigin.requests.at(-1)!;
    assert.equal(seen.url, '/crl/products/a.crl?x=1');
    const names = headerNames(seen.rawHeaders);
    for (const banned of [
      'via',
      'x-forwarded-for',
      'forwarded',
      'proxy-authorization',
      'proxy-connection',
      'x-secret',
    ]) {
      assert.ok(!names.includes(banned), `${banned} reached the origin: ${names.join(',')}`);
    }
    assert.ok(names.includes('x-kept'));
    const host =
      seen.rawHeaders[seen.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'host') + 1];
    assert.equal(host, `${PLAIN.toUpperCase()}.:${httpOrigin.port}`);
    const record = await gw.waitForRecord((x) => x.method === 'GET' && x.path === '/crl/products/a.crl?x=1');
    assert.equal(record.host, PLAIN);
    assert.equal(record.reason, 'ALLOWED');
    assert.equal(record.status, 200);
  });

  test('keep-alive to the origin: two requests reuse one upstream connection', async () => {
    const before = httpOrigin.connections;
    const r = await curl([
      '--proxy',
      gw.proxyUrl,
      `http://${PLAIN}:${httpOrigin.port}/one`,
      '-o',
      '/dev/null',
      `http://${PLAIN}:${httpOrigin.port}/two`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const one = httpOrigin.requests.find((x) => x.url === '/one')!;
    const two = httpOrigin.requests.find((x) => x.url === '/two')!;
    assert.equal(one.remotePort, two.remotePort);
    assert.ok(httpOrigin.connections - before <= 1);
  });

  test('a 10 MiB body streams both ways intact (upload checksum and download checksum)', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const { status, body, trailer } = await new Promise<{
      status: number;
      body: Buffer;
      trailer: string | undefined;
    }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: gw.port,
        method: 'POST',
        path: `http://${PLAIN}:${httpOrigin.port}/echo-body`,
        headers: { Host: `${PLAIN}:${httpOrigin.port}`, 'Content-Type': 'application/octet-stream' },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            trailer: res.trailers['x-body-sha256'],
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      // Written in chunks so the body is streamed (chunked), not sent in one piece.
      for (let i = 0; i < data.length; i += 256 * 1024) req.write(data.subarray(i, i + 256 * 1024));
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(body.length, data.length);
    assert.equal(sha256(body), sha256(data));
    // Trailers are hop-by-hop in a proxy that re-frames; the download checksum is what counts.
    void trailer;
    const download = await curl([
      '--proxy',
      gw.proxyUrl,
      '-o',
      '-',
      `http://${PLAIN}:${httpOrigin.port}/bytes?n=${10 * 1024 * 1024}`,
    ]);
    const bytes = download.stdout.subarray(0, download.stdout.lastIndexOf('\n'));
    assert.equal(sha256(bytes), sha256(patternBytes(10 * 1024 * 1024)));
  });

  test('a denied host gets 403 and the connection stays usable for the next request', async () => {
    const r = await curl([
      '--proxy',
      gw.proxyUrl,
      `http://evil.example.test:${httpOrigin.port}/`,
      '-o',
      '/dev/null',
      `http://${PLAIN}:${httpOrigin.port}/after-deny`,
    ]);
    assert.equal(r.httpCode, 200);
    assert.ok(httpOrigin.requests.some((x) => x.url === '/after-deny'));
    const record = await gw.waitForRecord((x) => x.host === 'evil.example.test');
    assert.equal(record.reason, 'DENY_HOST_NOT_ALLOWED');
  });

  test('an origin-form request to the proxy port gets 400 with a hint', async () => {
    const reply = await rawExchange(gw.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
    assert.match(reply, /BAD_ORIGIN_FORM/);
    assert.match(reply, /Configure it as the proxy/);
  });

  test('https:// in absolute form is refused with a hint to use CONNECT', async () => {
    const reply = await rawExchange(gw.port, `GET https://${SECURE}/ HTTP/1.1\r\nHost: ${SECURE}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 400 [\s\S]*BAD_SCHEME/);
  });

  test('userinfo in the URL is refused', async () => {
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}@evil.example.test:${httpOrigin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 400 [\s\S]*BAD_HOST/);
  });
});

describe('failures are answered, not hung', () => {
  test('an allowed name that does not resolve: 502 FAIL_DNS', async () => {
    const r = await curl(['--proxy', gw.proxyUrl, `http://unresolvable.example.test:${httpOrigin.port}/`]);
    assert.equal(r.httpCode, 502);
    const record = await gw.waitForRecord((x) => x.host === 'unresolvable.example.test');
    assert.equal(record.decision, 'error');
    assert.equal(record.reason, 'FAIL_DNS');
  });

  test('connection refused upstream: 502 FAIL_CONNECT_REFUSED, for CONNECT and for HTTP', async () => {
    const tunnel = await rawExchange(gw.port, `CONNECT dead.example.test:${deadPort} HTTP/1.1\r\n\r\n`);
    assert.match(tunnel, /^HTTP\/1\.1 502 [\s\S]*FAIL_CONNECT_REFUSED/);
    const r = await curl(['--proxy', gw.proxyUrl, `http://dead.example.test:${deadPort}/`]);
    assert.equal(r.httpCode, 502);
    // A record is written when its connection ends, which may come after the client's answer.
    const records = await waitFor('both refusals logged', () => {
      const found = gw.records.filter((x) => x.host === 'dead.example.test');
      return found.length >= 2 && found;
    });
    assert.deepEqual(
      records.map((x) => x.reason),
      ['FAIL_CONNECT_REFUSED', 'FAIL_CONNECT_REFUSED'],
    );
  });
});

describe('malformed and oversized input', () => {
  test('a malformed request line gets 400 and the gateway keeps serving', async () => {
    const reply = await rawExchange(gw.port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
    const r = await curl(['--proxy', gw.proxyUrl, `http://${PLAIN}:${httpOrigin.port}/after-garbage`]);
    assert.equal(r.httpCode, 200);
  });

  test('TLS bytes sent to the proxy port get 400', async () => {
    const hello = Buffer.from('16030100a5010000a10303', 'hex');
    const reply = await rawExchange(gw.port, Buffer.concat([hello, randomBytes(160)]));
    assert.ok(reply === '' || /^HTTP\/1\.1 400 /.test(reply), reply);
  });

  test('a 64 KiB header gets 431 and the gateway keeps serving', async () => {
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}/ HTTP/1.1\r\nHost: ${PLAIN}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 431 /);
    const record = await gw.waitForRecord((x) => x.reason === 'HEAD_TOO_LARGE');
    assert.equal(record.status, 431);
    const r = await curl(['--proxy', gw.proxyUrl, `http://${PLAIN}:${httpOrigin.port}/after-big`]);
    assert.equal(r.httpCode, 200);
  });

  test('a 64 KiB request line gets 431', async () => {
    const reply = await rawExchange(
      gw.port,
      `GET http://${PLAIN}/${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 431 /);
  });

  test('a request head that never completes gets 408 after timeouts.requestHead', async () => {
    const started = Date.now();
    const reply = await new Promise<string>((resolve) => {
      const socket: Socket = connect(gw.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
      socket.write('GET http://plain.example.test/ HTTP/1.1\r\nHost: x\r\n');
      setTimeout(() => socket.destroy(), 8000);
    });
    assert.match(reply, /^HTTP\/1\.1 408 /);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `closed after ${elapsed} ms`);
  });
});
