import { printable } from '../text/printable.js';

/**
 * The head of a proxy's or an origin's response. Whatever of it the report shows (the reason
 * phrase, a Proxy-Status error, authentication schemes, a malformed line) was written by whoever
 * answered, a proxy or a TLS-inspecting middlebox on the way, so it leaves this module with its
 * invisible characters escaped: an escape sequence in it would otherwise reach the terminal that
 * prints the report, and could retitle it, clear it or fake a line.
 */

/** The head of an HTTP/1.x response, parsed once it has fully arrived. */
export interface ResponseHead {
  readonly status: number;
  /** Invisible characters escaped (\x1b). */
  readonly reason: string;
  /** Lower-case names; repeated headers keep every value. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Offset just past the blank line that ends the head, or -1 while it has not arrived. */
export function findHeadEnd(buffer: Buffer): number {
  const at = buffer.indexOf(HEAD_END);
  return at < 0 ? -1 : at + HEAD_END.length;
}

export function parseResponseHead(text: string): ResponseHead | { error: string } {
  const lines = text.split('\r\n').filter((l, i) => i === 0 || l !== '');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (m === null)
    return { error: `not an HTTP/1.x status line: "${printable((lines[0] ?? '').slice(0, 60))}"` };
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `malformed header line "${printable(line.slice(0, 60))}"` };
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return { status: Number(m[1]), reason: printable(m[2] ?? ''), headers };
}

/** Authentication schemes a 407 offers (`Basic realm="corp"` → `Basic`). */
export function authSchemes(head: ResponseHead): string[] {
  const values = head.headers.get('proxy-authenticate') ?? [];
  const schemes = values.map((v) => printable(v.split(/[\s,]/)[0] ?? '')).filter((s) => s !== '');
  return [...new Set(schemes)];
}

/**
 * The error a proxy reports in an RFC 9209 Proxy-Status header: Airlock sends
 * `airlock; error=http_request_denied; details="DENY_HOST_NOT_ALLOWED"`, and the details
 * (its reason code) are the most precise; other proxies give the error type only.
 */
export function proxyStatusError(head: ResponseHead): string | null {
  for (const value of head.headers.get('proxy-status') ?? []) {
    const details = /;\s*details="([^"]*)"/i.exec(value);
    if (details?.[1]) return printable(details[1]);
    const error = /;\s*error=([A-Za-z0-9_-]+)/i.exec(value);
    if (error?.[1]) return error[1];
  }
  return null;
}
