export { parseConfig, type Config, type ConfigResult } from './load.js';
export { configSchema, type ConfigFile } from './schema.js';
export { DEFAULTS } from './defaults.js';
export { parseDuration, formatDuration } from './duration.js';
export { listenersOverlap, parseListenAddress, type ListenAddress } from './listen-address.js';
