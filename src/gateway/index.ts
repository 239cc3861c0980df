export {
  Gateway,
  ipv6Only,
  listenFailure,
  type GatewayOptions,
  type GatewayStats,
  type ShutdownResult,
} from './gateway.js';
export { Resolver, parseHostsFile, type ResolvedAddress, type ResolverOptions } from './resolver.js';
export type { GatewayTimeouts, GatewayLimits } from './context.js';
export { loadNative, nativeFor, relayFor, type NativeAddon } from './native.js';
