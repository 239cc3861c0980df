import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from '../deps/pino.js';
import type { ShutdownResult } from '../gateway/index.js';
import type { MetricObjectWithValues, MetricValue } from '../deps/prom-client.js';
import { deltaFromWire, type StateDelta } from '../observe/index.js';
import { plural, type GatewayProcess, type ProcessStats } from './gateway-process.js';
import type { LoadedConfig } from './load-config.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

/** How one member took a reload. */
export interface MemberReload {
  readonly ok: boolean;
  readonly message: string;
}

/** How often a member reports what it saw to the operator view. */
export const STATE_REPORT_MS = 1000;

/** The part of the gateway the supervisor drives: in this process, or a worker over IPC. */
export interface Member {
  /** Applies a configuration the supervisor validated; resolves once the member runs it (or could not). */
  reload(trigger: string, next: LoadedConfig, generation: number): Promise<MemberReload>;
  reopen(): void;
  stats(): Promise<ProcessStats | null>;
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | null>;
  stop(deadlineMs?: number): void;
  /** Its state reports, about once a second while there is traffic. */
  onState(listener: (delta: StateDelta) => void): void;
}

export class LocalMember implements Member {
  private readonly timer: NodeJS.Timeout;
  private listener: ((delta: StateDelta) => void) | null = null;

  constructor(
    private readonly process: GatewayProcess,
    private readonly ops: Logger,
    private readonly onStopped: () => void,
  ) {
    this.timer = setInterval(() => this.report(), STATE_REPORT_MS);
    this.timer.unref();
  }
  private report(): void {
    const delta = this.process.takeState();
    if (delta !== null) this.listener?.(delta);
  }
  onState(listener: (delta: StateDelta) => void): void {
    this.listener = listener;
  }
  reload(_trigger: string, next: LoadedConfig, generation: number): Promise<MemberReload> {
    this.process.apply(next, generation);
    return Promise.resolve({ ok: true, message: '' });
  }
  reopen(): void {
    this.process.reopenLog();
  }
  stats(): Promise<ProcessStats> {
    return Promise.resolve(this.process.stats());
  }
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.process.metrics.registry.getMetricsAsJSON();
  }
  stop(deadlineMs?: number): void {
    clearInterval(this.timer);
    void this.process.stop(deadlineMs, this.ops).then(() => {
      this.report();
      this.onStopped();
    });
  }
}

/**
 * The supervisor's `stopped` line for a fleet: the sessions its workers cut at the drain
 * deadline, summed, and the workers that ended without saying how (killed at the deadline's
 * grace, or crashed while draining: their sessions are cut too, uncounted).
 */
export function fleetStopped(results: readonly (ShutdownResult | null)[]): {
  readonly fields: { drained: boolean; cut: number; unreported: number };
  readonly message: string;
} {
  let cut = 0;
  let unreported = 0;
  for (const r of results) {
    if (r === null) unreported++;
    else cut += r.cut;
  }
  // An unreported worker (null) is not drained.
  const drained = results.every((r) => r?.drained === true);
  const parts: string[] = [];
  if (drained) parts.push('all sessions drained');
  else if (cut > 0 || unreported === 0) parts.push(`${plural(cut, 'session')} cut at the drain deadline`);
  if (unreported > 0)
    parts.push(
      `${plural(unreported, 'worker')} ended without reporting (killed or crashed: ${unreported === 1 ? 'its' : 'their'} sessions were cut, uncounted)`,
    );
  return {
    fields: { drained, cut, unreported },
    message: `all ${plural(results.length, 'worker')} stopped: ${parts.join('; ')}`,
  };
}

let requestId = 0;

/** How long a handed-over socket may go unacknowledged before the next one is sent anyway. */
export const HAND_OFF_STALL_MS = 5000;

/** A first-in first-out queue (amortized O(1) shift), for what waits to be sent to a worker. */
export class HandOffQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  peek(): T | undefined {
    return this.head === this.items.length ? undefined : this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** How a worker member hands sockets over, beyond the defaults. */
export interface HandOffOptions {
  /** How long a socket on its way may go unacknowledged before the next goes (HAND_OFF_STALL_MS). */
  readonly stallMs?: number;
  /** Called when that time ran out (the worker's pid). */
  readonly onStall?: (pid: number | undefined) => void;
  /**
   * Offered each socket this worker never received when its channel ends (it died, or
   * disconnected): true when another worker took it; otherwise the socket is closed.
   */
  readonly rehome?: (index: number, socket: Socket) => boolean;
}

/** What waits to go to a worker, in order: an accepted socket, or a message. */
type Outgoing =
  { readonly socket: Socket; readonly index: number } | { readonly socket: null; readonly message: ToWorker };

/** How long a worker may take to apply a reload before the supervisor reports it as not answering. */
const RELOAD_ANSWER_MS = 10_000;

export class WorkerMember implements Member {
  private readonly pending = new Map<number, (value: unknown) => void>();
  private readonly reloads = new Map<number, (result: MemberReload) => void>();
  private listener: ((delta: StateDelta) => void) | null = null;
  /**
   * Sockets handed over whose passing the channel has not finished: closed if the worker dies
   * first. A few at most (one is in flight at a time); an array, because a Set that gains and
   * loses a member per connection costs the garbage collector dearly (collections/registry.ts).
   */
  private readonly passing: Socket[] = [];
  /**
   * What waits to go to this worker: accepted sockets, and the messages sent after them. Node.js
   * passes one handle at a time over a channel and queues everything after it until the
   * receiver acknowledges; on every acknowledgement it sends the queue's first again and queues
   * the others anew, which is quadratic in the queue's length: in a reconnect storm the
   * supervisor spent its core on it and clients timed out waiting. So the queue is ours: a
   * socket goes out once the worker has said it took the last one (its `took` comes after
   * Node.js's acknowledgement, on the same channel). A shutdown goes out once every socket
   * before it has, as Node.js's own queue would have ordered it (it does not overtake the
   * connections accepted before it); questions (stats, metrics), reloads and log reopening go
   * ahead of the waiting sockets (`sendNow`).
   */
  private readonly outbox = new HandOffQueue<Outgoing>();
  /** Sockets in the outbox. */
  private queuedSockets = 0;
  /** The number of the socket on its way (0 when none) and when it was sent (performance.now()). */
  private inFlight = 0;
  private sentAt = 0;
  private sent = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly stallMs: number;
  /** The worker said it serves; only then are connections handed to it. */
  ready = false;
  /** How the worker's shutdown ended, as it reported before exiting (null: it has not). */
  stopResult: ShutdownResult | null = null;
  /**
   * Resolves once the worker has exited and its channel has closed: every message it sent has
   * been read by then (its `exit` can come first). Nothing here calls `worker.disconnect()`,
   * after which `close` would never come.
   */
  readonly closed: Promise<void>;

  /** `inForce`: the configuration a starting worker is to run (asked for with `hello`). */
  constructor(
    readonly worker: ChildProcess,
    inForce: () => LoadedConfig,
    private readonly handOffOptions: HandOffOptions = {},
  ) {
    this.stallMs = handOffOptions.stallMs ?? HAND_OFF_STALL_MS;
    this.closed = new Promise((resolve) => worker.once('close', () => resolve()));
    worker.on('message', (message: FromWorker) => {
      if (message.t === 'hello') {
        this.sendNow({ t: 'config', texts: inForce().texts });
      } else if (message.t === 'took') {
        // A late answer, for a socket the stall guard gave up waiting for, changes nothing.
        if (message.seq !== this.inFlight) return;
        this.inFlight = 0;
        this.pump();
      } else if (message.t === 'ready') {
        this.ready = true;
      } else if (message.t === 'stats' || message.t === 'metrics') {
        this.pending.get(message.id)?.(message.value);
        this.pending.delete(message.id);
      } else if (message.t === 'reloaded') {
        this.reloads.get(message.generation)?.({ ok: message.ok, message: message.message });
        this.reloads.delete(message.generation);
      } else if (message.t === 'state') {
        this.listener?.(deltaFromWire(message.delta));
      } else if (message.t === 'stopped') {
        this.stopResult = { drained: message.drained, cut: message.cut };
      }
    });
    // A channel closed before the process exits (a worker draining with its supervisor gone
    // from it) takes nothing more: what waits for it is closed now, not at its exit.
    worker.on('disconnect', () => this.dropSockets(true));
    worker.on('exit', () => {
      this.ready = false;
      // Node keeps a handle sent to a worker that died before acknowledging it (and every one
      // queued behind it) open for ever: the client would wait without an answer.
      for (const socket of this.passing.splice(0)) socket.destroy();
      this.dropSockets(true);
      for (const resolve of this.pending.values()) resolve(null);
      this.pending.clear();
      for (const resolve of this.reloads.values())
        resolve({ ok: false, message: `worker ${String(worker.pid)} exited` });
      this.reloads.clear();
    });
  }
  /** In order: after the sockets accepted before it (a shutdown drains them). */
  private send(message: ToWorker): void {
    if (!this.worker.connected) return;
    if (this.outbox.length === 0) this.worker.send(message);
    else this.outbox.push({ socket: null, message });
  }
  /**
   * Ahead of the sockets waiting here: a question or an instruction that does not depend on them
   * (in a reconnect storm they can wait for seconds). It waits at most for the one socket on its
   * way, which Node.js's channel sends first.
   */
  private sendNow(message: ToWorker): void {
    if (this.worker.connected) this.worker.send(message);
  }
  onState(listener: (delta: StateDelta) => void): void {
    this.listener = listener;
  }
  /** Sockets accepted for this worker that this process still holds (waiting, or being written). */
  get backlog(): number {
    return this.queuedSockets + this.passing.length;
  }
  /** Hands an accepted socket to this worker (after those before it); false if it cannot take it. */
  handOff(index: number, socket: Socket): boolean {
    if (!this.ready || !this.worker.connected) return false;
    this.outbox.push({ socket, index });
    this.queuedSockets++;
    this.pump();
    return true;
  }
  private pump(): void {
    for (let next = this.outbox.peek(); next !== undefined; next = this.outbox.peek()) {
      if (!this.worker.connected) return;
      if (next.socket === null) {
        this.outbox.shift();
        this.worker.send(next.message);
        continue;
      }
      if (this.inFlight !== 0) return;
      this.outbox.shift();
      this.queuedSockets--;
      const { index, socket } = next;
      // keepOpen: this process closes its descriptor itself once the message is written (the
      // worker then holds its own), or when the worker dies before it was.
      this.passing.push(socket);
      const seq = (this.sent = (this.sent % 0x7fffffff) + 1);
      this.inFlight = seq;
      this.sentAt = performance.now();
      this.worker.send({ t: 'connection', index, seq } satisfies ToWorker, socket, { keepOpen: true }, () => {
        const at = this.passing.indexOf(socket);
        if (at !== -1) this.passing.splice(at, 1);
        socket.destroy();
      });
      this.armStallGuard(this.stallMs);
    }
  }
  /**
   * A handle the receiving side could not read (Node.js answers NODE_HANDLE_NACK and the
   * message is lost; this process has closed its copy, so the client sees its connection
   * close) is never taken: after `stallMs` without word the next socket goes anyway.
   */
  private armStallGuard(ms: number): void {
    if (this.stallTimer !== null) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (this.inFlight === 0) return;
      const left = this.stallMs - (performance.now() - this.sentAt);
      if (left > 0) return this.armStallGuard(left);
      this.handOffOptions.onStall?.(this.worker.pid);
      this.inFlight = 0;
      this.pump();
    }, ms);
    this.stallTimer.unref();
  }
  /**
   * Gives up every socket still waiting here: offered to another worker when `rehome` (the
   * channel ended: this worker never saw them), closed otherwise; the messages among them go
   * out as they are.
   */
  private dropSockets(rehome = false): void {
    const messages: ToWorker[] = [];
    const offer = rehome ? this.handOffOptions.rehome : undefined;
    for (let next = this.outbox.shift(); next !== undefined; next = this.outbox.shift()) {
      if (next.socket === null) {
        messages.push(next.message);
        continue;
      }
      // Counted down one by one: `rehome` asks the supervisor, which reads every backlog.
      this.queuedSockets--;
      if (offer?.(next.index, next.socket) !== true) next.socket.destroy();
    }
    this.inFlight = 0;
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    for (const message of messages) this.send(message);
  }
  private ask<T>(t: 'stats' | 'metrics'): Promise<T | null> {
    if (!this.worker.connected) return Promise.resolve(null);
    const id = ++requestId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, 2000);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
      this.sendNow({ t, id });
    });
  }
  reload(trigger: string, next: LoadedConfig, generation: number): Promise<MemberReload> {
    if (!this.worker.connected)
      return Promise.resolve({ ok: false, message: `worker ${String(this.worker.pid)} is not connected` });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.reloads.delete(generation);
        resolve({
          ok: false,
          message: `worker ${String(this.worker.pid)} did not answer within ${RELOAD_ANSWER_MS / 1000} s`,
        });
      }, RELOAD_ANSWER_MS);
      this.reloads.set(generation, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      // Ahead of the waiting sockets: which configuration serves one of them depends on when the
      // worker reads its request, not on when it arrives, and the answer's deadline is the
      // worker's own time to apply the reload.
      this.sendNow({ t: 'reload', trigger, generation, texts: next.texts });
    });
  }
  reopen(): void {
    this.sendNow({ t: 'reopen' });
  }
  stats(): Promise<ProcessStats | null> {
    return this.ask<ProcessStats>('stats');
  }
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | null> {
    return this.ask('metrics');
  }
  /**
   * Tells the worker to drain: after the sockets accepted before this (a shutdown does not
   * overtake them), or at once, closing those, with a deadline of 0.
   */
  stop(deadlineMs?: number): void {
    if (deadlineMs === 0) this.dropSockets();
    this.send({ t: 'shutdown', deadlineMs });
  }
}
