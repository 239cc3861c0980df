import type { Catalog, CatalogEntry } from './schema.js';

export interface FieldChange {
  readonly field: string;
  readonly before: string;
  readonly after: string;
}

export interface EntryChange {
  readonly id: string;
  readonly before: CatalogEntry;
  readonly after: CatalogEntry;
  readonly fields: readonly FieldChange[];
}

export interface CatalogDiff {
  readonly added: readonly CatalogEntry[];
  readonly removed: readonly CatalogEntry[];
  readonly changed: readonly EntryChange[];
}

/** Fields whose order carries no meaning: compared as sets. */
const SET_FIELDS = new Set(['products', 'clouds', 'os', 'ports', 'schemes', 'source', 'alsoGeos']);

function show(field: string, value: unknown): string {
  if (value === undefined) return '(none)';
  if (Array.isArray(value)) {
    const items = SET_FIELDS.has(field) ? [...(value as unknown[])].map(String).sort() : value.map(String);
    return items.length === 0 ? '(none)' : items.join(', ');
  }
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(undefined);
}

/** Entries matched by id: added, removed, and changed with the fields that differ. */
export function diffCatalogs(before: Catalog, after: Catalog): CatalogDiff {
  const old = new Map(before.entries.map((e) => [e.id, e] as const));
  const now = new Map(after.entries.map((e) => [e.id, e] as const));
  const added = after.entries.filter((e) => !old.has(e.id));
  const removed = before.entries.filter((e) => !now.has(e.id));
  const changed: EntryChange[] = [];
  for (const entry of after.entries) {
    const previous = old.get(entry.id);
    if (previous === undefined) continue;
    const keys = [...new Set([...Object.keys(previous), ...Object.keys(entry)])] as (keyof CatalogEntry)[];
    const fields: FieldChange[] = [];
    for (const key of keys) {
      const a = show(key, previous[key]);
      const b = show(key, entry[key]);
      if (a !== b) fields.push({ field: key, before: a, after: b });
    }
    if (fields.length > 0) changed.push({ id: entry.id, before: previous, after: entry, fields });
  }
  return { added, removed, changed };
}

function describe(entry: CatalogEntry): string {
  return `${entry.geo} ${entry.service} ports ${entry.ports.join(',')} ${entry.required ? 'required' : 'optional'}`;
}

/** The diff as text: `+` added, `-` removed, `~` changed with each field's old and new value. */
export function renderDiffText(diff: CatalogDiff): string {
  const lines: string[] = [];
  for (const e of diff.added) lines.push(`+ ${e.id}  (${describe(e)})`);
  for (const e of diff.removed) lines.push(`- ${e.id}  (${describe(e)})`);
  for (const c of diff.changed) {
    lines.push(`~ ${c.id}`);
    for (const f of c.fields) lines.push(`    ${f.field}: ${f.before} -> ${f.after}`);
  }
  lines.push(`${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed`);
  return `${lines.join('\n')}\n`;
}
