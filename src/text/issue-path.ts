import { isNode, type Document, type LineCounter } from '../deps/yaml.js';

/** A path into a document, as schema validation reports it. */
export type IssuePath = readonly PropertyKey[];

/**
 * A validation issue's path as a user writes it: `listeners[0].port`, `policy.destinations[3]`;
 * `(top level)` for the document itself. The one formatting every file's errors use.
 */
export function formatIssuePath(path: IssuePath): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * The 1-based line of a YAML document where `path` (or the nearest parent the document has)
 * starts; undefined when the document has no position for any of them.
 */
export function yamlLineOf(doc: Document, counter: LineCounter, path: IssuePath): number | undefined {
  for (let len = path.length; len >= 0; len--) {
    const node = len === 0 ? doc.contents : doc.getIn(path.slice(0, len) as unknown[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}
