export { supervise } from './supervisor.js';
export type { ServeOptions } from './options.js';
export { loadConfig, rulesForPort, type LoadedConfig, type LoadOptions } from './load-config.js';
export { buildGateway, buildResolver } from './build-gateway.js';
export { GATEWAY_ENV, GATEWAY_NODE_FLAGS, withGatewayEnv, withGatewayFlags } from './node-flags.js';
export { fleetStopped, HandOffQueue, WorkerMember, type HandOffOptions } from './members.js';
