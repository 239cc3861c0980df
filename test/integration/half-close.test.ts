/**
 * A client that half-closes (sends FIN) right after its request: a request that arrived whole
 * is still answered, on both engines, whether the FIN comes before or after the gateway has an
 * upstream connection; one whose body did not arrive whole never reaches the origin complete.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';

const HOST = 'halfclose.example.test';

/** Writes `data`, half-closes at once, and returns everything read until the gateway closes. */
function sendThenEnd(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.end(data);
  });
}

describeEachEngine('a client that half-closes after its request', (engine) => {
  let origin: TestOrigin;
  let gw: RunningGateway;

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway(`
${engineConfig(engine)}
policy:
  sources: [127.0.0.1/32]
  destinations: [${HOST}]
  ports: { connect: [443], http: [${origin.port}] }
hosts:
  ${HOST}: 127.0.0.1
`);
  });

  after(async () => {
    await gw.close();
    await origin.close();
  });

  const request = (method: string, path: string, body = '', length = body.length): string =>
    `${method} http://${HOST}:${origin.port}${path} HTTP/1.1\r\nHost: ${HOST}:${origin.port}\r\n` +
    (method === 'POST' ? `Content-Length: ${length}\r\n` : '') +
    `\r\n${body}`;

  test('a GET is answered, and the connection closes after the response', async () => {
    const reply = await sendThenEnd(gw.port, request('GET', '/half-get'));
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.ok(origin.requests.some((r) => r.url === '/half-get'));
    const record = await gw.waitForRecord((r) => r.path === '/half-get');
    assert.equal(record.status, 200);
  });

  test('a POST whose body arrived whole is answered', async () => {
    const reply = await sendThenEnd(gw.port, request('POST', '/echo-body', 'hello'));
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /hello/);
  });

  test('a POST whose body did not arrive whole is not answered, and is recorded as aborted', async () => {
    const reply = await sendThenEnd(gw.port, request('POST', '/half-body', 'hel', 5));
    assert.doesNotMatch(reply, /^HTTP\/1\.1 200 /);
    const record = await gw.waitForRecord((r) => r.path === '/half-body');
    assert.equal(record.end, 'CLIENT_ABORTED');
  });
});
