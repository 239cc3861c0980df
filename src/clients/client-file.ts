import type { Product } from '../catalog/index.js';
import type { Citations, SourceKey } from '../sources/index.js';

export const CLIENT_OSES = ['windows', 'linux', 'macos'] as const;
export type ClientOs = (typeof CLIENT_OSES)[number];

/** Where a file is used: on an endpoint of one OS, in Azure (extension settings, policy), or anywhere. */
export type ClientTarget = ClientOs | 'azure' | 'any';

/** One generated file: what it is, where and when to use it, and what it follows. */
export interface ClientFile {
  /** Relative path under the output directory, `/`-separated. */
  readonly path: string;
  readonly contents: string | Buffer;
  /** One line: what the file does. */
  readonly description: string;
  /** Where it is run or applied ("each Windows endpoint, elevated"). */
  readonly runWhere: string;
  /** Apply order within its target; files with the same order are alternatives or independent. */
  readonly order: number;
  readonly target: ClientTarget;
  readonly products: readonly Product[];
  readonly source: readonly SourceKey[];
  /** Optional files are choices the README explains (e.g. the machine-wide WinHTTP proxy). */
  readonly optional?: boolean;
}

export type ClientNoteCode =
  /** The sources say different things; the output follows one and says which. */
  | 'SOURCES_DISAGREE'
  /** The sources leave a question open; the output says what it does meanwhile. */
  | 'OPEN_QUESTION'
  /** A product was asked for on an OS it does not run on, alongside OSes it does. */
  | 'SKIPPED'
  /** A setting that takes one proxy gets the first gateway only. */
  | 'SINGLE_PROXY'
  /** Anything else the admin must know before applying the files. */
  | 'CAUTION';

export interface ClientNote {
  readonly level: 'warning' | 'info';
  readonly code: ClientNoteCode;
  readonly message: string;
  readonly source: readonly SourceKey[];
}

/** Lines joined with CRLF and ending in one, as Windows tools expect. */
export function crlf(lines: readonly string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

/** Lines joined with LF and ending in one. */
export function lf(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`;
}

/**
 * The numbered list of a file's sources as comment lines, for the end of the file:
 * `# Sources:` then `#   [1] Title (Publisher): https://…` per source cited in it.
 */
export function sourceComments(citations: Citations, prefix: string): string[] {
  if (citations.size === 0) return [];
  return [`${prefix} Sources:`, ...citations.lines().map((line) => `${prefix}   ${line}`)];
}
