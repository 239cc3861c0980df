import type { MachineFacts } from './machine-facts.js';
import { parseProxyAddress } from './proxy-address.js';
import { printable } from '../text/printable.js';
import {
  isPromptLine,
  parseFailure,
  quoted,
  splitLines,
  type ParseIssue,
  type ParseResult,
} from './parse-result.js';

/**
 * Defender for Endpoint on Linux, three inputs:
 *
 * - `mdatp health` (and `mdatp health --details edr`): `name   : value` lines. Microsoft's
 *   reference lists no proxy field, so this output tells the advisor the platform, onboarding
 *   (`licensed`), `cloud_enabled`, `health_issues` and, from `edr_partner_geo_location`
 *   (`GW_US`), streamlined connectivity and the geography. Fields with "proxy" in the name are
 *   reported as not interpreted.
 * - `mdatp config proxy set --value http://host:port` command lines (a shell transcript).
 * - the managed configuration `mdatp_managed.json` with `cloudService.proxy` (parsed by
 *   detect-input, which owns JSON).
 */
const HEALTH_KEY =
  /^\s*(healthy|licensed|app_version|org_id|engine_version|real_time_protection_enabled|edr_machine_id)\s+:/;
/**
 * `name : value`: the name and its colon. The value is the rest of the line, trimmed; matching it
 * with `\s*(.*?)\s*$` would scan a run of spaces inside it again from each of its characters.
 */
const HEALTH_LINE = /^([a-z][a-z0-9_]*)\s*:/;
const CONFIG_COMMAND = /\bmdatp\s+config\s+proxy\s+set\s+--value(?:\s+|=)(\S*)/;

export function looksLikeMdatpHealth(text: string): boolean {
  return splitLines(text).some((line) => HEALTH_KEY.test(line));
}

export function looksLikeMdatpConfig(text: string): boolean {
  return /\bmdatp\s+config\s+proxy\b/.test(text);
}

type HealthValue = boolean | string | number | string[];

function healthValue(raw: string): HealthValue | { error: string } {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"'))
      return { error: 'the quoted value is not closed (truncated paste?)' };
    return raw.slice(1, -1);
  }
  if (raw.startsWith('[')) {
    if (!raw.endsWith(']')) return { error: 'the list is not closed with "]" (truncated paste?)' };
    const inner = raw.slice(1, -1).trim();
    if (inner === '') return [];
    return inner.split(/",\s*"/).map((s) => s.replace(/^"|"$/g, ''));
  }
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

const GEO_KEYS: Record<string, 'us' | 'eu' | 'uk' | 'au'> = {
  GW_US: 'us',
  GW_EU: 'eu',
  GW_UK: 'uk',
  GW_AU: 'au',
  unitedstates: 'us',
  europe: 'eu',
  unitedkingdom: 'uk',
  australia: 'au',
};

export function parseMdatpHealth(text: string): ParseResult<MachineFacts> {
  const lines = splitLines(text);
  const warnings: ParseIssue[] = [];
  const fields = new Map<string, { value: HealthValue; line: number }>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    const trimmed = line.trim();
    if (trimmed === '' || isPromptLine(line) || /^(sudo\s+)?mdatp\s+health\b/.test(trimmed)) continue;
    if (/^(ATTENTION|WARNING|Warning|Error)\b/.test(trimmed)) {
      warnings.push({ line: n, message: `mdatp printed: ${printable(trimmed)}` });
      continue;
    }
    const match = HEALTH_LINE.exec(trimmed);
    if (!match) return parseFailure(n, `unexpected line in mdatp health output: ${quoted(trimmed)}`);
    const name = match[1] ?? '';
    const value = healthValue(trimmed.slice(match[0].length).trim());
    if (typeof value === 'object' && !Array.isArray(value)) return parseFailure(n, `${name}: ${value.error}`);
    fields.set(name, { value, line: n });
    if (name.includes('proxy')) {
      warnings.push({
        line: n,
        message: `${name} is not in Microsoft's mdatp health reference; it is not interpreted (give the proxy with \`mdatp config proxy\` output or a description)`,
      });
    }
  }
  if (fields.size === 0) return parseFailure(1, 'no "name : value" lines found');
  const linux: NonNullable<MachineFacts['linux']> = {};
  const machine: NonNullable<MachineFacts['machine']> = { platform: 'linux' };
  const bool = (name: string): boolean | undefined => {
    const f = fields.get(name);
    return typeof f?.value === 'boolean' ? f.value : undefined;
  };
  const licensed = bool('licensed');
  if (licensed !== undefined) linux.licensed = licensed;
  const cloud = bool('cloud_enabled');
  if (cloud !== undefined) linux.cloudEnabled = cloud;
  const issues = fields.get('health_issues')?.value;
  if (Array.isArray(issues)) linux.healthIssues = issues;
  const partner = fields.get('edr_partner_geo_location')?.value;
  if (typeof partner === 'string' && GEO_KEYS[partner]) {
    machine.connectivity = 'streamlined';
    machine.geography = GEO_KEYS[partner];
  } else {
    const preferred = fields.get('edr_preferred_geo')?.value;
    if (typeof preferred === 'string' && GEO_KEYS[preferred]) machine.geography = GEO_KEYS[preferred];
  }
  const first = lines.findIndex((l) => l.trim() !== '') + 1;
  warnings.push({ line: first, message: 'mdatp health output also comes from macOS; it is read as Linux' });
  return { ok: true, value: { machine, linux }, warnings };
}

export function parseMdatpConfig(text: string): ParseResult<MachineFacts> {
  const lines = splitLines(text);
  let proxy: string | null | undefined;
  const warnings: ParseIssue[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const match = CONFIG_COMMAND.exec(line);
    if (!match) {
      if (/\bmdatp\s+config\s+proxy\b/.test(line)) {
        return parseFailure(i + 1, 'expected `mdatp config proxy set --value <url>`');
      }
      continue;
    }
    const value = (match[1] ?? '').replace(/^["']|["']$/g, '');
    if (value === '') {
      proxy = null;
      continue;
    }
    const parsed = parseProxyAddress(value);
    if (!parsed.ok) return parseFailure(i + 1, `mdatp proxy: ${parsed.message}`);
    if (parsed.value.scheme === null) {
      warnings.push({
        line: i + 1,
        message: `${quoted(value)} has no scheme; mdatp expects http://host:port`,
      });
    }
    proxy = value;
  }
  if (proxy === undefined) return parseFailure(1, 'no `mdatp config proxy set --value` command found');
  return { ok: true, value: { machine: { platform: 'linux' }, linux: { mdatpProxy: proxy } }, warnings };
}
