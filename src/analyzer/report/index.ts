/** Pure renderers of a CheckReport: data in, text out, no I/O. */
export { renderText, type TextOptions } from './text.js';
export { renderMde } from './mde.js';
export { renderTable, renderProgress } from './table.js';
export { renderJson } from './json.js';
export { renderJunit, escapeXml } from './junit.js';
export { renderHtml, escapeHtml } from './html.js';
export { methodVerdict, methodCell, resultLine, findingLines } from './format.js';

export const REPORT_FORMATS = ['text', 'table', 'mde', 'json', 'junit', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
