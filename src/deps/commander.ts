import { createRequire } from 'node:module';
import type * as Commander from 'commander';

/** commander (CommonJS; its ES wrapper imports the same file), loaded without the ESM translator: see README.md in this folder. */
const commander = createRequire(import.meta.url)('commander') as typeof Commander;

export const Command = commander.Command;
export type Command = Commander.Command;
export const Option = commander.Option;
export type Option = Commander.Option;
export const CommanderError = commander.CommanderError;
export type CommanderError = Commander.CommanderError;
