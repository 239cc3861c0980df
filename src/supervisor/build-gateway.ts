import { AirlockError } from '../errors/index.js';
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
  extra: Pick<GatewayOptions, 'originForm' | 'openFilesLimit' | 'faults'> & {
    readonly onDnsAnswer?: ((result: DnsResult) => void) | undefined;
  } = {},
): Gateway {
  const file = loaded.config.file;
  const { onDnsAnswer, ...options } = extra;
  const resolver = buildResolver(loaded, onDnsAnswer);
  const relay = relayFor(file.engine.tunnels);
  if (relay === null && file.engine.accept === 'native') {
    throw new AirlockError(
      'CONFIG_INVALID',
      'engine.accept: native needs the native relay (engine.tunnels: auto or native, and the addon built)',
    );
  }
  if (relay === null && file.engine.busyPollUs > 0) {
    throw new AirlockError(
      'CONFIG_INVALID',
      "engine.busyPollUs: busy polling is the native relay thread's (engine.tunnels: auto or native, and the addon built)",
    );
  }
  relay?.addon.busyPoll(file.engine.busyPollUs);
  return new Gateway({
    listeners: loaded.listeners,
    policy: loaded.policy,
    resolver,
    accessLog,
    mode: file.mode,
    tls: file.tls,
    timeouts: file.timeouts,
    limits: file.limits,
    relay,
    nativeFront: relay !== null && file.engine.accept !== 'js',
    frontGrants: file.engine.grants,
    ...options,
  });
}
