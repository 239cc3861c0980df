/**
 * The admin listener's own limits: connections that send nothing neither exhaust the
 * supervisor's descriptors (it also accepts the proxy's connections with engine.listen: handoff)
 * nor stay long, and an event-stream client that stops reading is cut off instead of having
 * every event kept for it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminServer, type AdminApi, type AdminState } from '../../src/admin/index.js';
import { parseListenAddress, type ListenAddress } from '../../src/config/index.js';
import { serve, stopServed, type Served } from '../helpers/cli.js';
import { adminPortOf, descriptors, ending } from '../helpers/faults.js';
import { rawExchange } from '../helpers/run.js';
import { requirement } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

/** The listener's cap and header timeout (src/admin/admin-server.ts), and how often Node checks it. */
const MAX_CONNECTIONS = 256;
const HEADERS_TIMEOUT_MS = 5_000;
const CHECK_MS = 1_000;
/** How long a silent connection may live: the timeout, one check, and slack for a busy machine. */
const SILENT_LIFETIME_MS = HEADERS_TIMEOUT_MS + CHECK_MS + 2_000;

const state: AdminState = { ready: () => true, stats: () => ({}), pac: () => null };
const metrics = { contentType: 'text/plain', metrics: () => Promise.resolve('') };

function loopback(): ListenAddress {
  const listen = parseListenAddress('127.0.0.1:0');
  assert.ok(!('error' in listen));
  return listen;
}

/** Opens `n` connections to `port` that never send; `closed` counts those the server has closed. */
async function silent(port: number, n: number): Promise<{ sockets: Socket[]; closed: () => number }> {
  const sockets: Socket[] = [];
  let closed = 0;
  let settled = 0;
  for (let i = 0; i < n; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    // Reads what the server says (its 408) so that its close is seen; sends nothing.
    socket.resume();
    socket.once('connect', () => settled++);
    socket.once('close', () => {
      closed++;
      if (socket.connecting) settled++;
    });
    sockets.push(socket);
  }
  await waitFor(`${n} connections made`, () => settled >= n, { timeoutMs: 10_000 });
  return { sockets, closed: () => closed };
}

/** GET /healthz: its status, or 0 when the connection was closed without an answer. */
async function healthz(port: number): Promise<number> {
  const reply = await rawExchange(
    port,
    `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    1000,
  );
  return Number(reply.slice(9, 12)) || 0;
}

const FLOOD_SUITE = 'silent connections to the admin listener of a supervisor that accepts for its workers';
const FLOOD_SKIP = requirement(
  FLOOD_SUITE,
  spawnSync('prlimit', ['--version']).status === 0 ? null : 'prlimit (util-linux) is not installed',
);

describe(FLOOD_SUITE, { skip: FLOOD_SKIP }, () => {
  /** Below what the silent connections would take without the cap, above what they take with it. */
  const NOFILE = 512;
  const SILENT = 700;
  let gw: Served | undefined;
  let admin: number;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-admin-limits-'));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `engine: { tunnels: js, listen: handoff }
policy:
  sources: [127.0.0.0/8]
  destinations: [allowed.example.test]
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
admin: { listen: "127.0.0.1:0" }
timeouts: { drain: 1s }
`,
    );
    gw = await serve(
      ['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0', '--workers', '1'],
      30_000,
      undefined,
      ['prlimit', `--nofile=${NOFILE}:${NOFILE}`, '--'],
    );
    admin = adminPortOf(gw.stderr);
  });

  after(() => stopServed(gw));

  test('a connection that sends nothing is closed within the header timeout', async () => {
    const socket = connect({ host: '127.0.0.1', port: admin });
    socket.on('error', () => undefined);
    try {
      const end = await ending(socket, SILENT_LIFETIME_MS);
      assert.ok(end.ms >= HEADERS_TIMEOUT_MS - 500, `closed after ${end.ms} ms, before the timeout`);
    } finally {
      socket.destroy();
    }
  });

  test('connections past the cap starve neither the proxy port nor, for long, /healthz', async () => {
    const flood = await silent(admin, SILENT);
    try {
      // Wait until the supervisor has dealt with every one: refused those past the cap, or run out.
      const pid = gw!.child.pid!;
      await waitFor(
        'the supervisor to have taken or refused the connections',
        () => flood.closed() >= SILENT - MAX_CONNECTIONS || descriptors(pid).total >= NOFILE - 8,
        { context: () => `${flood.closed()} closed, ${descriptors(pid).total} descriptors` },
      );
      // It holds no more than the cap of them: the proxy's clients still get answers.
      const denied = await rawExchange(
        gw!.port,
        'CONNECT denied.example.test:443 HTTP/1.1\r\nHost: denied.example.test:443\r\n\r\n',
        1000,
      );
      assert.match(denied, /^HTTP\/1\.1 403 /);
      const open = descriptors(pid).total;
      assert.ok(open < MAX_CONNECTIONS + 64, `${open} descriptors open`);
      // Those let in go once their time to send a request is up, and the listener answers again.
      await waitFor('/healthz answered', async () => (await healthz(admin)) === 200, {
        timeoutMs: SILENT_LIFETIME_MS,
      });
      await waitFor('every silent connection closed', () => flood.closed() === SILENT, {
        timeoutMs: SILENT_LIFETIME_MS,
        context: () => `${flood.closed()} of ${SILENT} closed`,
      });
    } finally {
      for (const socket of flood.sockets) socket.destroy();
    }
  });
});

describe('an admin listener at its connection cap', () => {
  const warnings: Record<string, unknown>[] = [];
  let server: AdminServer;
  let port: number;

  before(async () => {
    const log = { warn: (fields: Record<string, unknown>) => void warnings.push(fields) };
    server = new AdminServer(loopback(), state, metrics, { log });
    port = (await server.start()).port;
  });
  after(() => server.close());

  test('refuses the connections past it, and says so once rather than once per connection', async () => {
    const flood = await silent(port, MAX_CONNECTIONS + 50);
    try {
      await waitFor('the connections past the cap refused', () => flood.closed() >= 50, {
        context: () => `${flood.closed()} closed`,
      });
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.equal(warnings[0]!.event, 'admin_connections_refused');
      assert.equal(warnings[0]!.maxConnections, MAX_CONNECTIONS);
    } finally {
      for (const socket of flood.sockets) socket.destroy();
    }
  });
});

describe('an event-stream client that stops reading', () => {
  const listeners = new Set<(event: string, data: unknown) => void>();
  const api: AdminApi = {
    status: () => Promise.resolve({ ready: true }),
    clients: () => ({ total: 0, rows: [] }),
    client: () => null,
    services: () => ({ rows: [] }),
    denials: () => ({ total: 0, recent: [], destinations: [] }),
    tunnels: () => ({ total: 0, rows: [] }),
    history: () => ({ minutes: [] }),
    policy: () => ({ rules: [] }),
    reload: () => Promise.resolve({ ok: true, error: null }),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  let server: AdminServer;
  let port: number;

  before(async () => {
    server = new AdminServer(loopback(), state, metrics, { api });
    port = (await server.start()).port;
  });
  after(() => server.close());

  test('is cut off once a bounded amount waits for it; a client that reads keeps its stream', async () => {
    // One that reads: counts the events it has been sent.
    let received = 0;
    let tail = '';
    let readerClosed = false;
    const reader = request(
      { host: '127.0.0.1', port, path: '/events', headers: { Host: `127.0.0.1:${port}` } },
      (res) => {
        res.on('data', (c: Buffer) => {
          const text = tail + c.toString('latin1');
          received += text.split('event: big\n').length - 1;
          // Shorter than the marker: a marker split over two chunks is counted once.
          tail = text.slice(-10);
        });
        res.on('close', () => (readerClosed = true));
      },
    );
    reader.on('error', () => undefined);
    reader.end();
    await waitFor('the reader subscribed', () => listeners.size === 1);
    // One that asks for the stream and never reads a byte of it.
    const stalled = connect({ host: '127.0.0.1', port });
    stalled.on('error', () => undefined);
    stalled.pause();
    stalled.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await waitFor('the stalled client subscribed', () => listeners.size === 2);

    // Events of 16 KiB, a batch at a time, each once the reader has had the previous batch:
    // what waits for the stalled client grows, what waits for the reader does not.
    const data = { blob: 'x'.repeat(16 * 1024) };
    const BATCH = 8;
    const MOST_BATCHES = 400; // 50 MiB: far past the kernel's buffers and the bound
    let sent = 0;
    try {
      for (let batch = 0; batch < MOST_BATCHES && listeners.size === 2; batch++) {
        for (const listener of [...listeners]) for (let i = 0; i < BATCH; i++) listener('big', data);
        sent += BATCH;
        await waitFor(`the reader to have ${sent} events`, () => received >= sent);
      }
      assert.equal(listeners.size, 1, `the stalled client was still subscribed after ${sent} events`);
      const cutAt = sent;
      // The reader is still there and still hears what follows.
      for (const listener of listeners) listener('big', data);
      await waitFor('the reader to hear an event after the cut', () => received === cutAt + 1);
      assert.equal(readerClosed, false);
      // The stalled client, reading at last, finds its stream ended after a bounded part of it.
      const rest = await ending(stalled, 10_000);
      const events = rest.data.toString('latin1').split('event: big\n').length - 1;
      assert.ok(events > 0 && events < cutAt, `the stalled client got ${events} of ${cutAt} events`);
    } finally {
      stalled.destroy();
      reader.destroy();
    }
  });
});
