import type { MachineFacts } from './machine-facts.js';
import { parseProxyAddress } from './proxy-address.js';
import {
  isPromptLine,
  parseFailure,
  quoted,
  splitLines,
  type ParseIssue,
  type ParseResult,
} from './parse-result.js';

/**
 * `Get-MpPreference | Select-Object Proxy*` (or the full `Get-MpPreference`) output, in either of
 * PowerShell's layouts:
 *
 * list (`| Format-List`, and the full cmdlet):
 *
 *     ProxyBypass : {intranet.contoso.com, updates.fabrikam.com}
 *     ProxyPacUrl :
 *     ProxyServer : http://10.0.0.6:8080
 *
 * table (the default for three properties):
 *
 *     ProxyBypass ProxyPacUrl ProxyServer
 *     ----------- ----------- -----------
 *     {}                      http://10.0.0.6:8080
 *
 * String[] values print as `{a, b}`; PowerShell cuts long values with `...` (5.1) or `…` (7),
 * which loses data: a cut proxy address is an error, a cut bypass list a warning.
 */
const PROPERTIES = ['ProxyServer', 'ProxyPacUrl', 'ProxyBypass'] as const;
type Property = (typeof PROPERTIES)[number];

const LIST_LINE = /^([A-Za-z][A-Za-z0-9]*)\s*:\s?(.*)$/;
const CUT = /(\.\.\.|…)\}?$/;
/** A list line of one of the three properties, however indented. */
const PROPERTY_LINE = /^\s*Proxy(Server|PacUrl|Bypass)\s*:/;
/**
 * A table header of Proxy* columns. The names are separated by spaces, so each character is read
 * once; `(Proxy\w+[ \t]*)+` could split `ProxyProxyProxy…` into names in every possible way:
 * 48 seconds for a line of forty `Proxy`, seven times that for every four more.
 */
const TABLE_HEADER = /^[ \t]*Proxy\w+(?:[ \t]+Proxy\w+)*[ \t]*$/;

export function looksLikeMpPreference(text: string): boolean {
  const lines = splitLines(text);
  return lines.some(
    (line, i) => PROPERTY_LINE.test(line) || (TABLE_HEADER.test(line) && /^[ \t]*-/.test(lines[i + 1] ?? '')),
  );
}

/** Removes the indentation every line shares (pastes are often indented as a block). */
function dedent(lines: readonly string[]): string[] {
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^\s*/.exec(l)?.[0].length ?? 0);
  // Not Math.min(...indents): a paste of a few hundred thousand lines would overflow the stack.
  const common = indents.length > 0 ? indents.reduce((a, b) => Math.min(a, b)) : 0;
  return lines.map((l) => l.slice(Math.min(common, /^\s*/.exec(l)?.[0].length ?? 0)));
}

interface Raw {
  readonly value: string;
  readonly line: number;
}

function collectList(lines: readonly string[]): ParseResult<Map<string, Raw>> {
  const found = new Map<string, Raw>();
  let last: string | null = null;
  let started = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    if (line.trim() === '') {
      last = null;
      continue;
    }
    if (isPromptLine(line) || /^\s*Get-MpPreference\b/i.test(line)) continue;
    const match = /^\S/.test(line) ? LIST_LINE.exec(line.trimEnd()) : null;
    if (match) {
      const [, name = '', value = ''] = match;
      found.set(name, { value: value.trim(), line: n });
      last = name;
      started = true;
      continue;
    }
    if (last !== null && /^\s+\S/.test(line)) {
      const previous = found.get(last);
      if (previous) found.set(last, { value: previous.value + line.trim(), line: previous.line });
      continue;
    }
    return parseFailure(
      n,
      started ? `unexpected line: ${quoted(line.trim())}` : 'expected "Name : value" lines',
    );
  }
  return { ok: true, value: found, warnings: [] };
}

function collectTable(lines: readonly string[]): ParseResult<Map<string, Raw>> {
  const dashAt = lines.findIndex((l) => /^\s*-+(\s+-+)*\s*$/.test(l));
  const header = dashAt > 0 ? (lines[dashAt - 1] ?? '') : '';
  if (dashAt <= 0 || !PROPERTIES.some((p) => header.includes(p))) {
    return parseFailure(1, 'no Proxy* property found (expected "ProxyServer : …" or a table header)');
  }
  const dashes = lines[dashAt] ?? '';
  const starts: number[] = [];
  for (const m of dashes.matchAll(/-+/g)) starts.push(m.index);
  const names = starts.map((start, i) => header.slice(start, starts[i + 1]).trim());
  const rows = lines
    .map((text, i) => ({ text, n: i + 1 }))
    .slice(dashAt + 1)
    .filter((r) => r.text.trim() !== '' && !isPromptLine(r.text));
  const found = new Map<string, Raw>();
  if (rows.length === 0) {
    // A table with every value empty prints no data line at all.
    names.forEach((name) => found.set(name, { value: '', line: dashAt + 1 }));
    return { ok: true, value: found, warnings: [] };
  }
  if (rows.length > 1) {
    const extra = rows[1];
    return parseFailure(extra?.n ?? dashAt + 2, 'more than one row: paste the output for one machine');
  }
  const row = rows[0] ?? { text: '', n: dashAt + 2 };
  names.forEach((name, i) => {
    const start = starts[i] ?? 0;
    const end = starts[i + 1];
    found.set(name, { value: row.text.slice(start, end).trim(), line: row.n });
  });
  return { ok: true, value: found, warnings: [] };
}

export function parseMpPreference(text: string): ParseResult<MachineFacts> {
  const lines = dedent(splitLines(text).map((l) => (isPromptLine(l) ? '' : l)));
  const listForm = lines.some((l) => /^Proxy(Server|PacUrl|Bypass)\s*:/.test(l));
  const collected = listForm ? collectList(lines) : collectTable(lines);
  if (!collected.ok) return collected;
  const found = collected.value;
  const warnings: ParseIssue[] = [];
  if (!PROPERTIES.some((p) => found.has(p))) {
    return parseFailure(1, 'none of ProxyServer, ProxyPacUrl, ProxyBypass is in this output');
  }
  const antivirus: { proxyServer?: string | null; proxyPacUrl?: string | null; proxyBypass?: string[] } = {};
  for (const property of PROPERTIES) {
    const raw = found.get(property);
    if (!raw) {
      warnings.push({ line: 1, message: `${property} is missing from the output` });
      continue;
    }
    const result = readProperty(property, raw, warnings);
    if (!result.ok) return result;
    Object.assign(antivirus, result.value);
  }
  return { ok: true, value: { machine: { platform: 'windows' }, windows: { antivirus } }, warnings };
}

function readProperty(
  property: Property,
  raw: Raw,
  warnings: ParseIssue[],
): ParseResult<Record<string, string | string[] | null>> {
  const value = raw.value;
  if (property === 'ProxyBypass') {
    if (value === '' || value === '{}') return { ok: true, value: { proxyBypass: [] }, warnings: [] };
    const inner = value.startsWith('{') ? value.replace(/^\{/, '').replace(/\}$/, '') : value;
    if (value.startsWith('{') && !value.endsWith('}') && !CUT.test(value)) {
      return parseFailure(raw.line, 'ProxyBypass list is not closed with "}" (truncated paste?)');
    }
    let entries = inner
      .split(/[,;]/)
      .map((e) => e.trim())
      .filter((e) => e !== '');
    if (CUT.test(value)) {
      entries = entries.filter((e) => !/(\.\.\.|…)$/.test(e));
      warnings.push({
        line: raw.line,
        message:
          'ProxyBypass was cut by PowerShell; re-run with `| Format-List` or `$FormatEnumerationLimit = -1`',
      });
    }
    return { ok: true, value: { proxyBypass: entries }, warnings: [] };
  }
  const key = property === 'ProxyServer' ? 'proxyServer' : 'proxyPacUrl';
  if (value === '') return { ok: true, value: { [key]: null }, warnings: [] };
  if (CUT.test(value)) {
    return parseFailure(
      raw.line,
      `${property} ${quoted(value)} was cut by PowerShell; re-run with \`| Format-List\``,
    );
  }
  if (property === 'ProxyServer') {
    const parsed = parseProxyAddress(value);
    if (!parsed.ok) return parseFailure(raw.line, `ProxyServer: ${parsed.message}`);
  }
  return { ok: true, value: { [key]: value }, warnings: [] };
}
