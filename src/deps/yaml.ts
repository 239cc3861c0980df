import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

/** yaml (CommonJS on Node.js), loaded without the ESM translator: see README.md in this folder. */
const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;

export const { isNode, parseDocument } = yaml;
export const LineCounter = yaml.LineCounter;
export type LineCounter = Yaml.LineCounter;
export type { Document, YAMLError } from 'yaml';
