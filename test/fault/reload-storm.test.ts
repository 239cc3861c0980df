/**
 * A reload storm: 50 reloads within about three seconds, by SIGHUP and by POST /api/reload,
 * alternating a valid configuration and one with an error in one of three fields (written 0-19 ms
 * after the valid one, often while its reload is still being applied), while
 * tunnels and plain-HTTP requests run through two workers. What must hold:
 *
 * - no connection is dropped, and no request the policies all allow is refused;
 * - a refused configuration never takes effect: every result is either applied by every worker
 *   or refused naming the field at fault (never "not every worker applied it");
 * - afterwards the supervisor and every worker run the same policy, and the last valid
 *   configuration is the one in force;
 * - descriptors and memory of the supervisor and the workers do not grow (bounds below).
 *
 * The workers take what the supervisor validated, not the file as they find it: a file
 * rewritten between the supervisor's read and a worker's would otherwise leave a worker on
 * another policy than the one reported in force.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serve, stopServed, type Served } from '../helpers/cli.js';
import {
  adminGet,
  adminPortOf,
  childPids,
  descriptors,
  established,
  metricValue,
  rssKiB,
  sleep,
} from '../helpers/faults.js';
import { startOrigin, startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { Traffic } from '../helpers/traffic.js';
import { events, waitFor, waitForEvent } from '../helpers/wait.js';

const RELOADS = 50;
/** After each refused configuration of the storm: 50 reloads in about three seconds. */
const PACE_MS = 110;
/** What a process may hold in RSS after the storm beyond what it held before (V8 keeps some heap). */
const RSS_SLACK_KIB = 24 * 1024;

/** The three errors the refused configurations carry in turn, and the field each result must name. */
const BREAKS = [
  { from: 'sources: [127.0.0.0/8]', to: 'sources: [127.0.0.0/33]', field: 'policy.sources[0]' },
  { from: 'connect: [ECHO]', to: 'connect: [99999]', field: 'policy.ports.connect[0]' },
  { from: 'upstreamKeepAlive: 1s', to: 'upstreamKeepAlive: banana', field: 'timeouts.upstreamKeepAlive' },
];

/**
 * Writes the file as configuration management does: elsewhere, then renamed over it. (Written
 * in place, a reload can read it half written: an empty file is a valid configuration.)
 */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

interface ReloadResult {
  seq: number;
  trigger: string;
  ok: boolean;
  error: string | null;
  generation: number;
}

describe('a reload storm under load', { timeout: 55_000 }, () => {
  let echo: TestOrigin;
  let web: TestOrigin;
  let gw: Served | undefined;
  let admin: number;
  let file: string;
  let stream: IncomingMessage | undefined;
  const results: ReloadResult[] = [];

  /** Configuration number `k`: valid, with g<k>.example.test among its destinations; or broken. */
  function config(k: number, broken: (typeof BREAKS)[number] | null): string {
    const text = `workers: 2
engine: { listen: handoff }
policy:
  sources: [127.0.0.0/8]
  destinations: [echo.example.test, web.example.test, g${k}.example.test]
  ports: { connect: [ECHO], http: [${web.port}] }
hosts: { echo.example.test: 127.0.0.1, web.example.test: 127.0.0.1, g${k}.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
tls: { sniCheck: false }
admin: { listen: "127.0.0.1:0" }
limits: { newConnectionsPerClientPerSecond: 10000 }
timeouts: { drain: 1s, upstreamKeepAlive: 1s }
`;
    const out = broken === null ? text : text.replace(broken.from, broken.to);
    return out.replace('ECHO', String(echo.port));
  }

  function post(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: admin, path, method: 'POST', headers: { Host: '127.0.0.1' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.setTimeout(20_000, () => req.destroy(new Error(`POST ${path}: no answer`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Every reload result, as the event stream reports them. */
  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: admin, path: '/events', headers: { Host: '127.0.0.1' } },
        (res) => {
          stream = res;
          let buffer = '';
          res.on('data', (c: Buffer) => {
            buffer += c.toString();
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const message = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (!/^event: reload$/m.test(message)) continue;
              const data = /^data: (.*)$/m.exec(message)?.[1];
              if (data !== undefined) results.push(JSON.parse(data) as ReloadResult);
            }
          });
          res.on('error', () => undefined);
          resolve();
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** The status of CONNECT host from `n` connections in a row (hand-off deals them to the workers in turn). */
  async function statuses(host: string, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await rawExchange(
        gw!.port,
        `CONNECT ${host}:${echo.port} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        200,
      );
      out.push(reply.slice(9, 12));
    }
    return out;
  }

  /**
   * At rest: no client connection open and no upstream connection to the origin left (idle
   * pooled ones expire after timeouts.upstreamKeepAlive, 1 s here).
   */
  async function idle(): Promise<void> {
    await waitFor(
      'the gateway at rest',
      async () =>
        established(web.port) === 0 &&
        metricValue(await adminGet(admin, '/metrics'), 'airlock_connections_open') === 0,
      { timeoutMs: 8000 },
    );
  }

  before(async () => {
    echo = await startTcpEcho();
    web = await startOrigin();
    const dir = mkdtempSync(join(tmpdir(), 'airlock-storm-'));
    file = join(dir, 'airlock.yaml');
    replace(file, config(0, null));
    gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], 30_000);
    admin = adminPortOf(gw.stderr);
    await listen();
  });

  after(async () => {
    stream?.destroy();
    await stopServed(gw);
    await echo?.close();
    await web?.close();
  });

  test(
    'no connection dropped, refused configurations never in force, the last valid one is',
    { timeout: 50_000 },
    async (t) => {
      const served = gw!;
      const supervisor = served.child.pid!;
      const workers = childPids(supervisor);
      assert.equal(workers.length, 2);
      const pids = [supervisor, ...workers];
      const measure = (): { fds: number; rss: number }[] =>
        pids.map((pid) => ({ fds: descriptors(pid).total, rss: rssKiB(pid) }));
      const load = (): Traffic =>
        new Traffic({
          gatewayPort: served.port,
          tunnelTarget: `echo.example.test:${echo.port}`,
          httpTarget: `web.example.test:${web.port}`,
          deniedHost: 'denied.example.test',
          longTunnels: 8,
          tunnelClients: 2,
          httpClients: 2,
          deniedClients: 1,
          maxMs: 30_000,
          pauseMs: 10,
        });
      // A first round of traffic, then idle: what the processes hold at rest.
      const warm = load();
      await warm.start();
      await waitFor('traffic of every kind', () => warm.done.tunnel >= 5 && warm.done.http >= 5, {
        timeoutMs: 10_000,
      });
      await warm.stop();
      assert.deepEqual(warm.failures, []);
      await idle();
      const before = measure();
      let after: { fds: number; rss: number }[] = [];
      const traffic = load();
      await traffic.start();
      const posts: Promise<{ status: number; body: string }>[] = [];
      let lastGood = 0;
      try {
        const startedAt = Date.now();
        for (let i = 1; i <= RELOADS; i++) {
          const good = i % 2 === 1;
          if (good) lastGood = i;
          replace(file, config(i, good ? null : BREAKS[(i >> 1) % BREAKS.length]!));
          if (i % 4 < 2) served.child.kill('SIGHUP');
          else posts.push(post('/api/reload'));
          // The refused file follows the valid one 0-19 ms later: often while the reload of the
          // valid one is still being applied.
          await sleep(good ? (i * 7) % 20 : PACE_MS);
        }
        const stormMs = Date.now() - startedAt;
        await waitFor(`${RELOADS} reload results`, () => results.length >= RELOADS, {
          timeoutMs: 20_000,
          context: () => `${results.length} results`,
        });
        const answers = await Promise.all(posts);
        // Traffic goes on a little after the storm, then stops.
        await traffic.more(10, 'traffic after the storm');
        await traffic.stop();

        assert.deepEqual(traffic.failures, [], 'no connection failed');
        assert.ok(traffic.tunnels.every((x) => x.failure === null && x.rounds > 0));
        // Every result: applied everywhere, or refused naming the field at fault.
        const applied = results.filter((r) => r.ok);
        const refused = results.filter((r) => !r.ok);
        for (const r of refused) {
          assert.doesNotMatch(String(r.error), /^not every worker/, `reload ${r.seq} (${r.trigger})`);
          assert.ok(
            BREAKS.some((b) => r.error?.includes(`${b.field}:`) === true),
            `reload ${r.seq} (${r.trigger}) refused without naming the field: ${r.error}`,
          );
        }
        for (const a of answers) assert.ok(a.status === 200 || a.status === 422, `POST answered ${a.status}`);
        t.diagnostic(
          `${RELOADS} reloads in ${stormMs} ms (${results.filter((r) => r.trigger === 'SIGHUP').length} SIGHUP, ${posts.length} POST): ${applied.length} applied, ${refused.length} refused; traffic ${JSON.stringify(traffic.done)}`,
        );

        // The supervisor and both workers agree on the policy in force (each worker takes every
        // other connection): whatever valid configuration the storm's last applied reload read.
        const policy = JSON.parse(await adminGet(admin, '/api/policy')) as {
          rules: { rule: string }[];
          generation: number;
        };
        const inForce = policy.rules.map((r) => r.rule).find((r) => /^g\d+\.example\.test$/.test(r))!;
        assert.ok(inForce !== undefined, 'a g<k> rule is in force');
        assert.deepEqual(
          await statuses(inForce, 4),
          ['200', '200', '200', '200'],
          `${inForce} in every worker`,
        );

        // And deterministically: a valid configuration applied, then a refused one, leave the valid one.
        const final = RELOADS + 1;
        replace(file, config(final, null));
        const mark = events(served, 'reloaded').length;
        served.child.kill('SIGHUP');
        await waitForEvent(served, 'reloaded', { after: mark, timeoutMs: 10_000 });
        replace(file, config(final + 1, BREAKS[0]!));
        const refusal = await post('/api/reload');
        assert.equal(refusal.status, 422);
        assert.match(refusal.body, /policy\.sources\[0\]/);
        assert.deepEqual(await statuses(`g${final}.example.test`, 4), ['200', '200', '200', '200']);
        assert.deepEqual(await statuses(`g${lastGood}.example.test`, 2), ['403', '403']);
        assert.deepEqual(await statuses(`g${final + 1}.example.test`, 2), ['403', '403']);

        // Nothing kept from the storm: idle again, the same descriptors, memory within the slack.
        await idle();
        await waitFor(
          'descriptors back to what they were',
          () => pids.every((pid, i) => descriptors(pid).total <= before[i]!.fds),
          { timeoutMs: 5000, context: () => JSON.stringify({ before, now: measure() }) },
        );
        after = measure();
        t.diagnostic(
          pids
            .map(
              (pid, i) =>
                `${i === 0 ? 'supervisor' : `worker ${i}`}: ${before[i]!.fds} -> ${after[i]!.fds} descriptors, RSS ${Math.round(before[i]!.rss / 1024)} -> ${Math.round(after[i]!.rss / 1024)} MiB`,
            )
            .join('; '),
        );
        for (const [i, pid] of pids.entries()) {
          assert.ok(
            after[i]!.rss <= before[i]!.rss + RSS_SLACK_KIB,
            `process ${pid}: RSS ${before[i]!.rss} -> ${after[i]!.rss} KiB`,
          );
        }
      } finally {
        await traffic.stop();
      }
    },
  );
});
