import type { z } from 'zod';

/**
 * Help for configuration mistakes, read off the schema itself: the keys valid at a path, the
 * nearest one to a misspelt key (or the same key in another section), and enum values written
 * in another case (`geographies: [eu]`), which are taken as the value they spell.
 */

type Schema = z.core.$ZodType;
type Path = readonly PropertyKey[];

interface Def {
  readonly type: string;
  readonly innerType?: Schema;
  readonly in?: Schema;
  readonly element?: Schema;
  readonly shape?: Readonly<Record<string, Schema>>;
  readonly entries?: Readonly<Record<string, string | number>>;
  readonly options?: readonly Schema[];
}

function def(schema: Schema): Def {
  return schema._zod.def;
}

/** The schema under defaults, optionals and transforms. */
function unwrap(schema: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 16; i++) {
    const d = def(s);
    const inner = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (inner === undefined) return s;
    s = inner;
  }
  return s;
}

/** The object schemas a value at `path` may be checked against (the object branches of a union too). */
function objectsAt(schema: Schema, path: Path): Schema[] {
  let current: Schema[] = [unwrap(schema)];
  for (const key of path) {
    const next: Schema[] = [];
    for (const s of current.flatMap(branches)) {
      const d = def(s);
      if (typeof key === 'number' && d.type === 'array' && d.element) next.push(unwrap(d.element));
      if (typeof key === 'string' && d.type === 'object' && d.shape?.[key]) next.push(unwrap(d.shape[key]));
    }
    current = next;
  }
  return current.flatMap(branches).filter((s) => def(s).type === 'object');
}

function branches(schema: Schema): Schema[] {
  const d = def(schema);
  return d.type === 'union' && d.options ? d.options.map(unwrap) : [schema];
}

/** Keys an object at `path` may have. */
export function keysAt(schema: Schema, path: Path): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((s) => Object.keys(def(s).shape ?? {})))];
}

/** Every key path of the schema's objects: `policy.allowlistFiles`, `dns.servers`, … */
function keyPaths(schema: Schema, prefix: string[] = [], depth = 0): string[][] {
  if (depth > 6) return [];
  const out: string[][] = [];
  for (const s of branches(unwrap(schema))) {
    const d = def(s);
    if (d.type === 'array' && d.element) out.push(...keyPaths(d.element, prefix, depth + 1));
    if (d.type !== 'object') continue;
    for (const [key, inner] of Object.entries(d.shape ?? {})) {
      out.push([...prefix, key]);
      out.push(...keyPaths(inner, [...prefix, key], depth + 1));
    }
  }
  return out;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
export function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be what was meant: a few edits
 * away for its length, or the start of it written out (`listen` for `listeners`).
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const scored = candidates.map((candidate) => {
    const other = candidate.toLowerCase();
    const edits = distance(lower, other);
    let score = edits <= Math.max(1, Math.floor(other.length / 3)) ? edits : Infinity;
    // The start of the key, whole or with a slip: `listen`, `alowlist`.
    if (lower.length >= 4 && other.startsWith(lower)) score = Math.min(score, 1);
    const slips = lower.length >= 7 ? 2 : 1;
    if (lower.length >= 5 && distance(lower, other.slice(0, lower.length + 1)) <= slips)
      score = Math.min(score, 1.5);
    return { candidate, score, edits };
  });
  const best = scored
    .filter((s) => Number.isFinite(s.score))
    .sort((a, b) => a.score - b.score || a.edits - b.edits)[0];
  return best?.candidate;
}

/** "did you mean `allowlistFiles`?" for an unknown key at `path`, or where the key belongs. */
export function suggestKey(schema: Schema, path: Path, key: string): string | undefined {
  const here = nearest(key, keysAt(schema, path));
  if (here !== undefined) return `did you mean \`${here}\`?`;
  const elsewhere = keyPaths(schema).filter((p) => p.at(-1)!.toLowerCase() === key.toLowerCase());
  if (elsewhere.length > 0) {
    return `\`${key}\` belongs under ${elsewhere.map((p) => `\`${p.slice(0, -1).join('.') || '(top level)'}\``).join(' or ')}`;
  }
  return undefined;
}

/**
 * The configuration with every enum value written in another case replaced by the value it
 * spells (`eu` → `EU`, `Audit` → `audit`), so case never decides whether a file is valid.
 */
export function normalizeEnumCase(schema: Schema, value: unknown): unknown {
  const s = unwrap(schema);
  const d = def(s);
  if (d.type === 'enum' && typeof value === 'string' && d.entries !== undefined) {
    const options = Object.values(d.entries).filter((o): o is string => typeof o === 'string');
    if (options.includes(value)) return value;
    const same = options.filter((o) => o.toLowerCase() === value.toLowerCase());
    return same.length === 1 ? same[0] : value;
  }
  if (d.type === 'array' && d.element && Array.isArray(value)) {
    return value.map((v) => normalizeEnumCase(d.element!, v));
  }
  if (
    d.type === 'object' &&
    d.shape &&
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value)
  ) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const inner = d.shape[key];
      out[key] = inner === undefined ? v : normalizeEnumCase(inner, v);
    }
    return out;
  }
  return value;
}
