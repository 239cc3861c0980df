import { posix } from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from '../deps/yaml.js';
import { formatIssuePath, yamlLineOf, type IssuePath } from '../text/issue-path.js';
import type { z } from 'zod';
import type { DestinationSpec, SourceSpec } from '../policy/index.js';
import { configSchema, type ConfigFile } from './schema.js';
import { nearest, normalizeEnumCase, suggestKey } from './suggest.js';

export interface Config {
  readonly file: ConfigFile;
  /** File name for messages ("<defaults>" when no file was given). */
  readonly fileName: string;
  /** Sources with the line each was written on. */
  readonly sources: readonly SourceSpec[];
  /** Destination rules written in the file itself (undefined when the key is absent). */
  readonly destinations: readonly DestinationSpec[] | undefined;
  /** policy.allowlistFiles, resolved against the configuration file's directory. */
  readonly allowlistFiles: readonly { readonly path: string; readonly where: string }[];
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  readonly internalNetworks: readonly SourceSpec[];
  /** Where each of `listeners` and `admin.listen` is written, for messages. */
  readonly listenerWhere: readonly string[];
  readonly adminWhere: string;
}

export type ConfigResult =
  { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly errors: string[] };

type Path = IssuePath;

/** The value at `path` in the raw configuration, if there is one. */
function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(issue: z.core.$ZodIssue, raw: unknown): { path: Path; message: string }[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const hint = suggestKey(configSchema, issue.path, key);
      return { path: [...issue.path, key], message: `unknown key${hint === undefined ? '' : `: ${hint}`}` };
    });
  }
  if (issue.code === 'invalid_value' && issue.values.every((v) => typeof v === 'string')) {
    const value = valueAt(raw, issue.path);
    const values = issue.values;
    const hint = typeof value === 'string' ? nearest(value, values) : undefined;
    return [
      {
        path: issue.path,
        message: `${JSON.stringify(value)} is not one of ${values.join(', ')}${hint === undefined ? '' : `: did you mean "${hint}"?`}`,
      },
    ];
  }
  if (issue.code === 'invalid_union') {
    // Report the branch that got furthest, not "invalid input".
    const branches = issue.errors.filter((b) => b.length > 0);
    const best = branches.find((b) => b.every((i) => i.code !== 'invalid_type')) ?? branches[0];
    if (best)
      return best.flatMap((inner) => describe({ ...inner, path: [...issue.path, ...inner.path] }, raw));
  }
  return [{ path: issue.path, message: issue.message }];
}

/**
 * A YAML syntax error as `file:line:column: message` and the lines it is about, the column
 * marked with a caret, so the mistake is visible without opening the file.
 */
function syntaxError(error: YAMLError, text: string, fileName: string): string {
  const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = error.linePos?.[0];
  if (pos === undefined) return `${fileName}: YAML syntax error: ${message}`;
  const lines = text.split(/\r?\n/);
  const number = (n: number): string => String(n).padStart(String(pos.line).length);
  const shown: string[] = [];
  const previous = lines[pos.line - 2];
  if (pos.line > 1 && previous !== undefined && previous.trim() !== '' && pos.col <= 1)
    shown.push(`${number(pos.line - 1)} | ${previous}`);
  const line = lines[pos.line - 1] ?? '';
  shown.push(`${number(pos.line)} | ${line}`);
  const under = [...line.slice(0, pos.col - 1)].map((c) => (c === '\t' ? '\t' : ' ')).join('');
  shown.push(`${' '.repeat(String(pos.line).length)} | ${under}^`);
  return `${fileName}:${pos.line}:${pos.col}: YAML syntax error: ${message}\n${shown.join('\n')}`;
}

/**
 * Parses and validates configuration text. Pure: it takes text and a name for messages,
 * reads no file. Every error names the path and, where the file has one, the line:
 * `policy.sources[2]: "10.0.0.0/33" is not a CIDR (airlock.yaml:14)`.
 */
export function parseConfig(text: string, fileName: string): ConfigResult {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => syntaxError(e, text, fileName)) };
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      errors: [`${fileName}: the configuration must be a mapping of keys (e.g. "listeners:")`],
    };
  }
  const parsed = configSchema.safeParse(normalizeEnumCase(configSchema, raw));
  if (!parsed.success) {
    const errors = parsed.error.issues
      .flatMap((issue) => describe(issue, raw))
      .map(({ path, message }) => {
        const line = yamlLineOf(doc, counter, path);
        return `${formatIssuePath(path)}: ${message} (${fileName}${line ? `:${line}` : ''})`;
      });
    return { ok: false, errors: [...new Set(errors)] };
  }
  const file = parsed.data;
  const where = (path: Path): string => {
    const line = yamlLineOf(doc, counter, path);
    return `${fileName}${line ? `:${line}` : ''} (${formatIssuePath(path)})`;
  };
  const hasFile = text.trim().length > 0;
  const sources: SourceSpec[] = file.policy.sources.map((cidr, i) => ({
    cidr,
    origin:
      hasFile && doc.hasIn(['policy', 'sources'])
        ? { source: 'config', where: where(['policy', 'sources', i]) }
        : { source: 'default', where: 'built-in default sources' },
  }));
  const internalNetworks: SourceSpec[] = file.policy.internalNetworks.map((cidr, i) => ({
    cidr,
    origin: { source: 'config', where: where(['policy', 'internalNetworks', i]) },
  }));
  const destinations = file.policy.destinations?.map((d, i): DestinationSpec => ({
    ...d,
    origin: { source: 'config', where: where(['policy', 'destinations', i]) },
  }));
  const baseDir = fileName.startsWith('<') ? '.' : posix.dirname(fileName);
  const allowlistFiles = (file.policy.allowlistFiles ?? []).map((path, i) => ({
    path: posix.isAbsolute(path) ? path : posix.join(baseDir, path),
    where: where(['policy', 'allowlistFiles', i]),
  }));
  const hosts = new Map<string, readonly string[]>();
  for (const [name, addresses] of Object.entries(file.hosts)) {
    hosts.set(name.toLowerCase().replace(/\.$/, ''), addresses);
  }
  const listenerWhere = file.listeners.map((_, i) =>
    hasFile && doc.hasIn(['listeners']) ? where(['listeners', i]) : 'the default listener',
  );
  return {
    ok: true,
    config: {
      file,
      fileName,
      sources,
      destinations,
      allowlistFiles,
      hosts,
      internalNetworks,
      listenerWhere,
      adminWhere: where(['admin', 'listen']),
    },
  };
}
