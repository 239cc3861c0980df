import { STATUS_CODES } from 'node:http';
import { REASONS, type ReasonCode } from '../errors/index.js';

/** What every refusal says, built once per reason at load time, never per request. */
export interface PrebuiltResponse {
  readonly status: number;
  /** The whole response with `Connection: close`, for raw sockets (CONNECT, errors before a request exists). */
  readonly raw: Buffer;
  /** Header list and body for an http.ServerResponse on a connection that stays open. */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

const HINTS: Partial<Record<ReasonCode, string>> = {
  BAD_ORIGIN_FORM:
    'This port is an HTTP proxy. Configure it as the proxy (e.g. curl --proxy http://HOST:PORT URL); ' +
    'it takes CONNECT host:port and absolute-form http:// requests, not direct requests.',
  BAD_SCHEME:
    'Send https:// requests as CONNECT host:443 (any HTTP client does this when told to use a proxy).',
};

function build(reason: ReasonCode): PrebuiltResponse {
  const info = REASONS[reason];
  const status = info.status;
  const hint = HINTS[reason];
  const body = Buffer.from(`Airlock: ${info.summary} (${reason})\n${hint ? `${hint}\n` : ''}`, 'utf8');
  const proxyStatus = `airlock; error=${info.proxyStatus ?? 'proxy_internal_response'}; details="${reason}"`;
  const headers = [
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(body.length),
    'Cache-Control',
    'no-store',
    'Proxy-Status',
    proxyStatus,
  ];
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += 'Connection: close\r\n\r\n';
  return { status, raw: Buffer.concat([Buffer.from(head, 'latin1'), body]), headers, body };
}

const TABLE = new Map<ReasonCode, PrebuiltResponse>();
for (const reason of Object.keys(REASONS) as ReasonCode[]) {
  if (REASONS[reason].status >= 400) TABLE.set(reason, build(reason));
}

/** The refusal for `reason`; reasons that never produce a response map to 500. */
export function responseFor(reason: ReasonCode): PrebuiltResponse {
  return TABLE.get(reason) ?? TABLE.get('INTERNAL_ERROR')!;
}

export const CONNECT_ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n', 'latin1');
