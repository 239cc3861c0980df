import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';
import { rawExchange, run } from '../helpers/run.js';
import { skipHere } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

let gw: RunningGateway;
let origin: TestOrigin;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway(`
policy:
  sources: [127.0.0.0/8, "::1/128"]
  destinations: [plain.example.test]
  ports: { connect: [443], http: [${origin.port}] }
hosts: { plain.example.test: 127.0.0.1 }
limits: { maxConnectionsPerClient: 2, maxConnections: 4 }
`);
});

after(async () => {
  await gw.close();
  await origin.close();
});

/**
 * A connection that has sent the start of a request and waits: it holds its slot. (One that sends
 * nothing at all is held by the kernel, not the gateway, for about a second: deferred accept.)
 */
function open(localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: gw.port, host: '127.0.0.1', localAddress });
    s.on('connect', () => {
      s.write('GET ');
      resolve(s);
    });
    s.on('error', reject);
  });
}

test('past maxConnectionsPerClient a client gets 503; other clients are still served', async () => {
  const held = [await open(), await open()];
  try {
    const reply = await rawExchange(
      gw.port,
      `GET http://plain.example.test:${origin.port}/ HTTP/1.1\r\nHost: plain.example.test:${origin.port}\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 503 [\s\S]*LIMIT_CLIENT_CONNECTIONS/);
    const other = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--interface',
      '127.0.0.3',
      '--proxy',
      gw.proxyUrl,
      `http://plain.example.test:${origin.port}/`,
    ]);
    assert.equal(other.stdout.toString(), '200');
    const record = await gw.waitForRecord((r) => r.reason === 'LIMIT_CLIENT_CONNECTIONS');
    assert.equal(record.client, '127.0.0.1');
  } finally {
    for (const s of held) s.destroy();
  }
});

/** The gateway has let go of every client connection (a closed socket is counted out asynchronously). */
function allReleased(): Promise<boolean> {
  return waitFor('every connection released', () => gw.gateway.stats().connections === 0, {
    context: () => JSON.stringify(gw.gateway.stats()),
  });
}

test('past maxConnections everyone gets 503 LIMIT_CONNECTIONS until connections close', async () => {
  await allReleased();
  const held = [
    await open('127.0.0.4'),
    await open('127.0.0.4'),
    await open('127.0.0.5'),
    await open('127.0.0.5'),
  ];
  try {
    const reply = await rawExchange(
      gw.port,
      `GET http://plain.example.test:${origin.port}/ HTTP/1.1\r\nHost: plain.example.test:${origin.port}\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 503 [\s\S]*LIMIT_CONNECTIONS/);
  } finally {
    for (const s of held) s.destroy();
  }
  await allReleased();
  const again = await rawExchange(
    gw.port,
    `GET http://plain.example.test:${origin.port}/ HTTP/1.1\r\nHost: plain.example.test:${origin.port}\r\nConnection: close\r\n\r\n`,
  );
  assert.match(again, /^HTTP\/1\.1 200 /);
});

test('an IPv6 listener serves an IPv6 client', async (t) => {
  let v6: RunningGateway;
  try {
    v6 = await startGateway(
      `policy:\n  sources: ["::1/128"]\n  destinations: [plain.example.test]\n  ports: { connect: [443], http: [${origin.port}] }\nhosts: { plain.example.test: 127.0.0.1 }\n`,
      { listen: ['[::1]:0'] },
    );
  } catch (error) {
    if (/address not available/.test(String(error))) return skipHere(t, 'no IPv6 loopback on this machine');
    throw error;
  }
  try {
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--proxy',
      v6.proxyUrl,
      `http://plain.example.test:${origin.port}/v6`,
    ]);
    assert.equal(r.stdout.toString(), '200', r.stderr);
    const record = await v6.waitForRecord((x) => x.path === '/v6');
    assert.equal(record.client, '::1');
  } finally {
    await v6.close();
  }
});
