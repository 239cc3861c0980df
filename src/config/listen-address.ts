import { normalizeHost, parsePort } from '../policy/index.js';

export interface ListenAddress {
  /** Address to bind: an IPv4 or IPv6 literal ("0.0.0.0", "::"). */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** As written, for messages: "0.0.0.0:3128", "[::]:3128". */
  readonly text: string;
  /** When set, every connection must start with a PROXY protocol header from one of these networks. */
  readonly proxyProtocol?: { readonly trustedProxies: readonly string[] } | null;
}

/** Parses "HOST:PORT" where HOST is an IP literal ("[::1]" for IPv6) or "localhost". */
export function parseListenAddress(text: string): ListenAddress | { error: string } {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(':');
  if (colon <= 0) return { error: `"${trimmed}" is not HOST:PORT (e.g. 0.0.0.0:3128 or [::]:3128)` };
  const hostText = trimmed.slice(0, colon);
  // Port 0 asks the system for a free port (useful for tests and `--listen 127.0.0.1:0`).
  const portText = trimmed.slice(colon + 1);
  const port = portText === '0' ? 0 : parsePort(portText);
  if (port === null) return { error: `"${trimmed}": port must be a number from 1 to 65535` };
  if (hostText === 'localhost') return { host: '127.0.0.1', port, family: 4, text: trimmed };
  if (hostText.includes(':') && !hostText.startsWith('[')) {
    return { error: `"${trimmed}": write an IPv6 listener in brackets, e.g. [::]:${port}` };
  }
  const host = normalizeHost(hostText);
  if (host.kind !== 'ip') return { error: `"${trimmed}": the listener host must be an IP address` };
  return { host: host.address, port, family: host.family, text: trimmed };
}

/**
 * Whether two listen addresses would fight over a port: the same port on the same address, or
 * a wildcard (`0.0.0.0`, `::`) and any address of its family (`::` also takes IPv4, as a
 * dual-stack socket does). Port 0 (any free port) never overlaps.
 */
export function listenersOverlap(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  if (a.host === b.host) return true;
  const wildcard = (l: ListenAddress): boolean => l.host === '0.0.0.0' || l.host === '::';
  if (a.host === '::' || b.host === '::') return true;
  return a.family === b.family && (wildcard(a) || wildcard(b));
}
