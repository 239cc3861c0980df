/**
 * Upstreams that fail: a reset in the middle of a transfer, an upstream that accepts and never
 * answers, one that answers garbage. What must hold:
 *
 * - a reset before any response byte is a 502 FAIL_UPSTREAM_RESET; after the response started
 *   (or inside a tunnel) the client's connection is reset too, never closed as if complete:
 *   in both tunnel engines;
 * - an upstream that never answers costs the client timeouts.upstreamResponse, then a 504;
 * - garbage is a 502 FAIL_UPSTREAM_PROTOCOL, and nothing of it reaches the client;
 * - through all of it a bystander's tunnel keeps working and new requests are served.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadNative } from '../../src/gateway/index.js';
import { echoOnce, openTunnel } from '../helpers/cli.js';
import { ending, request, sleep, startTcpServer, type Ending } from '../helpers/faults.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';

type Server = Awaited<ReturnType<typeof startTcpServer>>;

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/** Waits for the first line from the client, then sends 64 KiB and resets the connection. */
function resetAfterData(socket: Socket): void {
  socket.once('data', () => {
    socket.write(CHUNK, () => setTimeout(() => socket.resetAndDestroy(), 30));
  });
}

/** Reads a request head, sends a response head promising 1 MB and 64 KiB of it, then resets. */
function resetMidBody(socket: Socket): void {
  socket.once('data', () => {
    socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
    );
    socket.write(CHUNK, () => setTimeout(() => socket.resetAndDestroy(), 30));
  });
}

/** Resets as soon as the request arrives: nothing of a response was sent. */
function resetAtOnce(socket: Socket): void {
  socket.once('data', () => socket.resetAndDestroy());
}

/** Accepts and reads, never answers. */
function silent(socket: Socket): void {
  socket.resume();
}

/** Answers every request with bytes that are not HTTP. */
function garbage(socket: Socket): void {
  socket.once('data', () => socket.write('SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 garbage\r\n\r\n'));
}

const NAMES = ['reset.example.test', 'echo.example.test', 'watch.example.test'];

for (const engine of ['native', 'js'] as const) {
  describe(
    `tunnels (engine.tunnels: ${engine})`,
    { skip: engine === 'native' && loadNative().addon === null },
    () => {
      let resetter: Server;
      let watcher: Server;
      /** How each connection to the watcher ended, as the watcher saw it. */
      const watched: Promise<Ending>[] = [];
      let echo: TestOrigin;
      let gw: RunningGateway;
      let bystander: Socket;

      before(async () => {
        resetter = await startTcpServer(resetAfterData);
        watcher = await startTcpServer((socket) => watched.push(ending(socket)));
        echo = await startTcpEcho();
        gw = await startGateway(`
engine: { tunnels: ${engine} }
policy:
  sources: [127.0.0.1/32]
  destinations: [${NAMES.join(', ')}]
  ports: { connect: [${resetter.port}, ${echo.port}, ${watcher.port}], http: [80] }
hosts: { reset.example.test: 127.0.0.1, echo.example.test: 127.0.0.1, watch.example.test: 127.0.0.1 }
tls: { sniCheck: false }
`);
        bystander = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
      });

      after(async () => {
        bystander.destroy();
        await gw.close();
        await resetter.close();
        await watcher.close();
        await echo.close();
      });

      test('an upstream reset mid-transfer reaches the client as a reset', async () => {
        const tunnel = await openTunnel(gw.port, `reset.example.test:${resetter.port}`);
        const ended = ending(tunnel);
        tunnel.write('go\n');
        const result = await ended;
        // The client may or may not have read the 64 KiB before the reset discarded them: what
        // matters is that the tunnel did not end like a completed transfer.
        assert.equal(result.how, 'reset', `the client saw ${result.how} after ${result.data.length} bytes`);
        const record = await gw.waitForRecord(
          (r) => r.method === 'CONNECT' && r.host === 'reset.example.test' && r.end !== null,
        );
        assert.equal(record.end, 'FAIL_UPSTREAM_RESET');
      });

      test('a client reset reaches the upstream as a reset', async () => {
        const tunnel = await openTunnel(gw.port, `watch.example.test:${watcher.port}`);
        tunnel.write('some bytes');
        for (let i = 0; i < 100 && watched.length === 0; i++) await sleep(10);
        await sleep(50);
        tunnel.resetAndDestroy();
        const seen = await watched.at(-1)!;
        assert.equal(seen.data.toString(), 'some bytes');
        assert.equal(seen.how, 'reset', `the upstream saw ${seen.how}`);
        const record = await gw.waitForRecord((r) => r.host === 'watch.example.test' && r.end !== null);
        assert.equal(record.end, 'CLIENT_ABORTED');
      });

      test('the access log says FAIL_UPSTREAM_RESET and a bystander tunnel is untouched', async () => {
        for (let i = 0; i < 5; i++) {
          const tunnel = await openTunnel(gw.port, `reset.example.test:${resetter.port}`);
          const ended = ending(tunnel);
          tunnel.write('go\n');
          const result = await ended;
          assert.notEqual(result.how, 'error', `unexpected ${String(result.code)}`);
        }
        const resets = gw.records.filter(
          (r) => r.host === 'reset.example.test' && r.end === 'FAIL_UPSTREAM_RESET',
        );
        assert.ok(resets.length >= 5, `${resets.length} FAIL_UPSTREAM_RESET records`);
        assert.equal(await echoOnce(bystander, 'still here'), 'still here');
        const fresh = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
        assert.equal(await echoOnce(fresh, 'new'), 'new');
        fresh.destroy();
      });
    },
  );
}

describe('plain-HTTP forwarding', () => {
  const origins: Record<string, Server> = {};
  let gw: RunningGateway;
  let echo: TestOrigin;
  let bystander: Socket;
  const behaviours = { resetMidBody, resetAtOnce, silent, garbage } as const;
  const TIMEOUT_MS = 1000;

  function get(name: keyof typeof behaviours): string {
    const host = `${name.toLowerCase()}.example.test`;
    const port = origins[name]!.port;
    return `GET http://${host}:${port}/x HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`;
  }

  before(async () => {
    for (const [name, behaviour] of Object.entries(behaviours))
      origins[name] = await startTcpServer(behaviour);
    echo = await startTcpEcho();
    const names = Object.keys(behaviours).map((n) => `${n.toLowerCase()}.example.test`);
    gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [${[...names, 'echo.example.test'].join(', ')}]
  ports:
    connect: [${echo.port}]
    http: [${Object.values(origins)
      .map((o) => o.port)
      .join(', ')}]
hosts:
${[...names, 'echo.example.test'].map((n) => `  ${n}: 127.0.0.1`).join('\n')}
tls: { sniCheck: false }
timeouts: { upstreamResponse: ${TIMEOUT_MS}ms }
`);
    bystander = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
  });

  after(async () => {
    bystander.destroy();
    await gw.close();
    for (const o of Object.values(origins)) await o.close();
    await echo.close();
  });

  test('a reset before the response: 502 FAIL_UPSTREAM_RESET', async () => {
    const { head, socket } = await request(gw.port, get('resetAtOnce'));
    socket.destroy();
    assert.match(head, /^HTTP\/1\.1 502 /);
    assert.match(head, /details="FAIL_UPSTREAM_RESET"/);
    const record = await gw.waitForRecord((r) => r.host === 'resetatonce.example.test');
    assert.equal(record.decision, 'error');
    assert.equal(record.reason, 'FAIL_UPSTREAM_RESET');
  });

  test('a reset in the middle of the body: the client connection is reset, not ended', async () => {
    const { head, socket, rest } = await request(gw.port, get('resetMidBody'));
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /Content-Length: 1000000/i);
    const result = await ending(socket);
    assert.equal(result.how, 'reset', `the client saw ${result.how}`);
    assert.ok(rest.length + result.data.length < 1_000_000, 'the body cannot be complete');
    const record = await gw.waitForRecord((r) => r.host === 'resetmidbody.example.test');
    assert.equal(record.end, 'FAIL_UPSTREAM_RESET');
    assert.equal(record.status, 200);
  });

  test('an upstream that accepts and never answers: 504 after timeouts.upstreamResponse', async () => {
    const { head, socket, ms } = await request(gw.port, get('silent'));
    socket.destroy();
    assert.match(head, /^HTTP\/1\.1 504 /);
    assert.match(head, /details="FAIL_UPSTREAM_TIMEOUT"/);
    // Bounded: the timeout (1 s), plus scheduling slack on a busy machine, never the OS's minutes.
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1500, `answered after ${ms} ms`);
    const record = await gw.waitForRecord((r) => r.host === 'silent.example.test');
    assert.equal(record.reason, 'FAIL_UPSTREAM_TIMEOUT');
  });

  test('an upstream that answers garbage: 502 FAIL_UPSTREAM_PROTOCOL, none of it passed on', async () => {
    const { head, socket, rest } = await request(gw.port, get('garbage'));
    const result = await ending(socket);
    assert.match(head, /^HTTP\/1\.1 502 /);
    assert.match(head, /details="FAIL_UPSTREAM_PROTOCOL"/);
    assert.doesNotMatch(Buffer.concat([rest, result.data]).toString('latin1'), /SSH|garbage/);
    const record = await gw.waitForRecord((r) => r.host === 'garbage.example.test');
    assert.equal(record.reason, 'FAIL_UPSTREAM_PROTOCOL');
  });

  test('twenty failing exchanges at once leave no session, no upstream socket, and a working gateway', async () => {
    const kinds = ['resetMidBody', 'resetAtOnce', 'silent', 'garbage'] as const;
    const all = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const { socket } = await request(gw.port, get(kinds[i % kinds.length]!));
        return ending(socket);
      }),
    );
    for (const r of all) assert.equal(r.status, 'fulfilled', String((r as PromiseRejectedResult).reason));
    for (let i = 0; i < 100 && gw.gateway.stats().sessions > 1; i++) await sleep(20);
    // The bystander tunnel is the only session left; failed upstream sockets are not pooled.
    assert.equal(gw.gateway.stats().sessions, 1);
    assert.equal(gw.gateway.stats().upstreams, 0);
    assert.equal(await echoOnce(bystander, 'unharmed'), 'unharmed');
  });
});
