import { posix } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import type { DestinationSpec, SourceSpec } from '../policy/index.js';
import { configSchema, type ConfigFile } from './schema.js';

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
}

export type ConfigResult =
  { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly errors: string[] };

type Path = readonly PropertyKey[];

function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function lineOf(doc: Document, counter: LineCounter, path: Path): number | undefined {
  for (let len = path.length; len >= 0; len--) {
    const node = len === 0 ? doc.contents : doc.getIn(path.slice(0, len) as unknown[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function describe(issue: z.core.$ZodIssue): { path: Path; message: string }[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
  }
  if (issue.code === 'invalid_union') {
    // Report the branch that got furthest, not "invalid input".
    const branches = issue.errors.filter((b) => b.length > 0);
    const best = branches.find((b) => b.every((i) => i.code !== 'invalid_type')) ?? branches[0];
    if (best) return best.flatMap((inner) => describe({ ...inner, path: [...issue.path, ...inner.path] }));
  }
  return [{ path: issue.path, message: issue.message }];
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
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const line = e.linePos?.[0]?.line;
        return `${fileName}${line ? `:${line}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      errors: [`${fileName}: the configuration must be a mapping of keys (e.g. "listeners:")`],
    };
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap(describe).map(({ path, message }) => {
      const line = lineOf(doc, counter, path);
      return `${formatPath(path)}: ${message} (${fileName}${line ? `:${line}` : ''})`;
    });
    return { ok: false, errors: [...new Set(errors)] };
  }
  const file = parsed.data;
  const where = (path: Path): string => {
    const line = lineOf(doc, counter, path);
    return `${fileName}${line ? `:${line}` : ''} (${formatPath(path)})`;
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
  return {
    ok: true,
    config: { file, fileName, sources, destinations, allowlistFiles, hosts, internalNetworks },
  };
}
