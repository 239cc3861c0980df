import type { MachineFacts } from './machine-facts.js';
import { mergeFacts } from './machine-facts.js';
import { parseBypassList, parseProxyAddress, selectHttpsProxy } from './proxy-address.js';
import { decodeWinHttpSettings, hexToBytes, winHttpFacts } from './parse-winhttp-blob.js';
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
 * Registry values pasted from `reg query` or exported with regedit (.reg). Only the values the
 * advisor reads are interpreted (see REGISTRY_FACTS); other values are ignored.
 *
 * reg query:
 *
 *     HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\DataCollection
 *         TelemetryProxyServer    REG_SZ    10.0.0.6:8080
 *         DisableEnterpriseAuthProxy    REG_DWORD    0x1
 *
 * .reg export (regedit writes UTF-16; the caller decodes it):
 *
 *     Windows Registry Editor Version 5.00
 *
 *     [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows Defender]
 *     "ProxyServer"="http://10.0.0.6:8080"
 */

export type RegistryData =
  | { readonly type: 'REG_SZ' | 'REG_EXPAND_SZ'; readonly value: string }
  | { readonly type: 'REG_MULTI_SZ'; readonly value: readonly string[] }
  | { readonly type: 'REG_DWORD' | 'REG_QWORD'; readonly value: number }
  | { readonly type: 'REG_BINARY'; readonly value: Uint8Array }
  | { readonly type: 'OTHER'; readonly value: string };

export interface RegistryValue {
  /** Full key with the hive abbreviated: `HKLM\SOFTWARE\…`. */
  readonly key: string;
  readonly name: string;
  readonly data: RegistryData;
  readonly line: number;
}

const HIVES: Record<string, string> = {
  HKEY_LOCAL_MACHINE: 'HKLM',
  HKEY_CURRENT_USER: 'HKCU',
  HKEY_USERS: 'HKU',
  HKEY_CLASSES_ROOT: 'HKCR',
  HKEY_CURRENT_CONFIG: 'HKCC',
  HKLM: 'HKLM',
  HKCU: 'HKCU',
  HKU: 'HKU',
  HKCR: 'HKCR',
  HKCC: 'HKCC',
};

function normalizeKey(text: string): string | null {
  const [hive = '', ...rest] = text.trim().split('\\');
  const short = HIVES[hive.toUpperCase()];
  if (!short) return null;
  return [short, ...rest.filter((p) => p !== '')].join('\\');
}

export function looksLikeRegExport(text: string): boolean {
  const first = splitLines(text).find((l) => l.trim() !== '') ?? '';
  return /^(Windows Registry Editor Version 5\.00|REGEDIT4)\s*$/i.test(first.trim());
}

/** A key line, as `reg query` prints it above the key's values. */
const KEY_LINE = /^\s*(HKEY_[A-Z_]+|HKLM|HKCU|HKU)\\/i;
/**
 * A line that looks like a `reg query` value: indented, a name, two or more spaces and a type.
 * The name ends at a non-space character, so each run of spaces is scanned once: with
 * `.*\s{2,}REG_` the rest of the run is scanned again from each of its spaces, seconds for one
 * pasted line of 100,000 spaces.
 */
const VALUE_LINE = /^\s+\S(?:.*?\S)?\s{2,}REG_[A-Z_]+(\s|$)/;

export function looksLikeRegQuery(text: string): boolean {
  const lines = splitLines(text);
  return lines.some((line) => KEY_LINE.test(line)) && lines.some((line) => VALUE_LINE.test(line));
}

/**
 * `    Name    REG_SZ    data`: the name (which may hold single spaces; it ends at a non-space
 * character, as in VALUE_LINE), two or more spaces, the type, then two or more spaces and the
 * data, or nothing. The data is the rest of the line, trimmed: `(.*?)\s*$` would scan a run of
 * spaces inside it again from each of its characters.
 */
const QUERY_VALUE = /^\s+(\S(?:.*?\S)?)\s{2,}(REG_[A-Z_]+)(?=\s{2}|\s*$)/;
const QUERY_KEY = /^(HKEY_[A-Z_]+|HKLM|HKCU|HKU|HKCR|HKCC)(\\.*)?$/i;

function queryData(type: string, raw: string): RegistryData | string {
  switch (type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
      return { type, value: raw };
    case 'REG_MULTI_SZ':
      return { type, value: raw === '' ? [] : raw.split('\\0').filter((s) => s !== '') };
    case 'REG_DWORD':
    case 'REG_QWORD': {
      if (!/^0x[0-9a-f]+$/i.test(raw)) return `${type} data ${quoted(raw)} is not a 0x… number`;
      return { type, value: parseInt(raw, 16) };
    }
    case 'REG_BINARY': {
      const hex = hexToBytes(raw);
      if (!hex.ok && raw !== '') return `REG_BINARY data ${hex.message}`;
      return { type, value: hex.ok ? hex.bytes : new Uint8Array() };
    }
    default:
      return { type: 'OTHER', value: raw };
  }
}

/** `reg query KEY [/v NAME] [/s]` output. */
export function parseRegQuery(text: string): ParseResult<RegistryValue[]> {
  const lines = splitLines(text);
  const values: RegistryValue[] = [];
  const warnings: ParseIssue[] = [];
  let key: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    const trimmed = line.trim();
    if (trimmed === '' || isPromptLine(line) || /^reg(\.exe)?\s+query\s/i.test(trimmed)) continue;
    if (/^End of search:/i.test(trimmed)) continue;
    if (/^ERROR:/i.test(trimmed)) {
      warnings.push({ line: n, message: `reg reported: ${printable(trimmed)}` });
      continue;
    }
    if (!/^\s/.test(line) && QUERY_KEY.test(trimmed)) {
      key = normalizeKey(trimmed);
      continue;
    }
    const match = QUERY_VALUE.exec(line);
    if (match) {
      if (key === null) return parseFailure(n, 'a value line before any key line');
      const [, name = '', type = ''] = match;
      const data = queryData(type, line.slice(match[0].length).trim());
      if (typeof data === 'string') return parseFailure(n, `${shown(name)}: ${data}`);
      values.push({ key, name: name === '(Default)' ? '' : name, data, line: n });
      continue;
    }
    return parseFailure(n, `unrecognised line in reg query output: ${quoted(trimmed)}`);
  }
  if (key === null) return parseFailure(1, 'no registry key line (HKEY_…) found');
  return { ok: true, value: values, warnings };
}

function unescapeRegString(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * The string without the NULs that end it. A loop, not `/\0+$/`: that pattern scans the rest of
 * a run of NULs from each of them when the run does not end the string.
 */
function withoutTrailingNuls(text: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === '\0') end--;
  return text.slice(0, end);
}

function utf16(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i + 1 < bytes.length; i += 2)
    out += String.fromCharCode((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8));
  return out;
}

function exportData(raw: string): RegistryData | string {
  if (raw.startsWith('"')) {
    const match = /^"((?:[^"\\]|\\.)*)"\s*$/.exec(raw);
    if (!match) return 'the string value is not closed with a quote (truncated?)';
    return { type: 'REG_SZ', value: unescapeRegString(match[1] ?? '') };
  }
  const dword = /^dword:([0-9a-f]*)$/i.exec(raw);
  if (dword) {
    const digits = dword[1] ?? '';
    if (digits.length !== 8) return `dword data "${digits}" must have 8 hex digits`;
    return { type: 'REG_DWORD', value: parseInt(digits, 16) };
  }
  const hex = /^hex(?:\(([0-9a-f]+)\))?:(.*)$/i.exec(raw);
  if (hex) {
    const kind = (hex[1] ?? '3').toLowerCase();
    const bytes = hexToBytes(hex[2] ?? '');
    const data = bytes.ok ? bytes.bytes : new Uint8Array();
    if (!bytes.ok && (hex[2] ?? '').trim() !== '') return `hex data: ${bytes.message}`;
    switch (kind) {
      case '3':
      case '0':
        return { type: 'REG_BINARY', value: data };
      case '2':
        return { type: 'REG_EXPAND_SZ', value: withoutTrailingNuls(utf16(data)) };
      case '7':
        return {
          type: 'REG_MULTI_SZ',
          value: utf16(data)
            .split('\0')
            .filter((s) => s !== ''),
        };
      case 'b': {
        const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
        return data.length === 8
          ? { type: 'REG_QWORD', value: Number(view.getBigUint64(0, true)) }
          : 'qword needs 8 bytes';
      }
      default:
        return { type: 'OTHER', value: raw };
    }
  }
  if (raw === '-') return { type: 'OTHER', value: '(deleted)' };
  return `unrecognised value data ${quoted(raw)}`;
}

/** A regedit export (.reg), REGEDIT4 or version 5.00. */
export function parseRegExport(text: string): ParseResult<RegistryValue[]> {
  const lines = splitLines(text);
  const values: RegistryValue[] = [];
  let key: string | null = null;
  let sawHeader = false;
  for (let i = 0; i < lines.length; i++) {
    // trimEnd, not replace(/\s+$/): that pattern scans a run of spaces inside the line again
    // from each of its characters.
    let line = (lines[i] ?? '').trimEnd();
    const n = i + 1;
    if (line.trim() === '' || line.trim().startsWith(';')) continue;
    if (!sawHeader) {
      if (!/^(Windows Registry Editor Version 5\.00|REGEDIT4)$/i.test(line.trim())) {
        return parseFailure(n, 'a .reg export starts with "Windows Registry Editor Version 5.00"');
      }
      sawHeader = true;
      continue;
    }
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) return parseFailure(n, 'key line is missing its closing "]" (truncated?)');
      const inner = line.slice(1, -1);
      if (inner.startsWith('-')) {
        key = null;
        continue;
      }
      key = normalizeKey(inner);
      if (key === null) return parseFailure(n, `${quoted(inner)} does not start with a registry hive`);
      continue;
    }
    if (line.endsWith('\\') && /^(@|")/.test(line.trimStart()) && /=hex/i.test(line)) {
      // The pieces are joined once at the end: testing the joined line after each piece would
      // copy it again for every continuation line.
      const pieces: string[] = [];
      let piece = line;
      while (piece.endsWith('\\')) {
        pieces.push(piece.slice(0, -1));
        i++;
        if (i >= lines.length || (lines[i] ?? '').trim() === '') {
          return parseFailure(n, 'the value continues past the end of its data (truncated?)');
        }
        piece = (lines[i] ?? '').trim();
      }
      pieces.push(piece);
      line = pieces.join('');
    }
    const match = /^(@|"((?:[^"\\]|\\.)*)")=(.*)$/.exec(line.trim());
    if (!match) return parseFailure(n, `unrecognised line in .reg export: ${quoted(line.trim())}`);
    if (key === null) return parseFailure(n, 'a value line before any [key] line');
    const name = match[1] === '@' ? '' : unescapeRegString(match[2] ?? '');
    const data = exportData(match[3] ?? '');
    if (typeof data === 'string')
      return parseFailure(n, `${name === '' ? '(Default)' : shown(name)}: ${data}`);
    values.push({ key, name, data, line: n });
  }
  if (!sawHeader) return parseFailure(1, 'empty .reg export');
  return { ok: true, value: values, warnings: [] };
}

type FactResult = { facts: MachineFacts; warning?: string } | { error: string };

interface RegistryFactRule {
  /** Key (case-insensitive, hive abbreviated); `*` matches one path element. */
  readonly key: string;
  readonly name: string;
  readonly read: (data: RegistryData) => FactResult;
}

const text = (data: RegistryData): string | null =>
  data.type === 'REG_SZ' || data.type === 'REG_EXPAND_SZ' ? data.value : null;
const dword = (data: RegistryData): number | null => (data.type === 'REG_DWORD' ? data.value : null);

function stringFact(name: string, data: RegistryData, build: (value: string) => FactResult): FactResult {
  const value = text(data);
  if (value === null) return { error: `${name} should be REG_SZ, not ${data.type}` };
  return build(value.trim());
}

function dwordFact(name: string, data: RegistryData, build: (value: number) => MachineFacts): FactResult {
  const value = dword(data);
  if (value === null) return { error: `${name} should be REG_DWORD, not ${data.type}` };
  return { facts: build(value) };
}

const WININET = 'HKCU\\SOFTWARE\\MICROSOFT\\WINDOWS\\CURRENTVERSION\\INTERNET SETTINGS';
const WININET_HKU = 'HKU\\*\\SOFTWARE\\MICROSOFT\\WINDOWS\\CURRENTVERSION\\INTERNET SETTINGS';

function wininetRules(key: string): RegistryFactRule[] {
  return [
    {
      key,
      name: 'ProxyServer',
      read: (d) =>
        stringFact('ProxyServer', d, (v) => {
          if (v === '') return { facts: {} };
          const parsed = selectHttpsProxy(v);
          return parsed.ok
            ? { facts: { windows: { wininet: { proxy: v } } } }
            : { error: `ProxyServer: ${parsed.message}` };
        }),
    },
    {
      key,
      name: 'ProxyOverride',
      read: (d) =>
        stringFact('ProxyOverride', d, (v) => ({
          facts: { windows: { wininet: { bypass: parseBypassList(v) } } },
        })),
    },
    {
      key,
      name: 'AutoConfigURL',
      read: (d) =>
        stringFact('AutoConfigURL', d, (v) => ({
          facts: { windows: { wininet: { autoConfigUrl: v || null } } },
        })),
    },
  ];
}

/** The registry values the advisor understands and what each one means. */
export const REGISTRY_FACTS: readonly RegistryFactRule[] = [
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS\\DATACOLLECTION',
    name: 'TelemetryProxyServer',
    read: (d) =>
      stringFact('TelemetryProxyServer', d, (v) => {
        if (v === '') return { facts: { windows: { telemetryProxy: { server: null } } } };
        const parsed = parseProxyAddress(v);
        if (!parsed.ok) return { error: `TelemetryProxyServer: ${parsed.message}` };
        return { facts: { windows: { telemetryProxy: { server: v } } } };
      }),
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS\\DATACOLLECTION',
    name: 'DisableEnterpriseAuthProxy',
    read: (d) =>
      dwordFact('DisableEnterpriseAuthProxy', d, (v) => ({
        windows: { telemetryProxy: { disableEnterpriseAuthProxy: v === 1 } },
      })),
  },
  {
    key: 'HKLM\\SOFTWARE\\MICROSOFT\\WINDOWS\\CURRENTVERSION\\POLICIES\\DATACOLLECTION',
    name: 'TelemetryProxyServer',
    read: () => ({
      facts: {},
      warning:
        'TelemetryProxyServer under …\\CurrentVersion\\Policies\\DataCollection is not the Group Policy key the sensor is documented to read (Microsoft documents HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection only); ignored',
    }),
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS DEFENDER',
    name: 'ProxyServer',
    read: (d) =>
      stringFact('ProxyServer', d, (v) => {
        if (v === '') return { facts: { windows: { antivirus: { proxyServer: null } } } };
        const parsed = parseProxyAddress(v);
        if (!parsed.ok) return { error: `ProxyServer: ${parsed.message}` };
        return { facts: { windows: { antivirus: { proxyServer: v } } } };
      }),
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS DEFENDER',
    name: 'ProxyPacUrl',
    read: (d) =>
      stringFact('ProxyPacUrl', d, (v) => ({
        facts: { windows: { antivirus: { proxyPacUrl: v || null } } },
      })),
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS DEFENDER',
    name: 'ProxyBypass',
    read: (d) => {
      if (d.type === 'REG_MULTI_SZ')
        return { facts: { windows: { antivirus: { proxyBypass: [...d.value] } } } };
      return stringFact('ProxyBypass', d, (v) => ({
        facts: { windows: { antivirus: { proxyBypass: parseBypassList(v) } } },
      }));
    },
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS DEFENDER\\SPYNET',
    name: 'SSLOptions',
    read: (d) => {
      const value = dword(d);
      if (value === null) return { error: `SSLOptions should be REG_DWORD, not ${d.type}` };
      if (value > 3) return { error: `SSLOptions ${value} is not 0–3` };
      return { facts: { windows: { antivirus: { sslOptions: value } } } };
    },
  },
  {
    key: 'HKLM\\SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS ADVANCED THREAT PROTECTION',
    name: 'PreferStaticProxyForHttpRequest',
    read: (d) =>
      dwordFact('PreferStaticProxyForHttpRequest', d, (v) => ({
        windows: { preferStaticProxyForHttpRequest: v === 1 },
      })),
  },
  ...['', '\\WOW6432NODE'].map((wow): RegistryFactRule => ({
    key: `HKLM\\SOFTWARE${wow}\\MICROSOFT\\WINDOWS\\CURRENTVERSION\\INTERNET SETTINGS\\CONNECTIONS`,
    name: 'WinHttpSettings',
    read: (d) => {
      if (d.type !== 'REG_BINARY') return { error: `WinHttpSettings should be REG_BINARY, not ${d.type}` };
      const decoded = decodeWinHttpSettings(d.value);
      if (!decoded.ok) return { error: `WinHttpSettings: ${decoded.message}` };
      const facts = winHttpFacts(decoded.value);
      return decoded.warnings.length > 0
        ? { facts, warning: `WinHttpSettings: ${decoded.warnings.join('; ')}` }
        : { facts };
    },
  })),
  ...wininetRules(WININET),
  ...wininetRules(WININET_HKU),
];

function keyMatches(pattern: string, key: string): boolean {
  const a = pattern.split('\\');
  const b = key.toUpperCase().split('\\');
  return a.length === b.length && a.every((part, i) => part === '*' || part === b[i]);
}

/** Turns registry values into machine facts; values the advisor does not read are ignored. */
export function registryFacts(
  values: readonly RegistryValue[],
  warningsIn: readonly ParseIssue[] = [],
): ParseResult<MachineFacts> {
  const warnings: ParseIssue[] = [...warningsIn];
  let facts: Record<string, unknown> = { machine: { platform: 'windows' } };
  let understood = 0;
  const proxyEnable = new Map<string, { value: number; line: number }>();
  for (const v of values) {
    if (
      v.name.toUpperCase() === 'PROXYENABLE' &&
      (keyMatches(WININET, v.key) || keyMatches(WININET_HKU, v.key))
    ) {
      const value = dword(v.data);
      if (value === null) return parseFailure(v.line, `ProxyEnable should be REG_DWORD, not ${v.data.type}`);
      proxyEnable.set(v.key.toUpperCase(), { value, line: v.line });
      understood++;
      continue;
    }
    const rule = REGISTRY_FACTS.find(
      (r) => keyMatches(r.key, v.key) && r.name.toUpperCase() === v.name.toUpperCase(),
    );
    if (!rule) continue;
    const result = rule.read(v.data);
    if ('error' in result) return parseFailure(v.line, result.error);
    if (result.warning) warnings.push({ line: v.line, message: result.warning });
    facts = mergeFacts(facts, result.facts);
    understood++;
  }
  if (understood === 0) {
    return parseFailure(
      values[0]?.line ?? 1,
      'none of the registry values the advisor reads is here (DataCollection, Windows Defender, Internet Settings)',
    );
  }
  for (const [, enable] of proxyEnable) {
    if (enable.value === 0) {
      facts = mergeFacts(facts, { windows: { wininet: { proxy: null } } });
      warnings.push({ line: enable.line, message: 'ProxyEnable is 0: the WinINET proxy is switched off' });
    }
  }
  return { ok: true, value: facts, warnings };
}

export function parseRegistryText(text: string): ParseResult<MachineFacts> {
  const parsed = looksLikeRegExport(text) ? parseRegExport(text) : parseRegQuery(text);
  if (!parsed.ok) return parsed;
  return registryFacts(parsed.value, parsed.warnings);
}
