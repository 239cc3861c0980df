import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { AirlockError } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';
import type { Policy } from '../policy/index.js';
import type { AccessLogSink } from '../observe/index.js';
import { Admission, identify, type ClientIdentity } from './admission.js';
import { ClientConnection, HeadDeadlines } from './client-connection.js';
import { FrontListenerSlot } from './front.js';
import { Dialer } from './dialer.js';
import type { Relay } from './native.js';
import type {
  FaultReporter,
  GatewayLimits,
  GatewayParts,
  GatewayTimeouts,
  GatewayTls,
  OriginFormResponder,
} from './parts.js';
import { ProxyProtocolFront } from './proxy-front.js';
import type { ReadPort } from './read-port.js';
import type { Resolver } from './resolver.js';
import { responseFor } from './responses.js';
import { Registry } from '../collections/registry.js';
import { Refusal, sessionRegistry } from './session.js';
import { UpstreamPool } from './upstream-pool.js';

export interface GatewayOptions {
  readonly listeners: readonly ListenAddress[];
  readonly policy: Policy;
  readonly resolver: Resolver;
  readonly accessLog: AccessLogSink;
  readonly mode?: 'enforce' | 'audit';
  readonly tls: GatewayTls;
  readonly timeouts: GatewayTimeouts;
  readonly limits: GatewayLimits;
  /** Answers origin-form requests on the proxy port that are not proxy requests (the PAC file). */
  readonly originForm?: OriginFormResponder | null | undefined;
  /** Carries established tunnels natively; without it they are spliced in JavaScript. */
  readonly relay?: Relay | null | undefined;
  /** The process's open-files limit; connections are refused (503) before it is reached. */
  readonly openFilesLimit?: number | null | undefined;
  /** Receives unexpected exceptions (the session ends, the gateway keeps serving). */
  readonly faults?: FaultReporter | undefined;
  /**
   * Accept and carry CONNECT tunnels in the native front (needs `relay`): listeners without
   * PROXY protocol are accepted by the relay thread, which reads heads, connects and relays
   * while every decision stays here.
   */
  readonly nativeFront?: boolean | undefined;
  /** Whether the native front makes repeat grants (default true; see `FrontGrants`). */
  readonly frontGrants?: boolean | undefined;
}

/** A listener the native front owns. */
interface FrontListening {
  readonly slot: number;
  readonly address: AddressInfo;
}

export interface GatewayStats {
  /** Client connections holding a slot (tunnels in the relay included). */
  readonly connections: number;
  readonly sessions: number;
  /** Tunnels the native relay carries (included in connections and sessions). */
  readonly relayed: number;
  /** Pooled upstream connections of plain-HTTP forwarding. */
  readonly upstreams: number;
  /** ClientHellos the native front passed without JavaScript (they named the CONNECT host). */
  readonly hellosPassedInFront: number;
  /** Repeat grants of the native front waiting to be used, each holding a client's slot. */
  readonly grantsHeld: number;
}

export interface ShutdownResult {
  /** True if every session ended by itself before the deadline. */
  readonly drained: boolean;
  /** Sessions cut at the deadline. */
  readonly cut: number;
}

/**
 * The gateway: listeners, routing of accepted connections (PROXY protocol front, admission,
 * the client connection that reads requests), reload and shutdown. What a request does lives
 * in its session; the parts a session uses (admission, dialer, pool, relay, log) are built
 * here once and never call back into the gateway.
 */
export class Gateway {
  private readonly parts: GatewayParts;
  private readonly servers: (Server | FrontListening)[] = [];
  private readonly fronts: (ProxyProtocolFront | null)[] = [];
  private readonly deadlines: HeadDeadlines;

  constructor(private readonly options: GatewayOptions) {
    const { timeouts, limits } = options;
    const admission = new Admission(limits, options.openFilesLimit ?? null);
    const dialer = new Dialer(options.resolver, timeouts.connect);
    this.parts = {
      policy: options.policy,
      mode: options.mode ?? 'enforce',
      timeouts,
      tls: options.tls,
      limits,
      admission,
      dialer,
      pool: new UpstreamPool(dialer, admission, {
        perOrigin: limits.upstreamSocketsPerOrigin,
        idlePerOrigin: limits.upstreamIdleSocketsPerOrigin,
        total: limits.upstreamSockets,
        idleTimeoutMs: timeouts.upstreamKeepAlive,
        waitMs: timeouts.connect,
      }),
      sessions: sessionRegistry(),
      log: options.accessLog,
      relay: options.relay ?? null,
      originForm: options.originForm ?? null,
      connections: new Registry('connected'),
      faults: options.faults ?? { report: () => undefined },
      closing: false,
      relayed: 0,
      hellosPassedInFront: 0,
    };
    this.deadlines = new HeadDeadlines(Math.max(100, Math.min(1000, Math.floor(timeouts.requestHead / 4))));
  }

  /**
   * Applies a reloaded configuration: the policy and the static host answers, atomically for new
   * requests; requests and tunnels already decided are untouched.
   */
  reload(update: {
    policy: Policy;
    hosts: ReadonlyMap<string, readonly string[]>;
    systemHosts: ReadonlyMap<string, readonly string[]>;
  }): void {
    this.options.resolver.setStaticHosts(update.hosts, update.systemHosts);
    this.parts.policy = update.policy;
    // No request may be connected on a decision made under the policy replaced here, nor
    // carried on an upstream connection dialed under it.
    this.parts.relay?.revokeGrants();
    this.parts.pool.retire();
  }

  get currentPolicy(): Policy {
    return this.parts.policy;
  }

  stats(): GatewayStats {
    return {
      connections: this.parts.admission.connections,
      sessions: this.parts.sessions.size,
      relayed: this.parts.relayed,
      upstreams: this.parts.pool.size,
      hellosPassedInFront: this.parts.hellosPassedInFront,
      grantsHeld: this.parts.admission.reserved,
    };
  }

  /** Bound addresses, in listener order (port 0 resolves to the real port). */
  addresses(): AddressInfo[] {
    return this.servers.map((server) =>
      'slot' in server ? server.address : (server.address() as AddressInfo),
    );
  }

  /**
   * Listens on every configured address. `via` lets a supervisor decide per listener: a
   * listening descriptor it prepared (`{ fd }`, e.g. an SO_REUSEPORT socket of this worker's
   * own), or `'handoff'` (no socket here: connections arrive through `accept`).
   */
  async start(via?: (index: number) => { fd: number } | 'handoff'): Promise<void> {
    for (const [index, listener] of this.options.listeners.entries()) {
      const how = via?.(index);
      if (
        this.options.nativeFront === true &&
        this.parts.relay !== null &&
        !listener.proxyProtocol &&
        how !== 'handoff'
      ) {
        this.fronts.push(null);
        this.servers.push(this.listenNatively(index, how));
        continue;
      }
      const front = listener.proxyProtocol
        ? new ProxyProtocolFront(this.parts, listener.proxyProtocol.trustedProxies, this.admit)
        : null;
      this.fronts.push(front);
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
        front === null ? this.admit(socket, null, null) : front.accept(socket),
      );
      this.servers.push(server);
      if (how === 'handoff') continue;
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => reject(listenFailure(listener.text, error));
        server.once('error', onError);
        const done = (): void => {
          server.removeListener('error', onError);
          server.on('error', () => undefined);
          resolve();
        };
        if (how !== undefined) server.listen({ fd: how.fd }, done);
        else {
          server.listen(
            {
              host: listener.host,
              port: listener.port,
              ipv6Only: ipv6Only(this.options.listeners, index),
              backlog: 4096,
            },
            done,
          );
        }
      }).catch(async (error: unknown) => {
        await this.closeServers();
        throw error;
      });
    }
  }

  /**
   * Gives listener `index` to the native front: on the descriptor the supervisor prepared, or
   * on a socket opened here.
   */
  private listenNatively(index: number, how: { fd: number } | undefined): FrontListening {
    const relay = this.parts.relay!;
    const listener = this.options.listeners[index]!;
    let fd: number;
    if (how !== undefined) fd = how.fd;
    else {
      try {
        fd = relay.addon.listen(
          listener.host,
          listener.port,
          ipv6Only(this.options.listeners, index),
          4096,
          true,
          false,
        );
      } catch (error) {
        for (const s of this.servers) if ('slot' in s) relay.unlisten(s.slot);
        throw listenFailure(listener.text, error);
      }
    }
    const port = relay.addon.boundPort(fd);
    const front = new FrontListenerSlot(
      this.parts,
      relay,
      (socket, client, initial, reads) => this.serve(socket, client, initial, reads),
      this.options.frontGrants !== false,
    );
    const slot = relay.listen(
      fd,
      front,
      this.options.limits.maxRequestHeadBytes,
      this.options.timeouts.requestHead,
    );
    front.index = slot;
    relay.fault = (error) => this.parts.faults.report(error);
    return {
      slot,
      address: { address: listener.host, family: listener.family === 6 ? 'IPv6' : 'IPv4', port },
    };
  }

  /** A connection accepted elsewhere (a supervisor's socket) for listener `index`. */
  accept(index: number, socket: Socket): void {
    const front = this.fronts[index];
    if (front === undefined || this.parts.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if (front === null) this.admit(socket, null, null);
    else front.accept(socket);
  }

  /**
   * A client connection: takes a slot (or is refused with a 503 while a descriptor is still
   * free), then reads requests. `proxied` is the client a PROXY header named; `initial` the
   * bytes read after it.
   */
  private readonly admit = (
    socket: Socket,
    proxied: { readonly address: string; readonly port: number } | null,
    initial: Buffer | null,
  ): void => {
    const parts = this.parts;
    const client = identify(socket.remoteAddress, socket.remotePort, proxied);
    const refusal = parts.admission.admit(client.address, parts.closing);
    if (refusal !== null) {
      socket.on('error', ignore);
      const response = responseFor(refusal);
      socket.end(response.raw);
      if (parts.admission.linger()) {
        socket.once('close', () => parts.admission.lingered());
        socket.setTimeout(2000, () => socket.destroy());
      } else {
        // No descriptor to spare: the answer is with the kernel already; close now.
        socket.destroy();
      }
      new Refusal(parts, client, refusal, response.status);
      return;
    }
    this.serve(socket, client, initial);
  };

  /**
   * Reads requests from an admitted client connection (its slot is taken); `reads` when the
   * socket is read through a port instead of 'data' events.
   */
  private serve(
    socket: Socket,
    client: ClientIdentity,
    initial: Buffer | null,
    reads: ReadPort | null = null,
  ): void {
    const connection = new ClientConnection(this.parts, socket, client, this.deadlines, reads);
    this.parts.connections.add(connection);
    connection.start(initial);
  }

  private async closeServers(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if ('slot' in server) {
              this.parts.relay?.unlisten(server.slot);
              return resolve();
            }
            if (!server.listening) return resolve();
            server.close(() => resolve());
          }),
      ),
    );
  }

  /**
   * Stops accepting, closes connections between requests, lets tunnels and exchanges in
   * flight finish until `deadlineMs`, then cuts what is left.
   */
  shutdown(deadlineMs = this.options.timeouts.drain): Promise<ShutdownResult> {
    // A second call (a second signal) cuts now and shares the first call's result.
    if (this.stopping !== null) {
      if (deadlineMs === 0) this.cutNow = true;
      return this.stopping;
    }
    this.stopping = this.drain(deadlineMs);
    return this.stopping;
  }

  private stopping: Promise<ShutdownResult> | null = null;
  private cutNow = false;

  private async drain(deadlineMs: number): Promise<ShutdownResult> {
    const parts = this.parts;
    parts.closing = true;
    // No request is connected on a grant from here on (the front stops taking them at once).
    parts.relay?.revokeGrants();
    parts.log.draining();
    const closed = this.closeServers();
    const until = Date.now() + deadlineMs;
    for (;;) {
      for (const connection of parts.connections) connection.closeIfIdle();
      if (parts.sessions.size === 0 || Date.now() >= until || this.cutNow) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cut = parts.sessions.size;
    for (const session of [...parts.sessions]) session.abort('DRAIN_DEADLINE');
    // The relay reports its tunnels from its own thread: wait (briefly) for their log lines.
    const reported = Date.now() + 2000;
    while (parts.relayed > 0 && Date.now() < reported) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Never let a report that did not come keep the process alive.
    if (parts.relayed > 0) parts.relay?.letGo();
    for (const connection of parts.connections) connection.socket.destroy();
    parts.pool.destroy();
    this.deadlines.stop();
    await closed;
    return { drained: cut === 0, cut };
  }
}

function ignore(): void {}

/** Whether an IPv6 wildcard listener must leave IPv4 to a 0.0.0.0 listener on the same port. */
export function ipv6Only(listeners: readonly ListenAddress[], index: number): boolean {
  const l = listeners[index]!;
  return (
    l.family === 6 && l.host === '::' && listeners.some((o) => o.host === '0.0.0.0' && o.port === l.port)
  );
}

/** The error for a listener that cannot be opened, in words an admin acts on. */
export function listenFailure(listener: string, error: unknown): AirlockError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE'
      ? 'address already in use'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL'
          ? 'address not available on this host'
          : (error as Error).message;
  return new AirlockError('LISTEN_FAILED', `cannot listen on ${listener}: ${why}`, { cause: error });
}
