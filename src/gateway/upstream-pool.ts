import type { Socket } from 'node:net';
import { AirlockError } from '../errors/index.js';
import type { Policy } from '../policy/index.js';
import type { Admission } from './admission.js';
import type { DialTicket, Dialer } from './dialer.js';
import { ReadPort } from './read-port.js';
import { hostPort } from '../text/host-port.js';

/** Who is using a pooled connection: the pool hands it the connection's events. */
export interface LinkUser {
  /** Bytes read: borrowed unless `owned`, i.e. valid only until the call returns (see ReadPort). */
  onUpstreamData(chunk: Buffer, owned: boolean): void;
  onUpstreamEnd(): void;
  onUpstreamError(error: NodeJS.ErrnoException): void;
  onUpstreamClose(): void;
  onUpstreamTimeout(): void;
}

/**
 * One keep-alive connection to an origin, read through a ReadPort: its listeners are installed
 * once and dispatch to the user.
 */
export class UpstreamLink {
  user: LinkUser | null = null;
  /** Exchanges this connection has carried. */
  uses = 0;
  /** "address:port" actually connected to. */
  readonly peer: string;
  /** Time to connect, for the first exchange on this connection. */
  readonly connectMs: number;

  constructor(
    readonly socket: Socket,
    readonly key: string,
    /** The pool's generation when this connection was dialed (UpstreamPool.retire). */
    readonly generation: number,
    address: string,
    port: number,
    connectMs: number,
    private readonly pool: UpstreamPool,
    /** How the connection is read (switchable: `ownReads` while a body streams). */
    readonly reads: ReadPort,
  ) {
    this.peer = hostPort(address, port);
    this.connectMs = connectMs;
    reads.deliver = (chunk, owned) => {
      if (this.user !== null) this.user.onUpstreamData(chunk, owned);
      else socket.destroy(); // an idle connection has nothing to say
    };
    socket.on('end', () => {
      if (this.user !== null) this.user.onUpstreamEnd();
      else socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.user?.onUpstreamError(error));
    socket.on('timeout', () => {
      if (this.user !== null) this.user.onUpstreamTimeout();
      else socket.destroy(); // idle past timeouts.upstreamKeepAlive
    });
    socket.on('close', () => {
      this.pool.forget(this);
      this.user?.onUpstreamClose();
    });
  }
}

/** Called once with the connection for an exchange, or why there is none. */
export type LinkDone = (error: AirlockError | null, link: UpstreamLink | null) => void;

interface Waiter {
  readonly ticket: DialTicket;
  readonly done: LinkDone;
  readonly timer: NodeJS.Timeout;
  readonly host: string;
  readonly port: number;
  readonly policy: Policy;
  /** The generation `policy` belongs to. */
  readonly generation: number;
}

interface Origin {
  readonly idle: UpstreamLink[];
  /** Connections lent out plus connects in progress: what upstreamSocketsPerOrigin bounds. */
  inUse: number;
  readonly waiting: Waiter[];
}

export interface PoolLimits {
  readonly perOrigin: number;
  readonly idlePerOrigin: number;
  /** Every pooled connection of this process, idle, lent out or connecting. */
  readonly total: number;
  readonly idleTimeoutMs: number;
  /** How long a request waits for a connection slot. */
  readonly waitMs: number;
}

/**
 * Keep-alive connections to origins for plain-HTTP forwarding. A connect in progress counts
 * against the per-origin and gateway-wide caps from the moment it starts, so a burst of
 * requests cannot open more connections than the caps allow; requests over a cap wait (bounded
 * in time) for a connection to come back. Idle connections are kept per origin, newest first.
 */
export class UpstreamPool {
  private readonly origins = new Map<string, Origin>();
  private total = 0;
  private idleTotal = 0;
  private destroyed = false;
  /**
   * Counts retirements: a connection dialed in an earlier generation carries no more exchanges,
   * because the address it went to was judged under a policy and static hosts since replaced.
   */
  private generation = 0;

  constructor(
    private readonly dialer: Dialer,
    private readonly admission: Admission,
    private readonly limits: PoolLimits,
  ) {}

  /** Connections of this pool (idle, lent out, connecting). */
  get size(): number {
    return this.total;
  }

  get idle(): number {
    return this.idleTotal;
  }

  private origin(key: string): Origin {
    let origin = this.origins.get(key);
    if (origin === undefined) {
      origin = { idle: [], inUse: 0, waiting: [] };
      this.origins.set(key, origin);
    }
    return origin;
  }

  /** A connection to host:port for one exchange: an idle one, a new one, or one that comes free. */
  acquire(host: string, port: number, policy: Policy, ticket: DialTicket, done: LinkDone): void {
    const key = `${host}:${port}`;
    const origin = this.origin(key);
    const idle = this.takeIdle(origin);
    if (idle !== null) return done(null, idle);
    if (origin.inUse < this.limits.perOrigin && this.makeRoom()) {
      this.open(origin, key, host, port, policy, this.generation, ticket, done);
      return;
    }
    const waiter: Waiter = {
      ticket,
      done,
      host,
      port,
      policy,
      generation: this.generation,
      timer: setTimeout(() => {
        const at = origin.waiting.indexOf(waiter);
        if (at !== -1) origin.waiting.splice(at, 1);
        done(
          new AirlockError(
            'LIMIT_UPSTREAM_SOCKETS',
            `no connection to ${key} came free within ${this.limits.waitMs} ms`,
          ),
          null,
        );
      }, this.limits.waitMs),
    };
    origin.waiting.push(waiter);
  }

  private takeIdle(origin: Origin): UpstreamLink | null {
    while (origin.idle.length > 0) {
      const link = origin.idle.pop()!;
      this.idleTotal--;
      this.admission.holdDescriptors(-1);
      if (link.socket.destroyed) continue;
      origin.inUse++;
      // Its idle timeout stays armed: the exchange it is handed to arms its response timeout at once.
      return link;
    }
    return null;
  }

  /** Below the gateway-wide cap, closing the oldest idle connection of any origin if needed. */
  private makeRoom(): boolean {
    if (this.total < this.limits.total && this.admission.descriptorsLeft() > 0) return true;
    for (const origin of this.origins.values()) {
      const oldest = origin.idle.shift();
      if (oldest !== undefined) {
        this.idleTotal--;
        this.admission.holdDescriptors(-1);
        oldest.socket.destroy();
        this.total--;
        this.forgetCounted.add(oldest);
        return true;
      }
    }
    return false;
  }

  /** Links already uncounted when they were evicted (their close must not count them twice). */
  private readonly forgetCounted = new WeakSet<UpstreamLink>();

  private open(
    origin: Origin,
    key: string,
    host: string,
    port: number,
    policy: Policy,
    /** The generation `policy` belongs to: the connection's, however long the dial takes. */
    generation: number,
    ticket: DialTicket,
    done: LinkDone,
  ): void {
    origin.inUse++;
    this.total++;
    const reads = new ReadPort(true);
    this.dialer.dial(
      host,
      port,
      policy,
      ticket,
      (error, dialed) => {
        if (dialed === null || this.destroyed) {
          dialed?.socket.destroy();
          origin.inUse--;
          this.total--;
          this.serveWaiters(origin, key);
          return done(error ?? new AirlockError('SHUTTING_DOWN', 'gateway is shutting down'), null);
        }
        done(
          null,
          new UpstreamLink(
            dialed.socket,
            key,
            generation,
            dialed.address.address,
            port,
            dialed.connectMs,
            this,
            reads,
          ),
        );
      },
      reads,
    );
  }

  /**
   * The exchange is over. A connection that can carry another exchange goes idle (or straight
   * to a waiting request); any other is closed.
   */
  release(link: UpstreamLink, reusable: boolean): void {
    link.user = null;
    link.reads.ownReads = false;
    const origin = this.origin(link.key);
    origin.inUse--;
    if (!reusable || link.socket.destroyed || this.destroyed || link.generation !== this.generation) {
      link.socket.destroy();
      this.serveWaiters(origin, link.key);
      return;
    }
    const waiter = this.nextWaiter(origin);
    if (waiter !== null) {
      origin.inUse++;
      waiter.done(null, link);
      return;
    }
    if (origin.idle.length >= this.limits.idlePerOrigin) {
      link.socket.destroy();
      this.serveWaiters(origin, link.key);
      return;
    }
    link.socket.setTimeout(this.limits.idleTimeoutMs);
    origin.idle.push(link);
    this.idleTotal++;
    this.admission.holdDescriptors(1);
    // Waiters of other origins may be held back by the gateway-wide cap.
    if (this.total >= this.limits.total) this.serveAnyWaiter();
  }

  /** A pooled connection closed (idle or not): it no longer counts. */
  forget(link: UpstreamLink): void {
    if (this.forgetCounted.has(link)) return;
    this.forgetCounted.add(link);
    this.total--;
    const origin = this.origins.get(link.key);
    if (origin === undefined) return;
    const at = origin.idle.indexOf(link);
    if (at !== -1) {
      origin.idle.splice(at, 1);
      this.idleTotal--;
      this.admission.holdDescriptors(-1);
    }
    this.serveWaiters(origin, link.key);
    if (origin.idle.length === 0 && origin.inUse === 0 && origin.waiting.length === 0)
      this.origins.delete(link.key);
  }

  private nextWaiter(origin: Origin): Waiter | null {
    while (origin.waiting.length > 0) {
      const waiter = origin.waiting.shift()!;
      clearTimeout(waiter.timer);
      if (!waiter.ticket.aborted) return waiter;
    }
    return null;
  }

  /** Starts connections for waiting requests while the caps allow. */
  private serveWaiters(origin: Origin, key: string): void {
    while (origin.waiting.length > 0 && origin.inUse < this.limits.perOrigin && this.makeRoom()) {
      const waiter = this.nextWaiter(origin);
      if (waiter === null) return;
      this.open(
        origin,
        key,
        waiter.host,
        waiter.port,
        waiter.policy,
        waiter.generation,
        waiter.ticket,
        waiter.done,
      );
    }
  }

  private serveAnyWaiter(): void {
    for (const [key, origin] of this.origins) {
      if (origin.waiting.length > 0) {
        this.serveWaiters(origin, key);
        return;
      }
    }
  }

  /**
   * A reload: every connection open now was dialed to an address the replaced configuration
   * chose and judged (its static hosts, internal networks, destinations). Idle ones close now;
   * those carrying an exchange finish it and close instead of going idle. Each request after
   * this dials afresh, so the new configuration decides where it goes.
   */
  retire(): void {
    this.generation++;
    for (const origin of this.origins.values()) {
      for (const link of origin.idle.splice(0)) {
        this.idleTotal--;
        this.admission.holdDescriptors(-1);
        link.socket.destroy();
      }
    }
  }

  /** Closes every idle connection and fails every waiting request (shutdown). */
  destroy(): void {
    this.destroyed = true;
    for (const origin of this.origins.values()) {
      for (const link of origin.idle.splice(0)) link.socket.destroy();
      for (const waiter of origin.waiting.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.done(new AirlockError('SHUTTING_DOWN', 'gateway is shutting down'), null);
      }
    }
  }
}
