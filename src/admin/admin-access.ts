import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AirlockError } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';
import { classifyAddress, parseAddress } from '../policy/index.js';

/** The cookie a browser holds after POST /api/login; HttpOnly and SameSite=Strict. */
export const TOKEN_COOKIE = 'airlock_admin';

/** True for 127.0.0.0/8 and ::1: only processes on the box can reach the listener. */
export function isLoopbackListener(listen: ListenAddress): boolean {
  const parsed = parseAddress(listen.host);
  return parsed !== null && classifyAddress(parsed) === 'loopback';
}

/**
 * The admin listener answers anyone who can reach it; off loopback, that is the network. So a
 * non-loopback listener needs a token, and without one the gateway does not start.
 */
export function checkAdminExposure(listen: ListenAddress, token: string | null): void {
  if (token !== null || isLoopbackListener(listen)) return;
  throw new AirlockError(
    'CONFIG_INVALID',
    `admin.listen: ${listen.text} is reachable from the network, so the admin API needs a token: set admin.tokenFile (a file holding it), admin.token, or the AIRLOCK_ADMIN_TOKEN environment variable; or listen on 127.0.0.1`,
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** How a request proved itself: the token in an Authorization header, the login cookie, or nothing. */
export type Credential = 'bearer' | 'cookie' | 'none';

/**
 * Who may use the admin API. Health, readiness and the PAC file are open to all (probes and
 * clients fetch them without credentials). With a token, everything else needs it (header or
 * cookie); without one (loopback only), requests must name a loopback host, so a web page that
 * rebinds its name to 127.0.0.1 is refused. A POST that a browser could send on its own (cookie
 * or no credential) must come from the admin listener's own origin.
 */
export class AdminAccess {
  private readonly token: Buffer | null;

  constructor(token: string | null) {
    this.token = token === null ? null : digest(token);
  }

  get required(): boolean {
    return this.token !== null;
  }

  matches(candidate: string): boolean {
    return this.token !== null && timingSafeEqual(digest(candidate), this.token);
  }

  /** The credential a request carries, or null when it carries a wrong one or none where one is needed. */
  credential(req: IncomingMessage): Credential | null {
    if (this.token === null) return loopbackHost(req.headers.host) ? 'none' : null;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      return m !== null && this.matches(m[1]!) ? 'bearer' : null;
    }
    const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
    return cookie !== null && this.matches(cookie) ? 'cookie' : null;
  }

  /** A state-changing request: the bearer token, or a browser request from this very origin. */
  mayChange(req: IncomingMessage, credential: Credential): boolean {
    if (credential === 'bearer') return true;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const origin = req.headers.origin;
    if (origin === undefined) return site !== undefined || req.headers.cookie === undefined;
    const host = req.headers.host;
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  }
}

function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  if (name === 'localhost') return true;
  const parsed = parseAddress(name);
  return parsed !== null && classifyAddress(parsed) === 'loopback';
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}
