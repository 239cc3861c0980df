import { STATUS_CODES } from 'node:http';
import { REASONS, type ReasonCode } from '../errors/index.js';
import type { LocalAnswer } from './parts.js';

/** What every refusal says, built once per reason at load time, never per request. */
export interface PrebuiltResponse {
  readonly status: number;
  /** The whole response with `Connection: close`. */
  readonly raw: Buffer;
  /** The whole response for a connection that stays open (HTTP/1.1 keep-alive). */
  readonly keepAlive: Buffer;
  /** As `raw` and `keepAlive`, without the body: the answer to a HEAD request. */
  readonly headOnly: Buffer;
  readonly headOnlyKeepAlive: Buffer;
}

const HINTS: Partial<Record<ReasonCode, string>> = {
  BAD_ORIGIN_FORM:
    'This port is an HTTP proxy. Configure it as the proxy (e.g. curl --proxy http://HOST:PORT URL); ' +
    'it takes CONNECT host:port and absolute-form http:// requests, not direct requests.',
  BAD_SCHEME:
    'Send https:// requests as CONNECT host:443 (any HTTP client does this when told to use a proxy).',
  DENY_METHOD: 'Plain HTTP is forwarded for revocation and update downloads only.',
};

/** A status line and header block; `fields` are [name, value, ...]. */
export function responseHead(status: number, fields: readonly string[], close: boolean): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (let i = 0; i < fields.length; i += 2) head += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `${head}${close ? 'Connection: close\r\n' : ''}\r\n`;
}

function build(reason: ReasonCode): PrebuiltResponse {
  const info = REASONS[reason];
  const status = info.status;
  const hint = HINTS[reason];
  const body = Buffer.from(`Airlock: ${info.summary} (${reason})\n${hint ? `${hint}\n` : ''}`, 'utf8');
  const proxyStatus = `airlock; error=${info.proxyStatus ?? 'proxy_internal_response'}; details="${reason}"`;
  const fields = [
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-store',
    'Proxy-Status',
    proxyStatus,
  ];
  if (status === 405) fields.push('Allow', 'GET, HEAD, POST');
  const close = Buffer.from(responseHead(status, fields, true), 'latin1');
  const open = Buffer.from(responseHead(status, fields, false), 'latin1');
  return {
    status,
    raw: Buffer.concat([close, body]),
    keepAlive: Buffer.concat([open, body]),
    headOnly: close,
    headOnlyKeepAlive: open,
  };
}

const TABLE = new Map<ReasonCode, PrebuiltResponse>();
for (const reason of Object.keys(REASONS) as ReasonCode[]) {
  if (REASONS[reason].status >= 400) TABLE.set(reason, build(reason));
}

/** The refusal for `reason`; reasons that never produce a response map to 500. */
export function responseFor(reason: ReasonCode): PrebuiltResponse {
  return TABLE.get(reason) ?? TABLE.get('INTERNAL_ERROR')!;
}

/** A local answer (PAC file) as bytes on the wire. */
export function localResponse(answer: LocalAnswer, headOnly: boolean, close: boolean): Buffer {
  const head = responseHead(
    answer.status,
    [...answer.headers, 'Content-Length', String(answer.body.length)],
    close,
  );
  return headOnly ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), answer.body]);
}

export const CONNECT_ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n', 'latin1');
