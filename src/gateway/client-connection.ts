import type { Socket } from 'node:net';
import { formatWords, parseAddress, type ParsedAddress } from '../policy/index.js';

/** Per client TCP connection: who it is, parsed once at accept. */
export interface ClientConnection {
  readonly socket: Socket;
  /** Client address as the ACL and logs see it (IPv4-mapped IPv6 shown as IPv4). */
  readonly address: string;
  readonly parsed: ParsedAddress | null;
  readonly port: number;
  readonly acceptedAt: number;
}

/** Describes the client of `socket`: its peer, or the address a trusted PROXY protocol header carried. */
export function describeClient(
  socket: Socket,
  now: number,
  proxied?: { readonly address: string; readonly port: number } | null,
): ClientConnection {
  const raw = proxied?.address ?? socket.remoteAddress ?? '';
  const parsed = parseAddress(raw);
  const address = parsed === null ? raw || '-' : formatWords(parsed.family, parsed.words);
  return { socket, address, parsed, port: proxied?.port ?? socket.remotePort ?? 0, acceptedAt: now };
}
