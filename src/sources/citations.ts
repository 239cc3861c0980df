import { SOURCES, type SourceKey } from './table.js';

/**
 * How a citation reads for a user: the title and where to find it. Inline, a document cites
 * with numbers (`[1]`); the numbered list at its end (or in its header comment) gives each title
 * with its address.
 */

/**
 * `Title, Author (Publisher): https://…` (the publisher followed by the revision when the facts come
 * from an earlier one), or the note when there is no public address.
 */
export function sourceText(key: SourceKey): string {
  const s = SOURCES[key];
  const who = 'author' in s ? `, ${s.author}` : '';
  const revision = 'revision' in s ? `; ${s.revision}` : '';
  const where = s.url ?? `no public address (${'note' in s ? s.note : 'unpublished'})`;
  return `${s.title}${who} (${s.publisher}${revision}): ${where}`;
}

/** Sources in the order a document first cites them, numbered from 1. */
export class Citations {
  readonly #order: SourceKey[] = [];

  /** `[1][3]` for the keys, numbering keys not seen before. */
  ref(keys: readonly SourceKey[]): string {
    return [...new Set(keys)].map((k) => `[${this.number(k)}]`).join('');
  }

  number(key: SourceKey): number {
    let index = this.#order.indexOf(key);
    if (index === -1) {
      this.#order.push(key);
      index = this.#order.length - 1;
    }
    return index + 1;
  }

  get keys(): readonly SourceKey[] {
    return this.#order;
  }

  get size(): number {
    return this.#order.length;
  }

  /** `[1] Title (Publisher): https://…`, one per cited source, in number order. */
  lines(): string[] {
    return this.#order.map((key, i) => `[${i + 1}] ${sourceText(key)}`);
  }
}

/** For text that cannot carry a list (a JSON string): `Title (Publisher): URL; Title …`. */
export function citeInline(keys: readonly SourceKey[]): string {
  return [...new Set(keys)].map(sourceText).join('; ');
}
