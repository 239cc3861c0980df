import type { Logger } from '../deps/pino.js';

/**
 * The last line of defence for exceptions no session caught. Every entry point of the
 * gateway catches its own and ends only the session at fault; one that still escapes is
 * logged and counted, and the process keeps serving its other connections rather than drop
 * them all. A flood of them (a bug in a loop) still ends the process, for its supervisor or
 * service manager to restart.
 */
export function keepServingOnUncaught(ops: Logger, count: () => void, limit = 50, windowMs = 10_000): void {
  let recent: number[] = [];
  const handler = (error: Error): void => {
    const now = Date.now();
    recent = recent.filter((t) => now - t < windowMs);
    recent.push(now);
    count();
    ops.error(
      { event: 'internal_error', pid: process.pid, stack: error.stack ?? String(error) },
      `uncaught exception, still serving: ${error.message}`,
    );
    if (recent.length >= limit) {
      ops.fatal(
        { event: 'internal_error_flood', pid: process.pid },
        `${limit} uncaught exceptions within ${windowMs / 1000} s: exiting so the service restarts`,
      );
      // Without the handler, this one ends the process as any uncaught exception does.
      process.removeListener('uncaughtException', handler);
      throw error;
    }
  };
  process.on('uncaughtException', handler);
}
