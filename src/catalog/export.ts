import { excel } from './excel.js';
import { patternCovers, type HostPattern } from '../policy/index.js';
import { formatCsv } from './csv.js';
import { SERVICE_LABELS, serializeCatalog, type Catalog, type CatalogEntry } from './schema.js';
import type { SelectedRule } from './select.js';
import {
  AIRLOCK_HEADERS,
  MICROSOFT_HEADERS,
  type AirlockColumn,
  type MicrosoftColumn,
} from './sheet-columns.js';

export const EXPORT_FORMATS = ['squid', 'json', 'csv', 'xlsx', 'pac'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A file an export produces: a name to write it under and its content. */
export interface ExportFile {
  readonly name: string;
  readonly content: string | Uint8Array;
}

/** The catalog cut down to some entries, with the sources and gaps they refer to. */
export function subsetCatalog(catalog: Catalog, entries: readonly CatalogEntry[]): Catalog {
  const ids = new Set(entries.map((e) => e.id));
  const keys = new Set(entries.flatMap((e) => e.source));
  const gaps = catalog.gaps.filter((g) => g.entries === undefined || g.entries.some((id) => ids.has(id)));
  for (const gap of gaps) for (const key of gap.source) keys.add(key);
  const sources: Record<string, string> = {};
  for (const [key, title] of Object.entries(catalog.sources)) if (keys.has(key)) sources[key] = title;
  return {
    version: 1,
    ...(catalog.description === undefined ? {} : { description: catalog.description }),
    sources,
    entries: [...entries],
    gaps: gaps.map((g) =>
      g.entries === undefined ? g : { ...g, entries: g.entries.filter((id) => ids.has(id)) },
    ),
  };
}

export function exportJson(catalog: Catalog): string {
  return serializeCatalog(catalog);
}

const GEOGRAPHY_COLUMN = (entry: CatalogEntry): string => (entry.geo === 'USGov' ? 'US Gov' : entry.geo);

function sheetRecords(catalog: Catalog): string[][] {
  const msColumns = Object.keys(MICROSOFT_HEADERS) as MicrosoftColumn[];
  const airlockColumns = Object.keys(AIRLOCK_HEADERS) as AirlockColumn[];
  const header = [
    ...msColumns.map((c) => MICROSOFT_HEADERS[c]),
    ...airlockColumns.map((c) => AIRLOCK_HEADERS[c]),
  ];
  const yes = (entry: CatalogEntry, os: CatalogEntry['os'][number]): string =>
    entry.os.includes(os) ? 'Yes' : '';
  const rows = catalog.entries.map((entry) => {
    const ms: Record<MicrosoftColumn, string> = {
      // Microsoft's own words, where the entry comes from Microsoft's standard list; empty otherwise.
      service: entry.sheet?.service ?? '',
      geography: GEOGRAPHY_COLUMN(entry),
      category: entry.sheet?.category ?? '',
      port: entry.ports.join(', '),
      endpoint: `${entry.host}${entry.path ?? ''}`,
      description: entry.description,
      required: entry.required ? 'Required' : 'Optional',
      osW: yes(entry, 'W'),
      osW7: yes(entry, 'W7'),
      osMMA: yes(entry, 'MMA'),
      osM: yes(entry, 'M'),
      osL: yes(entry, 'L'),
      comments: entry.comment ?? '',
    };
    const airlock: Record<AirlockColumn, string> = {
      airlockId: entry.id,
      airlockProducts: entry.products.join(', '),
      airlockService: entry.service,
      airlockServiceLabel: SERVICE_LABELS[entry.service],
      airlockClouds: entry.clouds.join(', '),
      airlockAlsoGeos: (entry.alsoGeos ?? []).join(', '),
      airlockSchemes: entry.schemes.join(', '),
      airlockNoInspect: entry.noInspect ? 'Yes' : 'No',
      airlockSource: entry.source.join(', '),
      airlockTemplate: entry.template?.param ?? '',
      airlockFallback: entry.template?.fallback ?? '',
      airlockDocumentedAs: entry.documentedAs ?? '',
      airlockNoNarrowerName: entry.noNarrowerName ?? '',
      airlockOptIn: entry.optIn ?? '',
    };
    return [...msColumns.map((c) => ms[c]), ...airlockColumns.map((c) => airlock[c])];
  });
  return [header, ...rows];
}

/**
 * Microsoft's 13 columns (so other tools and people can read it; Service and Category hold
 * Microsoft's values for entries from its standard list) followed by Airlock's own columns, its
 * labels included (so `airlock catalog import` reads back exactly the same catalog).
 */
export function exportCsv(catalog: Catalog): string {
  return formatCsv(sheetRecords(catalog));
}

/** The same table as `exportCsv`, as an .xlsx workbook with one sheet. */
export async function exportXlsx(catalog: Catalog): Promise<Uint8Array> {
  const workbook = new (await excel()).Workbook();
  const sheet = workbook.addWorksheet('Airlock endpoints');
  for (const record of sheetRecords(catalog)) sheet.addRow(record);
  sheet.getRow(1).font = { bold: true };
  const buffer = await workbook.xlsx.writeBuffer();
  return new Uint8Array(buffer);
}

export interface SquidExportOptions {
  /** Client networks (the policy's sources). */
  readonly sources: readonly string[];
  readonly connectPorts: readonly number[];
  readonly httpPorts: readonly number[];
  /** Directory Squid reads the dstdomain files from (default /etc/squid). */
  readonly directory?: string;
}

/** Squid's dstdomain syntax has no "subdomains only": `*.x` becomes `.x` (which also admits x). */
function dstdomainText(pattern: HostPattern): string {
  return pattern.kind === 'exact' ? pattern.name : `.${pattern.name}`;
}

/** dstdomain lines with entries covered by another line dropped (Squid rejects such overlaps). */
function dstdomainLines(patterns: readonly HostPattern[]): string[] {
  const asSquid = patterns.map((p): HostPattern =>
    p.kind === 'exact' ? p : { kind: 'domain', name: p.name },
  );
  const kept: HostPattern[] = [];
  for (const p of asSquid) {
    if (kept.some((k) => patternCovers(k, p))) continue;
    for (let i = kept.length - 1; i >= 0; i--) if (patternCovers(p, kept[i]!)) kept.splice(i, 1);
    kept.push(p);
  }
  return kept.map(dstdomainText);
}

/**
 * Squid configuration for the selected rules: one dstdomain file per destination port and an
 * http_access block that refuses foreign clients and unsafe ports before anything is
 * allowed, then allows each port only for the names that need it, then denies the rest.
 */
export function exportSquid(rules: readonly SelectedRule[], options: SquidExportOptions): ExportFile[] {
  const directory = (options.directory ?? '/etc/squid').replace(/\/+$/, '');
  const ports = [...new Set(rules.flatMap((r) => r.ports))].sort((a, b) => a - b);
  const files: ExportFile[] = [];
  const acl: string[] = [];
  const allow: string[] = [];
  const header =
    '# Generated by "airlock catalog export --format squid" from the Airlock endpoint catalog.\n' +
    '# Squid matches ".name" as the name and every name under it.\n';
  for (const port of ports) {
    const name = `airlock-dst-${port}.txt`;
    const lines = dstdomainLines(rules.filter((r) => r.ports.includes(port)).map((r) => r.pattern));
    files.push({ name, content: `${header}# Destinations allowed on port ${port}.\n${lines.join('\n')}\n` });
    acl.push(`acl airlock_port_${port} port ${port}`);
    acl.push(`acl airlock_dst_${port} dstdomain -n "${directory}/${name}"`);
    allow.push(`http_access allow airlock_clients airlock_port_${port} airlock_dst_${port}`);
  }
  const conf = [
    '# Generated by "airlock catalog export --format squid" from the Airlock endpoint catalog.',
    '# Order matters: Squid applies the first http_access line that matches, so clients and',
    '# unsafe ports are refused before any destination is allowed. "-n" stops dstdomain from',
    '# reverse-resolving IP-literal requests.',
    ...options.sources.map((cidr) => `acl airlock_clients src ${cidr}`),
    'acl airlock_connect method CONNECT',
    `acl airlock_connect_ports port ${options.connectPorts.join(' ')}`,
    `acl airlock_http_ports port ${options.httpPorts.join(' ')}`,
    ...acl,
    'http_access deny !airlock_clients',
    'http_access deny airlock_connect !airlock_connect_ports',
    'http_access deny !airlock_connect !airlock_http_ports',
    ...allow,
    'http_access deny all',
    '',
  ].join('\n');
  return [...files, { name: 'airlock-access.conf', content: conf }];
}

export interface PacExportOptions {
  /** Proxies in PAC syntax order, e.g. ["gw1.example.net:3128", "gw2.example.net:3128"]. */
  readonly proxies: readonly string[];
  /** What other destinations get (default "DIRECT"). */
  readonly otherwise?: string;
}

/**
 * A proxy auto-config file sending the selected names to the gateway. Names are compared on
 * label boundaries (a rule for wd.microsoft.com never matches evilwd.microsoft.com), never with
 * a plain suffix test such as dnsDomainIs. Written in ES3 so every PAC engine runs it.
 */
export function exportPac(rules: readonly SelectedRule[], options: PacExportOptions): string {
  if (options.proxies.length === 0) throw new Error('exportPac needs at least one proxy');
  const exact = rules.filter((r) => r.pattern.kind === 'exact').map((r) => r.pattern.name);
  const domains = rules.filter((r) => r.pattern.kind === 'domain').map((r) => r.pattern.name);
  const subdomains = rules.filter((r) => r.pattern.kind === 'subdomains').map((r) => r.pattern.name);
  const proxy = options.proxies.map((p) => `PROXY ${p}`).join('; ');
  const exactMap = `{\n${exact.map((h) => `  ${JSON.stringify(h)}: true`).join(',\n')}\n}`;
  const array = (names: readonly string[]): string =>
    names.length === 0 ? '[]' : `[\n${names.map((n) => `  ${JSON.stringify(n)}`).join(',\n')}\n]`;
  return [
    '// Generated by "airlock catalog export --format pac" from the Airlock endpoint catalog.',
    '// Matching is on DNS label boundaries; ports are enforced by the gateway itself.',
    `var AIRLOCK_PROXY = ${JSON.stringify(proxy)};`,
    `var AIRLOCK_OTHERWISE = ${JSON.stringify(options.otherwise ?? 'DIRECT')};`,
    `var AIRLOCK_EXACT = ${exactMap};`,
    '// The name itself and every name under it.',
    `var AIRLOCK_DOMAINS = ${array(domains)};`,
    '// Names under it only.',
    `var AIRLOCK_SUBDOMAINS = ${array(subdomains)};`,
    'function airlockIsUnder(host, parent) {',
    '  var cut = host.length - parent.length;',
    '  return cut > 1 && host.charAt(cut - 1) === "." && host.substring(cut) === parent;',
    '}',
    'function FindProxyForURL(url, host) {',
    '  var h = String(host).toLowerCase();',
    '  if (h.charAt(h.length - 1) === ".") h = h.substring(0, h.length - 1);',
    '  if (Object.prototype.hasOwnProperty.call(AIRLOCK_EXACT, h)) return AIRLOCK_PROXY;',
    '  var i;',
    '  for (i = 0; i < AIRLOCK_DOMAINS.length; i++) {',
    '    if (h === AIRLOCK_DOMAINS[i] || airlockIsUnder(h, AIRLOCK_DOMAINS[i])) return AIRLOCK_PROXY;',
    '  }',
    '  for (i = 0; i < AIRLOCK_SUBDOMAINS.length; i++) {',
    '    if (airlockIsUnder(h, AIRLOCK_SUBDOMAINS[i])) return AIRLOCK_PROXY;',
    '  }',
    '  return AIRLOCK_OTHERWISE;',
    '}',
    '',
  ].join('\n');
}
