import {
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import { newRecordId, type AccessRecord } from '../observe/index.js';
import { catalogRefFor } from '../policy/index.js';
import type { ClientConnection } from './client-connection.js';
import type { GatewayContext } from './context.js';
import type { GatewayDecision } from './gateway.js';
import { filterHeaders } from './headers.js';
import type { HttpTarget } from './request-target.js';
import { responseFor } from './responses.js';
import type { Session } from './session.js';

function upstreamFailure(error: unknown): ReasonCode {
  if (error instanceof AirlockError) return error.code;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('HPE_')) return 'FAIL_UPSTREAM_PROTOCOL';
  return 'FAIL_UPSTREAM_RESET';
}

/**
 * One plain-HTTP request forwarded to its origin through the keep-alive pool: hop-by-hop
 * headers removed, Host set from the request target, bodies streamed both ways.
 */
export class ForwardExchange implements Session {
  private upstreamReq: ClientRequest | null = null;
  private upstreamText: string | null = null;
  private failure: ReasonCode | null = null;
  private end: ReasonCode | null = null;
  private bytesFromClient = 0;
  private bytesToClient = 0;
  private finished = false;
  private setupMs: number | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly client: ClientConnection,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly target: HttpTarget,
    private readonly decision: GatewayDecision,
    private readonly start: number,
  ) {}

  run(): void {
    const { req, res, target } = this;
    this.ctx.sessions.add(this);
    const headers = ['Host', target.authority, ...filterHeaders(req.rawHeaders, false)];
    const upstreamReq = httpRequest({
      host: this.decision.host,
      port: target.port,
      method: req.method,
      path: target.path,
      headers,
      setHost: false,
      agent: this.ctx.pool,
      timeout: this.ctx.timeouts.upstreamResponse,
    });
    this.upstreamReq = upstreamReq;
    upstreamReq.on('socket', (socket) => {
      const address = socket.remoteAddress;
      if (address)
        this.upstreamText = address.includes(':')
          ? `[${address}]:${socket.remotePort}`
          : `${address}:${socket.remotePort}`;
    });
    upstreamReq.on('timeout', () =>
      upstreamReq.destroy(new AirlockError('FAIL_UPSTREAM_TIMEOUT', 'upstream timed out')),
    );
    upstreamReq.on('error', (error) => this.fail(upstreamFailure(error)));
    upstreamReq.on('response', (upstreamRes) => this.respond(upstreamRes));

    req.on('data', this.countIn);
    req.pipe(upstreamReq);
    res.once('close', this.onClientClose);
  }

  private readonly countIn = (chunk: Buffer): void => {
    this.bytesFromClient += chunk.length;
  };

  private readonly countOut = (chunk: Buffer): void => {
    this.bytesToClient += chunk.length;
  };

  private respond(upstreamRes: IncomingMessage): void {
    const res = this.res;
    if (res.destroyed) {
      upstreamRes.destroy();
      return;
    }
    res.sendDate = false;
    this.setupMs = Date.now() - this.start;
    res.writeHead(
      upstreamRes.statusCode ?? 502,
      upstreamRes.statusMessage,
      filterHeaders(upstreamRes.rawHeaders, true),
    );
    upstreamRes.on('data', this.countOut);
    upstreamRes.on('error', () => {
      this.end ??= 'FAIL_UPSTREAM_RESET';
      res.destroy();
    });
    upstreamRes.on('aborted', () => {
      this.end ??= 'FAIL_UPSTREAM_RESET';
      res.destroy();
    });
    upstreamRes.pipe(res);
  }

  private fail(reason: ReasonCode): void {
    const res = this.res;
    if (this.finished) return;
    if (res.headersSent) {
      this.end ??= reason;
      res.destroy();
      return;
    }
    this.failure = reason;
    const response = responseFor(reason);
    res.sendDate = false;
    res.shouldKeepAlive = false;
    res.writeHead(response.status, [...response.headers]);
    res.end(response.body);
  }

  abort(reason: ReasonCode): void {
    this.end ??= reason;
    this.upstreamReq?.destroy();
    this.res.destroy();
  }

  private readonly onClientClose = (): void => {
    if (!this.res.writableFinished) {
      this.end ??= 'CLIENT_ABORTED';
      this.upstreamReq?.destroy();
    }
    this.finish();
  };

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ctx.sessions.delete(this);
    const rule = this.decision.rule;
    const record: AccessRecord = {
      id: newRecordId(),
      start: this.start,
      durationMs: Date.now() - this.start,
      client: this.client.address,
      clientPort: this.client.port,
      clientName: null,
      method: this.req.method ?? '-',
      host: this.decision.host,
      port: this.target.port,
      path: this.target.path,
      decision:
        this.failure === null
          ? this.decision.wouldDeny === null
            ? 'allow'
            : 'would_deny'
          : this.failure.startsWith('DENY_')
            ? 'deny'
            : 'error',
      reason: this.failure ?? this.decision.wouldDeny ?? this.decision.reason,
      end: this.failure === null ? (this.end ?? 'CLOSED') : null,
      rule: rule?.text ?? null,
      ruleOrigin: rule?.origin.where ?? null,
      catalog: catalogRefFor(rule, this.decision.host),
      sni: null,
      upstream: this.upstreamText,
      status: this.res.statusCode,
      bytesFromClient: this.bytesFromClient,
      bytesToClient: this.bytesToClient,
      // Pooled keep-alive connections: the request may not have opened one.
      upstreamConnectMs: null,
      setupMs: this.setupMs,
    };
    this.ctx.log(record);
  }
}
