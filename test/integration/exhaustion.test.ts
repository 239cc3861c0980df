/**
 * One client must not exhaust the gateway's memory, descriptors or upstream connections:
 * pipelined requests are served one at a time, connects in progress count against the caps,
 * and the open-files limit is defended with 503s while descriptors are still free.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openTunnel, echoOnce } from '../helpers/cli.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startRawOrigin, startTcpEcho, type RawOrigin, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const SLOW = 'slow.example.test';
const OTHER = 'other.example.test';

/** Opens `n` client connections and writes `data` on each; returns them (caller destroys). */
async function clients(port: number, n: number, data: (i: number) => string): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(data(i));
    out.push(socket);
  }
  return out;
}

/** Keeps `expected` true for `ms`, failing at the first moment it is not. */
async function holds(check: () => boolean, what: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    assert.ok(check(), what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('pipelined requests', () => {
  let hang: RawOrigin;
  let gw: RunningGateway;
  before(async () => {
    hang = await startRawOrigin(null);
    gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [${SLOW}]
  ports: { connect: [443], http: [${hang.port}] }
hosts:
  ${SLOW}: 127.0.0.1
limits: { upstreamSocketsPerOrigin: 64 }
timeouts: { upstreamResponse: 1s }
`);
  });
  after(async () => {
    await gw.close();
    await hang.close();
  });

  test('2,000 pipelined requests to an origin that never answers: one exchange, one upstream connection', async () => {
    const one = `GET http://${SLOW}:${hang.port}/x HTTP/1.1\r\nHost: ${SLOW}:${hang.port}\r\n\r\n`;
    const [socket] = await clients(gw.port, 1, () => one.repeat(2000));
    try {
      await waitFor('the first request to reach the origin', () => hang.connections === 1);
      await holds(
        () => hang.connections === 1 && gw.gateway.stats().sessions === 1,
        `one upstream connection and one session (have ${hang.connections} and ${gw.gateway.stats().sessions})`,
        500,
      );
      // The origin saw exactly one request head: the rest wait on the client's connection.
      assert.equal(hang.received[0]!.toString('latin1').split('\r\n\r\n').length - 1, 1);
    } finally {
      socket!.destroy();
    }
    // A client that stopped reading is noticed when the exchange ends (timeouts.upstreamResponse).
    await waitFor('the exchange to end', () => gw.gateway.stats().sessions === 0);
  });
});

describe('upstream connection caps', () => {
  let hang: RawOrigin;
  let hang2: RawOrigin;
  let gw: RunningGateway;
  before(async () => {
    hang = await startRawOrigin(null);
    hang2 = await startRawOrigin(null);
    gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [${SLOW}, ${OTHER}]
  ports: { connect: [443], http: [${hang.port}, ${hang2.port}] }
hosts:
  ${SLOW}: 127.0.0.1
  ${OTHER}: 127.0.0.1
limits: { upstreamSocketsPerOrigin: 4, upstreamSockets: 6 }
timeouts: { connect: 2s, upstreamResponse: 3s }
`);
  });
  after(async () => {
    await gw.close();
    await hang.close();
    await hang2.close();
  });

  test('60 concurrent requests with a per-origin cap of 4 never open a fifth connection', async () => {
    const sockets = await clients(
      gw.port,
      60,
      (i) => `GET http://${SLOW}:${hang.port}/${i} HTTP/1.1\r\nHost: ${SLOW}:${hang.port}\r\n\r\n`,
    );
    try {
      await waitFor('four upstream connections', () => hang.connections === 4);
      await holds(() => hang.connections === 4, `at most 4 connections (have ${hang.connections})`, 500);
      // Requests over the cap wait for a connection, then give up with a 503 naming the limit.
      const reply = await rawExchange(
        gw.port,
        `GET http://${SLOW}:${hang.port}/late HTTP/1.1\r\nHost: ${SLOW}:${hang.port}\r\n\r\n`,
        2600,
      );
      assert.match(reply, /^HTTP\/1\.1 503 /);
      assert.match(reply, /LIMIT_UPSTREAM_SOCKETS/);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await waitFor('upstream connections of aborted exchanges to close', () => hang.open === 0, {
      timeoutMs: 8000,
    });
  });

  test('the gateway-wide cap holds across origins', async () => {
    const before1 = hang.connections;
    const before2 = hang2.connections;
    const sockets = await clients(gw.port, 20, (i) => {
      const [host, port] = i % 2 === 0 ? [SLOW, hang.port] : [OTHER, hang2.port];
      return `GET http://${host}:${port}/${i} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`;
    });
    try {
      const total = (): number => hang.connections - before1 + (hang2.connections - before2);
      await waitFor('six upstream connections in all', () => total() === 6);
      await holds(
        () => total() === 6 && gw.gateway.stats().upstreams <= 6,
        `at most 6 (have ${total()})`,
        500,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe('the open-files limit', () => {
  let echo: TestOrigin;
  let gw: RunningGateway;
  before(async () => {
    echo = await startTcpEcho();
    // 112 descriptors are the process's own (48, and 64 for the relay's pipes); 128 leaves room
    // for 8 client connections.
    gw = await startGateway(
      `
policy:
  sources: [127.0.0.1/32]
  destinations: [echo.example.test]
  ports: { connect: [${echo.port}], http: [80] }
hosts:
  echo.example.test: 127.0.0.1
tls: { sniCheck: false }
`,
      { openFilesLimit: 128 },
    );
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('clients past the descriptor budget get 503 LIMIT_DESCRIPTORS; open tunnels keep working', async () => {
    const tunnels: Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) tunnels.push(await openTunnel(gw.port, `echo.example.test:${echo.port}`));
      const reply = await rawExchange(
        gw.port,
        `CONNECT echo.example.test:${echo.port} HTTP/1.1\r\nHost: echo.example.test\r\n\r\n`,
        600,
      );
      assert.match(reply, /^HTTP\/1\.1 503 /);
      assert.match(reply, /LIMIT_DESCRIPTORS/);
      for (const [i, t] of tunnels.entries())
        assert.equal(await echoOnce(t, `still here ${i}`), `still here ${i}`);
    } finally {
      for (const t of tunnels) t.destroy();
    }
    await waitFor('slots to be given back', () => gw.gateway.stats().connections === 0);
    const again = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
    assert.equal(await echoOnce(again, 'after'), 'after');
    again.destroy();
  });
});
