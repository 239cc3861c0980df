import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';
import {
  catalogRefFor,
  checkResolvedAddress,
  CidrList,
  decideDestination,
  normalizeHost,
  parseAddress,
  parseCidr,
  sourceAllowed,
  type Decision,
  type Policy,
} from '../policy/index.js';
import { newRecordId, type AccessLogSink, type AccessRecord } from '../observe/index.js';
import { describeClient, type ClientConnection } from './client-connection.js';
import { ConnectionRate } from './connection-rate.js';
import type { GatewayContext, GatewayLimits, GatewayTimeouts, GatewayTls } from './context.js';
import { ForwardExchange } from './forward-exchange.js';
import type { Relay } from './native.js';
import { parseProxyHeader } from './proxy-protocol.js';
import { parseConnectTarget, parseHttpTarget } from './request-target.js';
import type { ResolvedAddress, Resolver } from './resolver.js';
import { responseFor } from './responses.js';
import type { Session } from './session.js';
import { TunnelSession } from './tunnel-session.js';
import { connectUpstream, type UpstreamConnection } from './upstream-connect.js';
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
  /** Answers origin-form requests on the proxy port that are not proxy requests (the PAC file); true if answered. */
  readonly originFormResponder?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** Carries established tunnels natively; without it they are spliced in JavaScript. */
  readonly relay?: Relay | null | undefined;
}

export interface GatewayStats {
  readonly connections: number;
  readonly sessions: number;
  /** Tunnels the native relay carries (included in connections and sessions). */
  readonly relayed: number;
}

export interface ShutdownResult {
  /** True if every session ended by itself before the deadline. */
  readonly drained: boolean;
  /** Sessions cut at the deadline. */
  readonly cut: number;
}

/** The destination reasons audit mode lets through (never the source ACL, never malformed input). */
const AUDITABLE: ReadonlySet<ReasonCode> = new Set(['DENY_HOST_NOT_ALLOWED', 'DENY_PORT', 'DENY_IP_LITERAL']);

/** A decision as the gateway acts on it: audit mode turns some denials into allows that are logged as such. */
export interface GatewayDecision extends Decision {
  /** Set in audit mode when the policy refused and the gateway let it through anyway. */
  readonly wouldDeny: ReasonCode | null;
}

/**
 * The gateway: HTTP/1.1 listeners whose CONNECT and absolute-form requests are decided by the
 * policy, then tunnelled or forwarded. Owns connection accounting, limits, reload and shutdown.
 */
export class Gateway {
  private policy: Policy;
  private readonly servers: Server[] = [];
  private readonly frontServers: TcpServer[] = [];
  private readonly connections = new Map<Socket, ClientConnection>();
  /** Client addresses carried by PROXY protocol headers, per accepted socket. */
  private readonly proxied = new WeakMap<Socket, { address: string; port: number } | null>();
  private readonly perClient = new Map<string, number>();
  private readonly sessions = new Set<Session>();
  /** Client sockets handed to the native relay: their slots are freed when the relay reports them over. */
  private readonly relayedSockets = new WeakSet<Socket>();
  private relayedCount = 0;
  /** Connections answered with a refusal at accept (limits, shutdown): their requests are ignored. */
  private readonly refusedSockets = new WeakSet<Socket>();
  private readonly relay: Relay | null;
  private readonly rate: ConnectionRate;
  private readonly ctx: GatewayContext;
  private readonly audit: boolean;
  private closing = false;

  constructor(private readonly options: GatewayOptions) {
    this.policy = options.policy;
    this.audit = options.mode === 'audit';
    this.rate = new ConnectionRate(options.limits.newConnectionsPerClientPerSecond);
    this.relay = options.relay ?? null;
    const connector = (
      host: string,
      port: number,
      signal?: { readonly aborted: boolean },
    ): Promise<UpstreamConnection> => this.connect(host, port, signal);
    this.ctx = {
      policy: () => this.policy,
      timeouts: options.timeouts,
      tls: options.tls,
      audit: this.audit,
      sessions: this.sessions,
      pool: new UpstreamPool(connector, {
        maxSockets: options.limits.upstreamSocketsPerOrigin,
        maxFreeSockets: options.limits.upstreamIdleSocketsPerOrigin,
        idleTimeoutMs: options.timeouts.upstreamKeepAlive,
      }),
      connectUpstream: connector,
      log: (record) => options.accessLog.write(record),
      opened: (record) => options.accessLog.opened(record),
      relay: this.relay,
      detach: (socket) => {
        this.relayedSockets.add(socket);
        this.relayedCount++;
        return this.connections.get(socket)?.address ?? '-';
      },
      reattach: (socket) => {
        this.relayedSockets.delete(socket);
        this.relayedCount--;
      },
      released: (client) => {
        this.relayedCount--;
        this.releaseClient(client);
      },
    };
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
    this.policy = update.policy;
  }

  get currentPolicy(): Policy {
    return this.policy;
  }

  stats(): GatewayStats {
    return {
      connections: this.connections.size + this.relayedCount,
      sessions: this.sessions.size,
      relayed: this.relayedCount,
    };
  }

  /** Bound addresses, in listener order (port 0 resolves to the real port). */
  addresses(): AddressInfo[] {
    return this.options.listeners.map(
      (_, i) => (this.frontServers[i] ?? this.servers[i])!.address() as AddressInfo,
    );
  }

  /**
   * Listens on every configured address. `via` lets a supervisor decide per listener: a
   * listening descriptor it prepared (`{ fd }`, e.g. an SO_REUSEPORT socket of this worker's
   * own), or `'handoff'` (no socket here: connections arrive through `accept`).
   */
  async start(via?: (index: number) => { fd: number } | 'handoff'): Promise<void> {
    for (const [index, listener] of this.options.listeners.entries()) {
      const server = this.createHttpServer();
      this.servers.push(server);
      let bound: Server | TcpServer = server;
      if (listener.proxyProtocol) {
        const front = this.createProxyProtocolFront(server, listener.proxyProtocol.trustedProxies);
        this.frontServers[this.servers.length - 1] = front;
        bound = front;
      }
      const how = via?.(index);
      if (how === 'handoff') continue;
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => reject(listenFailure(listener.text, error));
        bound.once('error', onError);
        const done = (): void => {
          bound.removeListener('error', onError);
          bound.on('error', () => undefined);
          resolve();
        };
        if (how !== undefined) bound.listen({ fd: how.fd }, done);
        else {
          bound.listen(
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

  /** A connection accepted elsewhere (a supervisor's socket) for listener `index`. */
  accept(index: number, socket: Socket): void {
    const server = this.frontServers[index] ?? this.servers[index];
    if (server === undefined || this.closing) {
      socket.destroy();
      return;
    }
    server.emit('connection', socket);
  }

  private createHttpServer(): Server {
    const { timeouts, limits } = this.options;
    const server = createServer({
      maxHeaderSize: limits.maxRequestHeadBytes,
      headersTimeout: timeouts.requestHead,
      requestTimeout: 0,
      keepAliveTimeout: timeouts.clientKeepAlive,
      connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(timeouts.requestHead / 4))),
      requireHostHeader: false,
      noDelay: true,
    });
    server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    server.on('connection', this.onConnection);
    server.on('connect', this.onConnect);
    server.on('request', this.onRequest);
    server.on('clientError', this.onClientError);
    return server;
  }

  /**
   * A listener behind an L4 load balancer: accepts only from trusted addresses, reads the
   * PROXY header, then hands the connection to the HTTP server with the client address the
   * header carried.
   */
  private createProxyProtocolFront(server: Server, trustedProxies: readonly string[]): TcpServer {
    const trusted = new CidrList<string>();
    for (const text of trustedProxies) trusted.add(parseCidr(text)!, text);
    const timeoutMs = this.options.timeouts.requestHead;
    return createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      const peer = parseAddress(socket.remoteAddress ?? '');
      if (peer === null || trusted.match(peer) === undefined) {
        this.logRefusal(describeClient(socket, Date.now()), 'DENY_PROXY_PROTOCOL', '-', '-', 0, Date.now());
        socket.destroy();
        return;
      }
      let buffered: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => fail('no PROXY header in time'), timeoutMs);
      const fail = (why: string): void => {
        void why;
        clearTimeout(timer);
        socket.removeListener('data', onData);
        this.logRefusal(describeClient(socket, Date.now()), 'DENY_PROXY_PROTOCOL', '-', '-', 0, Date.now());
        socket.end(responseFor('DENY_PROXY_PROTOCOL').raw);
        socket.setTimeout(2000, () => socket.destroy());
      };
      const onData = (chunk: Buffer): void => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        const header = parseProxyHeader(buffered);
        if (header.status === 'incomplete') return;
        if (header.status === 'malformed') return fail(header.why);
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.pause();
        this.proxied.set(socket, header.source);
        const rest = buffered.subarray(header.length);
        if (rest.length > 0) socket.unshift(rest);
        server.emit('connection', socket);
        socket.resume();
      };
      socket.on('data', onData);
    });
  }

  private readonly onConnection = (socket: Socket): void => {
    const now = Date.now();
    const client = describeClient(socket, now, this.proxied.get(socket));
    const total = this.connections.size + this.relayedCount;
    const mine = this.perClient.get(client.address) ?? 0;
    let refusal: ReasonCode | null = null;
    if (this.closing) refusal = 'SHUTTING_DOWN';
    else if (total >= this.options.limits.maxConnections) refusal = 'LIMIT_CONNECTIONS';
    else if (mine >= this.options.limits.maxConnectionsPerClient) refusal = 'LIMIT_CLIENT_CONNECTIONS';
    else if (!this.rate.admit(client.address)) refusal = 'LIMIT_CONNECTION_RATE';
    if (refusal !== null) {
      // The HTTP parser is already attached: whatever request follows is not acted on.
      this.refusedSockets.add(socket);
      socket.on('error', () => undefined);
      socket.end(responseFor(refusal).raw);
      socket.setTimeout(2000, () => socket.destroy());
      this.logRefusal(client, refusal, '-', '-', 0, now);
      return;
    }
    this.connections.set(socket, client);
    this.perClient.set(client.address, mine + 1);
    socket.on('close', () => {
      this.connections.delete(socket);
      // A relayed tunnel keeps its slot until the relay reports it over.
      if (!this.relayedSockets.has(socket)) this.releaseClient(client.address);
    });
  };

  private releaseClient(address: string): void {
    const left = (this.perClient.get(address) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(address);
    else this.perClient.set(address, left);
  }

  private clientOf(socket: Socket): ClientConnection {
    return this.connections.get(socket) ?? describeClient(socket, Date.now(), this.proxied.get(socket));
  }

  private decide(client: ClientConnection, method: string, host: string, port: number): GatewayDecision {
    const policy = this.policy;
    if (client.parsed === null || !sourceAllowed(policy, client.parsed)) {
      const normalized = normalizeHost(host);
      const shown =
        normalized.kind === 'name' ? normalized.name : normalized.kind === 'ip' ? normalized.address : host;
      return { verdict: 'deny', reason: 'DENY_SOURCE_NOT_ALLOWED', rule: null, host: shown, wouldDeny: null };
    }
    const decision = decideDestination(policy, method, host, port);
    if (decision.verdict === 'deny' && this.audit && AUDITABLE.has(decision.reason)) {
      return { ...decision, verdict: 'allow', wouldDeny: decision.reason };
    }
    return { ...decision, wouldDeny: null };
  }

  private readonly onConnect = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (this.refusedSockets.has(socket)) return;
    const start = Date.now();
    const client = this.clientOf(socket);
    socket.on('error', () => undefined);
    const target = parseConnectTarget(req.url ?? '');
    if ('error' in target) {
      this.refuseRaw(socket, client, target.error, 'CONNECT', req.url ?? '-', 0, start);
      return;
    }
    if (this.closing) {
      this.refuseRaw(socket, client, 'SHUTTING_DOWN', 'CONNECT', target.host, target.port, start);
      return;
    }
    const decision = this.decide(client, 'CONNECT', target.host, target.port);
    if (decision.verdict === 'deny') {
      this.refuseRaw(socket, client, decision.reason, 'CONNECT', decision.host, target.port, start, decision);
      return;
    }
    void new TunnelSession(this.ctx, client, socket, head, decision, target.port, start).open();
  };

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.refusedSockets.has(req.socket)) return;
    const start = Date.now();
    const client = this.clientOf(req.socket);
    const method = req.method ?? '-';
    const target = parseHttpTarget(req.url ?? '');
    if (
      'error' in target &&
      target.error === 'BAD_ORIGIN_FORM' &&
      this.options.originFormResponder?.(req, res)
    )
      return;
    if ('error' in target) {
      this.refuseResponse(res, client, target.error, method, '-', 0, null, start);
      return;
    }
    const hostHeader = req.headers.host;
    if (hostHeader !== undefined && !sameAuthority(hostHeader, target.host, target.port)) {
      this.refuseResponse(
        res,
        client,
        'BAD_HOST_MISMATCH',
        method,
        target.host,
        target.port,
        target.path,
        start,
      );
      return;
    }
    const decision = this.decide(client, method, target.host, target.port);
    if (decision.verdict === 'deny') {
      this.refuseResponse(
        res,
        client,
        decision.reason,
        method,
        decision.host,
        target.port,
        target.path,
        start,
        decision,
      );
      return;
    }
    if (this.closing) res.shouldKeepAlive = false;
    new ForwardExchange(this.ctx, client, req, res, target, decision, start).run();
  };

  private readonly onClientError = (error: NodeJS.ErrnoException, socket: Socket): void => {
    const client = this.clientOf(socket);
    const code = error.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const reason: ReasonCode =
      code === 'HPE_HEADER_OVERFLOW'
        ? 'HEAD_TOO_LARGE'
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'HEAD_TIMEOUT'
          : 'BAD_REQUEST';
    // An idle keep-alive connection that timed out between requests is not worth a log line.
    const hadBytes = socket.bytesRead > 0 || reason !== 'HEAD_TIMEOUT';
    socket.end(responseFor(reason).raw);
    socket.setTimeout(2000, () => socket.destroy());
    if (hadBytes) this.logRefusal(client, reason, '-', '-', 0, Date.now());
  };

  private refuseRaw(
    socket: Socket,
    client: ClientConnection,
    reason: ReasonCode,
    method: string,
    host: string,
    port: number,
    start: number,
    decision?: Decision,
  ): void {
    socket.end(responseFor(reason).raw);
    socket.setTimeout(5000, () => socket.destroy());
    this.logRefusal(client, reason, method, host, port, start, decision);
  }

  private refuseResponse(
    res: ServerResponse,
    client: ClientConnection,
    reason: ReasonCode,
    method: string,
    host: string,
    port: number,
    path: string | null,
    start: number,
    decision?: Decision,
  ): void {
    const response = responseFor(reason);
    res.sendDate = false;
    // A malformed target may mean a confused client: close. A policy denial keeps the connection.
    if (response.status === 400 || this.closing) res.shouldKeepAlive = false;
    res.writeHead(response.status, [...response.headers]);
    res.end(response.body);
    this.logRefusal(client, reason, method, host, port, start, decision, path);
  }

  private logRefusal(
    client: ClientConnection,
    reason: ReasonCode,
    method: string,
    host: string,
    port: number,
    start: number,
    decision?: Decision,
    path: string | null = null,
  ): void {
    const rule = decision?.rule ?? null;
    const record: AccessRecord = {
      id: newRecordId(),
      start,
      durationMs: Date.now() - start,
      client: client.address,
      clientPort: client.port,
      clientName: null,
      method,
      host,
      port,
      path,
      decision: 'deny',
      reason,
      end: null,
      rule: rule?.text ?? null,
      ruleOrigin: rule?.origin.where ?? null,
      catalog: catalogRefFor(rule, host),
      sni: null,
      upstream: null,
      status: responseFor(reason).status,
      bytesFromClient: 0,
      bytesToClient: 0,
      upstreamConnectMs: null,
      setupMs: null,
    };
    this.ctx.log(record);
  }

  /**
   * Resolve (configured hosts, hosts file, cache, DNS), drop every address the guard refuses,
   * and connect to the first of the rest that accepts. The addresses checked are the addresses
   * connected to: there is no second lookup.
   */
  private async connect(
    host: string,
    port: number,
    signal?: { readonly aborted: boolean },
  ): Promise<UpstreamConnection> {
    const literal = normalizeHost(host);
    const resolved: readonly ResolvedAddress[] =
      literal.kind === 'ip'
        ? [{ address: literal.address, family: literal.family, pinned: false }]
        : await this.options.resolver.resolve(literal.kind === 'name' ? literal.name : host);
    const policy = this.policy;
    const permitted: ResolvedAddress[] = [];
    const refused: string[] = [];
    for (const address of resolved) {
      if (address.pinned) {
        permitted.push(address);
        continue;
      }
      const verdict = checkResolvedAddress(policy, address.address);
      if (verdict.allowed) permitted.push(address);
      else refused.push(`${address.address} (${verdict.addressClass})`);
    }
    if (permitted.length === 0) {
      throw new AirlockError(
        'DENY_DESTINATION_ADDRESS',
        `${host} resolved only to refused addresses: ${refused.join(', ')}`,
      );
    }
    return connectUpstream(permitted, port, this.options.timeouts.connect, signal);
  }

  private async closeServers(): Promise<void> {
    const all: (Server | TcpServer)[] = [...this.servers, ...this.frontServers.filter(Boolean)];
    await Promise.all(
      all.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
          }),
      ),
    );
  }

  /**
   * Stops accepting, closes idle keep-alive connections, lets tunnels and in-flight requests
   * finish until `deadlineMs`, then cuts what is left.
   */
  async shutdown(deadlineMs = this.options.timeouts.drain): Promise<ShutdownResult> {
    this.closing = true;
    const closed = this.closeServers();
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      for (const server of this.servers) server.closeIdleConnections();
      if (this.sessions.size === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cut = this.sessions.size;
    for (const session of [...this.sessions]) session.abort('DRAIN_DEADLINE');
    // The relay reports its tunnels from its own thread: wait (briefly) for their log lines.
    const reported = Date.now() + 2000;
    while (this.relayedCount > 0 && Date.now() < reported) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Never let a report that did not come keep the process alive.
    if (this.relayedCount > 0) this.relay?.letGo();
    for (const socket of this.connections.keys()) socket.destroy();
    for (const server of this.servers) server.closeAllConnections();
    this.ctx.pool.destroy();
    await closed;
    return { drained: cut === 0, cut };
  }
}

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

/** Does a Host header name the same host and port as the absolute request target? */
function sameAuthority(hostHeader: string, targetHost: string, targetPort: number): boolean {
  const bracketEnd = hostHeader.lastIndexOf(']');
  const colon = hostHeader.lastIndexOf(':');
  let host = hostHeader;
  let port = 80;
  if (colon > bracketEnd) {
    host = hostHeader.slice(0, colon);
    const text = hostHeader.slice(colon + 1);
    if (text !== '') {
      if (!/^[0-9]{1,5}$/.test(text)) return false;
      port = Number(text);
    }
  }
  if (port !== targetPort) return false;
  const a = normalizeHost(host);
  const b = normalizeHost(targetHost);
  if (a.kind === 'name' && b.kind === 'name') return a.name === b.name;
  if (a.kind === 'ip' && b.kind === 'ip') return a.address === b.address;
  return false;
}
