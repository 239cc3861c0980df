import { createRequire } from 'node:module';
import type pinoModule from 'pino';

/** pino (CommonJS), loaded without the ESM translator: see README.md in this folder. */
export const pino = createRequire(import.meta.url)('pino') as typeof pinoModule;
export type { Logger } from 'pino';
