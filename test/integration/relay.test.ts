import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadNative } from '../../src/gateway/index.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { sha256 } from '../helpers/origins.js';

/**
 * Tunnel byte semantics, run once with the native relay and once with JavaScript splicing:
 * both engines must behave the same from the outside (bytes, half-close, backpressure, resets,
 * idle timeout, drain, connection accounting, access-log bytes).
 */

test('the native relay is built (set AIRLOCK_ALLOW_NO_NATIVE=1 where it cannot be)', () => {
  const { addon, why } = loadNative();
  if (process.env.AIRLOCK_ALLOW_NO_NATIVE === '1') return;
  assert.ok(addon !== null, why ?? 'not loaded');
});

type Behaviour = (socket: Socket) => void;

/** A TCP origin whose behaviour is chosen by the first line the client sends ("echo\n", ...). */
async function startScriptedOrigin(
  behaviours: Record<string, Behaviour>,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (socket.localPort === undefined) return;
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      socket.off('data', onData);
      const name = head.subarray(0, nl).toString();
      const rest = head.subarray(nl + 1);
      const behaviour = behaviours[name];
      if (behaviour === undefined) return void socket.destroy();
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      behaviour(socket);
      socket.resume();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** CONNECT, wait for the 200; resolves with the socket and whatever followed the head. */
function tunnel(port: number, target: string, early = ''): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 200')) return reject(new Error(text));
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n${early}`);
  });
}

/** Everything the socket sends until it ends (FIN), after `rest`. */
function readAll(socket: Socket, rest: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [rest];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.resume();
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
    socket.resume();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const BIG = randomBytes(8 * 1024 * 1024);

/** The native front (accept, connect and relay in C), the relay behind JavaScript sockets, and JavaScript alone. */
const ENGINES = [
  { name: 'native front', tunnels: 'native', accept: 'native' },
  { name: 'native relay', tunnels: 'native', accept: 'js' },
  { name: 'js', tunnels: 'js', accept: 'js' },
] as const;

for (const engine of ENGINES) {
  describe(
    `tunnel engine: ${engine.name}`,
    { skip: engine.tunnels === 'native' && loadNative().addon === null },
    () => {
      let origin: Awaited<ReturnType<typeof startScriptedOrigin>>;
      let gw: RunningGateway;
      let target: string;

      before(async () => {
        origin = await startScriptedOrigin({
          // Echo, passing the client's FIN on after the echo.
          echo: (s) => s.pipe(s),
          // Speaks first, then echoes.
          banner: (s) => {
            s.write('BANNER\n');
            s.pipe(s);
          },
          // Reads until the client's FIN, then answers with the size and checksum and closes.
          count: (s) => {
            const chunks: Buffer[] = [];
            s.on('data', (c: Buffer) => chunks.push(c));
            s.on('end', () => {
              const all = Buffer.concat(chunks);
              s.end(`${all.length} ${sha256(all)}`);
            });
          },
          // Sends BIG at once and closes.
          flood: (s) => s.end(BIG),
          // Sends a little, then resets the connection.
          reset: (s) => {
            s.write('bye');
            setTimeout(() => s.resetAndDestroy(), 50);
          },
          // Silent; closes when the client does.
          idle: (s) => s.on('end', () => s.end()),
        });
        gw = await startGateway(`
engine:
  tunnels: ${engine.tunnels}
  accept: ${engine.accept}
policy:
  sources: [127.0.0.1/32]
  destinations: [relay.example.test]
  ports:
    connect: [${origin.port}]
hosts:
  relay.example.test: 127.0.0.1
tls:
  sniCheck: false
limits:
  maxConnectionsPerClient: 3
timeouts:
  tunnelIdle: 1500ms
`);
        target = `relay.example.test:${origin.port}`;
      });

      after(async () => {
        await gw.close();
        await origin.close();
      });

      test('8 MiB each way arrive intact; the access log counts every byte', async () => {
        const { socket, rest } = await tunnel(gw.port, target);
        const received = readAll(socket, rest);
        socket.write('echo\n');
        socket.end(BIG);
        const got = await received;
        assert.equal(got.length, BIG.length);
        assert.equal(sha256(got), sha256(BIG));
        const record = await gw.waitForRecord(
          (r) => r.method === 'CONNECT' && r.bytesToClient === BIG.length,
        );
        assert.equal(record.bytesFromClient, BIG.length + 5);
        assert.equal(record.end, 'CLOSED');
      });

      test('bytes sent with the CONNECT and bytes the origin sends first both arrive', async () => {
        const { socket, rest } = await tunnel(gw.port, target, 'banner\nEARLY');
        const received = readAll(socket, rest);
        await sleep(50);
        socket.end();
        assert.equal((await received).toString(), 'BANNER\nEARLY');
      });

      test('half-close: the client ends its side and still gets the answer', async () => {
        const { socket, rest } = await tunnel(gw.port, target);
        const received = readAll(socket, rest);
        socket.write('count\n');
        socket.end(BIG.subarray(0, 1_000_000));
        assert.equal((await received).toString(), `1000000 ${sha256(BIG.subarray(0, 1_000_000))}`);
      });

      test('backpressure: a client that does not read for a while still gets every byte', async () => {
        const { socket, rest } = await tunnel(gw.port, target);
        socket.write('flood\n');
        await sleep(700);
        const got = await readAll(socket, rest);
        assert.equal(sha256(got), sha256(BIG));
        socket.end();
      });

      test('an upstream reset ends the tunnel as FAIL_UPSTREAM_RESET', async () => {
        const { socket, rest } = await tunnel(gw.port, target);
        socket.write('reset\n');
        const chunks: Buffer[] = [rest];
        socket.on('data', (c: Buffer) => chunks.push(c));
        await closed(socket);
        assert.equal(Buffer.concat(chunks).toString(), 'bye');
        await gw.waitForRecord((r) => r.end === 'FAIL_UPSTREAM_RESET');
      });

      test('a client reset ends the tunnel as CLIENT_ABORTED', async () => {
        const { socket } = await tunnel(gw.port, target);
        socket.write('idle\n');
        await sleep(100);
        const before = gw.records.length;
        socket.resetAndDestroy();
        const record = await gw.waitForRecord(
          (r) => gw.records.indexOf(r) >= before && r.method === 'CONNECT',
        );
        assert.equal(record.end, 'CLIENT_ABORTED');
      });

      test('a silent tunnel is closed after tunnelIdle', async () => {
        const { socket } = await tunnel(gw.port, target);
        socket.write('idle\n');
        const started = Date.now();
        await closed(socket);
        const took = Date.now() - started;
        assert.ok(took >= 1400 && took < 4000, `closed after ${took} ms`);
        await gw.waitForRecord((r) => r.end === 'IDLE_TIMEOUT');
      });

      test('tunnelIdle: 0 means no idle timeout: a silent tunnel stays open', async (t) => {
        const own = await startGateway(
          `engine:\n  tunnels: ${engine.tunnels}\n  accept: ${engine.accept}\npolicy:\n  sources: [127.0.0.1/32]\n  destinations: [relay.example.test]\n  ports:\n    connect: [${origin.port}]\nhosts:\n  relay.example.test: 127.0.0.1\ntls:\n  sniCheck: false\ntimeouts:\n  tunnelIdle: 0\n`,
        );
        t.after(() => own.close());
        const { socket, rest } = await tunnel(own.port, target, 'echo\n');
        t.after(() => socket.destroy());
        let ended = false;
        socket.on('close', () => (ended = true));
        const received = readAll(socket, rest);
        // The native relay looks for idle tunnels once a second: 2.5 s of silence spans two scans.
        await sleep(2500);
        assert.equal(ended, false, 'the silent tunnel was closed');
        assert.equal(own.gateway.stats().relayed, engine.tunnels === 'native' ? 1 : 0);
        socket.end('still here');
        assert.equal((await received).toString(), 'still here');
        const record = await own.waitForRecord((r) => r.method === 'CONNECT');
        assert.equal(record.end, 'CLOSED');
      });

      test('relayed tunnels hold their connection slots: the per-client limit still counts them', async () => {
        const open = await Promise.all([
          tunnel(gw.port, target),
          tunnel(gw.port, target),
          tunnel(gw.port, target),
        ]);
        for (const { socket } of open) socket.write('idle\n');
        await sleep(100);
        const stats = gw.gateway.stats();
        assert.equal(stats.connections, 3);
        assert.equal(stats.relayed, engine.tunnels === 'native' ? 3 : 0);
        await assert.rejects(tunnel(gw.port, target), /503/);
        const before = gw.records.length;
        open[0].socket.destroy();
        await gw.waitForRecord((r) => gw.records.indexOf(r) >= before && r.method === 'CONNECT');
        await sleep(100);
        const again = await tunnel(gw.port, target);
        again.socket.end('idle\n');
        for (const { socket } of open) socket.destroy();
        await sleep(200);
        assert.equal(gw.gateway.stats().connections, 0);
      });

      test('3,000 short tunnels, 64 at a time: every one logged once, nothing left counted', async () => {
        const own = await startGateway(
          `engine:\n  tunnels: ${engine.tunnels}\n  accept: ${engine.accept}\npolicy:\n  sources: [127.0.0.1/32]\n  destinations: [relay.example.test]\n  ports:\n    connect: [${origin.port}]\nhosts:\n  relay.example.test: 127.0.0.1\ntls:\n  sniCheck: false\nlimits:\n  newConnectionsPerClientPerSecond: 100000\n`,
        );
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < 3000) {
            next++;
            const { socket, rest } = await tunnel(own.port, target, 'echo\nping');
            const got = readAll(socket, rest);
            socket.end();
            assert.equal((await got).toString(), 'ping');
          }
        };
        await Promise.all(Array.from({ length: 64 }, worker));
        const until = Date.now() + 5000;
        while (own.records.length < next && Date.now() < until) await sleep(20);
        assert.equal(own.records.length, next);
        assert.ok(own.records.every((r) => r.end === 'CLOSED' && r.bytesToClient === 4));
        assert.deepEqual(own.gateway.stats(), { connections: 0, sessions: 0, relayed: 0, upstreams: 0 });
        await own.close();
      });

      test('shutdown cuts open tunnels at the drain deadline and logs them', async () => {
        const own = await startGateway(
          `engine:\n  tunnels: ${engine.tunnels}\n  accept: ${engine.accept}\npolicy:\n  sources: [127.0.0.1/32]\n  destinations: [relay.example.test]\n  ports:\n    connect: [${origin.port}]\nhosts:\n  relay.example.test: 127.0.0.1\ntls:\n  sniCheck: false\n`,
        );
        const { socket } = await tunnel(own.port, target);
        socket.write('idle\n');
        await sleep(100);
        const result = await own.gateway.shutdown(300);
        assert.deepEqual(result, { drained: false, cut: 1 });
        await closed(socket);
        const record = await own.waitForRecord((r) => r.method === 'CONNECT');
        assert.equal(record.end, 'DRAIN_DEADLINE');
        await own.close();
      });
    },
  );
}
