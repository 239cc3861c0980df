import { METHOD_IDS, type CheckReport } from '../model.js';
import { methodLabel, methodVerdict, resultLine, STATUS_WORDS } from './format.js';

/**
 * The MDE client analyzer's text layout: a `Testing URL :` line per URL followed by one
 * numbered line per method, in a fixed order, so administrators (and scripts that read six
 * lines after `Testing URL :`) find what they know. Routes, findings and notes follow each
 * block, indented.
 */
export function renderMde(report: CheckReport): string {
  const out: string[] = [];
  out.push(`Airlock connectivity check (${report.mode === 'gateway' ? 'gateway upstream' : 'client'})`);
  out.push(`Started: ${report.startedAt} (${report.durationMs} ms)`);
  out.push('Proxy config:');
  METHOD_IDS.forEach((id, i) => {
    const setting = report.settings.methods.find((m) => m.method === id);
    out.push(
      `  ${i + 1} - ${methodLabel(id)}: ${setting?.configured ? setting.description : "Doesn't exist"}`,
    );
  });
  out.push(
    `Limits: ${report.settings.timeoutMs} ms per stage, ${report.settings.deadlineMs} ms in total, ${report.settings.concurrency} at a time`,
  );
  out.push(`Expected issuers: data reviewed ${report.issuerData.reviewed}`);
  for (const note of report.issuerData.notes) out.push(`  note: ${note}`);
  for (const note of report.notes) out.push(`Note: ${note}`);

  for (const t of report.targets) {
    out.push('');
    out.push(`Testing URL : ${t.target.url}`);
    METHOD_IDS.forEach((id, i) => {
      const m = t.methods.find((x) => x.method === id);
      out.push(`${i + 1} - ${methodLabel(id)}: ${m === undefined ? "Doesn't exist" : methodVerdict(m)}`);
    });
    METHOD_IDS.forEach((id, i) => {
      const m = t.methods.find((x) => x.method === id);
      if (m === undefined || m.route === null || (id !== 'env' && id !== 'pac')) return;
      out.push(`   ${i + 1} via ${m.route}${m.routeNote === null ? '' : ` (${m.routeNote})`}`);
    });
    for (const m of t.methods)
      for (const w of m.warnings) out.push(`   warning: ${methodLabel(m.method)}: ${w}`);
    for (const note of t.notes) out.push(`   ! ${note}`);
    out.push(
      `   ${t.reachable ? 'reachable' : 'NOT reachable'}${t.target.required ? '' : ' (optional)'} — ${t.target.services.join(', ')}; ${t.target.origin}`,
    );
  }

  if (report.notTestable.length > 0) {
    out.push('');
    out.push('Not testable:');
    for (const n of report.notTestable) {
      out.push(`  ${n.host} [${n.services.join(', ')}]${n.required ? ' (required)' : ''}: ${n.reason}`);
    }
  }

  out.push('');
  out.push('Services:');
  for (const s of report.services) {
    out.push(
      `  ${`[${STATUS_WORDS[s.status]}]`.padEnd(19)} ${s.label}${s.required ? ' (required)' : ''}: ${s.reachable} of ${s.urls} URLs${s.notTestable > 0 ? `, ${s.notTestable} not testable` : ''}`,
    );
  }
  out.push('');
  out.push(`Result: ${resultLine(report)}`);
  return `${out.join('\n')}\n`;
}
