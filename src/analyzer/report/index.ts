/** Pure renderers of a CheckReport: data in, text out, no I/O. */
export { renderText } from './text.js';
export { renderTable, renderProgress } from './table.js';
export { renderJson } from './json.js';
export { renderJunit, escapeXml } from './junit.js';
export { renderHtml, escapeHtml } from './html.js';
export { methodVerdict, methodCell, resultLine } from './format.js';

export const REPORT_FORMATS = ['text', 'table', 'json', 'junit', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
