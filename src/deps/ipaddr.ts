import { createRequire } from 'node:module';
import type ipaddrModule from 'ipaddr.js';

/** ipaddr.js (CommonJS), loaded without the ESM translator: see README.md in this folder. */
export const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof ipaddrModule;
export type { IPv4, IPv6 } from 'ipaddr.js';
