import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from '../../src/supervisor/index.js';
import { echoOnce, openTunnel, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { events, waitFor, waitForEvent } from '../helpers/wait.js';

let echo: TestOrigin;
let gw: Served;
let file: string;
let adminPort: number;

let engine = '';

function config(names: string[]): string {
  return `workers: 3
${engine}
policy:
  sources: [127.0.0.0/8]
  destinations: [${names.join(', ')}]
  ports: { connect: [${echo.port}], http: [80] }
hosts: { echo.example.test: 127.0.0.1, other.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
admin: { listen: "127.0.0.1:0" }
timeouts: { drain: 5s }
limits: { newConnectionsPerClientPerSecond: 10000 }
`;
}

async function admin(path: string, timeoutMs = 2000): Promise<string> {
  const reply = await rawExchange(
    adminPort,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    timeoutMs,
  );
  return reply.slice(reply.indexOf('\r\n\r\n') + 4);
}

function workerPids(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(gw.child.pid)]).toString();
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

async function status(host: string): Promise<string> {
  const reply = await rawExchange(gw.port, `CONNECT ${host}:${echo.port} HTTP/1.1\r\n\r\n`, 200);
  return reply.slice(9, 12);
}

const ENGINES = [
  {
    name: 'SO_REUSEPORT listeners and the native relay',
    yaml: 'engine: { listen: reuseport, tunnels: native }',
  },
  { name: 'supervisor hand-off and JavaScript tunnels', yaml: 'engine: { listen: handoff, tunnels: js }' },
];

for (const variant of ENGINES) {
  describe(variant.name, () => {
    before(async () => {
      engine = variant.yaml;
      echo = await startTcpEcho();
      file = join(mkdtempSync(join(tmpdir(), 'airlock-workers-')), 'airlock.yaml');
      writeFileSync(file, config(['echo.example.test']));
      // Three workers each load the configuration: seconds on a busy machine.
      gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], 60_000);
      adminPort = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
    });

    after(async () => {
      // A gateway that never started must not keep the echo server (and this file) running.
      await echo?.close();
      if (gw !== undefined && gw.child.exitCode === null) gw.child.kill('SIGKILL');
    });

    test('three worker processes share the listener; the admin listener reports the whole gateway', async () => {
      assert.match(gw.stderr, /"workers":3/);
      assert.equal(workerPids().length, 3);
      for (let i = 0; i < 9; i++) assert.equal(await status('echo.example.test'), '200');
      // Nine tunnels, whichever worker served each, counted once in the aggregate; each is counted
      // when its session is over, which may be just after the client saw the echo.
      await waitFor('the nine tunnels counted in the aggregate', async () =>
        /airlock_requests_total\{kind="connect",decision="allow",reason="ALLOWED"\} 9\n/.test(
          await admin('/metrics'),
        ),
      );
      const state = JSON.parse(await admin('/api/status')) as { workers: number };
      assert.equal(state.workers, 3);
      // The supervisor was started without the gateway's Node.js flags; its workers have them.
      for (const pid of workerPids()) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        for (const flag of GATEWAY_NODE_FLAGS)
          assert.ok(argv.includes(flag), `worker ${pid} runs ${argv.join(' ')}`);
        // And the gateway's environment, where the supervisor's has no value of its own.
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        for (const [name, value] of Object.entries(GATEWAY_ENV))
          assert.ok(environ.includes(`${name}=${process.env[name] ?? value}`), `worker ${pid}: ${name}`);
      }
    });

    test('workers that do not answer count in /metrics with their last figures, marked stale', async () => {
      const allowed = /^airlock_requests_total\{kind="connect",decision="allow",reason="ALLOWED"\} (\d+)$/m;
      const stale = /^airlock_workers_metrics_stale (\d+)$/m;
      const before = await admin('/metrics');
      assert.equal(stale.exec(before)?.[1], '0');
      const counted = allowed.exec(before)?.[1];
      assert.ok(counted !== undefined && Number(counted) > 0, 'tunnels counted before');
      const pids = workerPids();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        // Each worker is asked and given 2 s: the scrape takes that long, and answers.
        const during = await admin('/metrics', 10_000);
        assert.equal(allowed.exec(during)?.[1], counted, 'the counter did not fall');
        assert.equal(stale.exec(during)?.[1], String(pids.length));
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      await waitFor('fresh figures again', async () => stale.exec(await admin('/metrics'))?.[1] === '0');
    });

    test('a burst of 400 connections at once: every one is handed over and served', async () => {
      // With hand-off the supervisor queues the burst and passes one socket per worker at a
      // time: a worker that never says it took one, or a queue that stops moving, leaves
      // clients waiting here until the deadline.
      const opened: Socket[] = [];
      const burst = Promise.all(
        Array.from({ length: 400 }, () =>
          openTunnel(gw.port, `echo.example.test:${echo.port}`).then((t) => {
            opened.push(t);
            return t;
          }),
        ),
      );
      let timer: NodeJS.Timeout | undefined;
      try {
        const tunnels = await Promise.race([
          burst,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('the burst was not served within 30 s')), 30_000);
          }),
        ]);
        const answers = await Promise.all(tunnels.map((t, i) => echoOnce(t, `burst ${i}`)));
        assert.deepEqual(
          answers,
          tunnels.map((_, i) => `burst ${i}`),
        );
      } finally {
        clearTimeout(timer);
        for (const t of opened) t.destroy();
      }
    });

    test('a reload reaches every worker', async () => {
      assert.equal(await status('other.example.test'), '403');
      writeFileSync(file, config(['echo.example.test', 'other.example.test']));
      gw.child.kill('SIGHUP');
      await waitForEvent(gw, 'reloaded');
      // Each worker loads the new configuration itself: the rules gauge, the smallest of the
      // three workers' (never their sum), says when every one of them has it.
      await waitFor('every worker on the new policy', async () =>
        /^airlock_policy_rules 2$/m.test(await admin('/metrics')),
      );
      // Round-robin over three workers: twelve new connections reach each several times.
      for (let i = 0; i < 12; i++) assert.equal(await status('other.example.test'), '200', `connection ${i}`);
    });

    test('a crashed worker is replaced and the gateway keeps serving', async () => {
      const [victim] = workerPids();
      process.kill(victim!, 'SIGKILL');
      await waitForEvent(gw, 'worker_replaced', { timeoutMs: 8000 });
      assert.match(gw.stderr, new RegExp(`"event":"worker_exited","pid":${victim}`));
      assert.match(gw.stderr, /"event":"worker_replaced"/);
      assert.equal(workerPids().length, 3);
      for (let i = 0; i < 6; i++) assert.equal(await status('echo.example.test'), '200');
    });

    test('a second gateway on the same port fails with "address already in use", not a silent share', async () => {
      await assert.rejects(
        serve(['--config', file, '--listen', `127.0.0.1:${gw.port}`]),
        /cannot listen on 127\.0\.0\.1:\d+: address already in use/,
      );
      assert.equal(await status('echo.example.test'), '200');
    });

    test('SIGTERM drains tunnels in every worker, then everything exits 0', async () => {
      const tunnels = await Promise.all(
        [0, 1, 2, 3].map(() => openTunnel(gw.port, `echo.example.test:${echo.port}`)),
      );
      gw.child.kill('SIGTERM');
      await waitForEvent(gw, 'shutdown');
      for (const [i, t] of tunnels.entries()) assert.equal(await echoOnce(t, `still ${i}`), `still ${i}`);
      for (const t of tunnels) t.end();
      assert.equal(await gw.exited, 0);
      // Each worker reports how its drain ended; the one line sums them.
      assert.match(gw.stderr, /"event":"stopped","workers":3,"drained":true,"cut":0,"unreported":0,/);
      assert.match(gw.stderr, /all 3 workers stopped: all sessions drained/);
      assert.doesNotMatch(gw.stderr, /access_log_unflushed/);
      assert.equal(gw.stdout.split('\n').filter((l) => l.includes('"end":"CLOSED"')).length >= 4, true);
    });
  });
}

describe('two workers and SIGUSR1', () => {
  test('every worker reopens the access log: after a rename, every new line goes to the new file', async () => {
    const echoServer = await startTcpEcho();
    const dir = mkdtempSync(join(tmpdir(), 'airlock-workers-log-'));
    const logFile = join(dir, 'access.log');
    const yaml = join(dir, 'airlock.yaml');
    // Hand-off: the supervisor deals connections out in turn, so both workers serve some.
    writeFileSync(
      yaml,
      `workers: 2
engine: { listen: handoff }
policy:
  sources: [127.0.0.0/8]
  destinations: [echo.example.test]
  ports: { connect: [${echoServer.port}], http: [80] }
hosts: { echo.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
log: { file: ${JSON.stringify(logFile)}, format: squid }
timeouts: { drain: 5s }
`,
    );
    const two = await serve(['--config', yaml, '--listen', '127.0.0.1:0']);
    const lines = (path: string): number =>
      existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
    const tunnels = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const t = await openTunnel(two.port, `echo.example.test:${echoServer.port}`);
        assert.equal(await echoOnce(t, `ping ${i}`), `ping ${i}`);
        t.end();
        await new Promise((resolve) => t.on('close', resolve));
      }
    };
    try {
      await tunnels(6);
      await waitFor('six lines in the access log', () => lines(logFile) === 6, {
        context: () => readFileSync(logFile, 'utf8'),
      });
      renameSync(logFile, `${logFile}.1`);
      const mark = events(two, 'log_reopened').length;
      two.child.kill('SIGUSR1');
      await waitForEvent(two, 'log_reopened', { after: mark });
      await tunnels(6);
      await waitFor('six lines in the reopened access log', () => lines(logFile) === 6, {
        context: () => `new file: ${lines(logFile)} lines, rotated file: ${lines(`${logFile}.1`)} lines`,
      });
      assert.equal(lines(`${logFile}.1`), 6, 'nothing more in the rotated file');
    } finally {
      two.child.kill('SIGTERM');
      await two.exited;
      await echoServer.close();
    }
    assert.equal(lines(`${logFile}.1`), 6, 'the rotated file holds only the lines before the reopen');
    assert.equal(lines(logFile), 6);
  });
});
