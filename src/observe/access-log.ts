import { fstat, fstatSync, mkdir, open, stat, close } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from '../deps/pino.js';
import { SonicBoom } from '../deps/sonic-boom.js';
import { toJsonLine, toSquidLine, type AccessRecord } from './access-record.js';

export type AccessLogFormat = 'json' | 'squid';

export interface AccessLogSink {
  /** A tunnel was established (200 sent, its ClientHello passed when checked): its first record (no bytes, `end` null). Once per tunnel. */
  opened(record: AccessRecord): void;
  /** A request or tunnel is over (or was refused): its final record, with the same `id` as its `opened` one. */
  write(record: AccessRecord): void;
  /** Reopens the file (after logrotate moved it). A no-op on stdout. */
  reopen(): void;
  /**
   * Shutdown has begun: the sessions still open end within the drain, many of them at once when
   * the deadline cuts them, and each one's final record must be written, not dropped for
   * exceeding the in-memory limit that guards a log that cannot be written.
   */
  draining(): void;
  flush(): Promise<void>;
}

type Destination = SonicBoom;

/** Lines kept in memory while the log cannot be written; past it new lines are dropped (and counted). */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Bytes of lines that make a write (otherwise the timer writes them within a second). Every write
 * is a round trip through libuv's thread pool (a wake-up of a pool thread, then of this thread
 * for the completion); at 4 KiB that was one write per three or four tunnels under load.
 */
export const BATCH_BYTES = 64 * 1024;
/** Most bytes of one write: lines that piled up behind a slow write go out in a few large ones. */
const MAX_WRITE_BYTES = 4 * BATCH_BYTES;
/** How long shutdown waits for the last lines to be written. */
const FLUSH_WAIT_MS = 2000;

/** What the access logs of this process could not do, for the metrics. */
export interface AccessLogTrouble {
  /** Failed writes (and reopens) of the log file or stream: each attempt once, not each line. */
  writeErrors: number;
  /** Lines dropped because the log could not be written and MAX_BUFFERED_BYTES were waiting. */
  linesDropped: number;
}

const trouble: AccessLogTrouble = { writeErrors: 0, linesDropped: 0 };

/** Totals of every access log in this process since it started. */
export function accessLogTrouble(): Readonly<AccessLogTrouble> {
  return trouble;
}

/** Where the access log says that it cannot write, and that it can again: once each, never per line. */
export type LogWarner = Pick<Logger, 'warn'>;

/**
 * The access log: one line per finished request or tunnel, JSON (pino) or Squid native; in JSON,
 * also an `open` line when a tunnel is established (Squid's format has no such line).
 * Writes are asynchronous and buffered; a file destination is reopened on demand.
 *
 * A log that cannot be written (disk full, I/O error, the file's directory gone) never stops
 * the gateway: lines wait in memory up to MAX_BUFFERED_BYTES, are retried every second, and
 * past that are dropped; failed writes and dropped lines are counted (metrics), and the
 * operational log says once that writing failed and once that it works again. A log file
 * deleted or replaced while open (checked every second) is reopened at its path.
 */
export class AccessLog implements AccessLogSink {
  private readonly dest: Destination;
  /** JSON lines (the shape pino writes); otherwise Squid's native format. */
  private readonly json: boolean;
  private readonly file: string | null;
  private readonly timer: NodeJS.Timeout;
  private readonly ops: LogWarner;
  /** Since when writing fails (ms since epoch), 0 while it works. */
  private failingSince = 0;
  private droppedWhileFailing = 0;
  private checking = false;
  private batch: string[] = [];
  private batchChars = 0;

  constructor(options: { format: AccessLogFormat; file: string | null; ops?: LogWarner }) {
    this.file = options.file;
    this.ops = options.ops ?? createOpsLogger('warn');
    // Lines are batched (one write per BATCH_BYTES, or per second at most) instead of one write per line.
    // A SonicBoom of our own rather than pino.destination(), which also flushes synchronously on
    // exit, retrying for ever while the disk is full; flush() below is the bounded shutdown.
    this.dest = new SonicBoom({
      dest: options.file ?? 1,
      sync: false,
      mkdir: this.file !== null,
      minLength: BATCH_BYTES,
      maxWrite: MAX_WRITE_BYTES,
      maxLength: MAX_BUFFERED_BYTES,
    });
    // Ours instead of pino's (which rethrows every error but a closed pipe's): a failed write is
    // counted and retried, never an exception.
    this.dest.removeAllListeners('error');
    this.dest.on('error', this.onError);
    this.dest.on('write', this.onWritten);
    this.dest.on('drop', this.onDrop);
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    this.json = options.format === 'json';
  }

  opened(record: AccessRecord): void {
    if (this.json) this.add(toJsonLine(record, 'open'));
  }

  write(record: AccessRecord): void {
    this.add(this.json ? toJsonLine(record) : `${toSquidLine(record)}\n`);
  }

  /**
   * Lines are collected here and handed to the destination BATCH_BYTES at a time (or by the
   * timer): sonic-boom measures the UTF-8 length of every string written to it and of the string
   * it appends that to, which per line cost several percent of the thread under load.
   */
  private add(line: string): void {
    this.batch.push(line);
    this.batchChars += line.length;
    // Characters, not bytes: a batch is at least BATCH_BYTES long either way.
    if (this.batchChars >= BATCH_BYTES) this.handOver();
  }

  private handOver(): void {
    if (this.batch.length === 0) return;
    const text = this.batch.length === 1 ? this.batch[0]! : this.batch.join('');
    this.batch = [];
    this.batchChars = 0;
    this.dest.write(text);
  }

  draining(): void {
    // What waits is bounded by the sessions that were open; a log that fails stays bounded.
    if (this.failingSince === 0) (this.dest as unknown as { maxLength: number }).maxLength = 0;
  }

  reopen(): void {
    if (this.file === null) return;
    // Lines written before the rotation belong to the old file.
    this.handOver();
    try {
      this.dest.flushSync();
    } catch {
      // A write in flight: sonic-boom finishes it on the old descriptor before reopening.
    }
    this.dest.reopen();
  }

  private flushNow(): void {
    this.handOver();
    // Nothing waits to be written (sonic-boom's count of bytes not yet written, in flight
    // included): its flush would write zero bytes, a system call and its garbage every second
    // of an idle gateway.
    if ((this.dest as unknown as { _len: number })._len === 0) return;
    try {
      this.dest.flush();
    } catch {
      // Not open yet, or a write is in flight: the next tick of the timer catches up.
    }
  }

  /** Every second: reopen a file that was deleted or replaced, then write what waits (a retry after a failure). */
  private tick(): void {
    if (this.file === null || this.checking) return this.flushNow();
    this.checking = true;
    const file = this.file;
    const fd = (this.dest as unknown as { fd: number }).fd;
    if (typeof fd !== 'number' || fd < 0) return void (this.checking = false);
    const done = (): void => {
      this.checking = false;
      this.flushNow();
    };
    stat(file, (pathError, atPath) => {
      if (pathError !== null && pathError.code !== 'ENOENT') return done();
      fstat(fd, (fdError, open) => {
        const same =
          atPath !== undefined && fdError === null && atPath.ino === open.ino && atPath.dev === open.dev;
        if (same) return done();
        this.reopenMissing(file, done);
      });
    });
  }

  /**
   * The file at the path is not the one open (deleted, or moved without a reopen): open it
   * again. Tried here first, so a path that cannot be opened is counted and retried next
   * second instead of handed to the destination.
   */
  private reopenMissing(file: string, done: () => void): void {
    mkdir(dirname(file), { recursive: true }, () => {
      open(file, 'a', (error, fd) => {
        if (error !== null) {
          this.onError(error);
          return done();
        }
        close(fd, () => undefined);
        if (this.failingSince === 0) {
          this.ops.warn(
            { event: 'access_log_reopened', file, pid: process.pid },
            `access log ${file} was deleted or replaced while open; reopened it (lines written since the last check, at most a second's, went to the old file)`,
          );
        }
        try {
          this.dest.reopen();
        } catch {
          // Being opened already: it will be the current file.
        }
        done();
      });
    });
  }

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    trouble.writeErrors++;
    // While writes fail, new lines no longer start a write each: the timer retries once a second.
    this.setBatch(MAX_BUFFERED_BYTES);
    if (this.failingSince !== 0) return;
    this.failingSince = Date.now();
    this.droppedWhileFailing = 0;
    const where = this.file ?? 'stdout';
    this.ops.warn(
      { event: 'access_log_failing', file: where, code: error.code ?? null, pid: process.pid },
      `access log ${where}: cannot write (${error.message}); keeping up to ${MAX_BUFFERED_BYTES / 1024} KiB of lines in memory and retrying every second, dropping the rest (counted in airlock_log_lines_dropped_total)`,
    );
  };

  private readonly onWritten = (): void => {
    if (this.failingSince === 0) return;
    this.setBatch(BATCH_BYTES);
    const where = this.file ?? 'stdout';
    const seconds = Math.round((Date.now() - this.failingSince) / 1000);
    this.ops.warn(
      { event: 'access_log_recovered', file: where, dropped: this.droppedWhileFailing, pid: process.pid },
      `access log ${where}: writing again after ${seconds} s; ${this.droppedWhileFailing} lines were dropped`,
    );
    this.failingSince = 0;
  };

  /** Bytes of waiting lines that start a write (sonic-boom's minLength, read on every write). */
  private setBatch(bytes: number): void {
    (this.dest as unknown as { minLength: number }).minLength = bytes;
  }

  private readonly onDrop = (data: string): void => {
    // A write is a batch of whole lines.
    const lines = countLines(data);
    trouble.linesDropped += lines;
    this.droppedWhileFailing += lines;
    // Writes that succeed but cannot keep up (a slow disk): said at most once a minute.
    const now = Date.now();
    if (this.failingSince === 0 && now - this.behindWarned >= 60_000) {
      this.behindWarned = now;
      const where = this.file ?? 'stdout';
      this.ops.warn(
        { event: 'access_log_behind', file: where, pid: process.pid },
        `access log ${where}: ${MAX_BUFFERED_BYTES / 1024} KiB of lines wait to be written; dropping new lines (counted in airlock_log_lines_dropped_total)`,
      );
    }
  };
  private behindWarned = 0;

  /**
   * Writes what waits, for shutdown. Bounded: a log that cannot be written (or a disk that does
   * not answer) must not keep the process from exiting, so after FLUSH_WAIT_MS, or at once while
   * writes fail, the lines still waiting are given up and the operational log says so.
   */
  flush(): Promise<void> {
    clearInterval(this.timer);
    this.handOver();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (written: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (!written) {
          const where = this.file ?? 'stdout';
          this.ops.warn(
            { event: 'access_log_unflushed', file: where, pid: process.pid },
            `access log ${where}: lines still waiting at shutdown could not be written and are lost`,
          );
        }
        resolve();
      };
      const deadline = setTimeout(() => finish(false), this.failingSince !== 0 ? 0 : FLUSH_WAIT_MS);
      const attempt = (): void => {
        try {
          this.dest.flush((err?: NodeJS.ErrnoException | null) => {
            if (!this.written(err)) return finish(false);
            // sonic-boom reports a drain when a write completes with less than a batch left
            // behind it (lines handed over while that write was on its way): another round.
            if (this.waitingBytes() > 0) return attempt();
            finish(true);
          });
        } catch {
          // Nothing open yet, or a write in flight that the deadline waits for.
          if (this.failingSince === 0 && !this.writing()) finish(true);
        }
      };
      attempt();
    });
  }

  /**
   * Whether what a flush answered means every line handed over was written. The flush calls back
   * once a write has completed, with what fsync(2) then answered: a pipe, a socket or a terminal
   * (stdout under systemd, a container runtime or a shell) cannot be synced and answers EINVAL
   * (or EROFS), which says nothing about the lines. The same answers for a regular file, or any
   * write's error, mean lines may be lost.
   */
  private written(err: NodeJS.ErrnoException | null | undefined): boolean {
    if (err === null || err === undefined) return true;
    if (err.syscall !== 'fsync' || (err.code !== 'EINVAL' && err.code !== 'EROFS')) return false;
    try {
      return !fstatSync((this.dest as unknown as { fd: number }).fd).isFile();
    } catch {
      return false;
    }
  }

  /** Bytes handed to the destination and not written yet (sonic-boom's own count). */
  private waitingBytes(): number {
    return (this.dest as unknown as { _len: number })._len;
  }

  /** Whether the destination has a write in flight (sonic-boom's own flag). */
  private writing(): boolean {
    return (this.dest as unknown as { _writing?: boolean })._writing === true;
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

/** Lines in a batch: every line ends with a newline. */
function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
