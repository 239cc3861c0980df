import { METHOD_IDS, type CheckReport, type MethodResult, type TargetResult } from '../model.js';
import { causeOf, findingServices } from '../causes.js';
import {
  configuredMethods,
  methodCell,
  methodLabel,
  methodVerdict,
  resultLine,
  STATUS_WORDS,
} from './format.js';

/**
 * A self-contained HTML report: inline styles, no script, no external resource, so it can be
 * mailed or attached to a ticket. Service cards first (what works, what does not), then a row
 * per URL with one cell per method, then the details behind every failure.
 */

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.verdict { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0; }
.verdict.passed { background: #dafbe1; color: var(--ok); }
.verdict.failed { background: #ffebe9; color: var(--bad); }
.services { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px; }
.service { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 6px; padding: 10px 12px; }
.service[data-status="reachable"] { border-left-color: var(--ok); }
.service[data-status="partial"] { border-left-color: var(--warn); }
.service[data-status="unreachable"] { border-left-color: var(--bad); }
.service .name { font-weight: 600; }
.service .status { font-size: 13px; }
.service[data-status="reachable"] .status { color: var(--ok); }
.service[data-status="partial"] .status { color: var(--warn); }
.service[data-status="unreachable"] .status { color: var(--bad); }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 10px; background: #eaeef2; color: var(--muted); margin-left: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.url { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
td.method[data-outcome="succeeded"] { color: var(--ok); }
td.method[data-outcome="failed"] { color: var(--bad); }
td.method[data-outcome="not-run"] { color: var(--warn); }
td.method[data-outcome="not-configured"] { color: var(--muted); }
tr[data-reachable="false"] td.result { color: var(--bad); font-weight: 600; }
tr[data-reachable="true"] td.result { color: var(--ok); }
ul.findings li { margin: 8px 0; }
ul.findings li[data-severity="error"] .title { color: var(--bad); font-weight: 600; }
ul.findings li[data-severity="warning"] .title { color: var(--warn); font-weight: 600; }
ul.findings .fix { color: var(--muted); }
td.method[data-kind="policy"] { font-weight: 600; }
.detail { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; white-space: pre-wrap; background: #f6f8fa; padding: 8px; border-radius: 6px; }
`;

function methodTitle(m: MethodResult): string {
  const parts = [methodVerdict(m)];
  if (m.route !== null) parts.push(`route: ${m.route}${m.routeNote === null ? '' : ` (${m.routeNote})`}`);
  for (const s of m.stages) parts.push(`${s.stage} ${s.ms} ms: ${s.detail}`);
  return parts.join('\n');
}

function urlRow(report: CheckReport, t: TargetResult, methods: readonly MethodResult['method'][]): string {
  const cells = methods.map((id) => {
    const m = t.methods.find((x) => x.method === id);
    const outcome = m?.outcome ?? 'not-configured';
    const text = m === undefined ? '-' : methodCell(m, report.mode);
    const cause = m === undefined ? null : causeOf(m, report.mode);
    const reason = cause === null ? '' : ` data-reason="${escapeHtml(cause.code)}" data-kind="${cause.kind}"`;
    return `<td class="method" data-method="${id}" data-outcome="${outcome}"${reason} title="${escapeHtml(m === undefined ? '' : methodTitle(m))}">${escapeHtml(text)}</td>`;
  });
  const result = t.reachable ? 'reachable' : t.target.required ? 'unreachable' : 'unreachable (optional)';
  return `<tr data-url="${escapeHtml(t.target.url)}" data-reachable="${t.reachable}"><td class="url">${escapeHtml(t.target.url)}</td>${cells.join('')}<td class="result">${escapeHtml(result)}</td></tr>`;
}

function details(t: TargetResult): string {
  const lines = METHOD_IDS.map((id, i) => {
    const m = t.methods.find((x) => x.method === id);
    return `${i + 1} - ${methodLabel(id)}: ${m === undefined ? "Doesn't exist" : methodVerdict(m)}`;
  });
  for (const note of t.notes) lines.push(`    ! ${note}`);
  for (const m of t.methods) {
    for (const s of m.stages)
      lines.push(
        `    ${methodLabel(m.method)} · ${s.stage} ${s.ms} ms ${s.ok ? 'ok' : 'FAILED'}: ${s.detail}`,
      );
  }
  return lines.join('\n');
}

export function renderHtml(report: CheckReport): string {
  const methods = configuredMethods(report);
  const passed = report.exitCode === 0;
  const services = report.services
    .map(
      (s) =>
        `<div class="service" data-service="${escapeHtml(s.service)}" data-status="${s.status}" data-required="${s.required}">` +
        `<div class="name">${escapeHtml(s.label)}${s.required ? '' : '<span class="tag">optional</span>'}</div>` +
        `<div class="status">${escapeHtml(STATUS_WORDS[s.status])}: ${s.reachable} of ${s.urls} URL${s.urls === 1 ? '' : 's'}${s.notTestable > 0 ? `, ${s.notTestable} not testable` : ''}</div></div>`,
    )
    .join('\n');
  const header = `<tr><th>URL</th>${methods.map((id) => `<th data-method="${id}">${escapeHtml(methodLabel(id))}</th>`).join('')}<th>Result</th></tr>`;
  const rows = report.targets.map((t) => urlRow(report, t, methods)).join('\n');
  const findings = report.findings.map((f) => {
    const more = f.urls - f.examples.length;
    return (
      `<li data-code="${escapeHtml(f.code)}" data-kind="${f.kind}" data-severity="${f.severity}">` +
      `<div class="title">${escapeHtml(f.title)} <code>${escapeHtml(f.code)}</code></div>` +
      `<div>${f.urls} URL${f.urls === 1 ? '' : 's'}${f.unreachable > 0 ? `, ${f.unreachable} reached by no method` : ', each reached by another method'}; services: ${escapeHtml(findingServices(f))}; seen on: ${escapeHtml(f.via.join('; '))}</div>` +
      `<div class="fix">fix: ${escapeHtml(f.fix)}</div>` +
      `<div class="examples">${f.examples.map((u) => `<code>${escapeHtml(u)}</code>`).join(', ')}${more > 0 ? ` and ${more} more` : ''}</div></li>`
    );
  });
  const failures = report.targets
    .filter((t) => !t.reachable || t.notes.length > 0)
    .map(
      (t) =>
        `<h3 class="url-detail">${escapeHtml(t.target.url)}</h3><div class="detail">${escapeHtml(details(t))}</div>`,
    );
  const untestable = report.notTestable.map(
    (n) =>
      `<li data-host="${escapeHtml(n.host)}"><code>${escapeHtml(n.host)}</code> (${escapeHtml(n.services.join(', '))}${n.required ? ', required' : ''}): ${escapeHtml(n.reason)}</li>`,
  );
  const settings = report.settings.methods
    .map(
      (m) =>
        `<li>${escapeHtml(methodLabel(m.method))}: ${escapeHtml(m.configured ? m.description : "Doesn't exist")}</li>`,
    )
    .join('');
  const notes = [...report.issuerData.notes, ...report.notes]
    .map((n) => `<li>${escapeHtml(n)}</li>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Airlock connectivity check — ${escapeHtml(report.startedAt)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Airlock connectivity check</h1>
<p class="meta">${report.mode === 'gateway' ? 'Gateway upstream reachability' : 'Client connectivity'} · started ${escapeHtml(report.startedAt)} · ${report.durationMs} ms · ${report.settings.timeoutMs} ms per stage</p>
<div class="verdict ${passed ? 'passed' : 'failed'}" data-exit-code="${report.exitCode}">${escapeHtml(resultLine(report))}</div>
<h2>Services</h2>
<div class="services">
${services}
</div>
<h2>URLs</h2>
<table class="urls">
<thead>${header}</thead>
<tbody>
${rows}
</tbody>
</table>
${findings.length > 0 ? `<h2>Causes</h2>\n<ul class="findings">${findings.join('\n')}</ul>` : ''}
${failures.length > 0 ? `<h2>Details</h2>\n${failures.join('\n')}` : ''}
${untestable.length > 0 ? `<h2>Not testable</h2>\n<ul class="not-testable">${untestable.join('\n')}</ul>` : ''}
<h2>Settings</h2>
<ul class="settings">${settings}</ul>
<p class="meta">Expected issuers: data reviewed ${escapeHtml(report.issuerData.reviewed)}</p>
${notes === '' ? '' : `<ul class="notes">${notes}</ul>`}
</body>
</html>
`;
}
