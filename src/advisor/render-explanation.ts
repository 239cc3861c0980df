import type { Explanation } from './explanation.js';
import { renderJson } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import { renderText } from './render-text.js';

export const EXPLAIN_FORMATS = ['text', 'json', 'markdown'] as const;
export type ExplainFormat = (typeof EXPLAIN_FORMATS)[number];

export function renderExplanation(explanation: Explanation, format: ExplainFormat): string {
  switch (format) {
    case 'text':
      return renderText(explanation);
    case 'json':
      return renderJson(explanation);
    case 'markdown':
      return renderMarkdown(explanation);
  }
}
