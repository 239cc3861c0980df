import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../errors/index.js';
import type { LoadedConfig, LoadOptions } from './load-config.js';

export type ServeOptions = LoadOptions & {
  readonly watch?: boolean | undefined;
  /** --workers: "auto" or a number; overrides the configuration's `workers`. */
  readonly workers?: string | undefined;
};

/**
 * The CPUs a cgroup CPU limit lets this process use (a container's `--cpus`, a Kubernetes CPU
 * limit, systemd's CPUQuota=): the tightest quota / period of its cgroup and every ancestor,
 * rounded down, at least 1; null when there is none or it cannot be read. Node.js 20's
 * availableParallelism() counts the CPUs the process may run on and ignores such limits, so
 * `workers: auto` in a container limited to 2 CPUs on a 32-core host would start 32 workers.
 * cgroup v2 (`cpu.max`: "max 100000" or "200000 100000") and v1 (`cpu.cfs_quota_us`, -1 for
 * none, over `cpu.cfs_period_us`). `root` stands for / (tests).
 */
export function cgroupCpuLimit(root = '/'): number | null {
  const cgroups = readOrNull(join(root, 'proc/self/cgroup'));
  if (cgroups === null) return null;
  let limit: number | null = null;
  const consider = (quota: number, period: number): void => {
    if (!(quota > 0 && period > 0)) return;
    const cpus = Math.max(1, Math.floor(quota / period));
    limit = limit === null ? cpus : Math.min(limit, cpus);
  };
  for (const line of cgroups.split('\n')) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (match === null) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    // A cgroup outside this process's cgroup namespace ("/../x") is not under the mount here.
    if (path.split('/').includes('..')) continue;
    // Where a container sees its own cgroup as the root, the path names its parent's view:
    // every ancestor is tried, and those not mounted here are skipped.
    const dirs = ancestors(path);
    if (id === '0' && controllers === '') {
      for (const dir of dirs) {
        const max = readOrNull(join(root, 'sys/fs/cgroup', dir, 'cpu.max'))
          ?.trim()
          .split(' ');
        if (max !== undefined && max[0] !== 'max') consider(Number(max[0]), Number(max[1]));
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
        for (const dir of dirs) {
          const base = join(root, 'sys/fs/cgroup', mount, dir);
          consider(
            Number(readOrNull(join(base, 'cpu.cfs_quota_us'))),
            Number(readOrNull(join(base, 'cpu.cfs_period_us'))),
          );
        }
      }
    }
  }
  return limit;
}

/** "/a/b" → ["/a/b", "/a", "/"]. */
function ancestors(path: string): string[] {
  const dirs = [path];
  for (let p = path; p !== '/' && p !== '';) {
    p = p.slice(0, p.lastIndexOf('/')) || '/';
    dirs.push(p);
  }
  return dirs;
}

/** A file's text; null where it cannot be read (absent, or /proc not there). */
function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads the open-files limit; null where /proc is not there. */
export function openFilesLimit(): number | null {
  const match = /Max open files\s+(\d+)/.exec(readOrNull('/proc/self/limits') ?? '');
  return match ? Number(match[1]) : null;
}

export function workerCount(value: string | number): number {
  if (value === 'auto') return Math.min(availableParallelism(), cgroupCpuLimit() ?? Infinity);
  const n = typeof value === 'number' ? value : /^[1-9][0-9]{0,2}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new AirlockError('USAGE', `--workers: "${String(value)}" is not "auto" or a number from 1 to 256`);
  }
  return n;
}

/** Gateway-wide limits shared out over the workers (connections are spread about evenly). */
export function perWorker(loaded: LoadedConfig, workers: number): LoadedConfig {
  if (workers === 1) return loaded;
  const file = loaded.config.file;
  const share = (n: number): number => Math.max(1, Math.ceil(n / workers));
  const limits = {
    ...file.limits,
    maxConnections: share(file.limits.maxConnections),
    maxConnectionsPerClient: share(file.limits.maxConnectionsPerClient),
    newConnectionsPerClientPerSecond: share(file.limits.newConnectionsPerClientPerSecond),
  };
  return { ...loaded, config: { ...loaded.config, file: { ...file, limits } } };
}

/** The bound port clients use as their proxy: the first listener without PROXY protocol (port 0 resolved). */
export function proxyPortOf(loaded: LoadedConfig, addresses: readonly { port: number }[]): number {
  return (
    addresses[
      Math.max(
        0,
        loaded.listeners.findIndex((l) => !l.proxyProtocol),
      )
    ]?.port ?? 0
  );
}

/** What a reload cannot change in a running process; changing it needs a restart. */
export function restartOnly(a: LoadedConfig, b: LoadedConfig): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  const keys = ['limits', 'timeouts', 'log', 'tls', 'mode', 'dns', 'admin', 'workers', 'engine'] as const;
  if (!same(a.listeners, b.listeners)) out.push('listeners');
  for (const key of keys) if (!same(a.config.file[key], b.config.file[key])) out.push(key);
  return out;
}
