import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ProcessStats } from './gateway-process.js';

/** Supervisor → worker. */
export type ToWorker =
  | { readonly t: 'reload'; readonly trigger: string }
  | { readonly t: 'reopen' }
  | { readonly t: 'shutdown'; readonly deadlineMs?: number | undefined }
  | { readonly t: 'stats'; readonly id: number }
  | { readonly t: 'metrics'; readonly id: number };

/** Worker → supervisor. */
export type FromWorker =
  | { readonly t: 'ready'; readonly addresses: readonly { address: string; family: string; port: number }[] }
  | { readonly t: 'failed'; readonly message: string; readonly exit: number }
  | { readonly t: 'reloaded'; readonly ok: boolean; readonly message: string }
  | { readonly t: 'stats'; readonly id: number; readonly value: ProcessStats }
  | {
      readonly t: 'metrics';
      readonly id: number;
      readonly value: MetricObjectWithValues<MetricValue<string>>[];
    };
