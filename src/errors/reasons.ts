/**
 * The one table of outcomes. Every decision, failure and user error carries a stable
 * ReasonCode; this table maps it to the HTTP status a client sees, the RFC 9209
 * Proxy-Status error type, the CLI exit code and a one-line summary. Logs, metrics and
 * docs use the code, never free text.
 */
export const REASONS = {
  // Allowed outcomes.
  ALLOWED: { status: 200, proxyStatus: null, exit: 0, summary: 'allowed by a destination rule' },
  ALLOWED_IP_RULE: { status: 200, proxyStatus: null, exit: 0, summary: 'IP literal allowed by a CIDR rule' },

  // Policy denials (403).
  DENY_SOURCE_NOT_ALLOWED: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'client address is not in policy.sources',
  },
  DENY_HOST_NOT_ALLOWED: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'destination host is not on the allowlist',
  },
  DENY_PORT: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'destination port is not allowed for this method',
  },
  DENY_IP_LITERAL: {
    status: 403,
    proxyStatus: 'destination_ip_prohibited',
    exit: 1,
    summary: 'IP-literal destination not allowed by a CIDR rule',
  },

  DENY_METHOD: {
    status: 405,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'method is not forwarded (policy.methods: GET, HEAD and POST by default)',
  },

  DENY_DESTINATION_ADDRESS: {
    status: 403,
    proxyStatus: 'destination_ip_prohibited',
    exit: 1,
    summary: 'destination resolved to an internal or special-purpose address',
  },
  DENY_SNI_MISMATCH: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'TLS server name differs from the CONNECT host and is not allowed',
  },
  DENY_SNI_MISSING: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'TLS ClientHello carries no server name',
  },
  DENY_NOT_TLS: {
    status: 403,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'tunnel to a TLS port did not start with a TLS ClientHello',
  },
  BAD_TLS_HELLO: {
    status: 400,
    proxyStatus: 'tls_protocol_error',
    exit: 2,
    summary: 'malformed or oversized TLS ClientHello',
  },
  TLS_HELLO_TIMEOUT: {
    status: 408,
    proxyStatus: 'tls_protocol_error',
    exit: 1,
    summary: 'no TLS ClientHello within timeouts.requestHead after the tunnel opened',
  },
  DENY_PROXY_PROTOCOL: {
    status: 400,
    proxyStatus: 'http_request_denied',
    exit: 1,
    summary: 'PROXY protocol header missing, malformed, or sent by an untrusted address',
  },

  // Malformed client input (4xx, never reaches an upstream).
  BAD_HOST: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'destination host is malformed',
  },
  BAD_REQUEST: { status: 400, proxyStatus: 'http_request_error', exit: 2, summary: 'malformed request' },
  BAD_CONNECT_TARGET: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'CONNECT target must be host:port (authority form)',
  },
  BAD_ORIGIN_FORM: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'origin-form request sent to the proxy port; configure this address as a proxy',
  },
  BAD_SCHEME: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'only http:// URLs are forwarded; use CONNECT for https',
  },
  BAD_HOST_MISMATCH: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'Host header disagrees with the absolute request target',
  },
  BAD_HOST_HEADER: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'more than one Host header',
  },
  BAD_VERSION: {
    status: 505,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'HTTP version other than 1.0 or 1.1',
  },
  BAD_FRAMING: {
    status: 400,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary:
      'ambiguous message framing: Content-Length and Transfer-Encoding conflict or repeat, a coding other than chunked, a GET or HEAD body without a length, or a Connection header naming a framing header',
  },
  HEAD_TOO_LARGE: {
    status: 431,
    proxyStatus: 'http_request_error',
    exit: 2,
    summary: 'request head exceeds limits.maxRequestHeadBytes',
  },
  HEAD_TIMEOUT: {
    status: 408,
    proxyStatus: 'http_request_error',
    exit: 1,
    summary: 'request head not received within timeouts.requestHead',
  },

  // Limits (503).
  LIMIT_CONNECTIONS: {
    status: 503,
    proxyStatus: 'connection_limit_reached',
    exit: 1,
    summary: 'gateway is at limits.maxConnections',
  },
  LIMIT_CLIENT_CONNECTIONS: {
    status: 503,
    proxyStatus: 'connection_limit_reached',
    exit: 1,
    summary: 'client is at limits.maxConnectionsPerClient',
  },
  LIMIT_CONNECTION_RATE: {
    status: 503,
    proxyStatus: 'connection_limit_reached',
    exit: 1,
    summary: 'client opens connections faster than limits.newConnectionsPerClientPerSecond',
  },
  LIMIT_DESCRIPTORS: {
    status: 503,
    proxyStatus: 'connection_limit_reached',
    exit: 1,
    summary: 'the gateway process is near its open-files limit (LimitNOFILE)',
  },
  LIMIT_UPSTREAM_SOCKETS: {
    status: 503,
    proxyStatus: 'connection_limit_reached',
    exit: 1,
    summary:
      'no upstream connection came free within timeouts.connect (limits.upstreamSockets, limits.upstreamSocketsPerOrigin)',
  },
  SHUTTING_DOWN: {
    status: 503,
    proxyStatus: 'proxy_internal_response',
    exit: 1,
    summary: 'gateway is shutting down',
  },

  // Upstream failures.
  FAIL_DNS: { status: 502, proxyStatus: 'dns_error', exit: 1, summary: 'destination name did not resolve' },
  FAIL_DNS_TIMEOUT: { status: 504, proxyStatus: 'dns_timeout', exit: 1, summary: 'DNS lookup timed out' },
  FAIL_CONNECT_REFUSED: {
    status: 502,
    proxyStatus: 'connection_refused',
    exit: 1,
    summary: 'upstream refused the connection',
  },
  FAIL_CONNECT_UNREACHABLE: {
    status: 502,
    proxyStatus: 'destination_unavailable',
    exit: 1,
    summary: 'upstream network or host unreachable',
  },
  FAIL_CONNECT_TIMEOUT: {
    status: 504,
    proxyStatus: 'connection_timeout',
    exit: 1,
    summary: 'upstream connect timed out (timeouts.connect)',
  },
  FAIL_UPSTREAM_RESET: {
    status: 502,
    proxyStatus: 'connection_terminated',
    exit: 1,
    summary: 'upstream closed or reset the connection',
  },
  FAIL_UPSTREAM_TIMEOUT: {
    status: 504,
    proxyStatus: 'http_response_timeout',
    exit: 1,
    summary: 'upstream did not answer within timeouts.upstreamResponse',
  },
  FAIL_UPSTREAM_PROTOCOL: {
    status: 502,
    proxyStatus: 'http_protocol_error',
    exit: 1,
    summary: 'upstream sent an invalid HTTP response',
  },

  // How a finished tunnel or exchange ended (log only).
  CLOSED: { status: 0, proxyStatus: null, exit: 0, summary: 'closed normally' },
  IDLE_TIMEOUT: {
    status: 0,
    proxyStatus: null,
    exit: 0,
    summary: 'closed after timeouts.tunnelIdle of silence',
  },
  CLIENT_ABORTED: {
    status: 0,
    proxyStatus: null,
    exit: 0,
    summary: 'client closed before the exchange completed',
  },
  DRAIN_DEADLINE: {
    status: 0,
    proxyStatus: null,
    exit: 0,
    summary: 'closed at shutdown after timeouts.drain',
  },
  INTERNAL_ERROR: { status: 500, proxyStatus: 'proxy_internal_error', exit: 1, summary: 'internal error' },

  // Operator errors (CLI).
  CONFIG_INVALID: { status: 0, proxyStatus: null, exit: 2, summary: 'configuration is invalid' },
  CATALOG_INVALID: {
    status: 0,
    proxyStatus: null,
    exit: 2,
    summary: 'a catalog file or spreadsheet is invalid',
  },
  FILE_UNREADABLE: { status: 0, proxyStatus: null, exit: 2, summary: 'a file could not be read' },
  USAGE: { status: 0, proxyStatus: null, exit: 2, summary: 'invalid command-line usage' },
  LISTEN_FAILED: { status: 0, proxyStatus: null, exit: 1, summary: 'a listener could not be opened' },
} as const satisfies Record<string, ReasonInfo>;

export interface ReasonInfo {
  /** HTTP status sent to the client; 0 when the outcome never produces a response. */
  readonly status: number;
  /** RFC 9209 Proxy-Status error type, or null for non-error outcomes. */
  readonly proxyStatus: string | null;
  /** Exit code when the outcome ends a CLI command. */
  readonly exit: number;
  readonly summary: string;
}

export type ReasonCode = keyof typeof REASONS;

export function reasonInfo(code: ReasonCode): ReasonInfo {
  return REASONS[code];
}

export function isReasonCode(value: string): value is ReasonCode {
  return Object.hasOwn(REASONS, value);
}
