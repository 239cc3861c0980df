import { z } from 'zod';
import { CLOUDS, GEOS, PRODUCTS, SERVICES, type Catalog, type CatalogEntry } from './schema.js';

export const entryFilterSchema = z.strictObject({
  products: z.array(z.enum(PRODUCTS)).optional(),
  geos: z.array(z.enum(GEOS)).optional(),
  services: z.array(z.enum(SERVICES)).optional(),
  clouds: z.array(z.enum(CLOUDS)).optional(),
});
export type EntryFilter = z.output<typeof entryFilterSchema>;

export type EntryFilterResult =
  | { readonly ok: true; readonly filter: EntryFilter }
  | { readonly ok: false; readonly errors: readonly string[] };

const FLAG_OF: Readonly<Record<string, string>> = {
  products: '--product',
  geos: '--geo',
  services: '--service',
  clouds: '--cloud',
};

/** Validates filter values given on the command line; errors name the flag and the allowed values. */
export function parseEntryFilter(raw: unknown): EntryFilterResult {
  const parsed = entryFilterSchema.safeParse(raw);
  if (parsed.success) return { ok: true, filter: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const index = issue.path[1];
      const values = (raw as Record<string, unknown[]>)[key];
      const value = typeof index === 'number' && Array.isArray(values) ? String(values[index]) : '';
      const allowed = { products: PRODUCTS, geos: GEOS, services: SERVICES, clouds: CLOUDS }[key];
      return `${FLAG_OF[key] ?? key}: "${value}" is not one of ${allowed?.join(', ') ?? '(unknown)'}`;
    }),
  };
}

/** Entries matching every given filter (a filter lists alternatives). */
export function filterEntries(catalog: Catalog, filter: EntryFilter): CatalogEntry[] {
  return catalog.entries.filter(
    (e) =>
      (filter.products === undefined || e.products.some((p) => filter.products!.includes(p))) &&
      (filter.geos === undefined ||
        filter.geos.includes(e.geo) ||
        (e.alsoGeos ?? []).some((g) => filter.geos!.includes(g))) &&
      (filter.services === undefined || filter.services.includes(e.service)) &&
      (filter.clouds === undefined || e.clouds.some((c) => filter.clouds!.includes(c))),
  );
}

/** A plain-text table: a header, a rule line, one line per row, columns padded to their widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export interface EntryTableOptions {
  /** Add the clouds and the description of each entry. */
  readonly wide?: boolean;
}

/**
 * The entries as a table: the ID column holds the ids `catalog.exclude` and warnings use; SOURCE
 * numbers the documents, and the legend under the table gives each one's title and address
 * (from the catalog's `sources`).
 */
export function renderEntryTable(
  entries: readonly CatalogEntry[],
  sources: Readonly<Record<string, string>>,
  options: EntryTableOptions = {},
): string {
  const numbered: string[] = [];
  const number = (key: string): number => {
    let i = numbered.indexOf(key);
    if (i === -1) i = numbered.push(key) - 1;
    return i + 1;
  };
  const rows = entries.map((e) => [
    e.id,
    `${e.host}${e.path ?? ''}`,
    e.ports.join(','),
    e.geo,
    e.service,
    e.products.join(','),
    e.os.join(',') || '-',
    e.required ? 'req' : 'opt',
    e.noInspect ? 'no-inspect' : '',
    ...(options.wide === true ? [e.clouds.join(','), e.description] : []),
    e.source.map(number).join(','),
  ]);
  const headers = [
    'ID',
    'HOST',
    'PORTS',
    'GEO',
    'SERVICE',
    'PRODUCTS',
    'OS',
    'REQ',
    'TLS',
    ...(options.wide === true ? ['CLOUDS', 'DESCRIPTION'] : []),
    'SOURCE',
  ];
  const legend = numbered.map((key, i) => `  [${i + 1}] ${sources[key] ?? key}`);
  return (
    renderTable(headers, rows) +
    `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}\n` +
    (legend.length > 0 ? `\nSOURCE numbers:\n${legend.join('\n')}\n` : '')
  );
}
