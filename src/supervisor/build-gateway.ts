import { Gateway, Resolver, relayFor, type GatewayOptions } from '../gateway/index.js';
import type { AccessLogSink, DnsResult } from '../observe/index.js';
import type { LoadedConfig } from './load-config.js';

/** The DNS resolver a loaded configuration describes (static hosts, servers, cache bounds). */
export function buildResolver(loaded: LoadedConfig, onAnswer?: (result: DnsResult) => void): Resolver {
  const file = loaded.config.file;
  return new Resolver({
    hosts: loaded.hosts,
    systemHosts: loaded.systemHosts,
    servers: file.dns.servers,
    timeoutMs: file.dns.timeout,
    tries: file.dns.tries,
    minTtlMs: file.dns.minTtl,
    maxTtlMs: file.dns.maxTtl,
    negativeTtlMs: file.dns.negativeTtl,
    prefer: file.dns.prefer,
    onAnswer,
  });
}

/** Wires a loaded configuration into a resolver and a gateway (not yet listening). */
export function buildGateway(
  loaded: LoadedConfig,
  accessLog: AccessLogSink,
  originFormResponder?: GatewayOptions['originFormResponder'],
  onDnsAnswer?: (result: DnsResult) => void,
): Gateway {
  const file = loaded.config.file;
  const resolver = buildResolver(loaded, onDnsAnswer);
  return new Gateway({
    listeners: loaded.listeners,
    policy: loaded.policy,
    resolver,
    accessLog,
    mode: file.mode,
    tls: file.tls,
    timeouts: file.timeouts,
    limits: file.limits,
    originFormResponder,
    relay: relayFor(file.engine.tunnels),
  });
}
