import type { MachineFacts } from './machine-facts.js';
import { parseBypassList, selectHttpsProxy } from './proxy-address.js';
import { isPromptLine, parseFailure, splitLines, type ParseIssue, type ParseResult } from './parse-result.js';

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
const PROXY = /^\s*Proxy Server\(s\)\s*:\s*(.*?)\s*$/i;
const BYPASS = /^\s*Bypass List\s*:\s*(.*?)\s*$/i;

export function looksLikeNetsh(text: string): boolean {
  return /Current WinHTTP (advanced )?proxy settings/i.test(text) || /^\s*Proxy Server\(s\)\s*:/im.test(text);
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
    if (ADVANCED_HEADER.test(line)) {
      return parseFailure(
        n,
        '`netsh winhttp show advproxy` output is not supported; paste `netsh winhttp show proxy`',
      );
    }
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
    const proxyMatch = PROXY.exec(line);
    if (proxyMatch) {
      if (proxy !== undefined) return parseFailure(n, 'a second proxy setting in the same output');
      const value = proxyMatch[1] ?? '';
      if (value === '') return parseFailure(n, 'the "Proxy Server(s)" line has no value (truncated paste?)');
      const parsed = selectHttpsProxy(value);
      if (!parsed.ok) return parseFailure(n, `Proxy Server(s): ${parsed.message}`);
      if (parsed.note) warnings.push({ line: n, message: parsed.note });
      proxy = value;
      proxyLine = n;
      continue;
    }
    const bypassMatch = BYPASS.exec(line);
    if (bypassMatch) {
      if (proxy === undefined || proxy === null)
        return parseFailure(n, '"Bypass List" without a "Proxy Server(s)" line');
      bypass = parseBypassList(bypassMatch[1] ?? '');
      continue;
    }
    return parseFailure(n, `unexpected line in netsh output: "${line.trim()}"`);
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
