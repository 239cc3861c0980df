import { parsePort, splitAuthority } from '../policy/index.js';
import type { ReasonCode } from '../errors/index.js';
import { keptText } from '../text/kept.js';

export interface HttpTarget {
  /** Host as written in the URL (not yet normalised). */
  readonly host: string;
  readonly port: number;
  /** Origin-form target to send upstream: path and query, never empty. */
  readonly path: string;
  /** The authority to send as Host: exactly as the client wrote it in the URL. */
  readonly authority: string;
}

const HTTP_PREFIX = /^http:\/\//i;

/**
 * Reads an absolute-form request target ("http://host[:port]/path?query"). Userinfo is
 * refused (a classic way to confuse URL parsers), as are other schemes and origin-form.
 */
export function parseHttpTarget(url: string): HttpTarget | { error: ReasonCode } {
  if (url.startsWith('/') || url === '*') return { error: 'BAD_ORIGIN_FORM' };
  if (!HTTP_PREFIX.test(url)) {
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? { error: 'BAD_SCHEME' } : { error: 'BAD_REQUEST' };
  }
  const rest = url.slice(7);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      end = i;
      break;
    }
  }
  // A fragment straight after the authority ("http://host#x"): no path, and a request target has
  // no fragment at all (RFC 9112 §3.2.2); refused, as Node's HTTP parser refuses it. After a path
  // the fragment is dropped.
  if (rest.charCodeAt(end) === 0x23 /* # */) return { error: 'BAD_REQUEST' };
  const authority = rest.slice(0, end);
  if (authority.length === 0 || authority.includes('@')) return { error: 'BAD_HOST' };
  let path = rest.slice(end);
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  if (path === '' || path.startsWith('?')) path = `/${path}`;

  let host = authority;
  let port = 80;
  const bracketEnd = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > bracketEnd) {
    const portText = authority.slice(colon + 1);
    if (portText !== '') {
      const parsed = parsePort(portText);
      if (parsed === null) return { error: 'BAD_HOST' };
      port = parsed;
    }
    host = authority.slice(0, colon);
  }
  if (host.length === 0) return { error: 'BAD_HOST' };
  return { host, port, path, authority };
}

/** Reads a CONNECT target: authority form only ("host:port", "[v6]:port"). */
export function parseConnectTarget(url: string): { host: string; port: number } | { error: ReasonCode } {
  const target = splitAuthority(url);
  return target === null
    ? { error: 'BAD_CONNECT_TARGET' }
    : { host: keptText(target.host), port: target.port };
}
