/**
 * The public sources Airlock cites, and how a citation is rendered. Pure: data and text only.
 */
export { SOURCES, SOURCE_KEYS, isSourceKey, source, type Source, type SourceKey } from './table.js';
export { Citations, citeInline, sourceText } from './citations.js';
