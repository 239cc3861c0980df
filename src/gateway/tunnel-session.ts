import type { Socket } from 'node:net';
import type { AirlockError, ReasonCode } from '../errors/index.js';
import { decide, judgeServerName, serverNameChecked, type Policy } from '../policy/index.js';
import type { ClientIdentity } from './admission.js';
import type { Dialed, DialTicket } from './dialer.js';
import { RELAY_ENDS, socketFd, type RelayResult, type RelayedTunnel } from './native.js';
import type { GatewayParts } from './parts.js';
import { CONNECT_ESTABLISHED, responseFor } from './responses.js';
import { Session } from './session.js';
import { hostPort } from '../text/host-port.js';
import { keptText } from '../text/kept.js';
import { peekClientHello, type Peeked } from './sni-peek.js';
import { splice } from './splice.js';

const EMPTY = Buffer.alloc(0);

const enum Phase {
  Dialing,
  Peeking,
  Spliced,
  Relayed,
  Over,
}

/**
 * One CONNECT tunnel: decide, dial (resolve → guard → connect), answer 200, read the
 * ClientHello's server name (never decrypting) and judge it, then move the bytes: in the
 * native relay when there is one, spliced here otherwise. The client's connection slot is
 * held until the tunnel is over, wherever its bytes flow.
 */
export class TunnelSession extends Session implements RelayedTunnel {
  private phase = Phase.Dialing;
  private upstreamSocket: Socket | null = null;
  private readonly ticket: DialTicket = { aborted: false };
  private slotHeld = true;
  private closedSides = 0;
  private relayId = 0;
  private relayedBase = { sent: 0, received: 0 };
  /**
   * The policy the tunnel was decided by, until its ClientHello is judged: a reload meanwhile
   * applies to new tunnels only, and an open tunnel must not pin every policy since.
   */
  private policy: Policy | null = null;

  constructor(
    parts: GatewayParts,
    client: ClientIdentity,
    private socket: Socket | null,
    host: string,
    port: number,
    private early: Buffer,
    start: number,
  ) {
    super(parts, client, 'CONNECT', host, port, null, start);
  }

  /** Takes over the client socket (its slot included) and runs the tunnel. */
  open(): void {
    const socket = this.socket!;
    const parts = this.parts;
    parts.sessions.add(this);
    socket.on('error', this.onClientError);
    socket.on('close', this.onClientClose);
    const policy = parts.policy;
    this.policy = policy;
    const decision = decide(
      policy,
      { source: this.client.parsed, method: 'CONNECT', host: this.host, port: this.port },
      parts.mode,
    );
    this.decided(decision);
    if (decision.verdict === 'deny') {
      this.policy = null;
      return this.refuse(decision.reason);
    }
    parts.dialer.dial(decision.host, this.port, policy, this.ticket, this.onDialed);
  }

  private refuse(reason: ReasonCode, detail: string | null = null): void {
    const socket = this.socket!;
    const response = responseFor(reason);
    this.failed(reason, detail);
    this.status = response.status;
    this.phase = Phase.Over;
    socket.end(response.raw);
    socket.setTimeout(5000, () => socket.destroy());
    this.close();
  }

  private readonly onDialed = (error: AirlockError | null, dialed: Dialed | null): void => {
    const socket = this.socket;
    if (dialed === null) {
      const reason = error?.code ?? 'INTERNAL_ERROR';
      if (this.phase !== Phase.Dialing || reason === 'CLIENT_ABORTED' || socket === null || socket.destroyed)
        return;
      return this.refuse(reason, error?.message ?? null);
    }
    const upstream = dialed.socket;
    if (this.phase !== Phase.Dialing || socket === null || socket.destroyed) {
      upstream.destroy();
      return;
    }
    this.upstreamSocket = upstream;
    this.upstream = keptText(hostPort(dialed.address.address, this.port));
    this.connectMs = dialed.connectMs;
    upstream.on('error', this.onUpstreamError);
    upstream.on('close', this.onUpstreamClose);
    socket.write(CONNECT_ESTABLISHED);
    this.status = 200;
    this.setupMs = Date.now() - this.start;
    const early = this.early;
    this.early = EMPTY;
    if (serverNameChecked(this.parts.tls, this.port)) {
      this.phase = Phase.Peeking;
      peekClientHello(socket, early, this.parts.timeouts.requestHead, this.onPeeked);
      return;
    }
    this.carry(early);
  };

  private readonly onPeeked = (peeked: Peeked): void => {
    if (this.phase !== Phase.Peeking) return;
    const judged = judgeServerName(
      this.policy!,
      this.decision!,
      this.port,
      peeked.hello,
      this.parts.tls,
      this.parts.mode,
    );
    this.sni = judged.sni;
    if (judged.refusal !== null) {
      // Nothing of the client's bytes has reached the upstream: cut both sides.
      this.refusal = judged.refusal;
      this.cut(judged.refusal);
      return;
    }
    this.wouldDeny ??= judged.wouldDeny;
    this.carry(peeked.bytes);
  };

  /** The tunnel is established: its bytes move from here on, natively when possible. */
  private carry(first: Buffer): void {
    this.policy = null;
    const client = this.socket!;
    const upstream = this.upstreamSocket!;
    this.phase = Phase.Spliced;
    this.parts.log.opened(this.toRecord());
    if (this.parts.relay !== null && this.handOver(first)) return;
    const idle = this.parts.timeouts.tunnelIdle;
    if (idle > 0) {
      client.setTimeout(idle);
      client.on('timeout', this.onIdle);
    }
    if (first.length > 0) upstream.write(first);
    splice(client, upstream);
  }

  /**
   * Gives the established tunnel to the native relay: both sockets stop reading, the bytes
   * their streams already hold travel with them, and the relay takes its own copies of the two
   * descriptors before these sockets are destroyed (closing ours, not the connections). False
   * when the tunnel must stay here: no plain TCP handle, a write still queued, or no descriptors.
   */
  private handOver(first: Buffer): boolean {
    const relay = this.parts.relay!;
    const client = this.socket!;
    const upstream = this.upstreamSocket!;
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
    try {
      this.relayId = relay.add(
        clientFd,
        upstreamFd,
        toUpstream.length > 0 ? toUpstream : null,
        fromUpstream,
        this.parts.timeouts.tunnelIdle,
        this,
      );
    } catch {
      // Out of descriptors: keep the tunnel in this process.
      if (fromUpstream !== null) upstream.unshift(fromUpstream);
      if (fromClient !== null) client.unshift(fromClient);
      return false;
    }
    this.relayedBase = { sent, received };
    this.phase = Phase.Relayed;
    this.parts.relayed++;
    client.removeListener('error', this.onClientError);
    client.removeListener('close', this.onClientClose);
    upstream.removeListener('error', this.onUpstreamError);
    upstream.removeListener('close', this.onUpstreamClose);
    client.on('error', ignore);
    upstream.on('error', ignore);
    client.destroy();
    upstream.destroy();
    this.socket = null;
    this.upstreamSocket = null;
    return true;
  }

  /** The native relay reports the tunnel over. */
  finished(result: RelayResult): void {
    this.parts.relayed--;
    this.phase = Phase.Over;
    if (result.end !== 'aborted' || this.end === null) this.end ??= RELAY_ENDS[result.end];
    this.bytesFromClient = this.relayedBase.sent + result.toUpstream;
    this.bytesToClient = this.relayedBase.received + result.toClient;
    this.releaseSlot();
    this.close();
  }

  abort(reason: ReasonCode): void {
    this.end ??= reason;
    this.ticket.aborted = true;
    if (this.phase === Phase.Relayed) {
      this.parts.relay?.abort(this.relayId);
      return;
    }
    this.socket?.destroy();
    this.upstreamSocket?.destroy();
  }

  /** Ends the tunnel at once on both sides (a refused ClientHello, the idle timeout). */
  private cut(reason: ReasonCode): void {
    this.end ??= reason;
    this.socket?.destroy();
    this.upstreamSocket?.destroy();
  }

  private readonly onIdle = (): void => this.cut('IDLE_TIMEOUT');

  private readonly onClientError = (error: NodeJS.ErrnoException): void => {
    this.end ??= 'CLIENT_ABORTED';
    // A reset from the client is passed on as a reset.
    if (error.code === 'ECONNRESET') this.upstreamSocket?.resetAndDestroy();
    else this.upstreamSocket?.destroy();
  };

  private readonly onUpstreamError = (error: NodeJS.ErrnoException): void => {
    this.end ??= 'FAIL_UPSTREAM_RESET';
    if (error.code === 'ECONNRESET') this.socket?.resetAndDestroy();
    else this.socket?.destroy();
  };

  private readonly onClientClose = (): void => {
    this.releaseSlot();
    if (this.phase === Phase.Dialing) {
      // Closed before the tunnel existed: stop the connect in progress.
      this.end ??= 'CLIENT_ABORTED';
      this.ticket.aborted = true;
      this.phase = Phase.Over;
      this.close();
      return;
    }
    if (this.phase === Phase.Over) return this.close();
    if (this.phase === Phase.Peeking) this.end ??= 'CLIENT_ABORTED';
    // Once one side is fully closed nothing more can cross; let the other side go too.
    this.upstreamSocket?.destroy();
    this.sideClosed();
  };

  private readonly onUpstreamClose = (): void => {
    const client = this.socket;
    if (client !== null && this.phase === Phase.Spliced) {
      // The splice has usually ended it already; ending twice would build an error per tunnel.
      if (!client.writableEnded) client.end();
      // Give buffered data a moment to leave, then make sure the client side closes.
      if (!client.destroyed) client.destroySoon();
    } else {
      client?.destroy();
    }
    this.sideClosed();
  };

  private sideClosed(): void {
    if (++this.closedSides < 2) return;
    const upstream = this.upstreamSocket;
    if (this.phase === Phase.Spliced && upstream !== null) {
      this.bytesFromClient = upstream.bytesWritten;
      this.bytesToClient = upstream.bytesRead;
    }
    this.phase = Phase.Over;
    this.close();
  }

  private releaseSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.parts.admission.release(this.client.address);
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
