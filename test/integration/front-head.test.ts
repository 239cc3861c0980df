/**
 * Where a CONNECT head ends when the client sends empty lines before its request line (RFC 9112
 * section 2.2 lets a server skip them): both engines must find the same end as the request
 * parser, so that the head never travels on to the destination as tunnel bytes. What the origin
 * received decides.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startRawOrigin, type RawOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { sleep } from '../helpers/faults.js';
import { waitFor } from '../helpers/wait.js';

const HOST = 'head.example.test';

/** Writes `parts` one at a time, `gapMs` apart, and returns what came back once idle. */
async function exchangeInParts(port: number, parts: readonly string[], gapMs: number): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const part of parts) {
    socket.write(part);
    await sleep(gapMs);
  }
  await sleep(300);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

describeEachEngine('empty lines before a CONNECT', (engine) => {
  let origin: RawOrigin;
  let gw: RunningGateway;

  before(async () => {
    origin = await startRawOrigin(null);
    gw = await startGateway(`
${engineConfig(engine)}
policy:
  sources: [127.0.0.1/32]
  destinations: [${HOST}]
  ports: { connect: [${origin.port}], http: [] }
hosts:
  ${HOST}: 127.0.0.1
`);
  });

  after(async () => {
    await gw.close();
    await origin.close();
  });

  const head = (): string =>
    `CONNECT ${HOST}:${origin.port} HTTP/1.1\r\nHost: ${HOST}:${origin.port}\r\n` +
    'Proxy-Authorization: Basic c2VjcmV0OnB3\r\n\r\n';

  test('in the same write as the head and the first tunnel bytes: only those bytes reach the origin', async () => {
    const before = origin.connections;
    const reply = await rawExchange(gw.port, `\r\n\r\n${head()}PING`, 400);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const received = await waitFor('the tunnel bytes at the origin', () => {
      const bytes = origin.received[before];
      return bytes !== undefined && bytes.length >= 4 ? bytes.toString('latin1') : undefined;
    });
    assert.equal(received, 'PING');
  });

  test('arriving before the rest of the head: the head is read to its end, then tunnelled', async () => {
    const before = origin.connections;
    const reply = await exchangeInParts(gw.port, ['\r\n\r\n', head(), 'PONG'], 150);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const received = await waitFor('the tunnel bytes at the origin', () => {
      const bytes = origin.received[before];
      return bytes !== undefined && bytes.length >= 4 ? bytes.toString('latin1') : undefined;
    });
    assert.equal(received, 'PONG');
  });
});
