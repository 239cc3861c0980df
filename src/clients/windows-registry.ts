import type { Product } from '../catalog/index.js';
import { Citations, type SourceKey } from '../sources/index.js';
import { crlf, sourceComments } from './client-file.js';
import type { GatewayAddress } from './gateway-address.js';
import { psSingle, regString } from './quoting.js';
import { POWERSHELL_PREAMBLE } from './powershell.js';

/**
 * Windows registry policy values for Defender, written three ways: a .reg file regedit
 * imports, an idempotent PowerShell script, and the Group Policy settings that produce the
 * same values.
 */

export type RegistryType = 'REG_SZ' | 'REG_DWORD';

/** The Group Policy (Administrative Templates) setting that writes a value. */
export interface GpoSetting {
  readonly admx: string;
  /** Under Computer Configuration > Administrative Templates. */
  readonly path: string;
  readonly setting: string;
  /** What to choose in the policy editor. */
  readonly value: string;
}

export interface RegistryValue {
  /** Full key, `HKEY_LOCAL_MACHINE\...`. */
  readonly key: string;
  readonly name: string;
  readonly type: RegistryType;
  readonly data: string | number;
  /** One line: why the value is there. */
  readonly comment: string;
  readonly source: readonly SourceKey[];
  readonly products: readonly Product[];
  /** Null when no Administrative Template writes the value. */
  readonly gpo: GpoSetting | null;
}

export const HKLM = 'HKEY_LOCAL_MACHINE';
export const DATA_COLLECTION_KEY = `${HKLM}\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection`;
export const DEFENDER_KEY = `${HKLM}\\SOFTWARE\\Policies\\Microsoft\\Windows Defender`;
export const ATP_KEY = `${HKLM}\\SOFTWARE\\Policies\\Microsoft\\Windows Advanced Threat Protection`;

const DATA_COLLECTION_GPO = 'Windows Components > Data Collection and Preview Builds';
const DEFENDER_GPO = 'Windows Components > Microsoft Defender Antivirus';

export interface DefenderRegistryOptions {
  /** Defender for Endpoint sensor (EDR) static proxy. */
  readonly edr: boolean;
  /** Defender Antivirus proxy (cloud-delivered protection). */
  readonly antivirus: boolean;
  readonly products: readonly Product[];
  readonly pacUrl?: string | undefined;
  readonly bypass?: readonly string[] | undefined;
}

/** The policy values that point the EDR sensor and Defender Antivirus at one gateway (mde-proxy). */
export function defenderRegistryValues(
  gateway: GatewayAddress,
  options: DefenderRegistryOptions,
): RegistryValue[] {
  const values: RegistryValue[] = [];
  const edrProducts = options.products.filter((p) => p === 'mde' || p === 'mde-streamlined');
  if (options.edr) {
    values.push(
      {
        key: DATA_COLLECTION_KEY,
        name: 'TelemetryProxyServer',
        type: 'REG_SZ',
        data: gateway.authority,
        comment: 'EDR sensor static proxy: host:port only, no scheme and no spaces',
        source: ['mde-proxy', 'mde-proxy-2024', 'mde-proxy-2020'],
        products: edrProducts,
        gpo: {
          admx: 'DataCollection.admx',
          path: DATA_COLLECTION_GPO,
          setting: 'Configure connected user experiences and telemetry',
          value: `Enabled; Proxy Server Name: ${gateway.authority}`,
        },
      },
      {
        key: DATA_COLLECTION_KEY,
        name: 'DisableEnterpriseAuthProxy',
        type: 'REG_DWORD',
        data: 1,
        comment:
          'the sensor runs as LocalSystem and must not try to authenticate to the proxy; set together with TelemetryProxyServer',
        source: ['mde-proxy', 'mde-proxy-2024', 'mde-proxy-2020'],
        products: edrProducts,
        gpo: {
          admx: 'DataCollection.admx',
          path: DATA_COLLECTION_GPO,
          setting:
            'Configure Authenticated Proxy usage for the Connected User Experience and Telemetry Service',
          value: 'Enabled; Disable Authenticated Proxy usage',
        },
      },
    );
  }
  if (options.antivirus) {
    const avProducts = options.products.filter((p) => p === 'mde' || p === 'mde-streamlined' || p === 'mdav');
    values.push({
      key: DEFENDER_KEY,
      name: 'ProxyServer',
      type: 'REG_SZ',
      data: gateway.url,
      comment:
        'Defender Antivirus proxy, set apart from the EDR one: a URL that starts with http:// or https://',
      source: ['mde-proxy', 'mde-proxy-2024', 'set-mppreference'],
      products: avProducts,
      gpo: {
        admx: 'WindowsDefender.admx',
        path: DEFENDER_GPO,
        setting: 'Define proxy server for connecting to the network',
        value: `Enabled; ${gateway.url}`,
      },
    });
    if (options.pacUrl !== undefined) {
      values.push({
        key: DEFENDER_KEY,
        name: 'ProxyPacUrl',
        type: 'REG_SZ',
        data: options.pacUrl,
        comment:
          'Defender Antivirus proxy auto-config URL; no source says whether it or ProxyServer wins when both are set',
        source: ['mde-proxy', 'mde-proxy-2024', 'set-mppreference'],
        products: avProducts,
        gpo: {
          admx: 'WindowsDefender.admx',
          path: DEFENDER_GPO,
          setting: 'Define proxy auto-config (.pac) for connecting to the network',
          value: `Enabled; ${options.pacUrl}`,
        },
      });
    }
    if (options.bypass !== undefined && options.bypass.length > 0) {
      values.push({
        key: DEFENDER_KEY,
        name: 'ProxyBypass',
        type: 'REG_SZ',
        data: options.bypass.join(';'),
        comment:
          'addresses Defender Antivirus reaches without the proxy; the list separator in the registry is not documented (";" assumed), check with Get-MpPreference',
        source: ['mde-proxy', 'mde-proxy-2024', 'set-mppreference'],
        products: avProducts,
        gpo: {
          admx: 'WindowsDefender.admx',
          path: DEFENDER_GPO,
          setting: 'Define addresses to bypass proxy server',
          value: `Enabled; ${options.bypass.join(';')}`,
        },
      });
    }
  }
  return values;
}

/** A REG_DWORD's data, checked: a whole number from 0 to 0xffffffff. */
function dword(value: RegistryValue): number {
  const n = value.data;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new Error(`${value.name}: ${String(n)} is not a DWORD`);
  }
  return n;
}

function formatData(value: RegistryValue): string {
  if (value.type === 'REG_DWORD') return `dword:${dword(value).toString(16).padStart(8, '0')}`;
  return regString(String(value.data));
}

/** Keys in order of first appearance, each with its values. */
function byKey(values: readonly RegistryValue[]): Map<string, RegistryValue[]> {
  const keys = new Map<string, RegistryValue[]>();
  for (const value of values) {
    const list = keys.get(value.key) ?? [];
    list.push(value);
    keys.set(value.key, list);
  }
  return keys;
}

/** The text of a .reg file (before encoding). */
export function regFileText(
  values: readonly RegistryValue[],
  headerComments: readonly string[],
  headerSources: readonly SourceKey[] = [],
): string {
  const c = new Citations();
  const lines = ['Windows Registry Editor Version 5.00', ''];
  for (const comment of headerComments) lines.push(comment === '' ? ';' : `; ${comment}`);
  if (headerSources.length > 0)
    lines.push(`; These notes follow ${c.ref(headerSources)}; the sources are listed at the end.`);
  for (const [key, list] of byKey(values)) {
    lines.push('', `[${key}]`);
    for (const value of list) {
      lines.push(`; ${value.name}: ${value.comment} ${c.ref(value.source)}`);
      lines.push(`${regString(value.name)}=${formatData(value)}`);
    }
  }
  lines.push('', ...sourceComments(c, ';'), '');
  return crlf(lines);
}

/**
 * A .reg file as regedit writes and imports it: UTF-16LE with a byte-order mark, the
 * version 5 header, CRLF line ends, strings with backslashes and quotes escaped.
 */
export function renderRegFile(
  values: readonly RegistryValue[],
  headerComments: readonly string[],
  headerSources: readonly SourceKey[] = [],
): Buffer {
  const text = regFileText(values, headerComments, headerSources);
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}

/** `HKEY_LOCAL_MACHINE\X` → `HKLM:\X` (PowerShell registry drive). */
export function psRegistryPath(key: string): string {
  if (!key.startsWith(`${HKLM}\\`)) throw new Error(`only ${HKLM} keys are supported: ${key}`);
  return `HKLM:\\${key.slice(HKLM.length + 1)}`;
}

const PS_TYPE: Readonly<Record<RegistryType, string>> = { REG_SZ: 'String', REG_DWORD: 'DWord' };

export interface RegistryScriptOptions {
  /** First line of the help text. */
  readonly synopsis: string;
  /** Further help lines. */
  readonly notes: readonly string[];
  /** The documents the notes rest on (listed with the values' sources at the end). */
  readonly sources?: readonly SourceKey[];
}

/**
 * An idempotent PowerShell script for the values: checks elevation (unless -WhatIf),
 * supports -WhatIf and -Confirm, sets only what differs, prints each change, then reads every
 * value back and exits 1 on any mismatch.
 */
export function renderRegistryPowerShell(
  values: readonly RegistryValue[],
  options: RegistryScriptOptions,
): string {
  const c = new Citations();
  const entries: string[] = [];
  for (const value of values) {
    const data = value.type === 'REG_DWORD' ? String(dword(value)) : psSingle(String(value.data));
    entries.push(
      `    # ${value.comment} ${c.ref(value.source)}`,
      `    @{ Path = ${psSingle(psRegistryPath(value.key))}; Name = ${psSingle(value.name)}; Type = ${psSingle(PS_TYPE[value.type])}; Data = ${data} }`,
    );
  }
  return crlf([
    '<#',
    '.SYNOPSIS',
    `    ${options.synopsis}`,
    '.DESCRIPTION',
    '    Sets the policy registry values listed below, prints every change, then reads each value',
    '    back. Running it again changes nothing that is already right. Use -WhatIf to preview.',
    ...options.notes.map((n) => (n === '' ? '' : `    ${n}`)),
    ...(options.sources === undefined || options.sources.length === 0
      ? []
      : [`    These notes follow ${c.ref(options.sources)}; the sources are listed at the end.`]),
    '    Generated by "airlock clients".',
    '#>',
    ...POWERSHELL_PREAMBLE,
    '$values = @(',
    ...entries,
    ')',
    '',
    'function Read-PolicyValue([string]$Path, [string]$Name) {',
    '    if (-not (Test-Path -LiteralPath $Path)) { return $null }',
    '    $key = Get-Item -LiteralPath $Path',
    '    $data = $key.GetValue($Name, $null)',
    '    if ($null -eq $data) { return $null }',
    '    return @{ Data = [string]$data; Type = [string]$key.GetValueKind($Name) }',
    '}',
    '',
    '$changed = 0',
    'foreach ($v in $values) {',
    '    $target = "$($v.Path)\\$($v.Name)"',
    '    $current = Read-PolicyValue $v.Path $v.Name',
    '    if ($null -ne $current -and $current.Data -eq [string]$v.Data -and $current.Type -eq $v.Type) {',
    '        Write-Host "unchanged  $target = $($current.Data)"',
    '        continue',
    '    }',
    '    $was = if ($null -eq $current) { \'(not set)\' } else { "$($current.Data) ($($current.Type))" }',
    '    if ($PSCmdlet.ShouldProcess($target, "set $($v.Type) $($v.Data), was $was")) {',
    '        if (-not (Test-Path -LiteralPath $v.Path)) { New-Item -Path $v.Path -Force | Out-Null }',
    '        New-ItemProperty -LiteralPath $v.Path -Name $v.Name -PropertyType $v.Type -Value $v.Data -Force | Out-Null',
    '        Write-Host "changed    $target = $($v.Data), was $was"',
    '        $changed++',
    '    }',
    '}',
    '',
    'if ($WhatIfPreference) {',
    "    Write-Host 'WhatIf: nothing was changed.'",
    '    exit 0',
    '}',
    '',
    '$failed = 0',
    'foreach ($v in $values) {',
    '    $target = "$($v.Path)\\$($v.Name)"',
    '    $now = Read-PolicyValue $v.Path $v.Name',
    '    if ($null -eq $now -or $now.Data -ne [string]$v.Data -or $now.Type -ne $v.Type) {',
    '        $host.UI.WriteErrorLine("MISMATCH   $target should be $($v.Data) ($($v.Type))")',
    '        $failed++',
    '    } else {',
    '        Write-Host "verified   $target = $($now.Data) ($($now.Type))"',
    '    }',
    '}',
    'Write-Host "$changed value(s) changed; $($values.Count - $failed) of $($values.Count) verified."',
    'if ($failed -gt 0) { exit 1 }',
    '',
    ...sourceComments(c, '#'),
  ]);
}

function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The Group Policy settings that write the same values, as a Markdown table. */
export function renderGpoTable(
  values: readonly RegistryValue[],
  title: string,
  notes: readonly string[],
  noteSources: readonly SourceKey[] = [],
): string {
  const c = new Citations();
  const lines = [
    `# ${title}`,
    '',
    'Computer Configuration > Administrative Templates > the path below. Each row writes the registry',
    'value next to it, so the .reg file, the PowerShell script and these settings are interchangeable:',
    'use one of them per machine.',
    '',
    '| ADMX | Policy path | Setting | Set to | Registry value | Source |',
    '|---|---|---|---|---|---|',
  ];
  for (const value of values) {
    const registry = `${value.key.replace(`${HKLM}\\`, 'HKLM\\')}\\${value.name} (${value.type}) = ${String(value.data)}`;
    const row =
      value.gpo === null
        ? [
            '(none)',
            '(none)',
            'No Administrative Template writes this value',
            'Deploy it as a Group Policy Preferences registry item (Computer Configuration > Preferences > Windows Settings > Registry, action Update) (inference)',
            registry,
            c.ref(value.source),
          ]
        : [value.gpo.admx, value.gpo.path, value.gpo.setting, value.gpo.value, registry, c.ref(value.source)];
    lines.push(`| ${row.map(mdCell).join(' | ')} |`);
  }
  if (notes.length > 0) lines.push('', ...notes);
  if (notes.length > 0 && noteSources.length > 0) lines.push('', `These notes follow ${c.ref(noteSources)}.`);
  lines.push('', '## Sources', '', ...c.lines().map((line) => `- ${line}`), '');
  return crlf(lines);
}
