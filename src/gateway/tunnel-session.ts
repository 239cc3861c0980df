import type { Socket } from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import type { Decision } from '../policy/index.js';
import type { AccessRecord } from '../observe/index.js';
import type { ClientConnection } from './client-connection.js';
import { CONNECT_ESTABLISHED, responseFor } from './responses.js';
import type { Session } from './session.js';
import type { GatewayContext } from './context.js';

/**
 * One CONNECT tunnel from decision to close: resolve, connect, answer 200, then splice the
 * two sockets with no JS work per byte (pipe both ways, half-close propagated), and one
 * access-log line when both sides are closed. Never looks inside the bytes.
 */
export class TunnelSession implements Session {
  private upstream: Socket | null = null;
  private upstreamText: string | null = null;
  private status = 0;
  private end: ReasonCode | null = null;
  private failure: ReasonCode | null = null;
  private finished = false;
  private established = false;
  private closedSides = 0;
  private readonly aborter = new AbortController();

  constructor(
    private readonly ctx: GatewayContext,
    private readonly client: ClientConnection,
    private readonly socket: Socket,
    private readonly head: Buffer,
    private readonly decision: Decision,
    private readonly port: number,
    private readonly start: number,
  ) {}

  async open(): Promise<void> {
    const socket = this.socket;
    socket.on('error', this.onClientError);
    socket.once('close', this.onClientClose);
    this.ctx.sessions.add(this);
    try {
      const connection = await this.ctx.connectUpstream(this.decision.host, this.port, this.aborter.signal);
      if (this.finished || socket.destroyed) {
        connection.socket.destroy();
        return;
      }
      this.upstream = connection.socket;
      const { address } = connection.address;
      this.upstreamText =
        connection.address.family === 6 ? `[${address}]:${this.port}` : `${address}:${this.port}`;
    } catch (error) {
      if (this.finished) return;
      const reason = error instanceof AirlockError ? error.code : 'INTERNAL_ERROR';
      if (reason === 'CLIENT_ABORTED') return;
      this.failure = reason;
      const response = responseFor(reason);
      this.status = response.status;
      socket.end(response.raw);
      return;
    }
    this.splice();
  }

  private splice(): void {
    const client = this.socket;
    const upstream = this.upstream!;
    this.established = true;
    this.status = 200;
    upstream.on('error', this.onUpstreamError);
    upstream.once('close', this.onUpstreamClose);
    client.setNoDelay(true);
    client.setTimeout(this.ctx.timeouts.tunnelIdle);
    client.on('timeout', this.onIdle);
    client.write(CONNECT_ESTABLISHED);
    if (this.head.length > 0) upstream.write(this.head);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  abort(reason: ReasonCode): void {
    if (this.end === null) this.end = reason;
    this.aborter.abort();
    this.socket.destroy();
    this.upstream?.destroy();
  }

  private readonly onIdle = (): void => this.abort('IDLE_TIMEOUT');

  private readonly onClientError = (): void => {
    if (this.end === null) this.end = 'CLIENT_ABORTED';
    this.upstream?.destroy();
  };

  private readonly onUpstreamError = (): void => {
    if (this.end === null) this.end = 'FAIL_UPSTREAM_RESET';
    this.socket.destroy();
  };

  private readonly onClientClose = (): void => {
    if (!this.established) {
      // Closed before the tunnel existed: stop any connect in progress.
      if (this.end === null && this.failure === null) this.end = 'CLIENT_ABORTED';
      this.aborter.abort();
      this.finish();
      return;
    }
    // Once one side is fully closed nothing more can cross; let the other side go too.
    this.upstream!.destroy();
    this.sideClosed();
  };

  private readonly onUpstreamClose = (): void => {
    this.socket.end();
    // Give buffered data a moment to leave, then make sure the client side closes.
    if (!this.socket.destroyed) this.socket.destroySoon();
    this.sideClosed();
  };

  private sideClosed(): void {
    this.closedSides++;
    if (this.closedSides === 2) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ctx.sessions.delete(this);
    const upstream = this.upstream;
    const record: AccessRecord = {
      start: this.start,
      durationMs: Date.now() - this.start,
      client: this.client.address,
      clientPort: this.client.port,
      method: 'CONNECT',
      host: this.decision.host,
      port: this.port,
      path: null,
      decision: this.failure === null ? 'allow' : 'error',
      reason: this.failure ?? this.decision.reason,
      end: this.failure === null ? (this.end ?? 'CLOSED') : null,
      rule: this.decision.rule?.text ?? null,
      ruleOrigin: this.decision.rule?.origin.where ?? null,
      upstream: this.upstreamText,
      status: this.status,
      bytesFromClient: upstream?.bytesWritten ?? 0,
      bytesToClient: upstream?.bytesRead ?? 0,
    };
    this.ctx.log(record);
  }
}
