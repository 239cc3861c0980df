import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { cgroupCpuLimit } from '../../../src/supervisor/options.js';

/** A fake root: `files` maps paths under it to their text. */
function root(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cgroup-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('the CPUs a cgroup limit allows (workers: auto)', () => {
  test('cgroup v2: quota over period, from the process cgroup', () => {
    const r = root({
      'proc/self/cgroup': '0::/system.slice/airlock.service\n',
      'sys/fs/cgroup/system.slice/airlock.service/cpu.max': '200000 100000\n',
      'sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    assert.equal(cgroupCpuLimit(r), 2);
  });

  test('cgroup v2 without a quota ("max" everywhere): no limit', () => {
    const r = root({
      'proc/self/cgroup': '0::/a\n',
      'sys/fs/cgroup/a/cpu.max': 'max 100000\n',
    });
    assert.equal(cgroupCpuLimit(r), null);
  });

  test('a fraction rounds down, and never below one CPU', () => {
    const half = root({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '50000 100000\n' });
    assert.equal(cgroupCpuLimit(half), 1);
    const twoAndAHalf = root({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '250000 100000\n' });
    assert.equal(cgroupCpuLimit(twoAndAHalf), 2);
  });

  test('an ancestor tighter than the leaf wins', () => {
    const r = root({
      'proc/self/cgroup': '0::/pods/pod1/ctr\n',
      'sys/fs/cgroup/pods/pod1/ctr/cpu.max': '800000 100000\n',
      'sys/fs/cgroup/pods/pod1/cpu.max': '300000 100000\n',
      'sys/fs/cgroup/pods/cpu.max': 'max 100000\n',
    });
    assert.equal(cgroupCpuLimit(r), 3);
  });

  test("a container's own view: the named path is not mounted, its root is", () => {
    const r = root({
      'proc/self/cgroup': '0::/docker/0123abcd\n',
      'sys/fs/cgroup/cpu.max': '100000 100000\n',
    });
    assert.equal(cgroupCpuLimit(r), 1);
  });

  test('cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us, -1 meaning none', () => {
    const limited = root({
      'proc/self/cgroup': '4:memory:/x\n3:cpu,cpuacct:/x\n',
      'sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_quota_us': '300000\n',
      'sys/fs/cgroup/cpu,cpuacct/x/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cgroupCpuLimit(limited), 3);
    const free = root({
      'proc/self/cgroup': '1:cpu:/\n',
      'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cgroupCpuLimit(free), null);
  });

  test('a cgroup outside the namespace ("/../x") is not looked for above the mount', () => {
    const r = root({
      'proc/self/cgroup': '0::/../other\n',
      'sys/other/cpu.max': '100000 100000\n',
      'sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    assert.equal(cgroupCpuLimit(r), null);
  });

  test('nothing to read (no /proc, garbage): no limit', () => {
    assert.equal(cgroupCpuLimit(root({})), null);
    assert.equal(cgroupCpuLimit(root({ 'proc/self/cgroup': 'not a cgroup line\n' })), null);
    const unreadable = root({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'x y\n' });
    assert.equal(cgroupCpuLimit(unreadable), null);
  });
});
