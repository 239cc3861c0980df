import { METHOD_SHORT, type CheckReport } from '../model.js';
import { configuredMethods, methodCell, resultLine, STATUS_WORDS } from './format.js';

/** The terminal view: one row per URL, one column per configured method, and a progress bar while running. */

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 3)}...`;
}

function grid(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function renderTable(report: CheckReport, width = 100): string {
  const methods = configuredMethods(report);
  const urlWidth = Math.max(30, width - 12 * methods.length - 12);
  const rows: string[][] = [['URL', ...methods.map((m) => METHOD_SHORT[m]), 'Result']];
  for (const t of report.targets) {
    rows.push([
      truncate(t.target.url, urlWidth),
      ...methods.map((id) => {
        const m = t.methods.find((x) => x.method === id);
        return m === undefined ? '-' : methodCell(m);
      }),
      t.reachable ? 'reachable' : t.target.required ? 'UNREACHABLE' : 'unreachable (optional)',
    ]);
  }
  const lines = grid(rows);
  lines.splice(1, 0, '-'.repeat(Math.min(width, Math.max(...lines.map((l) => l.length)))));
  const findings = report.targets.flatMap((t) =>
    t.notes.map((n) => `${truncate(t.target.url, urlWidth)}: ${n}`),
  );
  if (findings.length > 0) lines.push('', 'Findings:', ...findings.map((f) => `  ${f}`));
  if (report.notTestable.length > 0) {
    lines.push('', `Not testable (${report.notTestable.length}):`);
    for (const n of report.notTestable) lines.push(`  ${n.host}: ${n.reason}`);
  }
  lines.push('', 'Services:');
  lines.push(
    ...grid(
      report.services.map((s) => [
        `  ${s.label}${s.required ? '' : ' (optional)'}`,
        STATUS_WORDS[s.status],
        `${s.reachable}/${s.urls}`,
      ]),
    ),
  );
  lines.push('', resultLine(report));
  return `${lines.join('\n')}\n`;
}

/** One line of progress: `[#######-------------]  7/20 https://…`, cut to `width` characters. */
export function renderProgress(done: number, total: number, label: string, width = 80): string {
  const barWidth = 20;
  const filled = total === 0 ? barWidth : Math.round((done / total) * barWidth);
  const counter = `${String(done).padStart(String(total).length)}/${total}`;
  const head = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${counter} `;
  return truncate(`${head}${label}`, width);
}
