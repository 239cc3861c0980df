import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CLI, openTunnel, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange, run } from '../helpers/run.js';

let echo: TestOrigin;
let dir: string;

before(async () => {
  echo = await startTcpEcho();
  dir = mkdtempSync(join(tmpdir(), 'airlock-reload-'));
});

after(async () => {
  await echo.close();
});

function config(names: string[], extra = ''): string {
  return `pidFile: ${JSON.stringify(join(dir, 'airlock.pid'))}
policy:
  sources: [127.0.0.0/8]
  destinations: [${names.join(', ')}]
  ports: { connect: [${echo.port}], http: [80] }
hosts:
  echo.example.test: 127.0.0.1
  a.example.test: 127.0.0.1
  b.example.test: 127.0.0.1
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
limits: { newConnectionsPerClientPerSecond: 100000, maxConnectionsPerClient: 5000 }
timeouts: { drain: 2s }
${extra}`;
}

async function connectStatus(port: number, host: string): Promise<string> {
  const reply = await rawExchange(port, `CONNECT ${host}:${echo.port} HTTP/1.1\r\n\r\n`, 200);
  return reply.slice(9, 12);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hot reload', () => {
  let gw: Served;
  let file: string;
  before(async () => {
    file = join(dir, 'airlock.yaml');
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    gw = await serve(['--config', file, '--listen', '127.0.0.1:0']);
  });
  after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  test('SIGHUP applies a new policy to new requests', async () => {
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '200');
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '403');
    writeFileSync(file, config(['echo.example.test', 'b.example.test']));
    const before = count(gw.stderr, '"event":"reloaded"');
    gw.child.kill('SIGHUP');
    await waitFor(() => count(gw.stderr, '"event":"reloaded"') > before, 'reloaded');
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
  });

  test('an invalid configuration is rejected with its error and the old policy keeps running', async () => {
    writeFileSync(file, `${config(['echo.example.test', 'a.example.test'])}\nbogus: 1\n`);
    gw.child.kill('SIGHUP');
    await waitFor(() => gw.stderr.includes('"event":"reload_failed"'), 'reload_failed');
    assert.match(gw.stderr, /bogus: unknown key/);
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '200', 'old policy still in force');
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
  });

  test('`airlock reload --pid-file` signals the running gateway', async () => {
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const before = count(gw.stderr, '"event":"reloaded"');
    const r = await run(process.execPath, [CLI, 'reload', '--pid-file', join(dir, 'airlock.pid')]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => count(gw.stderr, '"event":"reloaded"') > before, 'reloaded');
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '200');
  });

  test('`airlock reload` with a missing pid file fails clearly', async () => {
    const r = await run(process.execPath, [CLI, 'reload', '--pid-file', join(dir, 'missing.pid')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read pid file .*missing\.pid: no such file/);
  });
});

test('--watch reloads when an allowlist file changes', async () => {
  const list = join(dir, 'watched.conf');
  writeFileSync(list, 'echo.example.test\na.example.test\n');
  const file = join(dir, 'watch.yaml');
  writeFileSync(
    file,
    config(['echo.example.test']).replace(
      / {2}destinations: .*\n/,
      `  allowlistFiles: [${JSON.stringify(list)}]\n`,
    ),
  );
  const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
  try {
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '403');
    writeFileSync(list, 'echo.example.test\nb.example.test\n');
    await waitFor(() => gw.stderr.includes('"event":"reloaded"'), 'reloaded by the watcher');
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exited;
  }
});

test('a lint warning is printed once per start, not again on every reload; lint.acknowledge silences it', async () => {
  const file = join(dir, 'lint.yaml');
  const base = config(['echo.example.test']).replace(
    '  destinations:',
    '  defaultAllowlist: true\n  destinations:',
  );
  const lines = (text: string): number =>
    text
      .split('\n')
      .filter((l) => l.includes('"event":"policy_warning"') && l.includes('*.windowsupdate.com')).length;
  writeFileSync(file, base);
  const gw = await serve(['--config', file, '--listen', '127.0.0.1:0']);
  try {
    assert.equal(lines(gw.stderr), 1, gw.stderr);
    // The gateway installs its SIGHUP handler just after the "listening" line: let it answer first.
    assert.equal(await connectStatus(gw.port, 'echo.example.test'), '200');
    for (let i = 1; i <= 2; i++) {
      gw.child.kill('SIGHUP');
      await waitFor(() => count(gw.stderr, '"event":"reloaded"') === i, `reload ${i}`);
    }
    assert.equal(lines(gw.stderr), 1, 'not repeated on reload');
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exited;
  }
  writeFileSync(file, `${base}lint:\n  acknowledge: ["mde:*.windowsupdate.com"]\n`);
  const acknowledged = await serve(['--config', file, '--listen', '127.0.0.1:0']);
  try {
    assert.equal(lines(acknowledged.stderr), 0, acknowledged.stderr);
  } finally {
    acknowledged.child.kill('SIGTERM');
    await acknowledged.exited;
  }
});

/**
 * 500 tunnels stream data while the configuration is reloaded 20 times. Every tunnel must
 * survive and every byte must come back (the upstream echoes).
 */
test('20 reloads while 500 tunnels carry traffic: no tunnel dropped, no byte lost', async () => {
  const TUNNELS = 500;
  const ROUNDS = 8;
  const CHUNK = 16 * 1024;
  const file = join(dir, 'soak.yaml');
  writeFileSync(file, config(['echo.example.test', 'a.example.test']));
  const gw = await serve(['--config', file, '--listen', '127.0.0.1:0']);
  try {
    const sockets: Socket[] = [];
    for (let i = 0; i < TUNNELS; i += 50) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, TUNNELS - i) }, () =>
            openTunnel(gw.port, `echo.example.test:${echo.port}`),
          ),
        )),
      );
    }
    assert.equal(sockets.length, TUNNELS);

    const results = sockets.map((socket) => {
      const sent = createHash('sha256');
      const received = createHash('sha256');
      let sentBytes = 0;
      let receivedBytes = 0;
      socket.on('data', (c: Buffer) => {
        received.update(c);
        receivedBytes += c.length;
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      return {
        send(): void {
          const data = randomBytes(CHUNK);
          sent.update(data);
          sentBytes += data.length;
          socket.write(data);
        },
        async finish(): Promise<{ ok: boolean; sentBytes: number; receivedBytes: number }> {
          await waitFor(() => receivedBytes >= sentBytes || socket.destroyed, 'echo', 30_000);
          socket.end();
          await closed;
          return { ok: sent.digest('hex') === received.digest('hex'), sentBytes, receivedBytes };
        },
      };
    });

    let reloads = 0;
    const reloading = (async () => {
      for (let i = 0; i < 20; i++) {
        const names =
          i % 2 === 0 ? ['echo.example.test', 'b.example.test'] : ['echo.example.test', 'a.example.test'];
        writeFileSync(file, config(names));
        const before = count(gw.stderr, '"event":"reloaded"');
        gw.child.kill('SIGHUP');
        await waitFor(() => count(gw.stderr, '"event":"reloaded"') > before, `reload ${i + 1}`);
        reloads++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of results) r.send();
      await new Promise((r) => setTimeout(r, 80));
    }
    await reloading;
    const outcomes = await Promise.all(results.map((r) => r.finish()));
    assert.equal(reloads, 20);
    const broken = outcomes.filter((o) => !o.ok);
    assert.equal(
      broken.length,
      0,
      `${broken.length} tunnels lost bytes: ${JSON.stringify(broken.slice(0, 3))}`,
    );
    assert.ok(outcomes.every((o) => o.sentBytes === ROUNDS * CHUNK && o.receivedBytes === ROUNDS * CHUNK));
    // The last reload (i = 19) installed a.example.test, not b.example.test.
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '200');
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '403');
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exited;
  }
  const closedNormally = gw.stdout
    .split('\n')
    .filter((l) => l.includes('"end":"CLOSED"') && l.includes('"method":"CONNECT"')).length;
  assert.ok(closedNormally >= TUNNELS, `${closedNormally} tunnels logged as closed normally`);
});
