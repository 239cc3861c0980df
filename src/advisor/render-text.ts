import type { ComponentVerdict, Explanation, Verdict } from './explanation.js';
import { printable } from '../text/printable.js';
import type { SourceId } from './sources.js';

/** `[1][3]`: the numbers of the keys in the explanation's source list. */
export function refs(e: Explanation, keys: readonly SourceId[]): string {
  return keys
    .map((key) => e.sources.find((s) => s.key === key)?.number)
    .filter((n): n is number => n !== undefined)
    .map((n) => `[${n}]`)
    .join('');
}

/** How a reading is introduced: whether a lab saw it or a document states it. */
export function evidence(observed: boolean): string {
  return observed ? 'observed in a lab' : 'documented';
}

const VERDICT_LABEL: Record<Verdict, string> = { works: 'works', degraded: 'DEGRADED', fails: 'FAILS' };

/** One line describing the machine, shared by the text and Markdown renderers. */
export function describeMachine(e: Explanation): string {
  const m = e.machine;
  const os = m.platform === 'windows' && m.windowsVersion ? `windows ${m.windowsVersion}` : m.platform;
  const user = m.userLoggedOn ? 'a user logged on' : 'no user logged on';
  return `${os} ${m.role}, ${user}, ${m.connectivity} connectivity (${m.geography}), products: ${m.products.join(', ')}`;
}

export function summaryLine(e: Explanation): string {
  const s = e.summary;
  return `${s.works} work, ${s.degraded} degraded, ${s.fails} fail`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function alternativeLine(c: ComponentVerdict): string[] {
  return c.alternatives.map(
    (a) =>
      `  ${c.name}: under reading "${a.reading}" of ${a.disagreement}: ${a.verdict} via ${a.route}. ${a.reason}`,
  );
}

/** A fixed-width report for terminals. */
export function renderText(e: Explanation): string {
  const out: string[] = [];
  out.push(`${e.machine.name}: ${describeMachine(e)}`, '');
  out.push(
    ...table([
      ['COMPONENT', 'ROUTE', 'VERDICT', 'REASON'],
      ...e.components.map((c) => [c.name, c.routeText, VERDICT_LABEL[c.verdict], c.reason]),
    ]),
  );
  const fixes = e.components.filter((c) => c.fix !== null);
  if (fixes.length > 0) {
    out.push('', 'Fixes:');
    for (const c of fixes) {
      if (!c.fix) continue;
      out.push(`  ${c.name}: ${c.fix.setting}: ${c.fix.change}`);
      if (c.fix.command) out.push(`      ${c.fix.command}`);
    }
  }
  const notes = e.components.flatMap((c) => c.notes.map((n) => `  ${c.name}: ${n}`));
  if (notes.length > 0) out.push('', 'Notes:', ...notes);
  const alternatives = e.components.flatMap(alternativeLine);
  const inPlay = e.readings.filter((r) => r.affects.length > 0);
  if (inPlay.length > 0) {
    out.push('', 'Where the sources disagree (reading assumed; switch with --assume ID=READING):');
    for (const r of inPlay) {
      out.push(
        `  ${r.id}: assumed "${r.assumed}" (${evidence(r.assumedObserved)}): ${r.assumedMeaning} ${refs(e, r.assumedSources)}`,
      );
      out.push(
        `    other reading "${r.other}" (${evidence(r.otherObserved)}): ${r.otherMeaning} ${refs(e, r.otherSources)}`,
      );
      out.push(
        r.changes.length > 0
          ? `    the other reading would change: ${r.changes.join(', ')} (--assume ${r.id}=${r.other})`
          : '    the other reading changes nothing here',
      );
    }
    if (alternatives.length > 0) out.push('', 'Under the other readings:', ...alternatives);
  }
  if (e.assumptions.length > 0) out.push('', 'Assumptions:', ...e.assumptions.map((a) => `  - ${a}`));
  if (e.warnings.length > 0) out.push('', 'Input warnings:', ...e.warnings.map((w) => `  - ${w}`));
  out.push('', 'Sources by component:');
  for (const c of e.components) out.push(`  ${c.name}: ${refs(e, c.sources)}`);
  out.push('', `Summary: ${summaryLine(e)}`);
  out.push('', 'Sources:', ...e.sources.map((s) => `  [${s.number}] ${s.text}`));
  // Names and settings come from what was pasted or described: no control character of theirs
  // reaches the terminal.
  return `${out.map(printable).join('\n')}\n`;
}
