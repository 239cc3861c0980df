import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { AirlockError } from '../errors/index.js';
import type { LoadedConfig, LoadOptions } from './load-config.js';

export type ServeOptions = LoadOptions & {
  readonly watch?: boolean | undefined;
  /** --workers: "auto" or a number; overrides the configuration's `workers`. */
  readonly workers?: string | undefined;
};

/** Reads the open-files limit; null where /proc is not there. */
export function openFilesLimit(): number | null {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function workerCount(value: string | number): number {
  if (value === 'auto') return availableParallelism();
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
