import type { ConfigFile } from '../config/index.js';
import { LISTEN_BACKLOG, type Sizing } from './sizing.js';

/** Ephemeral ports for upstream connections: from the default 32768-60999 (28,232) to 55,296. */
export const LOCAL_PORT_RANGE = [10240, 65535] as const;

/** FIN-WAIT-2 lifetime for connections the gateway closed (the default is 60 s). */
export const FIN_TIMEOUT = 15;

export interface KernelFacts {
  /** Values in /proc/sys on the target now, by sysctl key (a real install reads them; --root does not). */
  readonly current: Readonly<Record<string, string>>;
  /** The sysctl file an earlier install wrote, if there is one. */
  readonly existingFile: string | null;
}

/** The sysctl keys whose current value the installer reads, to raise them only. */
export const RAISE_ONLY_KEYS = ['net.core.somaxconn', 'fs.file-max', 'fs.nr_open'] as const;

function setsKey(text: string | null, key: string): boolean {
  if (text === null) return false;
  const escaped = key.replace(/\./g, '\\.');
  return new RegExp(`^\\s*${escaped}\\s*=`, 'm').test(text);
}

function atLeast(current: string | undefined, needed: number): boolean {
  if (current === undefined || !/^[0-9]+$/.test(current.trim())) return false;
  return BigInt(current.trim()) >= BigInt(needed);
}

/**
 * The kernel settings file (/etc/sysctl.d/60-airlock.conf). Limits that only need to be high
 * enough (somaxconn, file-max, nr_open) are raised, never lowered: when the running kernel already
 * has more and no earlier install set the key, the line is left out with a comment saying so.
 * Keeping a key an earlier install set makes a second run write the same file.
 */
export function renderSysctl(file: ConfigFile, size: Sizing, kernel: KernelFacts | undefined): string {
  const out: string[] = [
    '# Kernel settings for Airlock: written by "airlock install", removed by "airlock uninstall"',
    '# (the values stay in effect until the next boot).',
    `# Sized for limits.maxConnections = ${size.maxConnections}; every tunnel is two connections,`,
    '# one from the client and one to the upstream.',
  ];
  const raise = (key: string, needed: number, why: string[]): void => {
    out.push('', ...why.map((line) => `# ${line}`));
    const current = kernel?.current[key];
    if (!setsKey(kernel?.existingFile ?? null, key) && atLeast(current, needed)) {
      out.push(`# ${key}: the kernel already has ${current!.trim()} (at least ${needed}), left alone`);
    } else {
      out.push(`${key} = ${needed}`);
    }
  };
  raise('net.core.somaxconn', LISTEN_BACKLOG, [
    `Accept queue: the gateway asks for ${LISTEN_BACKLOG} per listener; the kernel caps it at somaxconn.`,
    'A reconnect storm after a restart (every agent at once) waits there instead of being refused.',
  ]);
  out.push(
    '',
    '# Each upstream connection takes a local port, per upstream address and port. The default',
    '# range (32768-60999) allows 28,232 connections to one Defender front end; this allows 55,296.',
    `net.ipv4.ip_local_port_range = ${LOCAL_PORT_RANGE[0]} ${LOCAL_PORT_RANGE[1]}`,
  );
  const ports = [
    ...file.listeners.map((l) => l.port),
    ...(file.admin.listen ? [file.admin.listen.port] : []),
  ];
  const reserved = [...new Set(ports)]
    .filter((p) => p >= LOCAL_PORT_RANGE[0] && p <= LOCAL_PORT_RANGE[1])
    .sort((a, b) => a - b);
  if (reserved.length > 0) {
    out.push(
      '# The gateway listens inside that range: keep its ports out of the ephemeral pool.',
      `net.ipv4.ip_local_reserved_ports = ${reserved.join(',')}`,
    );
  }
  out.push(
    '',
    `# Connections the gateway closed leave FIN-WAIT-2 after ${FIN_TIMEOUT} s instead of 60 s.`,
    `net.ipv4.tcp_fin_timeout = ${FIN_TIMEOUT}`,
  );
  raise('fs.file-max', size.fileMax, [
    `Open files on the whole system: at least twice the service's LimitNOFILE (${size.nofile}).`,
  ]);
  if (size.nrOpen !== null) {
    raise('fs.nr_open', size.nrOpen, [
      `No process may have more open files than fs.nr_open; the service needs ${size.nrOpen}.`,
    ]);
  }
  out.push('');
  return out.join('\n');
}
