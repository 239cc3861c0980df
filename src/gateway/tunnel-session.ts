import type { Socket } from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import { catalogRefFor, decideDestination, normalizeHost } from '../policy/index.js';
import { newRecordId, type AccessRecord } from '../observe/index.js';
import type { ClientConnection } from './client-connection.js';
import type { GatewayContext } from './context.js';
import type { GatewayDecision } from './gateway.js';
import { CONNECT_ESTABLISHED, responseFor } from './responses.js';
import type { Session } from './session.js';
import { socketFd, type RelayResult, type RelayedTunnel } from './native.js';
import { splice } from './splice.js';
import { parseClientHello, type ClientHelloResult } from './tls-client-hello.js';

interface Peek {
  readonly bytes: Buffer;
  readonly hello: ClientHelloResult;
}

/** Reads from `socket` until the ClientHello is complete, refused, or time runs out; then pauses it. */
function peekClientHello(socket: Socket, head: Buffer, timeoutMs: number): Promise<Peek> {
  const first = parseClientHello(head);
  if (first.status !== 'incomplete') return Promise.resolve({ bytes: head, hello: first });
  return new Promise((resolve) => {
    let bytes = head;
    const done = (hello: ClientHelloResult): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      resolve({ bytes, hello });
    };
    const onData = (chunk: Buffer): void => {
      bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
      const hello = parseClientHello(bytes);
      if (hello.status !== 'incomplete') done(hello);
    };
    const onEnd = (): void => done({ status: 'incomplete' });
    const timer = setTimeout(() => done({ status: 'incomplete' }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

/**
 * One CONNECT tunnel from decision to close: resolve, guard, connect, answer 200, read the
 * ClientHello's server name (never decrypting) and check it against the CONNECT host and the
 * policy, then splice the two sockets with no JS work per byte (pipe both ways, half-close
 * propagated). One access-log line when both sides are closed.
 */
export class TunnelSession implements Session {
  private upstream: Socket | null = null;
  private upstreamText: string | null = null;
  private status = 0;
  private end: ReasonCode | null = null;
  private failure: ReasonCode | null = null;
  private refusal: ReasonCode | null = null;
  private wouldDeny: ReasonCode | null;
  private sni: string | null = null;
  private finished = false;
  private established = false;
  private spliced = false;
  private closedSides = 0;
  private readonly id = newRecordId();
  private upstreamConnectMs: number | null = null;
  private setupMs: number | null = null;
  /** Set when the client went away: a connect in progress gives up (a plain flag, cheaper than an AbortController per tunnel). */
  private readonly cancel = { aborted: false };

  constructor(
    private readonly ctx: GatewayContext,
    private readonly client: ClientConnection,
    private readonly socket: Socket,
    private readonly head: Buffer,
    private readonly decision: GatewayDecision,
    private readonly port: number,
    private readonly start: number,
  ) {
    this.wouldDeny = decision.wouldDeny;
  }

  async open(): Promise<void> {
    const socket = this.socket;
    socket.on('error', this.onClientError);
    socket.on('close', this.onClientClose);
    this.ctx.sessions.add(this);
    try {
      const connection = await this.ctx.connectUpstream(this.decision.host, this.port, this.cancel);
      if (this.finished || socket.destroyed) {
        connection.socket.destroy();
        return;
      }
      this.upstream = connection.socket;
      this.upstreamConnectMs = Math.round(connection.connectMs);
      const { address } = connection.address;
      this.upstreamText =
        connection.address.family === 6 ? `[${address}]:${this.port}` : `${address}:${this.port}`;
    } catch (error) {
      if (this.finished) return;
      const reason = error instanceof AirlockError ? error.code : 'INTERNAL_ERROR';
      if (reason === 'CLIENT_ABORTED') return;
      if (reason.startsWith('DENY_')) this.refusal = reason;
      else this.failure = reason;
      const response = responseFor(reason);
      this.status = response.status;
      socket.end(response.raw);
      return;
    }
    await this.establish();
  }

  private async establish(): Promise<void> {
    const client = this.socket;
    const upstream = this.upstream!;
    this.established = true;
    this.status = 200;
    upstream.on('error', this.onUpstreamError);
    upstream.on('close', this.onUpstreamClose);
    client.setNoDelay(true);
    client.write(CONNECT_ESTABLISHED);
    this.setupMs = Date.now() - this.start;

    let first = this.head;
    const tls = this.ctx.tls;
    if (tls.sniCheck && tls.ports.includes(this.port)) {
      const peek = await peekClientHello(client, this.head, this.ctx.timeouts.requestHead);
      if (this.finished || client.destroyed || upstream.destroyed) return;
      first = peek.bytes;
      const verdict = this.judge(peek.hello);
      if (verdict !== null) {
        const enforce = !this.ctx.audit || verdict === 'BAD_TLS_HELLO' || verdict === 'TLS_HELLO_TIMEOUT';
        if (enforce) {
          // Nothing of the client's bytes has reached the upstream: cut both sides.
          this.refusal = verdict;
          this.abort(verdict);
          return;
        }
        this.wouldDeny ??= verdict;
      }
    }
    // Established: the ClientHello (when checked) passed; the record says where it goes.
    this.ctx.opened(this.record(0, 0));
    this.spliced = true;
    if (this.ctx.relay !== null && this.handOver(first)) return;
    client.setTimeout(this.ctx.timeouts.tunnelIdle);
    client.on('timeout', this.onIdle);
    if (first.length > 0) upstream.write(first);
    splice(client, upstream);
  }

  /**
   * Gives the established tunnel to the native relay: both sockets stop reading, the bytes their
   * streams already hold travel with them, and the relay takes its own copies of the two
   * descriptors before these sockets are destroyed (closing ours, not the connections). False
   * when the tunnel must stay here: no plain TCP handle, a write still queued, or no descriptors.
   */
  private handOver(first: Buffer): boolean {
    const relay = this.ctx.relay!;
    const client = this.socket;
    const upstream = this.upstream!;
    const clientFd = socketFd(client);
    const upstreamFd = socketFd(upstream);
    if (clientFd < 0 || upstreamFd < 0) return false;
    client.pause();
    upstream.pause();
    if (client.writableLength > 0 || upstream.writableLength > 0) return false;
    // Reading what the streams buffered may restart reading, but nothing is read before the
    // event loop runs again, and by then these handles are closed.
    const fromClient = readBuffered(client);
    const fromUpstream = readBuffered(upstream);
    const toUpstream =
      fromClient === null ? first : first.length === 0 ? fromClient : Buffer.concat([first, fromClient]);
    const sent = upstream.bytesWritten;
    const received = upstream.bytesRead - (fromUpstream?.length ?? 0);
    const record = this.record(0, 0);
    const address = this.ctx.detach(client);
    const relayed = new RelayedSession(this.ctx, record, this.start, sent, received, address);
    try {
      relayed.id = relay.add(
        clientFd,
        upstreamFd,
        toUpstream.length > 0 ? toUpstream : null,
        fromUpstream,
        this.ctx.timeouts.tunnelIdle,
        relayed,
      );
    } catch {
      // Out of descriptors: keep the tunnel in this process.
      this.ctx.reattach(client);
      if (fromUpstream !== null) upstream.unshift(fromUpstream);
      if (fromClient !== null) client.unshift(fromClient);
      return false;
    }
    this.finished = true;
    this.ctx.sessions.delete(this);
    this.ctx.sessions.add(relayed);
    client.removeListener('error', this.onClientError);
    client.removeListener('close', this.onClientClose);
    upstream.removeListener('error', this.onUpstreamError);
    upstream.removeListener('close', this.onUpstreamClose);
    upstream.on('error', ignore);
    client.destroy();
    upstream.destroy();
    return true;
  }

  /** Null when the ClientHello may pass; otherwise the reason it may not. */
  private judge(hello: ClientHelloResult): ReasonCode | null {
    const tls = this.ctx.tls;
    switch (hello.status) {
      case 'incomplete':
        return 'TLS_HELLO_TIMEOUT';
      case 'malformed':
        return 'BAD_TLS_HELLO';
      case 'not_tls':
        return tls.nonTls === 'deny' ? 'DENY_NOT_TLS' : null;
      case 'ok': {
        if (hello.serverName === null) return tls.missingSni === 'deny' ? 'DENY_SNI_MISSING' : null;
        const sni = normalizeHost(hello.serverName);
        this.sni = sni.kind === 'name' ? sni.name : sni.kind === 'ip' ? sni.address : hello.serverName;
        if (sni.kind === 'invalid') return 'DENY_SNI_MISMATCH';
        if (this.sni === this.decision.host) return null;
        const other = decideDestination(this.ctx.policy(), 'CONNECT', this.sni, this.port);
        return other.verdict === 'allow' ? null : 'DENY_SNI_MISMATCH';
      }
    }
  }

  abort(reason: ReasonCode): void {
    if (this.end === null) this.end = reason;
    this.cancel.aborted = true;
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
      if (this.end === null && this.failure === null && this.refusal === null) this.end = 'CLIENT_ABORTED';
      this.cancel.aborted = true;
      this.finish();
      return;
    }
    // Once one side is fully closed nothing more can cross; let the other side go too.
    this.upstream!.destroy();
    this.sideClosed();
  };

  private readonly onUpstreamClose = (): void => {
    if (this.spliced) {
      // The pipe has usually ended it already; ending twice would build an error object per tunnel.
      if (!this.socket.writableEnded) this.socket.end();
      // Give buffered data a moment to leave, then make sure the client side closes.
      if (!this.socket.destroyed) this.socket.destroySoon();
    } else {
      this.socket.destroy();
    }
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
    this.ctx.log(
      this.record(
        this.spliced ? (upstream?.bytesWritten ?? 0) : 0,
        this.spliced ? (upstream?.bytesRead ?? 0) : 0,
      ),
    );
  }

  private record(bytesFromClient: number, bytesToClient: number): AccessRecord {
    const decision: AccessRecord['decision'] =
      this.refusal !== null
        ? 'deny'
        : this.failure !== null
          ? 'error'
          : this.wouldDeny !== null
            ? 'would_deny'
            : 'allow';
    const rule = this.decision.rule;
    return {
      id: this.id,
      start: this.start,
      durationMs: Date.now() - this.start,
      client: this.client.address,
      clientPort: this.client.port,
      clientName: null,
      method: 'CONNECT',
      host: this.decision.host,
      port: this.port,
      path: null,
      decision,
      reason: this.refusal ?? this.failure ?? this.wouldDeny ?? this.decision.reason,
      end: this.failure === null && this.refusal === null ? (this.end ?? 'CLOSED') : null,
      rule: rule?.text ?? null,
      ruleOrigin: rule?.origin.where ?? null,
      catalog: catalogRefFor(rule, this.decision.host),
      sni: this.sni,
      upstream: this.upstreamText,
      status: this.status,
      bytesFromClient,
      bytesToClient,
      upstreamConnectMs: this.upstreamConnectMs,
      setupMs: this.setupMs,
    };
  }
}

function ignore(): void {}

/** Everything a paused socket's stream holds, or null. */
function readBuffered(socket: Socket): Buffer | null {
  if (socket.readableLength === 0) return null;
  const chunks: Buffer[] = [];
  let chunk: unknown;
  while ((chunk = socket.read()) !== null) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

const RELAY_ENDS: Record<RelayResult['end'], ReasonCode> = {
  closed: 'CLOSED',
  client_error: 'CLIENT_ABORTED',
  upstream_error: 'FAIL_UPSTREAM_RESET',
  idle: 'IDLE_TIMEOUT',
  aborted: 'DRAIN_DEADLINE',
};

/**
 * A tunnel the native relay carries: what its access-log line needs, and nothing of the
 * sockets. Counts as a session for drain and as a client connection for the limits until the
 * relay reports it over.
 */
class RelayedSession implements Session, RelayedTunnel {
  id = 0;
  private abortReason: ReasonCode | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly base: AccessRecord,
    private readonly start: number,
    private readonly sent: number,
    private readonly received: number,
    private readonly address: string,
  ) {}

  abort(reason: ReasonCode): void {
    this.abortReason ??= reason;
    this.ctx.relay?.abort(this.id);
  }

  finished(result: RelayResult): void {
    this.ctx.sessions.delete(this);
    this.ctx.released(this.address);
    const end = result.end === 'aborted' ? (this.abortReason ?? 'DRAIN_DEADLINE') : RELAY_ENDS[result.end];
    this.ctx.log({
      ...this.base,
      durationMs: Date.now() - this.start,
      end: this.base.end === null ? null : end,
      bytesFromClient: this.sent + result.toUpstream,
      bytesToClient: this.received + result.toClient,
    });
  }
}
