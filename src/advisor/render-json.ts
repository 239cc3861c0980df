import type { Explanation } from './explanation.js';

/** The explanation as pretty-printed JSON (stable key order: the order of the types). */
export function renderJson(explanation: Explanation): string {
  return `${JSON.stringify(explanation, null, 2)}\n`;
}
