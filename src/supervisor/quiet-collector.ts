import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';

/** What the collector reads and does; the process's own in `startQuietCollector`, fakes in tests. */
export interface CollectorRuntime {
  /** A full garbage collection (`gc`, which `--expose-gc` gives), or null without it. */
  readonly collect: (() => void) | null;
  /** Bytes the JavaScript heap holds now, garbage included. */
  heapUsed(): number;
  /** Share of the time since the previous call the event loop was busy, 0 to 1. */
  busy(): number;
}

export interface QuietCollectorOptions {
  /** Heap grown by at least this since the last full collection (ours or V8's): worth one. */
  readonly minGrowthBytes: number;
  /** The event loop busier than this over the last interval: not quiet, no collection. */
  readonly maxBusy: number;
}

export const QUIET_COLLECTOR_DEFAULTS: QuietCollectorOptions = {
  minGrowthBytes: 2 * 1024 * 1024,
  maxBusy: 0.02,
};

/** How often the process checks (a 10 s interval: the check itself reads two counters). */
export const QUIET_CHECK_MS = 10_000;

/**
 * One full garbage collection when a process has gone quiet after work. A burst of new
 * connections (a reconnect storm, a ramp of thousands of agents) leaves its garbage in V8's
 * old generation, and V8 collects it only once the heap grows further: a gateway that then
 * holds its tunnels idle for hours keeps that garbage resident (measured: about 25 MiB over
 * eight workers after 10,000 tunnels, still there 30 s into the hold). Under load nothing
 * happens here: V8 collects on its own schedule, and a full collection in the middle of a
 * burst would only stall it.
 */
export class QuietCollector {
  /** Heap in use right after the last full collection seen (or at the start). */
  private floor: number;

  constructor(
    private readonly runtime: CollectorRuntime,
    private readonly options: QuietCollectorOptions = QUIET_COLLECTOR_DEFAULTS,
  ) {
    this.floor = runtime.heapUsed();
  }

  /** One check; true when it collected. */
  tick(): boolean {
    const busy = this.runtime.busy();
    const used = this.runtime.heapUsed();
    // V8 collected by itself meanwhile: its result is the new floor.
    if (used < this.floor) this.floor = used;
    const collect = this.runtime.collect;
    if (collect === null || busy > this.options.maxBusy) return false;
    if (used - this.floor < this.options.minGrowthBytes) return false;
    collect();
    this.floor = this.runtime.heapUsed();
    return true;
  }
}

/**
 * Checks every `intervalMs` in this process (the timer keeps no process alive); returns the
 * stop. Without `--expose-gc` (one of the gateway's Node.js flags) there is nothing to call,
 * and nothing starts.
 */
export function startQuietCollector(
  intervalMs = QUIET_CHECK_MS,
  options: QuietCollectorOptions = QUIET_COLLECTOR_DEFAULTS,
): () => void {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed !== 'function') return () => undefined;
  const gc = exposed as () => void;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const collector = new QuietCollector(
    {
      collect: () => gc(),
      heapUsed: () => v8.getHeapStatistics().used_heap_size,
      busy: () => {
        const now = performance.eventLoopUtilization();
        const delta = performance.eventLoopUtilization(now, last);
        last = now;
        return delta.utilization;
      },
    },
    options,
  );
  // The first check at a random point of the first interval: workers started together do not
  // all collect at the same moment.
  let timer: NodeJS.Timeout = setTimeout(
    () => {
      collector.tick();
      timer = setInterval(() => collector.tick(), intervalMs);
      timer.unref();
    },
    Math.floor(Math.random() * intervalMs),
  );
  timer.unref();
  return () => clearTimeout(timer);
}
