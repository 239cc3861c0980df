import { renderTable as layOut, truncate, wrapLine } from '../../text/table.js';
import { METHOD_SHORT, type CheckReport } from '../model.js';
import { configuredMethods, findingLines, methodCell, resultLine, STATUS_WORDS } from './format.js';

/**
 * The terminal view: the result and the causes first, then one row per URL with a column per
 * configured method (the gateway's reason codes in the cells), fitted to the width; and a
 * progress bar while running.
 */
/** The widest a method cell is kept on one line (the longest reason codes). */
const CELL_MAX = 26;

export function renderTable(report: CheckReport, width = 100): string {
  const methods = configuredMethods(report);
  const lines: string[] = [resultLine(report)];
  const causes = findingLines(report);
  if (causes.length > 0) lines.push('', ...causes);
  const rows = report.targets.map((t) => [
    t.target.url,
    ...methods.map((id) => {
      const m = t.methods.find((x) => x.method === id);
      return m === undefined ? '-' : methodCell(m, report.mode);
    }),
    t.reachable ? 'reachable' : t.target.required ? 'UNREACHABLE' : 'unreachable (optional)',
  ]);
  // Cells are short verdicts and reason codes: the URL column wraps before they do.
  const widest = (i: number): number => Math.min(CELL_MAX, Math.max(...rows.map((r) => r[i]!.length)));
  lines.push('');
  lines.push(
    ...layOut(
      [
        { header: 'URL', min: 30 },
        ...methods.map((m, i) => ({ header: METHOD_SHORT[m], min: widest(i + 1) })),
        { header: 'Result', min: 11 },
      ],
      rows,
      { width },
    ),
  );
  if (report.notTestable.length > 0) {
    lines.push('', `Not testable (${report.notTestable.length}):`);
    for (const n of report.notTestable) lines.push(`  ${n.host}: ${n.reason}`);
  }
  lines.push('', 'Services:');
  lines.push(
    ...layOut(
      ['SERVICE', 'STATUS', 'URLS'],
      report.services.map((s) => [
        `${s.label}${s.required ? '' : ' (optional)'}`,
        STATUS_WORDS[s.status],
        `${s.reachable}/${s.urls}`,
      ]),
      { width, indent: '  ', rule: false },
    ).slice(1),
  );
  lines.push('', resultLine(report));
  return `${lines.flatMap((l) => wrapLine(l, width)).join('\n')}\n`;
}

/** One line of progress: `[#######-------------]  7/20 https://…`, cut to `width` characters. */
export function renderProgress(done: number, total: number, label: string, width = 80): string {
  const barWidth = 20;
  const filled = total === 0 ? barWidth : Math.round((done / total) * barWidth);
  const counter = `${String(done).padStart(String(total).length)}/${total}`;
  const head = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${counter} `;
  return truncate(`${head}${label}`, width);
}
