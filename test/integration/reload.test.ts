import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CLI, openTunnel, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange, run } from '../helpers/run.js';
import { events, waitFor, waitForEvent } from '../helpers/wait.js';

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
    const before = events(gw, 'reloaded').length;
    gw.child.kill('SIGHUP');
    await waitForEvent(gw, 'reloaded', { after: before });
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
  });

  test('an invalid configuration is rejected with its error and the old policy keeps running', async () => {
    writeFileSync(file, `${config(['echo.example.test', 'a.example.test'])}\nbogus: 1\n`);
    gw.child.kill('SIGHUP');
    await waitForEvent(gw, 'reload_failed');
    assert.match(gw.stderr, /bogus: unknown key/);
    assert.equal(await connectStatus(gw.port, 'b.example.test'), '200', 'old policy still in force');
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
  });

  test('`airlock reload --pid-file` signals the running gateway', async () => {
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const before = events(gw, 'reloaded').length;
    const r = await run(process.execPath, [CLI, 'reload', '--pid-file', join(dir, 'airlock.pid')]);
    assert.equal(r.code, 0, r.stderr);
    await waitForEvent(gw, 'reloaded', { after: before });
    assert.equal(await connectStatus(gw.port, 'a.example.test'), '200');
  });

  test('`airlock reload` with a missing pid file fails clearly', async () => {
    const r = await run(process.execPath, [CLI, 'reload', '--pid-file', join(dir, 'missing.pid')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read pid file .*missing\.pid: no such file/);
  });
});

describe('--watch and reload.watch', () => {
  /** Writes `text` next to `path` and renames it over `path`, as editors and configuration tools do. */
  function replace(path: string, text: string): void {
    const next = `${path}.new`;
    writeFileSync(next, text);
    renameSync(next, path);
  }

  function watchedSetup(name: string, extra = ''): { list: string; file: string } {
    const sub = mkdtempSync(join(dir, `${name}-`));
    const list = join(sub, 'mdemdi.conf');
    writeFileSync(list, 'echo.example.test\na.example.test\n');
    const file = join(sub, 'airlock.yaml');
    writeFileSync(
      file,
      config(['echo.example.test'], extra).replace(
        / {2}destinations: .*\n/,
        `  allowlistFiles: [${JSON.stringify(list)}]\n`,
      ),
    );
    return { list, file };
  }

  /** Changes something, waits for the watcher's reload, and checks which host is allowed now. */
  async function expectReload(
    gw: Served,
    change: () => void,
    allowed: string,
    refused: string,
  ): Promise<void> {
    const mark = events(gw, 'reloaded').length;
    change();
    const event = await waitForEvent(gw, 'reloaded', { after: mark });
    assert.match(String(event.trigger), /^watch /);
    assert.equal(await connectStatus(gw.port, allowed), '200', `${allowed} after the reload`);
    assert.equal(await connectStatus(gw.port, refused), '403', `${refused} after the reload`);
  }

  test('an allowlist edited in place three times reloads three times', async () => {
    const { list, file } = watchedSetup('in-place');
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    try {
      assert.equal(await connectStatus(gw.port, 'b.example.test'), '403');
      for (const [allowed, refused] of [
        ['b.example.test', 'a.example.test'],
        ['a.example.test', 'b.example.test'],
        ['b.example.test', 'a.example.test'],
      ] as const) {
        await expectReload(
          gw,
          () => writeFileSync(list, `echo.example.test\n${allowed}\n`),
          allowed,
          refused,
        );
      }
      assert.equal(events(gw, 'reload_failed').length, 0);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('an allowlist replaced by rename three times reloads three times (the watch follows the name)', async () => {
    const { list, file } = watchedSetup('rename');
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    try {
      for (const [allowed, refused] of [
        ['b.example.test', 'a.example.test'],
        ['a.example.test', 'b.example.test'],
        ['b.example.test', 'a.example.test'],
      ] as const) {
        await expectReload(gw, () => replace(list, `echo.example.test\n${allowed}\n`), allowed, refused);
      }
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('the configuration file itself, edited in place and replaced by rename, reloads each time', async () => {
    const sub = mkdtempSync(join(dir, 'config-'));
    const file = join(sub, 'airlock.yaml');
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    try {
      await expectReload(
        gw,
        () => writeFileSync(file, config(['echo.example.test', 'b.example.test'])),
        'b.example.test',
        'a.example.test',
      );
      await expectReload(
        gw,
        () => replace(file, config(['echo.example.test', 'a.example.test'])),
        'a.example.test',
        'b.example.test',
      );
      await expectReload(
        gw,
        () => replace(file, config(['echo.example.test', 'b.example.test'])),
        'b.example.test',
        'a.example.test',
      );
      await expectReload(
        gw,
        () => writeFileSync(file, config(['echo.example.test', 'a.example.test'])),
        'a.example.test',
        'b.example.test',
      );
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('reload.watch: true in the configuration watches without --watch; a file missing for a moment is waited for', async () => {
    const { list, file } = watchedSetup('key', 'reload: { watch: true }\n');
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0']);
    try {
      await expectReload(
        gw,
        () => replace(list, 'echo.example.test\nb.example.test\n'),
        'b.example.test',
        'a.example.test',
      );
      // Removed, then written again a moment later (tools that unlink before they write).
      const marks = { missing: events(gw, 'watch_missing').length, reloaded: events(gw, 'reloaded').length };
      unlinkSync(list);
      await waitForEvent(gw, 'watch_missing', { after: marks.missing });
      assert.equal(events(gw, 'reloaded').length, marks.reloaded, 'no reload while the file is missing');
      await expectReload(
        gw,
        () => writeFileSync(list, 'echo.example.test\na.example.test\n'),
        'a.example.test',
        'b.example.test',
      );
      assert.equal(events(gw, 'reload_failed').length, 0, gw.stderr);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  /**
   * Calls `step` every `everyMs` until stopped, and stops by itself after `forMs` whatever the test
   * does; `running()` says whether it still goes, `count()` how many steps it took.
   */
  function repeat(
    step: () => void,
    everyMs: number,
    forMs: number,
  ): { stop: () => void; running: () => boolean; count: () => number } {
    let count = 0;
    let running = true;
    const interval = setInterval(() => {
      step();
      count++;
    }, everyMs);
    const stop = (): void => {
      running = false;
      clearInterval(interval);
      clearTimeout(limit);
    };
    const limit = setTimeout(stop, forMs);
    return { stop, running: () => running, count: () => count };
  }

  test('a configuration edit reloads while another file in its directory changes every 50 ms', async () => {
    const sub = mkdtempSync(join(dir, 'churn-'));
    const file = join(sub, 'airlock.yaml');
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    // An unrelated file (an access log under load, say) that never stays quiet for 300 ms.
    const churn = repeat(() => appendFileSync(join(sub, 'access.log'), 'x\n'), 50, 15_000);
    try {
      await waitFor('the churn to start', () => churn.count() >= 3);
      const mark = events(gw, 'reloaded').length;
      writeFileSync(file, config(['echo.example.test', 'b.example.test']));
      // About 0.3 s on a quiet machine; the margin is for a loaded one, and the churn outlasts it.
      const event = await waitForEvent(gw, 'reloaded', { after: mark, timeoutMs: 6000 });
      assert.equal(event.trigger, `watch ${file}`);
      assert.ok(churn.running(), 'the reload came while the other file was still changing');
      assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
      assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
    } finally {
      churn.stop();
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('a configuration rewritten every 100 ms (in place and by rename) reloads during the burst', async () => {
    const sub = mkdtempSync(join(dir, 'burst-'));
    const file = join(sub, 'airlock.yaml');
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    const text = config(['echo.example.test', 'b.example.test']);
    let writes = 0;
    const burst = repeat(
      () => (writes++ % 2 === 0 ? writeFileSync(file, text) : replace(file, text)),
      100,
      12_000,
    );
    try {
      const mark = events(gw, 'reloaded').length;
      // About 1 s on a quiet machine; the margin is for a loaded one, and the burst outlasts it.
      await waitForEvent(gw, 'reloaded', { after: mark, timeoutMs: 8000 });
      assert.ok(burst.running(), 'the reload came while the file was still being rewritten');
      assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
      assert.equal(await connectStatus(gw.port, 'a.example.test'), '403');
    } finally {
      burst.stop();
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('a watched file emptied (an in-place rewrite caught between truncate and write) is not applied', async () => {
    const sub = mkdtempSync(join(dir, 'empty-'));
    const file = join(sub, 'airlock.yaml');
    writeFileSync(file, config(['echo.example.test', 'a.example.test']));
    const gw = await serve(['--config', file, '--listen', '127.0.0.1:0', '--watch']);
    try {
      const mark = events(gw, 'reloaded').length;
      writeFileSync(file, '');
      const deferred = await waitForEvent(gw, 'reload_deferred', { timeoutMs: 6000 });
      assert.equal(deferred.path, file);
      assert.equal(await connectStatus(gw.port, 'a.example.test'), '200', 'the running policy changed');
      writeFileSync(file, config(['echo.example.test', 'b.example.test']));
      await waitForEvent(gw, 'reloaded', { after: mark, timeoutMs: 6000 });
      assert.equal(await connectStatus(gw.port, 'b.example.test'), '200');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('a Kubernetes ConfigMap update (the ..data symlink swapped) reloads each time', async () => {
    // The kubelet's layout: each name is a link through `..data`, itself a link to a timestamped
    // directory; an update writes a new directory and renames a new `..data` link over the old.
    const sub = mkdtempSync(join(dir, 'configmap-'));
    let version = 0;
    const publish = (allowed: string): void => {
      const old = version === 0 ? null : `..2026_01_01_00_00_0${version}.1`;
      const next = `..2026_01_01_00_00_0${++version}.1`;
      mkdirSync(join(sub, next));
      writeFileSync(join(sub, next, 'mdemdi.conf'), `echo.example.test\n${allowed}\n`);
      writeFileSync(
        join(sub, next, 'airlock.yaml'),
        config(['echo.example.test']).replace(
          / {2}destinations: .*\n/,
          `  allowlistFiles: [${JSON.stringify(join(sub, 'mdemdi.conf'))}]\n`,
        ),
      );
      symlinkSync(next, join(sub, '..data_tmp'));
      renameSync(join(sub, '..data_tmp'), join(sub, '..data'));
      if (old !== null) rmSync(join(sub, old), { recursive: true });
    };
    publish('a.example.test');
    for (const name of ['airlock.yaml', 'mdemdi.conf']) symlinkSync(join('..data', name), join(sub, name));
    const gw = await serve(['--config', join(sub, 'airlock.yaml'), '--listen', '127.0.0.1:0', '--watch']);
    try {
      assert.equal(await connectStatus(gw.port, 'a.example.test'), '200');
      await expectReload(gw, () => publish('b.example.test'), 'b.example.test', 'a.example.test');
      await expectReload(gw, () => publish('a.example.test'), 'a.example.test', 'b.example.test');
      assert.equal(events(gw, 'reload_failed').length, 0, gw.stderr);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });
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
    for (let i = 1; i <= 2; i++) {
      gw.child.kill('SIGHUP');
      await waitFor(`reload ${i}`, () => events(gw, 'reloaded').length === i);
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
        echoed: (): boolean => receivedBytes >= sentBytes || socket.destroyed,
        async finish(): Promise<{ ok: boolean; sentBytes: number; receivedBytes: number }> {
          await waitFor('the echo of every byte', () => receivedBytes >= sentBytes || socket.destroyed, {
            timeoutMs: 30_000,
          });
          socket.end();
          await closed;
          return { ok: sent.digest('hex') === received.digest('hex'), sentBytes, receivedBytes };
        },
      };
    });

    // Reloads and traffic interleave step by step: each of eight rounds is sent right after a
    // SIGHUP, crosses the reload, and is echoed in full before the next step.
    let reloads = 0;
    let rounds = 0;
    for (let i = 0; i < 20; i++) {
      const names =
        i % 2 === 0 ? ['echo.example.test', 'b.example.test'] : ['echo.example.test', 'a.example.test'];
      writeFileSync(file, config(names));
      const before = events(gw, 'reloaded').length;
      gw.child.kill('SIGHUP');
      const withTraffic = i % 5 === 0 || i % 5 === 2;
      if (withTraffic) {
        for (const r of results) r.send();
        rounds++;
      }
      await waitForEvent(gw, 'reloaded', { after: before });
      reloads++;
      if (withTraffic) {
        await waitFor(`round ${rounds} echoed`, () => results.every((r) => r.echoed()), {
          timeoutMs: 30_000,
        });
      }
    }
    assert.equal(rounds, ROUNDS);
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
