import type { MetricObjectWithValues, MetricValue } from '../deps/prom-client.js';
import type { ProcessStats } from './gateway-process.js';
import type { FileText } from './load-config.js';

/** Supervisor → worker. */
export type ToWorker =
  /** The configuration in force, as the supervisor read it: the answer to `hello`. */
  | { readonly t: 'config'; readonly texts: readonly FileText[] }
  /** Apply this configuration (validated by the supervisor: the files as it read them). */
  | {
      readonly t: 'reload';
      readonly trigger: string;
      readonly generation: number;
      readonly texts: readonly FileText[];
    }
  | { readonly t: 'reopen' }
  | { readonly t: 'shutdown'; readonly deadlineMs?: number | undefined }
  | { readonly t: 'stats'; readonly id: number }
  | { readonly t: 'metrics'; readonly id: number }
  /** Sent with a socket the supervisor accepted (hand-off listening): serve it as listener `index`. */
  | { readonly t: 'connection'; readonly index: number; readonly seq: number };

/**
 * How a worker listens (environment AIRLOCK_LISTEN, JSON): on SO_REUSEPORT sockets of its own
 * bound to the given ports, or not at all (the supervisor accepts and hands sockets over).
 */
export type WorkerListen =
  { readonly mode: 'reuseport'; readonly ports: readonly number[] } | { readonly mode: 'handoff' };

/** Worker → supervisor. */
export type FromWorker =
  /** A worker starting asks for the configuration in force. */
  | { readonly t: 'hello' }
  | { readonly t: 'ready' }
  /** The socket handed over as `connection` number `seq` arrived: the supervisor may send the next. */
  | { readonly t: 'took'; readonly seq: number }
  | { readonly t: 'failed'; readonly message: string; readonly exit: number }
  | { readonly t: 'reloaded'; readonly ok: boolean; readonly message: string; readonly generation: number }
  /** What the worker saw since its last report (StateDelta as deltaToWire sends it). */
  | { readonly t: 'state'; readonly delta: unknown }
  | { readonly t: 'stats'; readonly id: number; readonly value: ProcessStats }
  /** The worker has drained (or cut at the deadline) and written its log: it exits next. */
  | { readonly t: 'stopped'; readonly drained: boolean; readonly cut: number }
  | {
      readonly t: 'metrics';
      readonly id: number;
      readonly value: MetricObjectWithValues<MetricValue<string>>[];
    };
