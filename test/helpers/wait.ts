/**
 * Synchronisation for tests: poll a condition (a log event, a metric, a socket state) until it
 * holds or a deadline passes. A test waits for the thing it needs, never for a fixed time.
 */

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  readonly timeoutMs?: number;
  /** Time between two polls (default 20 ms). */
  readonly intervalMs?: number;
  /** Appended to the timeout error: what the test saw. */
  readonly context?: () => string;
}

/**
 * Polls `probe` until it returns a value other than `undefined`, `null` or `false`, and returns
 * that value; throws naming `what` when the deadline passes first.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) {
      const context = options.context?.() ?? '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}

export type LogEvent = Record<string, unknown> & { readonly event?: string };

/** The JSON log lines of `text` (pino's operational log), complete lines only. */
export function logLines(text: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogEvent);
    } catch {
      // A line still being written.
    }
  }
  return out;
}

/** The operational events named `event` in a process's stderr so far. */
export function events(source: { readonly stderr: string }, event: string): LogEvent[] {
  return logLines(source.stderr).filter((line) => line.event === event);
}

/**
 * Waits until the process has logged more than `after` events named `event` (matching `where`),
 * and returns the first one past `after`. Take `after` from `events(...).length` before causing
 * the event.
 */
export function waitForEvent(
  source: { readonly stderr: string },
  event: string,
  options: WaitOptions & { readonly after?: number; readonly where?: (e: LogEvent) => boolean } = {},
): Promise<LogEvent> {
  const after = options.after ?? 0;
  return waitFor(
    `log event "${event}" #${after + 1}`,
    () => events(source, event).filter(options.where ?? (() => true))[after],
    { context: () => `stderr:\n${source.stderr}`, ...options },
  );
}
