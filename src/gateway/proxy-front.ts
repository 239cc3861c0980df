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
      this.refuse(socket, false);
      return;
    }
    let buffered: Buffer = Buffer.alloc(0);
    const fail = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      this.refuse(socket, true);
    };
    const timer = setTimeout(fail, this.parts.timeouts.requestHead);
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered);
      if (header.status === 'incomplete') return;
      if (header.status === 'malformed') return fail();
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', ignore);
      const rest = buffered.length > header.length ? buffered.subarray(header.length) : null;
      this.admit(socket, header.source, rest);
    };
    socket.on('data', onData);
  }

  /** An untrusted sender is cut; a trusted one that sent no valid header is told why. */
  private refuse(socket: Socket, answer: boolean): void {
    const response = responseFor('DENY_PROXY_PROTOCOL');
    new Refusal(
      this.parts,
      identify(socket.remoteAddress, socket.remotePort),
      'DENY_PROXY_PROTOCOL',
      answer ? response.status : 0,
    );
    if (!answer) {
      socket.destroy();
      return;
    }
    socket.end(response.raw);
    socket.setTimeout(2000, () => socket.destroy());
  }
}

function ignore(): void {}
