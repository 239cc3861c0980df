import { SOURCES, sourceText, type SourceKey } from '../sources/index.js';

/**
 * What the advisor's rules rest on: a key of the sources table, or `inference` where the model
 * goes beyond what any source states (said as such in the output, never dressed as a citation).
 */
export type SourceId = SourceKey | 'inference';

export const INFERENCE_TEXT = "Airlock's inference: no source states it";

/** One numbered source of an explanation, as JSON and the renderers show it. */
export interface CitedSource {
  readonly number: number;
  readonly key: SourceId;
  readonly title: string;
  readonly publisher: string;
  readonly url: string | null;
  readonly read: string | null;
  /** `Title (Publisher): URL`, or the inference sentence. */
  readonly text: string;
}

export function citedSource(key: SourceId, number: number): CitedSource {
  if (key === 'inference') {
    return {
      number,
      key,
      title: INFERENCE_TEXT,
      publisher: 'Airlock',
      url: null,
      read: null,
      text: INFERENCE_TEXT,
    };
  }
  const s = SOURCES[key];
  return {
    number,
    key,
    title: s.title,
    publisher: s.publisher,
    url: s.url,
    read: s.read,
    text: sourceText(key),
  };
}
