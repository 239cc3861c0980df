/**
 * Workers killed with SIGKILL (`airlock serve` with `workers: 2`, from the command line). What
 * must hold:
 *
 * - the supervisor notices (`worker_exited`, with the signal and the back-off) and a replacement
 *   is ready (`worker_replaced`) within the back-off plus a bound, then serves a connection;
 * - only connections the killed worker held may fail: every tunnel of the other worker keeps
 *   echoing byte for byte, and every connection started after the supervisor saw the exit is
 *   served; the listening port is never lost (no connection is refused);
 * - killed again and again, the worker is replaced each time, after the documented back-off
 *   (100 ms, doubling with every crash, at most 10 s), and the supervisor keeps no descriptor of
 *   the dead ones;
 * - a replacement runs the configuration in force, not whatever the file on disk says now: an
 *   edit not yet reloaded does not reach it, and a file a reload refused does not keep it from
 *   starting.
 *
 * The kill under load runs for both ways of sharing the listener: SO_REUSEPORT with the native
 * relay, and the supervisor's hand-off with JavaScript tunnels.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadNative } from '../../src/gateway/index.js';
import { echoOnce, openTunnel, serve, stopServed, type Served } from '../helpers/cli.js';
import {
  adminGet,
  adminPortOf,
  childPids,
  descriptors,
  jsonLines,
  localOrigins,
  metricValue,
  ownersOf,
  sleep,
} from '../helpers/faults.js';
import { startOrigin, startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { Traffic, type Failure } from '../helpers/traffic.js';
import { events, waitFor, waitForEvent, type LogEvent } from '../helpers/wait.js';

/**
 * From the kill to a replacement that serves, beyond the back-off: a Node.js process starting
 * and loading the configuration, on a two-core machine other jobs share (measured: 0.3-1.5 s).
 */
const STARTUP_BOUND_MS = 6000;

/** The documented back-off before the n-th restart in a row (n from 1). */
const backoff = (n: number): number => Math.min(10_000, 100 * 2 ** (n - 1));

interface Fleet {
  gw: Served;
  admin: number;
  dir: string;
  file: string;
  logFile: string;
  echo: TestOrigin;
  web: TestOrigin;
}

function yaml(f: Pick<Fleet, 'echo' | 'web' | 'logFile'>, engine: string, allow: string[] = []): string {
  return `workers: 2
${engine}
${localOrigins({ echoPort: f.echo.port, webPort: f.web.port, allow, names: ['other.example.test'] })}log: { file: ${JSON.stringify(f.logFile)}, format: json }
admin: { listen: "127.0.0.1:0" }
limits: { newConnectionsPerClientPerSecond: 10000 }
timeouts: { drain: 1s }
`;
}

async function startFleet(engine: string): Promise<Fleet> {
  const echo = await startTcpEcho();
  const web = await startOrigin();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-kill-'));
  const logFile = join(dir, 'access.log');
  const file = join(dir, 'airlock.yaml');
  writeFileSync(file, yaml({ echo, web, logFile }, engine));
  const gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], 30_000);
  return { gw, admin: adminPortOf(gw.stderr), dir, file, logFile, echo, web };
}

async function stopFleet(f: Fleet | undefined): Promise<void> {
  if (f === undefined) return;
  await stopServed(f.gw, 8000);
  await f.echo.close();
  await f.web.close();
}

/** The time of a log event (ms since the epoch). */
const timeOf = (e: LogEvent): number => Date.parse(String(e.time));

/**
 * Opens tunnels (each bounded to 3 s) until one is held by `pid` and echoes: when that was, and
 * how many tunnels it took (others land on the other worker, or fail).
 */
async function servedBy(
  f: Fleet,
  pid: number,
  target: string,
  timeoutMs: number,
): Promise<{ at: number; tries: number; failed: number }> {
  let tries = 0;
  let failed = 0;
  const seen: number[] = [];
  return waitFor(
    `a tunnel held by worker ${pid}`,
    async () => {
      tries++;
      const socket = await Promise.race([
        openTunnel(f.gw.port, target),
        sleep(3000).then(() => Promise.reject(new Error('no 200 within 3 s'))),
      ]).catch(() => null);
      if (socket === null) {
        failed++;
        return false;
      }
      try {
        const port = socket.localPort!;
        const owner = ownersOf(f.gw.port, [port], [pid, ...childPids(f.gw.child.pid!), f.gw.child.pid!]).get(
          port,
        );
        seen.push(owner ?? 0);
        if (owner !== pid) return false;
        const echoed = await Promise.race([echoOnce(socket, 'new'), sleep(3000).then(() => null)]);
        return echoed === 'new' ? { at: Date.now(), tries, failed } : false;
      } finally {
        socket.destroy();
      }
    },
    {
      timeoutMs,
      intervalMs: 10,
      context: () => `${tries} tunnels tried, ${failed} failed, held by ${seen.join(' ')}`,
    },
  );
}

const describeFailures = (list: readonly Failure[], killedAt: number): string =>
  list.map((x) => `${x.kind}:${x.port} ${x.code} started ${x.startedAt - killedAt} ms`).join('; ');

const VARIANTS = [
  {
    name: 'SO_REUSEPORT listeners, native relay',
    engine: 'engine: { listen: reuseport, tunnels: native }',
    skip: loadNative().addon === null ? 'the native addon is not built' : false,
  },
  {
    name: 'supervisor hand-off, JavaScript tunnels',
    engine: 'engine: { listen: handoff, tunnels: js }',
    skip: false,
  },
];

for (const variant of VARIANTS) {
  describe(`a worker killed under load (${variant.name})`, { skip: variant.skip, timeout: 50_000 }, () => {
    let f: Fleet | undefined;
    before(async () => {
      f = await startFleet(variant.engine);
    });
    after(() => stopFleet(f));

    test(
      'only its connections fail, the port is never lost, a replacement serves',
      { timeout: 40_000 },
      async (t) => {
        const fleet = f!;
        const supervisor = fleet.gw.child.pid!;
        const workers = childPids(supervisor);
        assert.equal(workers.length, 2, 'two workers');
        const supervisorFds = descriptors(supervisor).total;
        const tunnelTarget = `echo.example.test:${fleet.echo.port}`;
        const traffic = new Traffic({
          gatewayPort: fleet.gw.port,
          tunnelTarget,
          httpTarget: `web.example.test:${fleet.web.port}`,
          deniedHost: 'denied.example.test',
          longTunnels: 16,
          tunnelClients: 3,
          httpClients: 3,
          deniedClients: 1,
          probers: 1,
          maxMs: 25_000,
          pauseMs: 10,
        });
        let killedAt = 0;
        try {
          await traffic.start();
          // Both workers hold long tunnels (the kernel's hash or the round-robin spreads them).
          const longOwners = ownersOf(
            fleet.gw.port,
            traffic.tunnels.map((x) => x.port),
            workers,
          );
          assert.equal(longOwners.size, traffic.tunnels.length, 'every long tunnel is held by a worker');
          const victim = workers.find((w) => [...longOwners.values()].includes(w))!;
          const survivor = workers.find((w) => w !== victim)!;
          const theirs = traffic.tunnels.filter((x) => longOwners.get(x.port) === victim);
          const ours = traffic.tunnels.filter((x) => longOwners.get(x.port) === survivor);
          assert.ok(
            ours.length > 0,
            `the surviving worker holds long tunnels too (${theirs.length}/${ours.length})`,
          );
          await waitFor(
            'traffic of every kind',
            () => traffic.done.tunnel >= 10 && traffic.done.http >= 10 && traffic.done.denied >= 3,
            { timeoutMs: 10_000, context: () => JSON.stringify(traffic.done) },
          );

          // Who holds every open connection at the moment of the kill.
          const held = ownersOf(
            fleet.gw.port,
            traffic.open().map((c) => c.port),
            [victim, survivor, supervisor],
          );
          const exitedMark = events(fleet.gw, 'worker_exited').length;
          const replacedMark = events(fleet.gw, 'worker_replaced').length;
          const roundsAtKill = new Map(ours.map((x) => [x, x.rounds]));
          killedAt = Date.now();
          process.kill(victim, 'SIGKILL');

          const exited = await waitForEvent(fleet.gw, 'worker_exited', {
            after: exitedMark,
            timeoutMs: 5000,
          });
          assert.equal(exited.pid, victim);
          assert.equal(exited.signal, 'SIGKILL');
          assert.equal(exited.restartInMs, backoff(1));
          const replaced = await waitForEvent(fleet.gw, 'worker_replaced', {
            after: replacedMark,
            timeoutMs: backoff(1) + STARTUP_BOUND_MS,
          });
          const replacement = Number(replaced.pid);
          const readyMs = timeOf(replaced) - killedAt;
          const served = await servedBy(fleet, replacement, tunnelTarget, 10_000);
          t.diagnostic(
            `exit seen ${timeOf(exited) - killedAt} ms after the kill; replacement ${replacement} ready after ${readyMs} ms, held a served tunnel after ${served.at - killedAt} ms (tunnel ${served.tries} tried, ${served.failed} failed)`,
          );
          assert.ok(
            readyMs <= backoff(1) + STARTUP_BOUND_MS,
            `the replacement was ready ${readyMs} ms after the kill`,
          );
          // More traffic with the replacement in the rotation.
          await traffic.more(30, 'traffic after the replacement');
          await traffic.stop();

          // The port was never lost: no connection was refused.
          const refused = traffic.failures.filter((x) => x.code === 'ECONNREFUSED');
          assert.equal(refused.length, 0, `refused connections: ${describeFailures(refused, killedAt)}`);
          // Long tunnels: exactly the victim's broke; the survivor's kept echoing after the kill.
          assert.deepEqual(
            traffic.tunnels
              .filter((x) => x.failure !== null)
              .map((x) => x.port)
              .sort(),
            theirs.map((x) => x.port).sort(),
            "the long tunnels that broke are the killed worker's",
          );
          for (const x of ours)
            assert.ok(x.rounds > roundsAtKill.get(x)!, `tunnel ${x.port} echoed after the kill`);
          // Short connections: a failure must be one the killed worker held (or was being handed),
          // started before the supervisor saw it die; never one the survivor held.
          const failed = traffic.failures.filter((x) => x.kind !== 'long');
          const survivors = failed.filter((x) => held.get(x.port) === survivor);
          assert.equal(
            survivors.length,
            0,
            `the survivor's connections failed: ${describeFailures(survivors, killedAt)}`,
          );
          // Told at once (a reset or a close), not left waiting for an answer that never comes.
          const hung = failed.filter((x) => x.code === 'TIMEOUT');
          assert.equal(hung.length, 0, `connections left hanging: ${describeFailures(hung, killedAt)}`);
          const late = failed.filter((x) => x.startedAt > timeOf(exited) || x.at < killedAt);
          assert.equal(
            late.length,
            0,
            `failures not explained by the kill: ${describeFailures(late, killedAt)}`,
          );
          t.diagnostic(
            `long tunnels ${theirs.length} on the victim (all broke), ${ours.length} on the survivor (none broke); ` +
              `done ${JSON.stringify(traffic.done)}; ${failed.length} short connections failed around the kill` +
              (failed.length > 0 ? `: ${describeFailures(failed, killedAt)}` : ''),
          );

          // The whole gateway: two workers up, the replacement among them, no internal error.
          const status = JSON.parse(await adminGet(fleet.admin, '/api/status')) as {
            workers: number;
            processes: { up: boolean; pid: number }[];
          };
          assert.equal(status.workers, 2);
          assert.deepEqual(status.processes.map((p) => p.pid).sort(), [survivor, replacement].sort());
          assert.equal(
            metricValue(await adminGet(fleet.admin, '/metrics'), 'airlock_internal_errors_total'),
            0,
          );
          // The supervisor holds what it held before (the dead worker's pipes are closed).
          await waitFor(
            'the supervisor back at its descriptors',
            () => descriptors(supervisor).total === supervisorFds,
            {
              context: () => `had ${supervisorFds}, has ${descriptors(supervisor).total}`,
            },
          );
          // The access log: no torn line; every long tunnel of the survivor has its final line.
          await waitFor(
            "the survivor's tunnels in the access log",
            () => {
              const closed = new Set(
                jsonLines(fleet.logFile, false)
                  .filter((l) => l.event === 'close' && l.method === 'CONNECT')
                  .map((l) => l.client_port),
              );
              return ours.every((x) => closed.has(x.port));
            },
            { timeoutMs: 5000 },
          );
        } finally {
          await traffic.stop();
        }
      },
    );
  });
}

describe('a worker killed again and again', { timeout: 50_000 }, () => {
  let f: Fleet | undefined;
  before(async () => {
    f = await startFleet('engine: { listen: handoff, tunnels: js }');
  });
  after(() => stopFleet(f));

  test(
    'it is replaced every time, after the documented back-off, and nothing leaks',
    { timeout: 40_000 },
    async (t) => {
      const fleet = f!;
      const supervisor = fleet.gw.child.pid!;
      const tunnelTarget = `echo.example.test:${fleet.echo.port}`;
      const supervisorFds = descriptors(supervisor).total;
      const traffic = new Traffic({
        gatewayPort: fleet.gw.port,
        tunnelTarget,
        httpTarget: `web.example.test:${fleet.web.port}`,
        longTunnels: 6,
        tunnelClients: 2,
        httpClients: 2,
        probers: 1,
        maxMs: 30_000,
        pauseMs: 10,
      });
      const kills: { at: number; exitSeen: number }[] = [];
      try {
        await traffic.start();
        const workers = childPids(supervisor);
        // The worker holding long tunnels stays; the other one is killed four times over.
        const owners = ownersOf(
          fleet.gw.port,
          traffic.tunnels.map((x) => x.port),
          workers,
        );
        const keeper = workers.find((w) => [...owners.values()].includes(w))!;
        const kept = traffic.tunnels.filter((x) => owners.get(x.port) === keeper);
        let victim = workers.find((w) => w !== keeper)!;
        const victimTunnels = traffic.tunnels.filter((x) => owners.get(x.port) === victim);
        const timings: string[] = [];
        for (let n = 1; n <= 4; n++) {
          const exitedMark = events(fleet.gw, 'worker_exited').length;
          const replacedMark = events(fleet.gw, 'worker_replaced').length;
          const at = Date.now();
          process.kill(victim, 'SIGKILL');
          const exited = await waitForEvent(fleet.gw, 'worker_exited', {
            after: exitedMark,
            timeoutMs: 5000,
          });
          assert.equal(exited.pid, victim);
          assert.equal(exited.restartInMs, backoff(n), `the back-off before restart ${n}`);
          kills.push({ at, exitSeen: timeOf(exited) });
          const replaced = await waitForEvent(fleet.gw, 'worker_replaced', {
            after: replacedMark,
            timeoutMs: backoff(n) + STARTUP_BOUND_MS,
          });
          // Not sooner than the back-off: the replacement was started after it.
          assert.ok(
            timeOf(replaced) - timeOf(exited) >= backoff(n),
            `replacement ${n} ready ${timeOf(replaced) - timeOf(exited)} ms after the exit, back-off ${backoff(n)} ms`,
          );
          const next = Number(replaced.pid);
          const readyMs = timeOf(replaced) - at;
          const served = await servedBy(fleet, next, tunnelTarget, 10_000);
          timings.push(
            `#${n}: back-off ${backoff(n)} ms, ready after ${readyMs} ms, served after ${served.at - at} ms (tunnel ${served.tries})`,
          );
          assert.ok(readyMs <= backoff(n) + STARTUP_BOUND_MS, timings.at(-1));
          victim = next;
        }
        t.diagnostic(timings.join('; '));
        await traffic.stop();

        assert.equal(childPids(supervisor).length, 2, 'two workers');
        for (const x of kept) assert.equal(x.failure, null, `tunnel ${x.port} on the worker never killed`);
        for (const x of victimTunnels)
          assert.notEqual(x.failure, null, `tunnel ${x.port} on the killed worker`);
        // Every other failure happened around one of the kills, and ended the connection (no hang).
        const unexplained = traffic.failures.filter(
          (x) =>
            x.kind !== 'long' &&
            (x.code === 'TIMEOUT' || !kills.some((k) => x.at >= k.at && x.startedAt <= k.exitSeen)),
        );
        assert.deepEqual(unexplained, [], 'failures not explained by a kill');
        assert.equal(
          traffic.failures.filter((x) => x.code === 'ECONNREFUSED').length,
          0,
          'no connection refused',
        );
        t.diagnostic(
          `done ${JSON.stringify(traffic.done)}; ${traffic.failures.length} failures around the kills`,
        );
        await waitFor(
          'the supervisor back at its descriptors',
          () => descriptors(supervisor).total === supervisorFds,
          {
            context: () => `had ${supervisorFds}, has ${descriptors(supervisor).total}`,
          },
        );
      } finally {
        await traffic.stop();
      }
    },
  );
});

describe('a replacement runs the configuration in force', { timeout: 50_000 }, () => {
  let f: Fleet | undefined;
  const engine = 'engine: { listen: handoff, tunnels: js }';
  before(async () => {
    f = await startFleet(engine);
  });
  after(() => stopFleet(f));

  /** The status of CONNECT other.example.test from `n` connections: hand-off deals them to both workers in turn. */
  async function other(fleet: Fleet, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await rawExchange(
        fleet.gw.port,
        `CONNECT other.example.test:${fleet.echo.port} HTTP/1.1\r\nHost: other.example.test\r\n\r\n`,
        300,
      );
      out.push(reply.slice(9, 12));
    }
    return out;
  }

  async function killOne(fleet: Fleet): Promise<number> {
    const [victim] = childPids(fleet.gw.child.pid!);
    const exitedMark = events(fleet.gw, 'worker_exited').length;
    const replacedMark = events(fleet.gw, 'worker_replaced').length;
    process.kill(victim!, 'SIGKILL');
    const exited = await waitForEvent(fleet.gw, 'worker_exited', { after: exitedMark, timeoutMs: 5000 });
    const replaced = await waitForEvent(fleet.gw, 'worker_replaced', {
      after: replacedMark,
      timeoutMs: Number(exited.restartInMs) + STARTUP_BOUND_MS,
    });
    return Number(replaced.pid);
  }

  test(
    'an edit on disk that was not reloaded does not reach the replacement',
    { timeout: 30_000 },
    async () => {
      const fleet = f!;
      assert.deepEqual(await other(fleet, 4), ['403', '403', '403', '403']);
      writeFileSync(fleet.file, yaml(fleet, engine, ['other.example.test']));
      await killOne(fleet);
      // Both workers still run the policy in force: other.example.test is refused by each.
      assert.deepEqual(await other(fleet, 6), ['403', '403', '403', '403', '403', '403']);
      // Reloaded, it applies everywhere.
      const mark = events(fleet.gw, 'reloaded').length;
      fleet.gw.child.kill('SIGHUP');
      await waitForEvent(fleet.gw, 'reloaded', { after: mark });
      assert.deepEqual(await other(fleet, 4), ['200', '200', '200', '200']);
    },
  );

  test(
    'a file a reload refused does not keep the replacement from starting',
    { timeout: 30_000 },
    async () => {
      const fleet = f!;
      writeFileSync(
        fleet.file,
        yaml(fleet, engine).replace('sources: [127.0.0.0/8]', 'sources: [127.0.0.0/33]'),
      );
      const mark = events(fleet.gw, 'reload_failed').length;
      fleet.gw.child.kill('SIGHUP');
      const refused = await waitForEvent(fleet.gw, 'reload_failed', { after: mark });
      assert.match(String(refused.msg), /policy\.sources/);
      const replacement = await killOne(fleet);
      assert.equal(childPids(fleet.gw.child.pid!).length, 2);
      // The policy in force (other.example.test allowed, from the last reload that took) in both.
      assert.deepEqual(await other(fleet, 4), ['200', '200', '200', '200']);
      const status = JSON.parse(await adminGet(fleet.admin, '/api/status')) as {
        processes: { up: boolean; pid: number }[];
      };
      assert.ok(status.processes.some((p) => p.up && p.pid === replacement));
    },
  );
});
