import type { CheckReport } from '../model.js';

/** The report as JSON (`kind: "airlock-check"`, `version: 1`): the form pipelines and the dashboard read. */
export function renderJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
