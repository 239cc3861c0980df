import { SOURCES, isSourceKey, sourceText } from '../sources/index.js';
import data from './data/catalog.json' with { type: 'json' };
import { validateCatalog, type Catalog } from './schema.js';

/** Where the shipped catalog is named in messages and rule origins. */
export const BUILTIN_CATALOG_NAME = 'built-in catalog';

let cached: Catalog | undefined;

/** Title and address of every table source the data cites, as a catalog's `sources` map. */
function citedSources(raw: {
  entries: { source: string[] }[];
  gaps: { source: string[] }[];
}): Record<string, string> {
  const keys = new Set([...raw.entries, ...raw.gaps].flatMap((item) => item.source));
  const sources: Record<string, string> = {};
  for (const key of Object.keys(SOURCES))
    if (keys.has(key) && isSourceKey(key)) sources[key] = sourceText(key);
  return sources;
}

/**
 * The catalog shipped with Airlock, validated against the schema on first use. Its entries cite
 * the sources table by key; the `sources` map is built from that table, so a key missing there
 * fails validation. A broken data file is a build defect, so it throws a plain Error rather
 * than an AirlockError.
 */
export function builtinCatalog(): Catalog {
  if (cached === undefined) {
    const result = validateCatalog({ ...data, sources: citedSources(data) }, BUILTIN_CATALOG_NAME);
    if (!result.ok) throw new Error(`the built-in endpoint catalog is invalid:\n${result.errors.join('\n')}`);
    cached = result.catalog;
  }
  return cached;
}
