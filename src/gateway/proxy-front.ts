import type { Socket } from 'node:net';
import { CidrList, parseAddress, parseCidr } from '../policy/index.js';
import { identify } from './admission.js';
import type { GatewayParts } from './parts.js';
import { parseProxyHeader } from './proxy-protocol.js';
import { responseFor } from './responses.js';
import { Refusal } from './session.js';

/** Where a connection goes once its PROXY header is read: the client it names, and what followed. */
export type AdmitClient = (
  socket: Socket,
  proxied: { readonly address: string; readonly port: number } | null,
  initial: Buffer | null,
) => void;

/**
 * A listener behind an L4 load balancer: accepts connections from trusted addresses only,
 * reads the PROXY protocol header (v1 or v2) within timeouts.requestHead, and passes the
 * connection on with the client address the header carried.
 */
export class ProxyProtocolFront {
  private readonly trusted = new CidrList<string>();

  constructor(
    private readonly parts: GatewayParts,
    trustedProxies: readonly string[],
    private readonly admit: AdmitClient,
  ) {
    for (const text of trustedProxies) this.trusted.add(parseCidr(text)!, text);
  }

  accept(socket: Socket): void {
    socket.on('error', ignore);
    const peer = parseAddress(socket.remoteAddress ?? '');
    if (peer === null || this.trusted.match(peer) === undefined) {
      this.refuse(socket, 'DENY_PROXY_PROTOCOL', false);
      return;
    }
    const admission = this.parts.admission;
    if (!admission.awaitHeader()) {
      this.refuse(socket, 'LIMIT_DESCRIPTORS', true);
      return;
    }
    let waiting = true;
    // Exactly once, however the wait ends: the header, a bad or late one, or the sender leaving.
    const stopWaiting = (): void => {
      if (!waiting) return;
      waiting = false;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onClose);
      socket.removeListener('close', onClose);
      admission.headerEnded();
    };
    // A sender that leaves (or half-closes) without a header is recorded as refused, unanswered.
    const onClose = (): void => {
      stopWaiting();
      socket.destroy();
      this.record(socket, 'DENY_PROXY_PROTOCOL', 0);
    };
    let buffered: Buffer = Buffer.alloc(0);
    const fail = (): void => {
      stopWaiting();
      this.refuse(socket, 'DENY_PROXY_PROTOCOL', true);
    };
    const timer = setTimeout(fail, this.parts.timeouts.requestHead);
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered);
      if (header.status === 'incomplete') return;
      if (header.status === 'malformed') return fail();
      stopWaiting();
      socket.removeListener('error', ignore);
      const rest = buffered.length > header.length ? buffered.subarray(header.length) : null;
      this.admit(socket, header.source, rest);
    };
    socket.on('data', onData);
    socket.on('end', onClose);
    socket.on('close', onClose);
  }

  /**
   * An untrusted sender is cut; a trusted one is told why (no valid header, or no room to wait
   * for one), and its connection lingers as a refusal at accept does: counted, or closed at
   * once when there is no room for that either.
   */
  private refuse(socket: Socket, reason: 'DENY_PROXY_PROTOCOL' | 'LIMIT_DESCRIPTORS', answer: boolean): void {
    const response = responseFor(reason);
    this.record(socket, reason, answer ? response.status : 0);
    if (!answer) {
      socket.destroy();
      return;
    }
    socket.end(response.raw);
    const admission = this.parts.admission;
    if (admission.linger()) {
      socket.once('close', () => admission.lingered());
      socket.setTimeout(2000, () => socket.destroy());
    } else {
      socket.destroy();
    }
  }

  private record(socket: Socket, reason: 'DENY_PROXY_PROTOCOL' | 'LIMIT_DESCRIPTORS', status: number): void {
    new Refusal(this.parts, identify(socket.remoteAddress, socket.remotePort), reason, status);
  }
}

function ignore(): void {}
