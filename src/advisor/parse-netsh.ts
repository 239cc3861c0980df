import type { MachineFacts } from './machine-facts.js';
import { parseBypassList, selectHttpsProxy } from './proxy-address.js';
import { printable, shown } from '../text/printable.js';
import {
  isPromptLine,
  parseFailure,
  quoted,
  splitLines,
  type ParseIssue,
  type ParseResult,
} from './parse-result.js';

/**
 * `netsh winhttp show proxy` output, English only (the command localizes its labels):
 *
 *     Current WinHTTP proxy settings:
 *
 *         Direct access (no proxy server).
 *
 * or
 *
 *         Proxy Server(s) :  10.0.0.6:8080
 *         Bypass List     :  *.contoso.com;<local>
 *
 * `Proxy Server(s)` may hold a per-scheme list (`http=a:80;https=b:88`); `(none)` means no bypass
 * entries. Shell prompts around the output are skipped.
 */
const HEADER = /^\s*Current WinHTTP proxy settings:\s*$/i;
const ADVANCED_HEADER = /^\s*Current WinHTTP advanced proxy settings:?\s*$/i;
const DIRECT = /^\s*Direct access \(no proxy server\)\.?\s*$/i;
const PROXY = /^\s*Proxy Server\(s\)\s*:/i;
const BYPASS = /^\s*Bypass List\s*:/i;

/**
 * The value after a `Label :` line's colon, trimmed; null when the line is not `label`'s. The value
 * is cut off rather than matched with `\s*(.*?)\s*$`, which scans a run of spaces inside it again
 * from each of its characters: seconds for one pasted line of 100,000 spaces.
 */
function labelled(line: string, label: RegExp): string | null {
  const match = label.exec(line);
  return match === null ? null : line.slice(match[0].length).trim();
}

export function looksLikeNetsh(text: string): boolean {
  return (
    /Current WinHTTP (advanced )?proxy settings/i.test(text) || splitLines(text).some((l) => PROXY.test(l))
  );
}

export function parseNetshWinHttp(text: string): ParseResult<MachineFacts> {
  const lines = splitLines(text);
  const warnings: ParseIssue[] = [];
  let headerLine = 0;
  let proxy: string | null | undefined;
  let proxyLine = 0;
  let bypass: string[] | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    if (line.trim() === '' || isPromptLine(line) || /^\s*netsh\s+winhttp\s+show\s+proxy\s*$/i.test(line))
      continue;
    if (ADVANCED_HEADER.test(line)) return parseNetshAdvproxy(text);
    if (HEADER.test(line)) {
      if (headerLine !== 0) {
        return parseFailure(
          n,
          `a second netsh output starts here (the first is at line ${headerLine}); paste one per file`,
        );
      }
      headerLine = n;
      continue;
    }
    if (headerLine === 0) {
      if (PROXY.test(line) || DIRECT.test(line)) {
        warnings.push({ line: n, message: 'the "Current WinHTTP proxy settings:" header is missing' });
        headerLine = n;
      } else {
        return parseFailure(n, 'expected "Current WinHTTP proxy settings:" (English netsh output)');
      }
    }
    if (DIRECT.test(line)) {
      if (proxy !== undefined) return parseFailure(n, 'both a proxy and "Direct access" are listed');
      proxy = null;
      continue;
    }
    const value = labelled(line, PROXY);
    if (value !== null) {
      if (proxy !== undefined) return parseFailure(n, 'a second proxy setting in the same output');
      if (value === '') return parseFailure(n, 'the "Proxy Server(s)" line has no value (truncated paste?)');
      const parsed = selectHttpsProxy(value);
      if (!parsed.ok) return parseFailure(n, `Proxy Server(s): ${parsed.message}`);
      if (parsed.note) warnings.push({ line: n, message: parsed.note });
      proxy = value;
      proxyLine = n;
      continue;
    }
    const bypassText = labelled(line, BYPASS);
    if (bypassText !== null) {
      if (proxy === undefined || proxy === null)
        return parseFailure(n, '"Bypass List" without a "Proxy Server(s)" line');
      bypass = parseBypassList(bypassText);
      continue;
    }
    return parseFailure(n, `unexpected line in netsh output: ${quoted(line.trim())}`);
  }
  if (headerLine === 0) return parseFailure(1, 'no "Current WinHTTP proxy settings:" header found');
  if (proxy === undefined) {
    return parseFailure(lines.length, 'the output ends before the proxy settings (truncated paste?)');
  }
  if (proxy !== null && bypass === undefined) {
    warnings.push({ line: proxyLine, message: 'no "Bypass List" line followed; assumed no bypass entries' });
  }
  return {
    ok: true,
    value: { machine: { platform: 'windows' }, windows: { winhttp: { proxy, bypass: bypass ?? [] } } },
    warnings,
  };
}

/**
 * `netsh winhttp show advproxy` (Windows 11 and Server 2025): a JSON object, as the Netsh.exe
 * commands page shows it, after an optional heading line:
 *
 *     {
 *       "ProxyIsEnabled": true,
 *       "Proxy": "http=http-proxy.com:8080;https=https-proxy.com:8081",
 *       "AutoConfigIsEnabled": false,
 *       "AutoDetect": true,
 *       "PerUserProxySettings": true
 *     }
 *
 * `ProxyBypass` and `AutoconfigUrl` appear when they are set. `Proxy` takes the same per-scheme
 * list as `show proxy`.
 */
const ADVPROXY_KEYS = [
  'ProxyIsEnabled',
  'Proxy',
  'ProxyBypass',
  'AutoConfigIsEnabled',
  'AutoconfigUrl',
  'AutoDetect',
  'PerUserProxySettings',
] as const;

export function looksLikeNetshAdvproxy(text: string): boolean {
  return (
    /show\s+advproxy/i.test(text) ||
    ADVANCED_HEADER.test(text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '') ||
    (/"(ProxyIsEnabled|AutoConfigIsEnabled|PerUserProxySettings)"\s*:/.test(text) &&
      !/"cloudService"\s*:/.test(text))
  );
}

/**
 * The first line (1-based) between lines `start` and `end` holding each JSON string, by the
 * string's value: where a setting's warning points. One pass over the lines, each of which begins
 * outside a string since a JSON string cannot hold a line break; looking each key up in every line
 * took four minutes for a megabyte of unknown settings.
 */
function stringLines(lines: readonly string[], start: number, end: number): Map<string, number> {
  const first = new Map<string, number>();
  for (let i = start; i <= end; i++) {
    for (const match of (lines[i] ?? '').matchAll(/"(?:[^"\\]|\\.)*"/g)) {
      const value = JSON.parse(match[0]) as string;
      if (!first.has(value)) first.set(value, i + 1);
    }
  }
  return first;
}

export function parseNetshAdvproxy(text: string): ParseResult<MachineFacts> {
  const lines = splitLines(text);
  const warnings: ParseIssue[] = [];
  const start = lines.findIndex((l) => l.trimStart().startsWith('{'));
  if (start === -1) return parseFailure(1, 'no JSON object found (netsh winhttp show advproxy prints one)');
  for (let i = 0; i < start; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || isPromptLine(line) || /netsh\s+winhttp\s+show\s+advproxy/i.test(line)) continue;
    if (!ADVANCED_HEADER.test(line))
      warnings.push({ line: i + 1, message: `ignored line before the settings: ${quoted(line.trim())}` });
  }
  let end = -1;
  for (let i = lines.length - 1; i >= start; i--) {
    if ((lines[i] ?? '').trimEnd().endsWith('}')) {
      end = i;
      break;
    }
  }
  if (end === -1) return parseFailure(lines.length, 'the JSON object is not closed (truncated paste?)');
  for (let i = end + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() !== '' && !isPromptLine(line))
      return parseFailure(i + 1, `unexpected line after the settings: ${quoted(line.trim())}`);
  }
  const body = lines.slice(start, end + 1).join('\n');
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message);
    const line =
      at === null ? start + 1 : start + 1 + (body.slice(0, Number(at[1])).match(/\n/g)?.length ?? 0);
    // The message quotes the text around the error, escape sequences and all.
    return parseFailure(line, `not valid JSON: ${printable((error as Error).message)}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return parseFailure(start + 1, 'expected a JSON object');
  }
  const record = raw as Record<string, unknown>;
  const firstLines = stringLines(lines, start, end);
  const lineOf = (key: string): number => firstLines.get(key) ?? start + 1;
  for (const key of Object.keys(record)) {
    if (!(ADVPROXY_KEYS as readonly string[]).includes(key)) {
      warnings.push({ line: lineOf(key), message: `unknown setting ${quoted(key)} ignored` });
    }
  }
  const bool = (key: string): boolean | undefined | string => {
    const value = record[key];
    if (value === undefined || typeof value === 'boolean') return value;
    return `${key} must be true or false, not ${printable(JSON.stringify(value))}`;
  };
  const str = (key: string): string | undefined | { error: string } => {
    const value = record[key];
    if (value === undefined || typeof value === 'string') return value;
    return { error: `${key} must be a string, not ${printable(JSON.stringify(value))}` };
  };
  const enabled = bool('ProxyIsEnabled');
  if (typeof enabled === 'string') return parseFailure(lineOf('ProxyIsEnabled'), enabled);
  const proxyText = str('Proxy');
  if (typeof proxyText === 'object') return parseFailure(lineOf('Proxy'), proxyText.error);
  const bypassText = str('ProxyBypass');
  if (typeof bypassText === 'object') return parseFailure(lineOf('ProxyBypass'), bypassText.error);
  const pacUrl = str('AutoconfigUrl');
  if (typeof pacUrl === 'object') return parseFailure(lineOf('AutoconfigUrl'), pacUrl.error);
  for (const key of ['AutoConfigIsEnabled', 'AutoDetect', 'PerUserProxySettings']) {
    const value = bool(key);
    if (typeof value === 'string') return parseFailure(lineOf(key), value);
  }

  let proxy: string | null = null;
  const value = (proxyText ?? '').trim();
  if (enabled !== false && value !== '') {
    const parsed = selectHttpsProxy(value);
    if (!parsed.ok) return parseFailure(lineOf('Proxy'), `Proxy: ${parsed.message}`);
    if (parsed.note) warnings.push({ line: lineOf('Proxy'), message: parsed.note });
    proxy = value;
  } else if (enabled === undefined && value === '') {
    warnings.push({
      line: start + 1,
      message: 'neither ProxyIsEnabled nor Proxy is given; assumed no WinHTTP proxy',
    });
  } else if (enabled === false && value !== '') {
    warnings.push({
      line: lineOf('Proxy'),
      message: `ProxyIsEnabled is false, so the Proxy ${quoted(value)} is not used`,
    });
  }
  if (record.AutoConfigIsEnabled === true || (pacUrl ?? '').trim() !== '') {
    warnings.push({
      line: lineOf(pacUrl !== undefined ? 'AutoconfigUrl' : 'AutoConfigIsEnabled'),
      message: `WinHTTP uses a proxy auto-config file${pacUrl ? ` (${shown(pacUrl)})` : ''}: Airlock does not evaluate it; describe what it returns under network.wpad`,
    });
  }
  if (record.AutoDetect === true) {
    warnings.push({
      line: lineOf('AutoDetect'),
      message: 'WinHTTP auto-detection (WPAD) is on: describe what WPAD returns under network.wpad',
    });
  }
  if (record.PerUserProxySettings === true) {
    warnings.push({
      line: lineOf('PerUserProxySettings'),
      message:
        "PerUserProxySettings is true: these may be one user's settings; services running as SYSTEM use the machine scope (netsh winhttp show advproxy setting-scope=machine)",
    });
  }
  return {
    ok: true,
    value: {
      machine: { platform: 'windows' },
      windows: { winhttp: { proxy, bypass: proxy === null ? [] : parseBypassList(bypassText ?? '') } },
    },
    warnings,
  };
}
