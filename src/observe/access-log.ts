import pino, { type Logger } from 'pino';
import { toJsonFields, toSquidLine, type AccessRecord } from './access-record.js';

export type AccessLogFormat = 'json' | 'squid';

export interface AccessLogSink {
  /** A tunnel was established (200 sent, its ClientHello passed when checked): its first record (no bytes, `end` null). Once per tunnel. */
  opened(record: AccessRecord): void;
  /** A request or tunnel is over (or was refused): its final record, with the same `id` as its `opened` one. */
  write(record: AccessRecord): void;
  /** Reopens the file (after logrotate moved it). A no-op on stdout. */
  reopen(): void;
  flush(): Promise<void>;
}

type Destination = ReturnType<typeof pino.destination>;

/**
 * The access log: one line per finished request or tunnel, JSON (pino) or Squid native; in JSON,
 * also an `open` line when a tunnel is established (Squid's format has no such line).
 * Writes are asynchronous and buffered; a file destination is reopened on demand.
 */
export class AccessLog implements AccessLogSink {
  private readonly dest: Destination;
  private readonly logger: Logger | null;
  private readonly isFile: boolean;
  private readonly timer: NodeJS.Timeout;

  constructor(options: { format: AccessLogFormat; file: string | null }) {
    this.isFile = options.file !== null;
    // Lines are batched (one write per 4 KiB, or per second at most) instead of one write per line.
    this.dest = pino.destination({
      dest: options.file ?? 1,
      sync: false,
      mkdir: this.isFile,
      minLength: 4096,
    });
    this.timer = setInterval(() => this.flushNow(), 1000);
    this.timer.unref();
    this.logger =
      options.format === 'json'
        ? pino(
            {
              base: null,
              messageKey: 'msg',
              timestamp: pino.stdTimeFunctions.isoTime,
              formatters: { level: (label) => ({ level: label }) },
            },
            this.dest,
          )
        : null;
  }

  opened(record: AccessRecord): void {
    if (this.logger !== null) this.logger.info(toJsonFields(record, 'open'), 'open');
  }

  write(record: AccessRecord): void {
    if (this.logger !== null) this.logger.info(toJsonFields(record), 'access');
    else this.dest.write(`${toSquidLine(record)}\n`);
  }

  reopen(): void {
    if (!this.isFile) return;
    // Lines written before the rotation belong to the old file.
    try {
      this.dest.flushSync();
    } catch {
      // A write in flight: sonic-boom finishes it on the old descriptor before reopening.
    }
    this.dest.reopen();
  }

  private flushNow(): void {
    try {
      this.dest.flush();
    } catch {
      // Not open yet, or a write is in flight: the next tick of the timer catches up.
    }
  }

  flush(): Promise<void> {
    clearInterval(this.timer);
    return new Promise((resolve) => {
      try {
        this.dest.flush((err) => {
          void err;
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }
}

/** Operational messages (startup, warnings, errors) as JSON lines on stderr. */
export function createOpsLogger(level: 'debug' | 'info' | 'warn' | 'error'): Logger {
  return pino(
    {
      level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
