/** Every default in one block. Durations in milliseconds, sizes in bytes. */
export const DEFAULTS = {
  listeners: ['0.0.0.0:3128'],
  /** RFC 1918, IPv6 unique-local, and loopback. */
  sources: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '127.0.0.0/8', '::1/128'],
  ports: { connect: [443], http: [80] },
  timeouts: {
    /** Whole request head must arrive within this (slowloris). */
    requestHead: 10_000,
    /** Per upstream address tried. */
    connect: 10_000,
    /** Agents hold command-and-control tunnels open for many minutes. */
    tunnelIdle: 3_600_000,
    /** Upstream silence while a plain-HTTP response is awaited or streaming. */
    upstreamResponse: 60_000,
    /** Idle client keep-alive connection between requests. */
    clientKeepAlive: 60_000,
    /** Idle pooled upstream connection. */
    upstreamKeepAlive: 15_000,
    /** Graceful shutdown: how long open tunnels may drain. */
    drain: 30_000,
  },
  limits: {
    maxConnections: 8_000,
    maxConnectionsPerClient: 1_000,
    maxRequestHeadBytes: 32_768,
    upstreamSocketsPerOrigin: 64,
    upstreamIdleSocketsPerOrigin: 64,
    /** Every plain-HTTP upstream connection of one gateway process (busy, idle, connecting). */
    upstreamSockets: 1024,
    maxRequestsPerConnection: 10_000,
    /** Token bucket per client address; the burst equals the rate. A reconnect storm of one host is throttled, a site's is not. */
    newConnectionsPerClientPerSecond: 200,
  },
  tls: {
    /** Check the ClientHello server name of every tunnel against the CONNECT host and the policy. */
    sniCheck: true,
    /** Ports where a tunnel must start with a TLS ClientHello. */
    ports: [443],
    missingSni: 'deny' as 'deny' | 'allow',
    nonTls: 'deny' as 'deny' | 'allow',
  },
  dns: {
    minTtl: 1_000,
    maxTtl: 300_000,
    negativeTtl: 5_000,
    timeout: 3_000,
    tries: 2,
    prefer: 'ipv4' as 'ipv4' | 'ipv6',
    hostsFile: '/etc/hosts' as string | null,
  },
  observe: {
    state: true,
    /** Memory for 100,000 clients is measured in docs/admin-api.md. */
    maxClients: 100_000,
    maxDeniedDestinations: 10_000,
    maxAge: 86_400_000,
    recentDenials: 1_000,
  },
  log: {
    format: 'json' as 'json' | 'squid',
    file: null as string | null,
    level: 'info' as 'debug' | 'info' | 'warn' | 'error',
  },
} as const;
