import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, echoOnce, openTunnel, serve } from '../helpers/cli.js';
import { closedPort, startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { events, waitFor, waitForEvent } from '../helpers/wait.js';

/**
 * The engine settings and process lifecycle through the real command: what happens without the
 * native addon (pointed at a file that does not exist, as on a machine without a C compiler),
 * IPv4 and IPv6 wildcard listeners on one port, and a second shutdown signal.
 */

const NO_ADDON = { AIRLOCK_NATIVE_ADDON: join(tmpdir(), 'no-such-dir', 'airlock_native.node') };

let echo: TestOrigin;
let dir: string;

before(async () => {
  echo = await startTcpEcho('::');
  dir = mkdtempSync(join(tmpdir(), 'airlock-engine-'));
});

after(async () => {
  await echo.close();
});

function configFile(name: string, extra: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `policy:
  sources: [127.0.0.0/8, "::1/128"]
  destinations: [echo.example.test]
  ports: { connect: [${echo.port}], http: [80] }
hosts: { echo.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
timeouts: { drain: 30s }
${extra}`,
  );
  return file;
}

/** PIDs of the processes listening on `port` (from `ss`). */
function listenerPids(port: number): number[] {
  const out = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' }).stdout;
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

/** `airlock serve` without the addon, for a configuration that cannot start. */
function serveWithoutAddon(config: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, 'serve', '--config', config, '--listen', '127.0.0.1:0'], {
    encoding: 'utf8',
    env: { ...process.env, ...NO_ADDON },
    timeout: 30_000,
  });
}

describe('without the native addon', () => {
  test('engine.tunnels: auto warns once and splices tunnels in JavaScript', async () => {
    const gw = await serve(
      ['--config', configFile('auto.yaml', 'engine: { tunnels: auto }\n'), '--listen', '127.0.0.1:0'],
      undefined,
      NO_ADDON,
    );
    try {
      const warnings = events(gw, 'native_relay_missing');
      assert.equal(warnings.length, 1, gw.stderr);
      assert.match(
        String(warnings[0]!.msg),
        /the native relay is not built .*; tunnels are spliced in JavaScript \(engine\.tunnels: js\)/,
      );
      const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
      assert.equal(await echoOnce(tunnel, 'spliced'), 'spliced');
      tunnel.end();
    } finally {
      gw.child.kill('SIGTERM');
      assert.equal(await gw.exited, 0);
    }
  });

  test('engine.tunnels: native is a configuration error naming the setting and the reason (exit 2)', () => {
    const r = serveWithoutAddon(configFile('native.yaml', 'engine: { tunnels: native }\n'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /^airlock: invalid configuration: engine\.tunnels: native: the native relay is not built \(Cannot find module .*airlock_native\.node'\); run "npm rebuild" with a C compiler$/m,
    );
  });

  test('engine.listen: reuseport with workers is a configuration error too', () => {
    const r = serveWithoutAddon(
      configFile('reuseport.yaml', 'workers: 2\nengine: { listen: reuseport, tunnels: js }\n'),
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /engine\.listen: reuseport: the native relay is not built/);
  });

  test('engine.listen: auto with two workers falls back to hand-off: the supervisor holds the listener', async () => {
    const gw = await serve(
      [
        '--config',
        configFile('handoff.yaml', 'workers: 2\nengine: { listen: auto }\n'),
        '--listen',
        '127.0.0.1:0',
      ],
      undefined,
      NO_ADDON,
    );
    try {
      assert.deepEqual(listenerPids(gw.port), [gw.child.pid], 'only the supervisor listens');
      for (let i = 0; i < 4; i++) {
        const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
        assert.equal(await echoOnce(tunnel, `handed off ${i}`), `handed off ${i}`);
        tunnel.end();
      }
    } finally {
      gw.child.kill('SIGTERM');
      assert.equal(await gw.exited, 0);
    }
  });
});

test('with the addon, engine.listen: auto and two workers: each worker listens on the port itself', async () => {
  const gw = await serve([
    '--config',
    configFile('reuse.yaml', 'workers: 2\nengine: { listen: auto }\n'),
    '--listen',
    '127.0.0.1:0',
  ]);
  try {
    const pids = listenerPids(gw.port);
    assert.equal(pids.length, 2, `listeners: ${pids.join(', ')}`);
    assert.ok(!pids.includes(gw.child.pid!), 'not the supervisor');
  } finally {
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
  }
});

test('0.0.0.0 and [::] on the same port: the IPv6 listener is IPv6-only, each serves its own family', async () => {
  const port = await closedPort();
  const gw = await serve([
    '--config',
    configFile('dual.yaml', ''),
    '--listen',
    `0.0.0.0:${port}`,
    '--listen',
    `[::]:${port}`,
  ]);
  try {
    assert.match(gw.stderr, new RegExp(`"listeners":\\["0\\.0\\.0\\.0:${port}","\\[::\\]:${port}"\\]`));
    for (const host of ['127.0.0.1', '::1']) {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect({ host, port });
        let text = '';
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
          if (text.includes('\r\n\r\n')) s.destroy();
        });
        s.on('close', () => resolve(text));
        s.on('error', reject);
        s.write(`CONNECT echo.example.test:${echo.port} HTTP/1.1\r\n\r\n`);
      });
      assert.match(reply, /^HTTP\/1\.1 200 /, host);
    }
    await waitFor('both clients logged', () => {
      const clients = gw.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { client: string }).client);
      return clients.includes('127.0.0.1') && clients.includes('::1');
    });
  } finally {
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
  }
});

test('a second SIGTERM during the drain closes everything at once', async () => {
  const gw = await serve(['--config', configFile('twice.yaml', ''), '--listen', '127.0.0.1:0']);
  const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
  tunnel.on('error', () => undefined);
  const tunnelClosed = new Promise((resolve) => tunnel.on('close', resolve));
  gw.child.kill('SIGTERM');
  await waitForEvent(gw, 'shutdown');
  // The drain would last 30 s for this open tunnel.
  assert.equal(await echoOnce(tunnel, 'draining'), 'draining');
  const started = Date.now();
  gw.child.kill('SIGTERM');
  const forced = await waitForEvent(gw, 'shutdown_forced');
  assert.match(String(forced.msg), /^SIGTERM again: closing everything now$/);
  assert.equal(await gw.exited, 0);
  await tunnelClosed;
  assert.ok(Date.now() - started < 10_000, `exited ${Date.now() - started} ms after the second signal`);
  assert.match(gw.stdout, /"method":"CONNECT".*"end":"DRAIN_DEADLINE"/);
});
