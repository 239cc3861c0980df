import { wrapLine } from '../../text/table.js';
import { METHOD_IDS, type CheckReport, type TargetResult } from '../model.js';
import {
  findingLines,
  methodCell,
  methodLabel,
  methodsLine,
  methodVerdict,
  resultLine,
  STATUS_WORDS,
} from './format.js';

/**
 * The text report: the result and the causes first (failures grouped, with the likely fix),
 * then one short block per service naming only what failed, so each service fits a screen.
 * `verbose` adds every URL with each method's verdict, route and stages. The MDE client
 * analyzer's layout is `renderMde`.
 */

export interface TextOptions {
  /** The widest a line may be; longer lines wrap with a hanging indent. */
  readonly width?: number;
  /** Every URL with each method's verdict, route and stages. */
  readonly verbose?: boolean;
}

/** URLs listed per service before "and N more". */
const PER_SERVICE = 8;

function cells(report: CheckReport, t: TargetResult): string {
  return t.methods
    .filter((m) => m.outcome !== 'not-configured')
    .map((m) => `${methodLabel(m.method)}: ${methodCell(m, report.mode)}`)
    .join('; ');
}

function verboseTarget(report: CheckReport, t: TargetResult): string[] {
  const out = [
    `${t.target.url}: ${t.reachable ? 'reachable' : 'NOT reachable'}${t.target.required ? '' : ' (optional)'} — ${t.target.services.join(', ')}; ${t.target.origin}`,
  ];
  for (const id of METHOD_IDS) {
    const m = t.methods.find((x) => x.method === id);
    if (m === undefined || m.outcome === 'not-configured') continue;
    const route = m.route === null ? '' : ` via ${m.route}${m.routeNote === null ? '' : ` (${m.routeNote})`}`;
    out.push(`  ${methodLabel(id)}: ${methodVerdict(m)} [${methodCell(m, report.mode)}]${route}`);
    for (const s of m.stages) out.push(`      ${s.stage} ${s.ms} ms ${s.ok ? 'ok' : 'FAILED'}: ${s.detail}`);
    for (const w of m.warnings) out.push(`      warning: ${w}`);
  }
  for (const note of t.notes) out.push(`  ! ${note}`);
  return out;
}

export function renderText(report: CheckReport, options: TextOptions = {}): string {
  const out: string[] = [];
  const mode = report.mode === 'gateway' ? 'gateway upstream' : 'client';
  out.push(`Airlock connectivity check (${mode}): ${resultLine(report)}`);
  out.push(`Started ${report.startedAt}, ${report.durationMs} ms; methods: ${methodsLine(report)}`);

  const causes = findingLines(report);
  if (causes.length > 0) out.push('', ...causes);

  out.push('', 'Services:');
  for (const s of report.services) {
    const targets = report.targets.filter((t) => t.target.services.includes(s.service));
    out.push(
      `  ${`[${STATUS_WORDS[s.status]}]`.padEnd(19)} ${s.label}${s.required ? ' (required)' : ''}: ${s.reachable} of ${s.urls} URLs${s.notTestable > 0 ? `, ${s.notTestable} not testable` : ''}`,
    );
    const shown = targets.filter((t) => !t.reachable || t.notes.length > 0);
    for (const t of shown.slice(0, PER_SERVICE)) {
      out.push(`      ${t.reachable ? 'ok' : 'x '} ${t.target.url}  ${cells(report, t)}`);
    }
    if (shown.length > PER_SERVICE)
      out.push(`      and ${shown.length - PER_SERVICE} more (--verbose lists every URL)`);
  }

  if (report.notTestable.length > 0) {
    out.push('', `Not testable (${report.notTestable.length}):`);
    for (const n of report.notTestable) {
      out.push(`  ${n.host} [${n.services.join(', ')}]${n.required ? ' (required)' : ''}: ${n.reason}`);
    }
  }
  const notes = [...report.issuerData.notes, ...report.notes];
  if (notes.length > 0) out.push('', 'Notes:', ...notes.map((n) => `  ${n}`));

  if (options.verbose === true) {
    out.push('', 'Every URL:');
    for (const t of report.targets) out.push('', ...verboseTarget(report, t));
    out.push(
      '',
      `Limits: ${report.settings.timeoutMs} ms per stage, ${report.settings.deadlineMs} ms in total, ${report.settings.concurrency} at a time; expected issuers: data reviewed ${report.issuerData.reviewed}`,
    );
  } else {
    out.push('', 'Every URL with its stages: --verbose; the MDE Client Analyzer layout: --format mde');
  }
  const width = options.width ?? Infinity;
  return `${out.flatMap((l) => wrapLine(l, width)).join('\n')}\n`;
}
