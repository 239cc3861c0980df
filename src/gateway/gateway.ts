import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';
import {
  decideDestination,
  normalizeHost,
  sourceAllowed,
  type Decision,
  type Policy,
} from '../policy/index.js';
import type { AccessLogSink, AccessRecord } from '../observe/index.js';
import { describeClient, type ClientConnection } from './client-connection.js';
import type { GatewayContext, GatewayLimits, GatewayTimeouts } from './context.js';
import { ForwardExchange } from './forward-exchange.js';
import { parseConnectTarget, parseHttpTarget } from './request-target.js';
import type { Resolver } from './resolver.js';
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
  readonly timeouts: GatewayTimeouts;
  readonly limits: GatewayLimits;
}

export interface GatewayStats {
  readonly connections: number;
  readonly sessions: number;
}

export interface ShutdownResult {
  /** True if every session ended by itself before the deadline. */
  readonly drained: boolean;
  /** Sessions cut at the deadline. */
  readonly cut: number;
}

/**
 * The gateway: HTTP/1.1 listeners whose CONNECT and absolute-form requests are decided by the
 * policy, then tunnelled or forwarded. Owns connection accounting, limits and shutdown.
 */
export class Gateway {
  private policy: Policy;
  private readonly servers: Server[] = [];
  private readonly connections = new Map<Socket, ClientConnection>();
  private readonly perClient = new Map<string, number>();
  private readonly sessions = new Set<Session>();
  private readonly ctx: GatewayContext;
  private closing = false;

  constructor(private readonly options: GatewayOptions) {
    this.policy = options.policy;
    const connector = (host: string, port: number, signal?: AbortSignal): Promise<UpstreamConnection> =>
      this.connect(host, port, signal);
    this.ctx = {
      policy: () => this.policy,
      timeouts: options.timeouts,
      sessions: this.sessions,
      pool: new UpstreamPool(connector, {
        maxSockets: options.limits.upstreamSocketsPerOrigin,
        maxFreeSockets: options.limits.upstreamIdleSocketsPerOrigin,
        idleTimeoutMs: options.timeouts.upstreamKeepAlive,
      }),
      connectUpstream: connector,
      log: (record) => options.accessLog.write(record),
    };
  }

  /** Swaps the policy for new requests; requests and tunnels already decided are untouched. */
  setPolicy(policy: Policy): void {
    this.policy = policy;
  }

  get currentPolicy(): Policy {
    return this.policy;
  }

  stats(): GatewayStats {
    return { connections: this.connections.size, sessions: this.sessions.size };
  }

  /** Bound addresses, in listener order (port 0 resolves to the real port). */
  addresses(): AddressInfo[] {
    return this.servers.map((s) => s.address() as AddressInfo);
  }

  async start(): Promise<void> {
    const wildcardV4Ports = new Set(
      this.options.listeners.filter((l) => l.host === '0.0.0.0').map((l) => l.port),
    );
    for (const listener of this.options.listeners) {
      const server = this.createHttpServer();
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => {
          const why =
            error.code === 'EADDRINUSE'
              ? 'address already in use'
              : error.code === 'EACCES'
                ? 'permission denied (ports below 1024 need privileges)'
                : error.code === 'EADDRNOTAVAIL'
                  ? 'address not available on this host'
                  : error.message;
          reject(
            new AirlockError('LISTEN_FAILED', `cannot listen on ${listener.text}: ${why}`, { cause: error }),
          );
        };
        server.once('error', onError);
        server.listen(
          {
            host: listener.host,
            port: listener.port,
            ipv6Only: listener.family === 6 && listener.host === '::' && wildcardV4Ports.has(listener.port),
            backlog: 4096,
          },
          () => {
            server.removeListener('error', onError);
            server.on('error', () => undefined);
            resolve();
          },
        );
      }).catch(async (error: unknown) => {
        await this.closeServers();
        throw error;
      });
    }
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
    server.on('connection', this.onConnection);
    server.on('connect', this.onConnect);
    server.on('request', this.onRequest);
    server.on('clientError', this.onClientError);
    return server;
  }

  private readonly onConnection = (socket: Socket): void => {
    const client = describeClient(socket, Date.now());
    const total = this.connections.size;
    const mine = this.perClient.get(client.address) ?? 0;
    let refusal: ReasonCode | null = null;
    if (this.closing) refusal = 'SHUTTING_DOWN';
    else if (total >= this.options.limits.maxConnections) refusal = 'LIMIT_CONNECTIONS';
    else if (mine >= this.options.limits.maxConnectionsPerClient) refusal = 'LIMIT_CLIENT_CONNECTIONS';
    if (refusal !== null) {
      socket.on('error', () => undefined);
      socket.end(responseFor(refusal).raw);
      socket.setTimeout(2000, () => socket.destroy());
      this.logRefusal(client, refusal, '-', '-', 0, Date.now());
      return;
    }
    this.connections.set(socket, client);
    this.perClient.set(client.address, mine + 1);
    socket.once('close', () => {
      this.connections.delete(socket);
      const left = (this.perClient.get(client.address) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client.address);
      else this.perClient.set(client.address, left);
    });
  };

  private clientOf(socket: Socket): ClientConnection {
    return this.connections.get(socket) ?? describeClient(socket, Date.now());
  }

  private decide(client: ClientConnection, method: string, host: string, port: number): Decision {
    const policy = this.policy;
    if (client.parsed === null || !sourceAllowed(policy, client.parsed)) {
      const normalized = normalizeHost(host);
      const shown =
        normalized.kind === 'name' ? normalized.name : normalized.kind === 'ip' ? normalized.address : host;
      return { verdict: 'deny', reason: 'DENY_SOURCE_NOT_ALLOWED', rule: null, host: shown };
    }
    return decideDestination(policy, method, host, port);
  }

  private readonly onConnect = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
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
    const start = Date.now();
    const client = this.clientOf(req.socket);
    const method = req.method ?? '-';
    const target = parseHttpTarget(req.url ?? '');
    if ('error' in target) {
      this.refuseResponse(res, client, target.error, method, '-', 0, null, start);
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
    const record: AccessRecord = {
      start,
      durationMs: Date.now() - start,
      client: client.address,
      clientPort: client.port,
      method,
      host,
      port,
      path,
      decision: 'deny',
      reason,
      end: null,
      rule: decision?.rule?.text ?? null,
      ruleOrigin: decision?.rule?.origin.where ?? null,
      upstream: null,
      status: responseFor(reason).status,
      bytesFromClient: 0,
      bytesToClient: 0,
    };
    this.ctx.log(record);
  }

  /** Resolve (hosts, cache, DNS) and connect, for tunnels and the forwarding pool alike. */
  private async connect(host: string, port: number, signal?: AbortSignal): Promise<UpstreamConnection> {
    const literal = normalizeHost(host);
    const addresses =
      literal.kind === 'ip'
        ? [{ address: literal.address, family: literal.family }]
        : await this.options.resolver.resolve(host);
    return connectUpstream(addresses, port, this.options.timeouts.connect, signal);
  }

  private async closeServers(): Promise<void> {
    await Promise.all(
      this.servers.map(
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
    for (const socket of this.connections.keys()) socket.destroy();
    for (const server of this.servers) server.closeAllConnections();
    this.ctx.pool.destroy();
    await closed;
    return { drained: cut === 0, cut };
  }
}
