import data from './data/catalog.json' with { type: 'json' };
import { validateCatalog, type Catalog } from './schema.js';

/** Where the shipped catalog is named in messages and rule origins. */
export const BUILTIN_CATALOG_NAME = 'built-in catalog';

let cached: Catalog | undefined;

/**
 * The catalog shipped with Airlock, validated against the schema on first use. A broken
 * data file is a build defect, so it throws a plain Error rather than an AirlockError.
 */
export function builtinCatalog(): Catalog {
  if (cached === undefined) {
    const result = validateCatalog(data, BUILTIN_CATALOG_NAME);
    if (!result.ok) throw new Error(`the built-in endpoint catalog is invalid:\n${result.errors.join('\n')}`);
    cached = result.catalog;
  }
  return cached;
}
