import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { run } from '../helpers/run.js';
import { CLI, echoOnce, openTunnel, serve, type Served } from '../helpers/cli.js';
import { skipHere } from '../helpers/skip.js';
import { waitFor, waitForEvent } from '../helpers/wait.js';

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'airlock-cli-')), name);
  writeFileSync(path, text);
  return path;
}

let echo: TestOrigin;
let config: string;

before(async () => {
  echo = await startTcpEcho();
  config = tempFile(
    'airlock.yaml',
    `policy:
  sources: [127.0.0.0/8]
  destinations: [echo.example.test]
  ports: { connect: [${echo.port}], http: [80] }
hosts:
  echo.example.test: 127.0.0.1
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
timeouts: { drain: 5s }
`,
  );
});

after(async () => {
  await echo.close();
});

describe('airlock serve: lifecycle', () => {
  test('SIGTERM stops accepting, lets an open tunnel drain, and exits 0 when it closes', async () => {
    // One process (workers.test.ts stops a fleet).
    const gw = await serve(['--config', config, '--listen', '127.0.0.1:0', '--workers', '1']);
    const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
    assert.equal(await echoOnce(tunnel, 'before'), 'before');
    gw.child.kill('SIGTERM');
    await waitForEvent(gw, 'shutdown');
    // New connections are refused once the listener is closed...
    await waitFor(
      'the listener to refuse connections',
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(gw.port, '127.0.0.1', () => {
            s.destroy();
            resolve(false);
          });
          s.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
        }),
    );
    // ...while the open tunnel still carries bytes.
    assert.equal(await echoOnce(tunnel, 'during drain'), 'during drain');
    const closedAt = Date.now();
    tunnel.end();
    const code = await gw.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - closedAt < 3000, 'exited soon after the last tunnel closed');
    assert.match(gw.stderr, /"event":"stopped","drained":true/);
    const access = JSON.parse(gw.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(access.method, 'CONNECT');
    assert.equal(access.end, 'CLOSED');
    // The access log is stdout, a pipe here: fsync(2) cannot sync a pipe, and every line was
    // written, so the stop must not report lines lost.
    assert.doesNotMatch(gw.stderr, /access_log_unflushed/);
  });

  test('a tunnel still open at the drain deadline is cut, and the exit is still 0', async () => {
    const short = tempFile('short.yaml', readFileSync(config, 'utf8').replace('drain: 5s', 'drain: 500ms'));
    const gw = await serve([
      '--config',
      short,
      '--listen',
      '127.0.0.1:0',
      '--allowlist',
      tempFile('list.conf', 'echo.example.test\n'),
    ]);
    const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
    tunnel.on('error', () => undefined);
    const started = Date.now();
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 450 && elapsed < 4000, `exited after ${elapsed} ms`);
    assert.match(gw.stdout, /"end":"DRAIN_DEADLINE"/);
    assert.match(gw.stdout, /"rule_origin":"[^"]*list\.conf:1"/);
  });

  test('SIGUSR1 reopens the access log file (logrotate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-log-'));
    const logFile = join(dir, 'access.log');
    const withLog = tempFile(
      'log.yaml',
      `${readFileSync(config, 'utf8')}log: { file: ${JSON.stringify(logFile)}, format: squid }\n`,
    );
    const gw = await serve(['--config', withLog, '--listen', '127.0.0.1:0']);
    const lines = (path: string): number =>
      existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
    const first = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
    first.end();
    await waitFor('the first access-log line', () => lines(logFile) === 1);
    renameSync(logFile, `${logFile}.1`);
    gw.child.kill('SIGUSR1');
    await waitForEvent(gw, 'log_reopened');
    const second = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
    second.end();
    await waitFor('the second access-log line, in the new file', () => lines(logFile) === 1);
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0);
    assert.match(
      readFileSync(`${logFile}.1`, 'utf8'),
      / TCP_TUNNEL\/200 \d+ CONNECT echo\.example\.test:\d+ ALLOWED HIER_DIRECT\/127\.0\.0\.1 -\n$/,
    );
    assert.equal(readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length, 1);
  });
});

describe('airlock serve: operator errors are one clear line and a non-zero exit', () => {
  test('invalid configuration: exit 2, the path, value and line, no stack', async () => {
    const bad = tempFile('airlock.yaml', 'policy:\n  sources:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n');
    const r = await run(process.execPath, [CLI, 'serve', '--config', bad]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `airlock: invalid configuration: policy.sources[1]: "10.0.0.0/33" is not a CIDR (${bad}:4)\n`,
    );
  });

  test('unreadable configuration file: exit 2', async () => {
    const r = await run(process.execPath, [CLI, 'serve', '--config', '/nonexistent/airlock.yaml']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'airlock: cannot read configuration file /nonexistent/airlock.yaml: no such file\n',
    );
  });

  test('a bad allowlist entry names the file and line', async () => {
    const list = tempFile('mdemdi.conf', '.microsoft.com\nbad*name.example\n');
    const r = await run(process.execPath, [CLI, 'serve', '--allowlist', list]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`^airlock: invalid configuration: ${list}:2: "bad\\*name\\.example": a wildcard`),
    );
  });

  test('port in use: exit 1 naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await run(process.execPath, [
        CLI,
        'serve',
        '--config',
        config,
        '--listen',
        `127.0.0.1:${port}`,
      ]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`airlock: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use\\n$`),
      );
    } finally {
      blocker.close();
    }
  });

  test('a bad --listen value: exit 2', async () => {
    const r = await run(process.execPath, [CLI, 'serve', '--listen', 'localhost']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--listen: "localhost" is not HOST:PORT/);
  });

  test('an unknown command: exit 2 with help', async () => {
    const r = await run(process.execPath, [CLI, 'serv']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'serv'/);
  });
});

describe('the README quick start', () => {
  test('`airlock serve` with no arguments listens on 0.0.0.0:3128 with the built-in policy and refuses what it must', async (t) => {
    let gw: Served;
    try {
      gw = await serve([]);
    } catch (error) {
      if (/address already in use/.test(String(error)))
        return skipHere(t, 'port 3128 is taken by another program on this machine');
      throw error;
    }
    try {
      assert.equal(gw.port, 3128);
      assert.match(gw.stderr, /with \d{2,} destination rules/);
      // Only refusals: an allowed host would send traffic off this machine.
      const reply = await new Promise<string>((resolve) => {
        const s = connect(3128, '127.0.0.1');
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.on('close', () => resolve(text));
        s.write('CONNECT evil.example.net:443 HTTP/1.1\r\n\r\n');
      });
      assert.match(reply, /^HTTP\/1\.1 403 [\s\S]*DENY_HOST_NOT_ALLOWED/);
      const port = await new Promise<string>((resolve) => {
        const s = connect(3128, '127.0.0.1');
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.on('close', () => resolve(text));
        s.write('CONNECT winatp-gw-eus.microsoft.com:22 HTTP/1.1\r\n\r\n');
      });
      assert.match(port, /^HTTP\/1\.1 403 [\s\S]*DENY_PORT/);
    } finally {
      gw.child.kill('SIGTERM');
      assert.equal(await gw.exited, 0);
    }
  });
});
