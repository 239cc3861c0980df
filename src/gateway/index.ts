export {
  Gateway,
  ipv6Only,
  listenFailure,
  type GatewayOptions,
  type GatewayStats,
  type ShutdownResult,
} from './gateway.js';
export { Resolver, parseHostsFile, type ResolvedAddress, type ResolverOptions } from './resolver.js';
export type {
  FaultReporter,
  GatewayLimits,
  GatewayTimeouts,
  LocalAnswer,
  OriginFormResponder,
} from './parts.js';
export { loadNative, nativeFor, relayFor, type NativeAddon } from './native.js';
export { RESERVED_DESCRIPTORS } from './admission.js';
