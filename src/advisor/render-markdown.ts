import type { Explanation } from './explanation.js';
import { describeMachine, evidence, refs, summaryLine } from './render-text.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${text}${fence}`;
}

/** A report for tickets and wikis: one table row per component, then the reasoning. */
export function renderMarkdown(e: Explanation): string {
  const out: string[] = [];
  out.push(`# ${cell(e.machine.name)}`, '', `${describeMachine(e)}. **${summaryLine(e)}.**`, '');
  out.push('| Component | Route | Verdict | Reason | Fix |', '|---|---|---|---|---|');
  for (const c of e.components) {
    const fix = c.fix
      ? `${cell(c.fix.setting)}: ${cell(c.fix.change)}${c.fix.command ? `<br>${cell(code(c.fix.command))}` : ''}`
      : '';
    const verdict = c.verdict === 'works' ? 'works' : `**${c.verdict}**`;
    out.push(`| ${cell(c.name)} | ${cell(c.routeText)} | ${verdict} | ${cell(c.reason)} | ${fix} |`);
  }
  const inPlay = e.readings.filter((r) => r.affects.length > 0);
  if (inPlay.length > 0) {
    out.push('', '## Where the sources disagree', '');
    for (const r of inPlay) {
      out.push(
        `- **${r.id}**: ${cell(r.question)} Assumed ${code(r.assumed)} (${evidence(r.assumedObserved)}): ${r.assumedMeaning} ${refs(e, r.assumedSources)}. ` +
          `Other reading ${code(r.other)} (${evidence(r.otherObserved)}): ${r.otherMeaning} ${refs(e, r.otherSources)}. ` +
          (r.changes.length > 0
            ? `It would change: ${r.changes.join(', ')} (${code(`--assume ${r.id}=${r.other}`)}).`
            : 'It changes nothing here.'),
      );
    }
    for (const c of e.components) {
      for (const a of c.alternatives) {
        out.push(`  - ${c.name} under ${code(a.reading)}: **${a.verdict}** via ${a.route}. ${a.reason}`);
      }
    }
  }
  const notes = e.components.flatMap((c) => c.notes.map((n) => `- ${c.name}: ${n}`));
  if (notes.length > 0) out.push('', '## Notes', '', ...notes);
  if (e.assumptions.length > 0) out.push('', '## Assumptions', '', ...e.assumptions.map((a) => `- ${a}`));
  if (e.warnings.length > 0) out.push('', '## Input warnings', '', ...e.warnings.map((w) => `- ${w}`));
  out.push(
    '',
    '## Sources by component',
    '',
    ...e.components.map((c) => `- ${c.name}: ${refs(e, c.sources)}`),
  );
  // `text` is the title, author and publisher followed by the address; the address becomes a link.
  out.push(
    '',
    '## Sources',
    '',
    ...e.sources.map(
      (s) =>
        `${s.number}. ${s.url === null ? cell(s.text) : `${cell(s.text.slice(0, -s.url.length))}<${s.url}>`}`,
    ),
  );
  return `${out.join('\n')}\n`;
}
