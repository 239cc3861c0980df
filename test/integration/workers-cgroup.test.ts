import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { echoOnce, openTunnel, serve, stopServed, type Served } from '../helpers/cli.js';
import { startTcpEcho } from '../helpers/origins.js';
import { requirement } from '../helpers/skip.js';

/**
 * A cgroup of this test's own that allows one CPU (cgroup v1's cpu controller, or v2 with the cpu
 * controller enabled below the root), or why there cannot be one here.
 */
function oneCpuCgroup(): { dir: string; undo?: () => void } | { why: string } {
  if (process.getuid?.() !== 0) return { why: 'needs root to make a cgroup' };
  if (availableParallelism() < 2) return { why: 'needs two CPUs to tell a limit of one from none' };
  const name = `airlock-test-${process.pid}`;
  try {
    if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_period_us')) {
      const dir = join('/sys/fs/cgroup/cpu', name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), readFileSync(join(dir, 'cpu.cfs_period_us')));
      return { dir };
    }
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      if (!readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('cpu'))
        return { why: 'cgroup v2 without the cpu controller' };
      const control = '/sys/fs/cgroup/cgroup.subtree_control';
      const enabled = !readFileSync(control, 'utf8').split(/\s+/).includes('cpu');
      if (enabled) writeFileSync(control, '+cpu');
      const undo = (): void => {
        if (enabled) writeFileSync(control, '-cpu');
      };
      const dir = join('/sys/fs/cgroup', name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.max'), '100000 100000');
      return { dir, undo };
    }
    return { why: 'no cgroup CPU controller mounted' };
  } catch (error) {
    return { why: `cannot make a cgroup: ${(error as Error).message}` };
  }
}

const cgroup = oneCpuCgroup();
const suite = 'workers: auto inside a cgroup CPU limit';

describe(suite, { skip: requirement(suite, 'why' in cgroup ? cgroup.why : null) }, () => {
  test('starts one worker per CPU the limit allows, not one per core, and serves', async () => {
    const { dir, undo } = cgroup as { dir: string; undo?: () => void };
    const echo = await startTcpEcho();
    const config = join(mkdtempSync(join(tmpdir(), 'airlock-cgroup-')), 'airlock.yaml');
    writeFileSync(
      config,
      `workers: auto
policy:
  sources: [127.0.0.0/8]
  destinations: [echo.example.test]
  ports: { connect: [${echo.port}], http: [80] }
hosts: { echo.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
timeouts: { drain: 1s }
`,
    );
    // The gateway's process joins the cgroup, then becomes `airlock serve` (same pid).
    const join1 = ['sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$0" "$@"`];
    let gw: Served | null = null;
    try {
      gw = await serve(['--config', config, '--listen', '127.0.0.1:0'], 30_000, undefined, join1);
      const listening = gw.stderr.split('\n').find((l) => l.includes('"event":"listening"'));
      assert.match(listening ?? '', /"workers":1,/, `${availableParallelism()} CPUs here: ${listening}`);
      const tunnel = await openTunnel(gw.port, `echo.example.test:${echo.port}`);
      assert.equal(await echoOnce(tunnel, 'limited'), 'limited');
      tunnel.destroy();
    } finally {
      await stopServed(gw);
      await echo.close();
      // Empty once its processes have exited (a moment after the exit is seen).
      for (let i = 0; i < 50 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      // The cpu controller goes back to how it was below the root (v2), as far as it can.
      try {
        undo?.();
      } catch {
        // Another cgroup uses it now.
      }
    }
  });
});
