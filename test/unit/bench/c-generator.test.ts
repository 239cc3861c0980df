import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  buildCGenerator,
  clientArgs,
  parseClientResult,
  runClient,
  startCOrigin,
  type ClientJob,
  type ClientResult,
  type COrigin,
} from '../../../bench/loadgen/c-generator.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

const sample = {
  mode: 'connect',
  threads: 2,
  concurrency: 64,
  windowS: 3,
  completed: 9000,
  failed: 2,
  connects: 9100,
  responses: 0,
  bytes: 0,
  cpuUserS: 0.4,
  cpuSysS: 0.8,
  threadCpuS: [0.7, 0.5],
  errors: { ECONNRESET: 2 },
  histogramUs: [
    [640, 660, 10],
    [1024, 1056, 3],
  ],
  phaseUs: [90000, 450000, 270000, 180000],
};

test('the generator output is checked and typed', () => {
  const r = parseClientResult(`${JSON.stringify(sample)}\n`);
  assert.equal(r.completed, 9000);
  assert.deepEqual(r.threadCpuS, [0.7, 0.5]);
  assert.deepEqual(r.errors, { ECONNRESET: 2 });
  assert.deepEqual(r.histogramUs[1], [1024, 1056, 3]);
  assert.throws(() => parseClientResult('loadgen: bad value'), /not JSON/);
  assert.throws(() => parseClientResult(JSON.stringify({ ...sample, mode: 'x' })), /no mode/);
  assert.throws(() => parseClientResult(JSON.stringify({ ...sample, completed: 'many' })), /completed/);
  assert.throws(() => parseClientResult(JSON.stringify({ ...sample, histogramUs: [[1, 2]] })), /bucket/);
  assert.deepEqual(r.phaseUs, [90000, 450000, 270000, 180000]);
  assert.throws(() => parseClientResult(JSON.stringify({ ...sample, phaseUs: [1, 2, 3] })), /phaseUs/);
  assert.throws(() => parseClientResult(JSON.stringify({ ...sample, phaseUs: [1, 2, 'x', 4] })), /phaseUs/);
});

test('jobs become command lines: through a proxy or direct, threads never above connections', () => {
  const base = {
    destName: 'localhost',
    originHost: '127.0.0.1',
    sources: { first: '127.0.1.1', count: 8 },
    concurrency: 1,
    threads: 4,
    startAt: 1,
    windowStart: 2,
    windowEnd: 3,
    timeoutMs: 500,
  };
  const viaProxy = clientArgs({
    ...base,
    mode: 'connect',
    via: { kind: 'proxy', host: '127.0.0.1', port: 3128 },
    ports: [1, 2],
    payloadFile: '/x',
  });
  assert.equal(viaProxy[0], 'connect');
  assert.deepEqual(viaProxy.slice(1, 3), ['--proxy', '127.0.0.1:3128']);
  assert.equal(viaProxy[viaProxy.indexOf('--threads') + 1], '1');
  assert.equal(viaProxy[viaProxy.indexOf('--sources') + 1], '127.0.1.1,8');
  assert.equal(viaProxy[viaProxy.indexOf('--ports') + 1], '1,2');
  const direct = clientArgs({
    ...base,
    mode: 'http',
    via: { kind: 'direct' },
    port: 80,
    path: '/1k',
    expectBytes: 1024,
  });
  assert.ok(direct.includes('--direct'));
  assert.equal(direct[direct.indexOf('--expect-bytes') + 1], '1024');
});

function hasCompiler(): boolean {
  try {
    execFileSync(process.env.CC ?? 'cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

describe('the C generator against real sockets', { skip: hasCompiler() ? false : 'no C compiler' }, () => {
  let dir = '';
  let binary = '';
  let origin: COrigin;
  const payload = Buffer.from('0123456789abcdef0123456789abcdef'); // 32 bytes
  const servers: Server[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loadgen-test-'));
    binary = buildCGenerator(repoRoot, dir);
    writeFileSync(join(dir, 'payload'), payload);
    origin = await startCOrigin(binary, {
      host: '127.0.0.1',
      closePorts: 2,
      helloLength: payload.length,
      dnsHost: null,
      threads: 1,
      maxSeconds: 120,
    });
  });
  after(async () => {
    await origin.stop();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const windowed = (ms = 400): { startAt: number; windowStart: number; windowEnd: number } => {
    const startAt = Date.now() + 50;
    return { startAt, windowStart: startAt + 100, windowEnd: startAt + 100 + ms };
  };
  const common = {
    destName: 'localhost',
    originHost: '127.0.0.1',
    sources: { first: '127.0.1.1', count: 8 },
    threads: 2,
    timeoutMs: 2_000,
  };

  /**
   * A CONNECT proxy in Node: answers `status`, and with 200 splices to the named port; with
   * `delays`, it waits that long before its 200 (setup) or before passing the client's first
   * bytes upstream (echo).
   */
  async function tinyProxy(
    status: number,
    delays: { setupMs?: number; echoMs?: number } = {},
  ): Promise<number> {
    const server = createServer((client: Socket) => {
      client.on('error', () => undefined);
      let head = '';
      const onData = (d: Buffer): void => {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        client.off('data', onData);
        if (status !== 200) {
          client.end(`HTTP/1.1 ${status} Nope\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        const port = Number(/^CONNECT [^:]+:(\d+) /.exec(head)?.[1]);
        const upstream = connect(port, '127.0.0.1', () => {
          setTimeout(() => {
            client.write('HTTP/1.1 200 Connection established\r\n\r\n');
            upstream.pipe(client);
            client.once('data', (first: Buffer) => {
              setTimeout(() => {
                upstream.write(first);
                client.pipe(upstream);
              }, delays.echoMs ?? 0);
            });
          }, delays.setupMs ?? 0);
        });
        upstream.on('error', () => client.destroy());
      };
      client.on('data', onData);
    });
    servers.push(server);
    return listen(server);
  }

  test('direct tunnels: every slot loops connect, payload, echo, close', async () => {
    const w = windowed();
    const job: ClientJob = {
      ...common,
      ...w,
      mode: 'connect',
      via: { kind: 'direct' },
      concurrency: 8,
      ports: origin.close,
      payloadFile: join(dir, 'payload'),
    };
    const r = await runClient(binary, job);
    assert.ok(r.completed > 50, `completed ${r.completed}`);
    assert.deepEqual(r.errors, {});
    assert.equal(r.failed, 0);
    assert.equal(r.threadCpuS.length, 2);
    assert.ok(r.histogramUs.reduce((n, b) => n + b[2], 0) >= r.completed * 0.9, 'a setup latency per tunnel');
    assert.ok(Date.now() - w.windowEnd < 1_500, 'the generator stops at the end of its window');
  });

  test('through a CONNECT proxy; a refusal counts as a failure with its status', async () => {
    const ok = await tinyProxy(200);
    const r = await runClient(binary, {
      ...common,
      ...windowed(),
      mode: 'connect',
      via: { kind: 'proxy', host: '127.0.0.1', port: ok },
      concurrency: 4,
      ports: origin.close,
      payloadFile: join(dir, 'payload'),
    });
    assert.ok(r.completed > 10, `completed ${r.completed}`);
    assert.deepEqual(r.errors, {});
    const refusing = await tinyProxy(403);
    const denied = await runClient(binary, {
      ...common,
      ...windowed(200),
      mode: 'connect',
      via: { kind: 'proxy', host: '127.0.0.1', port: refusing },
      concurrency: 2,
      ports: origin.close,
      payloadFile: join(dir, 'payload'),
    });
    assert.equal(denied.completed, 0);
    assert.ok((denied.errors['status-403'] ?? 0) > 0);
    assert.ok(denied.failed > 0);
  });

  test("where a tunnel's time goes: each phase gets its own share", async () => {
    const mean = (r: ClientResult, i: number): number => (r.phaseUs[i] ?? 0) / r.completed / 1000;
    const run = (port: number): Promise<ClientResult> =>
      runClient(binary, {
        ...common,
        ...windowed(600),
        mode: 'connect',
        via: { kind: 'proxy', host: '127.0.0.1', port },
        concurrency: 2,
        ports: origin.close,
        payloadFile: join(dir, 'payload'),
      });
    const slowSetup = await run(await tinyProxy(200, { setupMs: 30 }));
    const slowEcho = await run(await tinyProxy(200, { echoMs: 30 }));
    for (const r of [slowSetup, slowEcho]) {
      assert.ok(r.completed > 5, `completed ${r.completed}`);
      assert.deepEqual(r.errors, {});
    }
    // The 30 ms lands in the phase it was spent in, and not in the other.
    assert.ok(
      mean(slowSetup, 1) >= 29 && mean(slowSetup, 2) < 20,
      `setup ${mean(slowSetup, 1)}, echo ${mean(slowSetup, 2)}`,
    );
    assert.ok(
      mean(slowEcho, 2) >= 29 && mean(slowEcho, 1) < 20,
      `setup ${mean(slowEcho, 1)}, echo ${mean(slowEcho, 2)}`,
    );
    for (const r of [slowSetup, slowEcho])
      assert.ok(mean(r, 0) < 20 && mean(r, 3) < 20, `connect/close ${r.phaseUs.join(', ')}`);
  });

  test('a failed slot waits before it retries: a refused port is not hammered in a busy loop', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const w = windowed(200);
    const r = await runClient(binary, {
      ...common,
      ...w,
      mode: 'connect',
      via: { kind: 'direct' },
      concurrency: 2,
      ports: [port],
      payloadFile: join(dir, 'payload'),
    });
    assert.ok((r.errors.ECONNREFUSED ?? 0) > 0);
    // 2 slots over 350 ms (warm-up and window) with 5 ms between attempts: about 140 connects.
    assert.ok(r.connects <= 200, `connects ${r.connects}`);
  });

  test('keep-alive HTTP against the origin counts responses and body bytes', async () => {
    const r = await runClient(binary, {
      ...common,
      ...windowed(),
      mode: 'http',
      via: { kind: 'direct' },
      concurrency: 4,
      port: origin.http,
      path: '/1k',
      expectBytes: 1024,
    });
    assert.ok(r.responses > 50, `responses ${r.responses}`);
    assert.equal(r.bytes, r.responses * 1024);
    assert.equal(r.connects, 4, 'keep-alive: no connection reopened');
    assert.deepEqual(r.errors, {});
  });

  test('HTTP framing: chunked, close-delimited and Connection: close responses; a wrong length fails', async () => {
    const body = 'x'.repeat(1024);
    const chunked = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100;ext=1\r\n${body.slice(0, 256)}\r\n300\r\n${body.slice(256)}\r\n0\r\nX-Trailer: 1\r\n\r\n`;
    const kinds: Record<string, (s: Socket) => void> = {
      chunked: (s) => s.write(chunked),
      closeDelimited: (s) => s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`),
      connectionClose: (s) =>
        s.end(`HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n${body}`),
      short: (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789`),
    };
    const results: Record<string, Awaited<ReturnType<typeof runClient>>> = {};
    for (const [name, answer] of Object.entries(kinds)) {
      const server = createServer((s) => {
        s.on('error', () => undefined);
        let buf = '';
        s.on('data', (d: Buffer) => {
          buf += d.toString('latin1');
          while (buf.includes('\r\n\r\n')) {
            buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
            answer(s);
          }
        });
      });
      servers.push(server);
      const port = await listen(server);
      results[name] = await runClient(binary, {
        ...common,
        ...windowed(250),
        mode: 'http',
        via: { kind: 'direct' },
        concurrency: 2,
        port,
        path: '/1k',
        expectBytes: 1024,
      });
    }
    assert.ok(results.chunked!.responses > 10);
    assert.deepEqual(results.chunked!.errors, {});
    assert.ok(results.closeDelimited!.responses > 10);
    assert.deepEqual(results.closeDelimited!.errors, {});
    assert.ok(results.connectionClose!.responses > 10);
    assert.ok(
      results.connectionClose!.connects >= results.connectionClose!.responses,
      'a new connection per response',
    );
    assert.equal(results.short!.responses, 0);
    assert.ok((results.short!.errors['wrong-length'] ?? 0) > 0);
  });

  test('the origin DNS server answers every query NXDOMAIN', async (t) => {
    const withDns = await startCOrigin(binary, {
      host: '127.0.0.1',
      closePorts: 1,
      helloLength: 4,
      dnsHost: '127.53.9.1',
      threads: 1,
      maxSeconds: 30,
    });
    try {
      if (withDns.dns !== 'ok') {
        t.skip(`127.53.9.1:53 is not available here (${withDns.dns ?? 'none'})`);
        return;
      }
      const name = Buffer.from([
        1,
        0x31,
        1,
        0x31,
        1,
        0x30,
        3,
        0x31,
        0x32,
        0x37,
        7,
        ...Buffer.from('in-addr'),
        4,
        ...Buffer.from('arpa'),
        0,
      ]);
      const query = Buffer.concat([
        Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
        name,
        Buffer.from([0, 12, 0, 1]),
      ]);
      const socket = createSocket('udp4');
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no DNS answer')), 2_000);
        socket.on('message', (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        socket.send(query, 53, '127.53.9.1');
      });
      socket.close();
      assert.equal(answer.readUInt16BE(0), 0x1234, 'same id');
      assert.equal(answer[2]! & 0x80, 0x80, 'a response');
      assert.equal(answer[3]! & 0x0f, 3, 'NXDOMAIN');
      assert.equal(answer.readUInt16BE(4), 1, 'the question is echoed');
      assert.equal(answer.readUInt16BE(6), 0, 'no answer records');
      assert.deepEqual(answer.subarray(12), query.subarray(12));
    } finally {
      await withDns.stop();
    }
  });
});
