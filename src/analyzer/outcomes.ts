/**
 * The one table of ways a check can fail. Each code carries a one-line summary and the
 * WinHTTP error number the MDE client analyzer would print for the same failure, so the text
 * layout reads like the report administrators know (12002 timeout, 12007 name not resolved,
 * 12029 cannot connect, 12030 connection aborted, 12045 invalid CA, 12157 secure channel
 * error, 12167 PAC download failed, 12175 secure failure, 12178 auto-proxy service error). Failures the WinHTTP report
 * shows as an HTTP status (407, an unexpected answer) have no number.
 */
export const CHECK_ERRORS = {
  PAC_DOWNLOAD_FAILED: { winhttp: 12167, summary: 'the PAC script could not be downloaded' },
  PAC_FAILED: { winhttp: 12178, summary: 'the PAC script failed' },
  PROXY_UNSUPPORTED: { winhttp: null, summary: 'this kind of proxy is not tested' },
  DNS_NOT_FOUND: { winhttp: 12007, summary: 'name not resolved' },
  DNS_TIMEOUT: { winhttp: 12002, summary: 'name resolution timed out' },
  TCP_REFUSED: { winhttp: 12029, summary: 'connection refused' },
  TCP_UNREACHABLE: { winhttp: 12029, summary: 'network or host unreachable' },
  TCP_TIMEOUT: { winhttp: 12002, summary: 'TCP connect timed out' },
  TCP_FAILED: { winhttp: 12029, summary: 'cannot connect' },
  PROXY_TIMEOUT: { winhttp: 12002, summary: 'the proxy did not answer CONNECT in time' },
  PROXY_CLOSED: { winhttp: 12030, summary: 'the proxy closed the connection' },
  PROXY_AUTH_REQUIRED: { winhttp: null, summary: 'the proxy demands authentication (407)' },
  PROXY_REFUSED: { winhttp: null, summary: 'the proxy refused the request' },
  PROXY_UPSTREAM_FAILED: {
    winhttp: null,
    summary: 'the proxy could not resolve, connect to or hear from the destination',
  },
  TLS_TIMEOUT: { winhttp: 12002, summary: 'TLS handshake timed out' },
  TLS_FAILED: { winhttp: 12157, summary: 'TLS handshake failed' },
  TLS_UNTRUSTED: { winhttp: 12045, summary: 'certificate not trusted' },
  TLS_NAME_MISMATCH: { winhttp: 12175, summary: 'certificate is for another name' },
  TLS_INSPECTED: { winhttp: 12175, summary: 'TLS inspected: a middlebox re-signed the certificate' },
  HTTP_TIMEOUT: { winhttp: 12002, summary: 'no HTTP response in time' },
  HTTP_CLOSED: { winhttp: 12030, summary: 'connection closed before an HTTP response' },
  HTTP_MALFORMED: { winhttp: 12030, summary: 'malformed HTTP response' },
  UNEXPECTED_STATUS: { winhttp: null, summary: 'answered with a status this service does not send' },
  BREAKER_OPEN: { winhttp: 12002, summary: 'not tried: earlier attempts on this route timed out' },
  DEADLINE: { winhttp: 12002, summary: 'the total deadline was reached' },
} as const satisfies Record<string, { winhttp: number | null; summary: string }>;

export type CheckErrorCode = keyof typeof CHECK_ERRORS;

/** Errors that say the route itself (resolver, proxy, egress) is down rather than one destination. */
export const ROUTE_TIMEOUTS: ReadonlySet<CheckErrorCode> = new Set<CheckErrorCode>([
  'DNS_TIMEOUT',
  'TCP_TIMEOUT',
  'PROXY_TIMEOUT',
]);

/**
 * RFC 9209 Proxy-Status error types that say the proxy tried and failed to reach the
 * destination, as opposed to refusing the request. Airlock sends its FAIL_* reason code as the
 * details; other proxies send only the type.
 */
const UPSTREAM_ERROR_TYPES: ReadonlySet<string> = new Set([
  'dns_error',
  'dns_timeout',
  'destination_not_found',
  'destination_unavailable',
  'destination_ip_unroutable',
  'connection_refused',
  'connection_terminated',
  'connection_timeout',
  'connection_read_timeout',
  'connection_write_timeout',
  'connection_limit_reached',
  'tls_protocol_error',
  'tls_certificate_error',
  'http_response_timeout',
  'http_protocol_error',
  'http_upgrade_failed',
]);

/** A proxy's error answer: a refusal (its policy) or a failure to reach the destination (FAIL_*, 502, 504). */
export function proxyErrorCode(
  status: number,
  reason: string | null,
): 'PROXY_REFUSED' | 'PROXY_UPSTREAM_FAILED' {
  if (reason !== null) {
    if (reason.startsWith('FAIL_') || UPSTREAM_ERROR_TYPES.has(reason.toLowerCase()))
      return 'PROXY_UPSTREAM_FAILED';
    if (/^[A-Z][A-Z0-9_]+$/.test(reason)) return 'PROXY_REFUSED';
  }
  return status === 502 || status === 504 ? 'PROXY_UPSTREAM_FAILED' : 'PROXY_REFUSED';
}
