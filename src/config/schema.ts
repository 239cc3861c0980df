import { z } from 'zod';
import { catalogSelectionSchema } from '../catalog/index.js';
import { DEFAULT_HTTP_METHODS, parseCidr, parseHostPattern } from '../policy/index.js';
import { DEFAULTS } from './defaults.js';
import { parseDuration } from './duration.js';
import { parseListenAddress } from './listen-address.js';

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(value)}" is not a duration (e.g. 500ms, 10s, 5m, 1h)`,
    });
    return z.NEVER;
  }
  return ms;
});

const port = z.number({ error: 'must be a port number' }).int('must be a whole number').min(1).max(65535);
const positiveInt = z.number().int('must be a whole number').min(1);

/** "gw1.example.com:3128" or "[2001:db8::1]:3128", port 1-65535. */
function isProxyAddress(text: string): boolean {
  const match = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$/.exec(text);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;
}

const cidr = z.string().refine((text) => parseCidr(text) !== null, {
  error: (issue) => `"${String(issue.input)}" is not a CIDR`,
});

const listener = z
  .union([
    z.string(),
    z.strictObject({
      address: z.string(),
      proxyProtocol: z.boolean().default(false),
      trustedProxies: z.array(cidr).default([]),
    }),
  ])
  .transform((value, ctx) => {
    const text = typeof value === 'string' ? value : value.address;
    const parsed = parseListenAddress(text);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    if (typeof value !== 'string' && value.proxyProtocol && value.trustedProxies.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['trustedProxies'],
        message: 'proxyProtocol needs trustedProxies: the load balancers allowed to send PROXY headers',
      });
      return z.NEVER;
    }
    const proxyProtocol =
      typeof value !== 'string' && value.proxyProtocol ? { trustedProxies: value.trustedProxies } : null;
    return { ...parsed, proxyProtocol };
  });

function checkHost(text: string, ctx: z.RefinementCtx): void {
  const pattern = parseHostPattern(text);
  if ('error' in pattern) ctx.addIssue({ code: 'custom', message: pattern.error });
}

const destination = z
  .union([
    z.string(),
    z.strictObject({ host: z.string(), ports: z.array(port).min(1).optional() }),
    z.strictObject({ cidr: z.string(), ports: z.array(port).min(1).optional() }),
  ])
  .superRefine((value, ctx) => {
    if (typeof value === 'string') return checkHost(value, ctx);
    if ('host' in value) return checkHost(value.host, ctx);
    if (parseCidr(value.cidr) === null)
      ctx.addIssue({ code: 'custom', message: `"${value.cidr}" is not a CIDR` });
  })
  .transform((value) => (typeof value === 'string' ? { host: value } : value));

const hostsEntry = z
  .union([z.string(), z.array(z.string()).min(1)])
  .transform((value) => (typeof value === 'string' ? [value] : value))
  .superRefine((addresses, ctx) => {
    addresses.forEach((address, i) => {
      const parsed = parseCidr(address);
      if (parsed === null || address.includes('/')) {
        ctx.addIssue({ code: 'custom', path: [i], message: `"${address}" is not an IP address` });
      }
    });
  });

export const configSchema = z.strictObject({
  version: z.literal(1, { error: 'only version 1 is supported' }).default(1),
  mode: z.enum(['enforce', 'audit']).default('enforce'),
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
  engine: z
    .strictObject({
      /** native: established tunnels move to the relay thread (C, epoll); js: spliced streams. */
      tunnels: z.enum(['auto', 'native', 'js']).default('auto'),
      /** reuseport: each worker accepts on a SO_REUSEPORT socket of its own; handoff: the supervisor accepts and passes sockets on. */
      listen: z.enum(['auto', 'reuseport', 'handoff']).default('auto'),
      /** native: the relay thread accepts, reads CONNECT heads, connects and relays; decisions stay in JavaScript. */
      accept: z.enum(['auto', 'native', 'js']).default('auto'),
      /** The native front's repeat grants (see FrontGrants): false turns the shortcut off. */
      grants: z.boolean().default(true),
      /** The relay thread's busy polling before it sleeps, in microseconds (0: off). */
      busyPollUs: z.number().int().min(0).max(1000).default(0),
    })
    .superRefine((engine, ctx) => {
      if (engine.tunnels === 'js' && engine.accept === 'native') {
        ctx.addIssue({
          code: 'custom',
          path: ['accept'],
          message: 'the native front hands its tunnels to the native relay thread, and engine.tunnels is js',
        });
      }
      if (engine.tunnels === 'js' && engine.busyPollUs > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['busyPollUs'],
          message: "busy polling is the native relay thread's, and engine.tunnels is js",
        });
      }
    })
    .prefault({}),
  pidFile: z.string().min(1).nullable().default(null),
  listeners: z
    .array(listener)
    .min(1)
    .prefault([...DEFAULTS.listeners]),
  policy: z
    .strictObject({
      sources: z.array(cidr).default([...DEFAULTS.sources]),
      destinations: z.array(destination).optional(),
      allowlistFiles: z.array(z.string().min(1)).optional(),
      defaultAllowlist: z.boolean().optional(),
      internalNetworks: z.array(cidr).default([]),
      ports: z
        .strictObject({
          connect: z.array(port).default([...DEFAULTS.ports.connect]),
          http: z.array(port).default([...DEFAULTS.ports.http]),
        })
        .prefault({}),
      methods: z
        .array(z.string().regex(/^[A-Z]+$/, 'a method in upper case, e.g. GET'))
        .refine((m) => !m.includes('CONNECT'), 'CONNECT is governed by policy.ports.connect, not methods')
        .default([...DEFAULT_HTTP_METHODS]),
    })
    .prefault({}),
  catalog: catalogSelectionSchema.prefault({}),
  hosts: z.record(z.string(), hostsEntry).default({}),
  tls: z
    .strictObject({
      sniCheck: z.boolean().default(DEFAULTS.tls.sniCheck),
      ports: z.array(port).default([...DEFAULTS.tls.ports]),
      missingSni: z.enum(['deny', 'allow']).default(DEFAULTS.tls.missingSni),
      nonTls: z.enum(['deny', 'allow']).default(DEFAULTS.tls.nonTls),
    })
    .prefault({}),
  reload: z.strictObject({ watch: z.boolean().default(false) }).prefault({}),
  admin: z
    .strictObject({
      listen: z
        .string()
        .nullable()
        .default(null)
        .transform((value, ctx) => {
          if (value === null) return null;
          const parsed = parseListenAddress(value);
          if ('error' in parsed) {
            ctx.addIssue({ code: 'custom', message: parsed.error });
            return z.NEVER;
          }
          return parsed;
        }),
      pac: z
        .strictObject({
          proxies: z
            .array(
              z.string().refine((text) => isProxyAddress(text), {
                error: (issue) => `"${String(issue.input)}" is not HOST:PORT (port 1-65535)`,
              }),
            )
            .default([]),
          otherwise: z
            .string()
            .regex(/^(DIRECT|PROXY [A-Za-z0-9.:[\]-]+)$/, 'must be DIRECT or "PROXY host:port"')
            .default('DIRECT'),
        })
        .prefault({}),
      servePacOnProxyPort: z.boolean().default(false),
      /** Bearer token for the admin API and metrics (AIRLOCK_ADMIN_TOKEN overrides it). Required off loopback. */
      token: z.string().min(16, 'must be at least 16 characters').nullable().default(null),
      /** A file holding the token (a secret mount); read at start. */
      tokenFile: z.string().min(1).nullable().default(null),
    })
    .prefault({}),
  observe: z
    .strictObject({
      /** The operator view's in-memory state (clients, services, denials, open tunnels). */
      state: z.boolean().default(DEFAULTS.observe.state),
      maxClients: positiveInt.default(DEFAULTS.observe.maxClients),
      maxDeniedDestinations: positiveInt.default(DEFAULTS.observe.maxDeniedDestinations),
      maxAge: duration.default(DEFAULTS.observe.maxAge),
      recentDenials: positiveInt.max(100_000).default(DEFAULTS.observe.recentDenials),
      /** Client names for logs and the operator view: address or CIDR → name. */
      clientNames: z
        .record(
          z.string().refine((text) => parseCidr(text) !== null, {
            error: (issue) => `"${String(issue.input)}" is not an address or CIDR`,
          }),
          z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'must be 1-63 letters, digits, ".", "_" or "-"'),
        )
        .default({}),
    })
    .prefault({}),
  dns: z
    .strictObject({
      minTtl: duration.default(DEFAULTS.dns.minTtl),
      maxTtl: duration.default(DEFAULTS.dns.maxTtl),
      negativeTtl: duration.default(DEFAULTS.dns.negativeTtl),
      timeout: duration.default(DEFAULTS.dns.timeout),
      tries: positiveInt.max(10).default(DEFAULTS.dns.tries),
      prefer: z.enum(['ipv4', 'ipv6']).default(DEFAULTS.dns.prefer),
      servers: z.array(z.string()).optional(),
      hostsFile: z.string().nullable().default(DEFAULTS.dns.hostsFile),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      requestHead: duration.default(DEFAULTS.timeouts.requestHead),
      connect: duration.default(DEFAULTS.timeouts.connect),
      /** A tunnel with no bytes either way for this long is closed; 0: never (no idle timeout). */
      // Node's timers hold at most 2^31-1 ms (24.8 days); longer would silently shorten it.
      tunnelIdle: duration
        .refine((ms) => ms <= 2_147_483_647, 'at most 24 days (0 means no idle timeout)')
        .default(DEFAULTS.timeouts.tunnelIdle),
      upstreamResponse: duration.default(DEFAULTS.timeouts.upstreamResponse),
      clientKeepAlive: duration.default(DEFAULTS.timeouts.clientKeepAlive),
      upstreamKeepAlive: duration.default(DEFAULTS.timeouts.upstreamKeepAlive),
      drain: duration.default(DEFAULTS.timeouts.drain),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxConnections: positiveInt.default(DEFAULTS.limits.maxConnections),
      maxConnectionsPerClient: positiveInt.default(DEFAULTS.limits.maxConnectionsPerClient),
      maxRequestHeadBytes: positiveInt.min(1024).max(1_048_576).default(DEFAULTS.limits.maxRequestHeadBytes),
      upstreamSocketsPerOrigin: positiveInt.default(DEFAULTS.limits.upstreamSocketsPerOrigin),
      upstreamSockets: positiveInt.default(DEFAULTS.limits.upstreamSockets),
      maxRequestsPerConnection: positiveInt.default(DEFAULTS.limits.maxRequestsPerConnection),
      newConnectionsPerClientPerSecond: positiveInt.default(DEFAULTS.limits.newConnectionsPerClientPerSecond),
      upstreamIdleSocketsPerOrigin: z
        .number()
        .int()
        .min(0)
        .default(DEFAULTS.limits.upstreamIdleSocketsPerOrigin),
    })
    .prefault({}),
  lint: z
    .strictObject({
      /**
       * Lint findings the operator has reviewed and accepts: a rule as written
       * (`*.windowsupdate.com`), a catalog entry id (`mde:*.windowsupdate.com`), or a finding id
       * (`BROAD_DOMAIN:*.windowsupdate.com`). They are no longer printed at startup.
       */
      acknowledge: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  log: z
    .strictObject({
      format: z.enum(['json', 'squid']).default(DEFAULTS.log.format),
      file: z.string().min(1).nullable().default(DEFAULTS.log.file),
      level: z.enum(['debug', 'info', 'warn', 'error']).default(DEFAULTS.log.level),
    })
    .prefault({}),
});

/** The configuration file after validation and defaults. */
export type ConfigFile = z.output<typeof configSchema>;
