/** The head of an HTTP/1.x response, parsed once it has fully arrived. */
export interface ResponseHead {
  readonly status: number;
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
  if (m === null) return { error: `not an HTTP/1.x status line: "${(lines[0] ?? '').slice(0, 60)}"` };
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `malformed header line "${line.slice(0, 60)}"` };
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers };
}

/** Authentication schemes a 407 offers (`Basic realm="corp"` → `Basic`). */
export function authSchemes(head: ResponseHead): string[] {
  const values = head.headers.get('proxy-authenticate') ?? [];
  return [...new Set(values.map((v) => v.split(/[\s,]/)[0] ?? '').filter((s) => s !== ''))];
}

/**
 * The error a proxy reports in an RFC 9209 Proxy-Status header: Airlock sends
 * `airlock; error=http_request_denied; details="DENY_HOST_NOT_ALLOWED"`, and the details
 * (its reason code) are the most precise; other proxies give the error type only.
 */
export function proxyStatusError(head: ResponseHead): string | null {
  for (const value of head.headers.get('proxy-status') ?? []) {
    const details = /;\s*details="([^"]*)"/i.exec(value);
    if (details?.[1]) return details[1];
    const error = /;\s*error=([A-Za-z0-9_-]+)/i.exec(value);
    if (error?.[1]) return error[1];
  }
  return null;
}
