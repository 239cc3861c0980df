import { LineCounter, isNode, parseDocument } from '../deps/yaml.js';
import { printable } from '../text/printable.js';
import type { MachineFacts } from './machine-facts.js';
import { parseMachineDescription } from './machine-schema.js';
import {
  looksLikeMdatpConfig,
  looksLikeMdatpHealth,
  parseMdatpConfig,
  parseMdatpHealth,
} from './parse-mdatp.js';
import { looksLikeMpPreference, parseMpPreference } from './parse-mppreference.js';
import {
  looksLikeNetsh,
  looksLikeNetshAdvproxy,
  parseNetshAdvproxy,
  parseNetshWinHttp,
} from './parse-netsh.js';
import { looksLikeRegExport, looksLikeRegQuery, parseRegistryText } from './parse-reg.js';
import { parseFailure, type ParseIssue, type ParseResult } from './parse-result.js';
import { looksLikeWinHttpBlob, parseWinHttpBlob } from './parse-winhttp-blob.js';
import { parseProxyAddress } from './proxy-address.js';

export type InputKind =
  | 'machine-description'
  | 'mdatp-managed-json'
  | 'reg-export'
  | 'reg-query'
  | 'netsh-winhttp'
  | 'netsh-winhttp-advproxy'
  | 'mp-preference'
  | 'mdatp-config'
  | 'mdatp-health'
  | 'winhttp-blob';

export interface InputFile {
  /** File name used in messages. */
  readonly name: string;
  readonly text: string;
}

export interface InputError {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface ParsedInput {
  readonly file: string;
  readonly kind: InputKind;
  readonly facts: MachineFacts;
  readonly warnings: readonly ParseIssue[];
}

/** A top-level key of a YAML description; the colon is on the key's line (`\s*` would cross lines). */
const DESCRIPTION_KEYS = /^(machine|windows|linux|network|mdi|ama|mma|arc|assume)[ \t]*:/m;

/** Each kind with how it is recognised and parsed; the first whose test holds wins. */
const INPUT_KINDS: readonly {
  readonly kind: InputKind;
  readonly test: (text: string) => boolean;
  readonly parse: (text: string) => ParseResult<MachineFacts>;
}[] = [
  {
    kind: 'mdatp-managed-json',
    test: (t) => t.trimStart().startsWith('{') && /"cloudService"\s*:/.test(t),
    parse: parseManagedJson,
  },
  { kind: 'netsh-winhttp-advproxy', test: looksLikeNetshAdvproxy, parse: parseNetshAdvproxy },
  {
    kind: 'machine-description',
    test: (t) => t.trimStart().startsWith('{') || DESCRIPTION_KEYS.test(t),
    parse: parseMachineDescription,
  },
  { kind: 'reg-export', test: looksLikeRegExport, parse: parseRegistryText },
  { kind: 'reg-query', test: looksLikeRegQuery, parse: parseRegistryText },
  { kind: 'netsh-winhttp', test: looksLikeNetsh, parse: parseNetshWinHttp },
  { kind: 'mp-preference', test: looksLikeMpPreference, parse: parseMpPreference },
  { kind: 'mdatp-config', test: looksLikeMdatpConfig, parse: parseMdatpConfig },
  { kind: 'mdatp-health', test: looksLikeMdatpHealth, parse: parseMdatpHealth },
  { kind: 'winhttp-blob', test: looksLikeWinHttpBlob, parse: parseWinHttpBlob },
];

export function detectInputKind(text: string): InputKind | null {
  const body = text.replace(/^\uFEFF/, '');
  return INPUT_KINDS.find((k) => k.test(body))?.kind ?? null;
}

/** Recognises an input by its content and parses it; errors name the file and line. */
export function parseInput(
  file: InputFile,
): { ok: true; value: ParsedInput } | { ok: false; error: InputError } {
  const text = file.text.replace(/^\uFEFF/, '');
  if (text.trim() === '')
    return { ok: false, error: { file: file.name, line: 1, message: 'the file is empty' } };
  const entry = INPUT_KINDS.find((k) => k.test(text));
  if (!entry) {
    return {
      ok: false,
      error: {
        file: file.name,
        line: 1,
        message:
          'not recognised: expected a machine description, netsh winhttp show proxy or show advproxy, reg query or .reg output, ' +
          'Get-MpPreference, mdatp health, mdatp config proxy or a WinHttpSettings hex dump',
      },
    };
  }
  const parsed = entry.parse(text);
  if (!parsed.ok) return { ok: false, error: { file: file.name, ...parsed.error } };
  return {
    ok: true,
    value: { file: file.name, kind: entry.kind, facts: parsed.value, warnings: parsed.warnings },
  };
}

/** `/etc/opt/microsoft/mdatp/managed/mdatp_managed.json`: `{ "cloudService": { "proxy": "…" } }`. */
export function parseManagedJson(text: string): ParseResult<MachineFacts> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  const syntax = doc.errors[0];
  if (syntax)
    return parseFailure(
      syntax.linePos?.[0]?.line ?? 1,
      `JSON syntax error: ${printable(syntax.message.split('\n')[0] ?? '')}`,
    );
  const node = doc.getIn(['cloudService', 'proxy'], true);
  const line = isNode(node) && node.range ? counter.linePos(node.range[0]).line : 1;
  const value: unknown = doc.getIn(['cloudService', 'proxy']);
  if (value === undefined || value === null || value === '') {
    return { ok: true, value: { machine: { platform: 'linux' }, linux: { mdatpProxy: null } }, warnings: [] };
  }
  if (typeof value !== 'string') return parseFailure(line, 'cloudService.proxy must be a string');
  const parsed = parseProxyAddress(value);
  if (!parsed.ok) return parseFailure(line, `cloudService.proxy: ${parsed.message}`);
  return { ok: true, value: { machine: { platform: 'linux' }, linux: { mdatpProxy: value } }, warnings: [] };
}
