import type { ConfigFile } from '../config/index.js';

/** The accept queue every gateway listener asks for (src/gateway/gateway.ts); the kernel caps it at somaxconn. */
export const LISTEN_BACKLOG = 4096;

/** The kernel's default fs.nr_open: no process may raise its open-files limit above it. */
export const DEFAULT_NR_OPEN = 1_048_576;

/** Kernel ceiling for fs.nr_open on 64-bit systems (a multiple of 64 below 2^31). */
export const MAX_NR_OPEN = 2_147_483_584;

/** The floor the installer never goes below: what the squidmdemdi script set, rounded to a power of two. */
export const MIN_NOFILE = 65_536;

/** Spare descriptors beyond the tunnels: listeners, the access log, DNS sockets, idle upstream keep-alive connections. */
export const SPARE_FILES = 1024;

export interface Sizing {
  readonly maxConnections: number;
  /** LimitNOFILE of the service: 2 per tunnel plus spares, at least MIN_NOFILE, rounded up to 1024. */
  readonly nofile: number;
  /** fs.file-max to ask for: twice the service's limit, at least 1,048,576. */
  readonly fileMax: number;
  /** fs.nr_open when the service's limit is above the kernel default, else null. */
  readonly nrOpen: number | null;
  /** TimeoutStopSec: timeouts.drain plus time for the process to exit. */
  readonly stopTimeoutSec: number;
}

/**
 * Resources the connection target needs. Every tunnel holds two file descriptors (the client
 * connection and the upstream connection), so the open-files limit follows limits.maxConnections.
 * The service's limit applies to each process: with `workers`, each worker needs only its share,
 * so sizing for the whole target in one process covers every worker count.
 */
export function sizing(file: ConfigFile): Sizing {
  const maxConnections = file.limits.maxConnections;
  const nofile = Math.max(MIN_NOFILE, Math.ceil((2 * maxConnections + SPARE_FILES) / 1024) * 1024);
  return {
    maxConnections,
    nofile,
    fileMax: Math.max(DEFAULT_NR_OPEN, 2 * nofile),
    nrOpen: nofile > DEFAULT_NR_OPEN ? nofile : null,
    stopTimeoutSec: Math.ceil(file.timeouts.drain / 1000) + 15,
  };
}
