import { wrapLine } from '../../text/table.js';
import { causeOf } from '../causes.js';
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

/** Kinds of outcome listed per service before "and N more". */
const PER_SERVICE = 6;
/** URLs named per kind of outcome. */
const EXAMPLES = 2;

function cells(report: CheckReport, t: TargetResult): string {
  return t.methods
    .filter((m) => m.outcome !== 'not-configured')
    .map((m) => `${methodLabel(m.method)}: ${methodCell(m, report.mode)}`)
    .join('; ');
}

/** The numbers of the findings behind a URL's failures: " (cause 1, 3)". */
function causeNumbers(report: CheckReport, t: TargetResult): string {
  const numbers = new Set<number>();
  for (const m of t.methods) {
    const cause = causeOf(m, report.mode);
    if (cause === null) continue;
    let at = report.findings.findIndex((f) => f.key === cause.key);
    // An attempt skipped after timeouts is counted with the timeouts of its route.
    if (at < 0)
      at = report.findings.findIndex((f) => f.notTried > 0 && f.via.some((v) => v.includes(m.route ?? '')));
    if (at >= 0) numbers.add(at + 1);
  }
  return numbers.size === 0 ? '' : ` (cause ${[...numbers].sort((a, b) => a - b).join(', ')})`;
}

/** A service's URLs that failed or drew a finding, one line per kind of outcome, with examples. */
function serviceLines(report: CheckReport, targets: readonly TargetResult[]): string[] {
  const kinds = new Map<string, TargetResult[]>();
  for (const t of targets.filter((x) => !x.reachable || x.notes.length > 0)) {
    const key = `${t.reachable ? 'ok' : 'x'} ${cells(report, t)}${causeNumbers(report, t)}`;
    kinds.set(key, [...(kinds.get(key) ?? []), t]);
  }
  const out: string[] = [];
  for (const [key, list] of [...kinds].slice(0, PER_SERVICE)) {
    const space = key.indexOf(' ');
    const more = list.length - EXAMPLES;
    out.push(
      `      ${key.slice(0, space)} ${list.length} URL${list.length === 1 ? '' : 's'}: ${key.slice(space + 1)}`,
    );
    const named = list.slice(0, EXAMPLES).map((t) => t.target.url);
    out.push(`          ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
  }
  if (kinds.size > PER_SERVICE)
    out.push(`      and ${kinds.size - PER_SERVICE} more kinds of outcome (--verbose lists every URL)`);
  return out;
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
    out.push(...serviceLines(report, targets));
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
