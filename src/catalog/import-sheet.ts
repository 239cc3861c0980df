import type ExcelJS from 'exceljs';
import { excel } from './excel.js';
import { parseHostPattern, patternCovers } from '../policy/index.js';
import { parseCsv } from './csv.js';
import { SHARED_NAMESPACES } from './lint.js';
import {
  CLOUDS,
  GEOS,
  PRODUCTS,
  SCHEMES,
  SERVICES,
  TEMPLATE_PARAM_NAMES,
  checkEntryHost,
  entryId,
  templateParams,
  validateCatalog,
  type Catalog,
  type CatalogEntry,
  type Cloud,
  type Geo,
  type Os,
  type Product,
  type Scheme,
  type Service,
  type TemplateParam,
  type UnmappedRow,
} from './schema.js';
import {
  MICROSOFT_HEADERS,
  OS_COLUMNS,
  REQUIRED_COLUMNS,
  columnOf,
  type SheetColumn,
} from './sheet-columns.js';

export interface ImportOptions {
  /** Source key recorded on entries the sheet does not attribute itself (default "mde-urls-standard"). */
  readonly source?: string;
  /** Titles for source keys (e.g. the built-in catalog's `sources`). */
  readonly sourceTitles?: Readonly<Record<string, string>>;
  /** Cloud of rows whose Geography does not name one (default "commercial"). */
  readonly cloud?: Cloud;
}

export type ImportResult =
  | {
      readonly ok: true;
      readonly catalog: Catalog;
      /** Rows that could not be mapped, with sheet and row number (also kept in `catalog.unmapped`). */
      readonly unmapped: readonly UnmappedRow[];
      /** Things worth knowing that lost nothing: skipped sheets, merged repeats, absent OS columns. */
      readonly notices: readonly string[];
      /** Data rows read from endpoint tables. */
      readonly rowsRead: number;
    }
  | { readonly ok: false; readonly errors: readonly string[] };

interface SheetRow {
  readonly number: number;
  readonly cells: readonly string[];
}

interface Sheet {
  readonly name: string;
  readonly rows: readonly SheetRow[];
}

type ColumnIndex = Partial<Record<SheetColumn, number>>;

const HEADER_SCAN_ROWS = 20;
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY_MAGIC = [0x50, 0x4b, 0x05, 0x06];
const OLE2_MAGIC = [0xd0, 0xcf, 0x11, 0xe0];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

function cellText(value: ExcelJS.CellValue | { text?: unknown }): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    if ('richText' in value && Array.isArray(value.richText))
      return value.richText.map((r) => r.text).join('');
    if ('formula' in value || 'sharedFormula' in value) {
      return cellText((value as { result?: ExcelJS.CellValue }).result ?? null);
    }
    if ('text' in value) return cellText(value.text as ExcelJS.CellValue);
  }
  return '';
}

async function readWorkbook(bytes: Uint8Array, fileName: string): Promise<Sheet[] | string> {
  const workbook = new (await excel()).Workbook();
  try {
    // exceljs declares its own Buffer type; at run time it takes Node's Buffer.
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as ArrayBuffer;
    await workbook.xlsx.load(data);
  } catch (error) {
    return `${fileName}: not a readable .xlsx workbook (${(error as Error).message.split('\n')[0]})`;
  }
  if (workbook.worksheets.length === 0) {
    return `${fileName}: a ZIP archive without worksheets, not an Excel workbook`;
  }
  return workbook.worksheets.map((ws) => {
    const rows: SheetRow[] = [];
    ws.eachRow({ includeEmpty: false }, (row, number) => {
      const values = row.values as ExcelJS.CellValue[];
      const cells = Array.from({ length: Math.max(0, values.length - 1) }, (_, i) => cellText(values[i + 1]));
      rows.push({ number, cells });
    });
    return { name: ws.name, rows };
  });
}

function readCsv(bytes: Uint8Array, fileName: string): Sheet[] | string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return `${fileName}: not a spreadsheet: neither an .xlsx workbook nor CSV text (the bytes are not UTF-8 text)`;
  }
  if (text.includes('\u0000')) {
    return `${fileName}: not a spreadsheet: neither an .xlsx workbook nor CSV text (binary data)`;
  }
  const parsed = parseCsv(text);
  if (!parsed.ok) return `${fileName}: row ${parsed.record}: not valid CSV: ${parsed.error}`;
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return [{ name: base, rows: parsed.records.map((cells, i) => ({ number: i + 1, cells })) }];
}

function isBlank(row: SheetRow): boolean {
  return row.cells.every((c) => c.trim().length === 0);
}

function findHeader(sheet: Sheet): { row: SheetRow; columns: ColumnIndex } | undefined {
  const candidates = sheet.rows.filter((r) => !isBlank(r)).slice(0, HEADER_SCAN_ROWS);
  for (const row of candidates) {
    const columns: ColumnIndex = {};
    row.cells.forEach((cell, i) => {
      const column = columnOf(cell);
      if (column !== undefined && columns[column] === undefined) columns[column] = i;
    });
    const known = Object.keys(columns).length;
    if (columns.endpoint !== undefined && known >= 3) return { row, columns };
    if (known >= 4) return { row, columns };
  }
  return undefined;
}

const GEO_LABELS: ReadonlyMap<string, { geo: Geo; clouds?: Cloud[] }> = new Map([
  ['WW', { geo: 'WW' }],
  ['WORLDWIDE', { geo: 'WW' }],
  ['GLOBAL', { geo: 'WW' }],
  ['US', { geo: 'US' }],
  ['EU', { geo: 'EU' }],
  ['UK', { geo: 'UK' }],
  ['AU', { geo: 'AU' }],
  ['AEC', { geo: 'AEC' }],
  ['AEN', { geo: 'AEN' }],
  ['CH', { geo: 'CH' }],
  ['IN', { geo: 'IN' }],
  ['USGOV', { geo: 'USGov', clouds: ['gcc', 'gcc-high', 'dod'] }],
  ['GCC', { geo: 'USGov', clouds: ['gcc'] }],
  ['GCCHIGH', { geo: 'USGov', clouds: ['gcc-high'] }],
  ['DOD', { geo: 'USGov', clouds: ['dod'] }],
]);

function mapGeography(text: string): { geo: Geo; clouds?: Cloud[] } | undefined {
  return GEO_LABELS.get(text.toUpperCase().replace(/[^A-Z]/g, ''));
}

/** Category and description keywords → service, most specific first. */
const SERVICE_KEYWORDS: readonly [RegExp, Service][] = [
  [/command and control/, 'command-and-control'],
  [/cyber data/, 'edr-cyber-data'],
  [/autoir|automated investigation/, 'autoir-storage'],
  [/sample (submission|upload)|malware sample/, 'sample-upload'],
  [/\bcrl\b|revocation|certificate trust|\bocsp\b/, 'crl-ocsp'],
  [/monitoring agent|\bmma\b/, 'log-analytics-ingestion'],
  [/live response|push notification|\bwns\b/, 'live-response'],
  [/network devices|network scanner/, 'network-scanner'],
  [/security management/, 'onboarding-configuration'],
  [/\bmaps\b|cloud-delivered protection|cloud delivered protection/, 'cloud-protection'],
  [/smartscreen/, 'smartscreen'],
  [/security intelligence|\bmu\b|\bwu\b|\badl\b/, 'security-intelligence-updates'],
  [/product updates|agent install|download and update/, 'agent-updates'],
  [/updates/, 'security-intelligence-updates'],
  [/\becs\b|feature configuration/, 'onboarding-configuration'],
  [/telemetry|diagnostic|\butc\b/, 'diagnostic-telemetry'],
  [/streamlined|consolidat/, 'consolidated-services'],
  [/portal/, 'portal'],
  [/ipv6|reflector|connectivity probe/, 'connectivity-probe'],
  [/sign-in|sign in|login/, 'sign-in'],
];

function mapService(category: string, description: string): Service | undefined {
  const text = `${category} ${description}`.toLowerCase();
  return SERVICE_KEYWORDS.find(([re]) => re.test(text))?.[1];
}

function mapProducts(serviceColumn: string, category: string, service: Service): Product[] | undefined {
  const text = serviceColumn.toLowerCase();
  if (/consolidated/.test(text)) return ['mde-streamlined'];
  if (/monitoring agent|\bmma\b/.test(`${text} ${category.toLowerCase()}`)) return ['mma'];
  if (/smartscreen/.test(text)) return ['mde', 'mde-streamlined', 'mdav'];
  if (/identity/.test(text)) return ['mdi'];
  if (/azure monitor agent|\bama\b/.test(text)) return ['ama'];
  if (/\barc\b/.test(text)) return ['arc'];
  const defender = /defender|endpoint|\bmde\b|antivirus|\bmdav\b/.test(text);
  if (!defender) return undefined;
  const antivirus = /antivirus|\bmdav\b/.test(text);
  if (service === 'crl-ocsp' || service === 'security-intelligence-updates' || service === 'smartscreen') {
    return antivirus ? ['mdav', 'mde', 'mde-streamlined'] : ['mde', 'mde-streamlined', 'mdav'];
  }
  if (antivirus || service === 'cloud-protection') return antivirus ? ['mdav', 'mde'] : ['mde', 'mdav'];
  return ['mde'];
}

function list(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function enumList<T extends string>(text: string, allowed: readonly T[], what: string): T[] | string {
  const values = list(text);
  const bad = values.find((v) => !(allowed as readonly string[]).includes(v));
  return bad === undefined ? (values as T[]) : `${what} "${bad}" is not one of ${allowed.join(', ')}`;
}

function isYes(text: string): boolean {
  return /^(yes|y|x|true)\b/i.test(text.trim());
}

interface ParsedEndpoint {
  readonly host: string;
  readonly path?: string;
  readonly scheme?: Scheme;
  readonly original: string;
}

/** One token of the Endpoint/URL cell → host, path, scheme; or why it is not one. */
function parseEndpoint(token: string): ParsedEndpoint | string {
  let rest = token.replace(/\\\*/g, '*').replace(/^["'(]+|["'),.]+$/g, '');
  let scheme: Scheme | undefined;
  const m = /^(https?):\/\//i.exec(rest);
  if (m !== null) {
    scheme = m[1]!.toLowerCase() as Scheme;
    rest = rest.slice(m[0].length);
  }
  const slash = rest.indexOf('/');
  const hostText = (slash === -1 ? rest : rest.slice(0, slash)).toLowerCase();
  const path = slash === -1 ? undefined : rest.slice(slash);
  if (!hostText.includes('.')) return `"${token}" is not a host name or URL`;
  if (/^\*[^.]/.test(hostText)) {
    return `"${token}" puts a wildcard inside a label, which no host rule can express`;
  }
  const params = templateParams(hostText).filter((p): p is TemplateParam =>
    (TEMPLATE_PARAM_NAMES as string[]).includes(p),
  );
  const error = checkEntryHost(hostText, params[0]);
  if (error !== null) return `"${token}": ${error}`;
  return {
    host: hostText,
    ...(path === undefined || path === '/' ? {} : { path }),
    ...(scheme === undefined ? {} : { scheme }),
    original: token,
  };
}

function parsePorts(text: string, scheme: Scheme | undefined): number[] | string {
  const numbers = (text.match(/\d+/g) ?? []).map(Number);
  if (numbers.length === 0) {
    if (text.trim().length > 0) return `Port "${text}" is not a port number`;
    if (scheme === 'http') return [80];
    if (scheme === 'https') return [443];
    return 'Port is empty';
  }
  const bad = numbers.find((n) => n < 1 || n > 65535);
  if (bad !== undefined) return `Port ${bad} is not in 1-65535`;
  return [...new Set(numbers)];
}

function defaultSchemes(ports: readonly number[], scheme: Scheme | undefined): Scheme[] {
  if (scheme !== undefined) return [scheme];
  if (ports.every((p) => p === 80)) return ['http'];
  return ports.includes(80) ? ['https', 'http'] : ['https'];
}

function admitsSharedNamespace(host: string): boolean {
  const pattern = parseHostPattern(host);
  if ('error' in pattern || pattern.kind === 'exact') return false;
  return SHARED_NAMESPACES.some((ns) => patternCovers(pattern, { kind: 'subdomains', name: ns.suffix }));
}

interface RowContext {
  readonly sheet: Sheet;
  readonly row: SheetRow;
  readonly columns: ColumnIndex;
  readonly options: ImportOptions;
}

function cell(ctx: RowContext, column: SheetColumn): string {
  const index = ctx.columns[column];
  return index === undefined ? '' : (ctx.row.cells[index] ?? '').trim();
}

/** One data row → entries, or the reason it cannot be mapped. */
function mapRow(ctx: RowContext): CatalogEntry[] | string {
  const endpointText = cell(ctx, 'endpoint');
  if (endpointText.length === 0) return 'Endpoint/URL is empty';
  const tokens = endpointText
    .replace(/<br\s*\/?>/gi, ' ')
    .split(/[\s,;]+/)
    .filter((t) => t.length > 0 && !/^(and|or)$/i.test(t));
  const endpoints: ParsedEndpoint[] = [];
  for (const token of tokens) {
    const parsed = parseEndpoint(token);
    if (typeof parsed === 'string') return parsed;
    endpoints.push(parsed);
  }

  const geoText = cell(ctx, 'geography');
  const geoMapped = mapGeography(geoText);
  if (geoMapped === undefined) {
    return `Geography "${geoText}" is not a known label (WW, US, EU, UK, AU, AEC, AEN, CH, IN, US Gov, GCC, GCC High, DoD)`;
  }

  const requiredText = cell(ctx, 'required').toLowerCase();
  let required: boolean;
  if (/^req/.test(requiredText)) required = true;
  else if (/^opt/.test(requiredText)) required = false;
  else return `Required or Optional is "${cell(ctx, 'required')}", not Required or Optional`;

  const category = cell(ctx, 'category');
  const description = cell(ctx, 'description');
  const serviceColumn = cell(ctx, 'service');

  let service: Service | undefined;
  const airlockService = cell(ctx, 'airlockService');
  if (airlockService.length > 0) {
    if (!(SERVICES as readonly string[]).includes(airlockService)) {
      return `Airlock service "${airlockService}" is not one of ${SERVICES.join(', ')}`;
    }
    service = airlockService as Service;
  } else {
    service = mapService(category, description);
    if (service === undefined) {
      return `cannot tell the service from Category "${category}" and description "${description}"`;
    }
  }

  let products: Product[] | undefined;
  const airlockProducts = cell(ctx, 'airlockProducts');
  if (airlockProducts.length > 0) {
    const parsed = enumList(airlockProducts, PRODUCTS, 'product');
    if (typeof parsed === 'string') return parsed;
    products = parsed;
  } else {
    products = mapProducts(serviceColumn, category, service);
  }
  if (products === undefined || products.length === 0) {
    return `Service "${serviceColumn}" is not a Defender product Airlock knows`;
  }

  let clouds: Cloud[] = geoMapped.clouds ?? [ctx.options.cloud ?? 'commercial'];
  const airlockClouds = cell(ctx, 'airlockClouds');
  if (airlockClouds.length > 0) {
    const parsed = enumList(airlockClouds, CLOUDS, 'cloud');
    if (typeof parsed === 'string') return parsed;
    clouds = parsed;
  }
  let alsoGeos: Geo[] | undefined;
  const airlockAlso = cell(ctx, 'airlockAlsoGeos');
  if (airlockAlso.length > 0) {
    const parsed = enumList(airlockAlso, GEOS, 'geography');
    if (typeof parsed === 'string') return parsed;
    alsoGeos = parsed;
  }
  let source = [ctx.options.source ?? 'mde-urls-standard'];
  const airlockSource = cell(ctx, 'airlockSource');
  if (airlockSource.length > 0) source = list(airlockSource);

  const os: Os[] = [];
  const osCodes: Readonly<Record<(typeof OS_COLUMNS)[number], Os>> = {
    osW: 'W',
    osW7: 'W7',
    osMMA: 'MMA',
    osM: 'M',
    osL: 'L',
  };
  for (const column of OS_COLUMNS) if (isYes(cell(ctx, column))) os.push(osCodes[column]);

  const comment = cell(ctx, 'comments');
  const templateText = cell(ctx, 'airlockTemplate');
  const fallbackText = cell(ctx, 'airlockFallback');
  const documentedText = cell(ctx, 'airlockDocumentedAs');
  const noNarrowerText = cell(ctx, 'airlockNoNarrowerName');
  const optInText = cell(ctx, 'airlockOptIn');
  const noInspectText = cell(ctx, 'airlockNoInspect');
  const schemesText = cell(ctx, 'airlockSchemes');
  const idText = cell(ctx, 'airlockId');
  if (idText.length > 0 && endpoints.length > 1) return 'Airlock id is set on a cell with several hosts';

  const entries: CatalogEntry[] = [];
  for (const endpoint of endpoints) {
    const ports = parsePorts(cell(ctx, 'port'), endpoint.scheme);
    if (typeof ports === 'string') return ports;
    let schemes = defaultSchemes(ports, endpoint.scheme);
    if (schemesText.length > 0) {
      const parsed = enumList(schemesText, SCHEMES, 'scheme');
      if (typeof parsed === 'string') return parsed;
      schemes = parsed;
    }
    const params = templateParams(endpoint.host) as TemplateParam[];
    let template: CatalogEntry['template'];
    if (templateText.length > 0 || params.length > 0) {
      const param = (templateText.length > 0 ? templateText : params[0]) as TemplateParam;
      if (!TEMPLATE_PARAM_NAMES.includes(param)) return `template placeholder "${param}" is not known`;
      template = { param, ...(fallbackText.length > 0 ? { fallback: fallbackText } : {}) };
    }
    const noInspect =
      noInspectText.length > 0
        ? isYes(noInspectText)
        : !ports.every((p) => p === 80) && !admitsSharedNamespace(endpoint.host);
    const documentedAs =
      documentedText.length > 0
        ? documentedText
        : endpoint.scheme !== undefined
          ? endpoint.original
          : undefined;
    entries.push({
      id: idText.length > 0 ? idText : entryId(products[0]!, endpoint.host, endpoint.path, geoMapped.geo),
      host: endpoint.host,
      ...(endpoint.path === undefined ? {} : { path: endpoint.path }),
      ...(documentedAs === undefined ? {} : { documentedAs }),
      products,
      service,
      geo: geoMapped.geo,
      ...(alsoGeos === undefined ? {} : { alsoGeos }),
      clouds,
      os,
      ports,
      schemes,
      required,
      noInspect,
      description: description.length > 0 ? description : category.length > 0 ? category : serviceColumn,
      ...(comment.length > 0 ? { comment } : {}),
      ...(serviceColumn.length > 0 || category.length > 0
        ? { sheet: { service: serviceColumn, category } }
        : {}),
      source,
      ...(template === undefined ? {} : { template }),
      ...(noNarrowerText.length > 0 ? { noNarrowerName: noNarrowerText } : {}),
      ...(optInText.length > 0 ? { optIn: optInText } : {}),
    });
  }
  return entries;
}

function union<T>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}

function sameEntry(a: CatalogEntry, b: CatalogEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Reads Microsoft's MDE URL spreadsheet (.xlsx, or a CSV export of it) and builds a catalog.
 * Columns are found by header name in any order, below any title rows. A file-level problem
 * (not a spreadsheet, an empty sheet, a missing column) is an error and yields no catalog; a
 * row that cannot be mapped is reported with its sheet and row number and kept in
 * `catalog.unmapped`.
 */
export async function importSpreadsheet(
  bytes: Uint8Array,
  fileName: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  if (bytes.length === 0) return { ok: false, errors: [`${fileName}: the file is empty`] };
  if (startsWith(bytes, OLE2_MAGIC)) {
    return {
      ok: false,
      errors: [`${fileName}: an Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV and import that`],
    };
  }
  const isZip = startsWith(bytes, ZIP_MAGIC) || startsWith(bytes, ZIP_EMPTY_MAGIC);
  const sheets = isZip ? await readWorkbook(bytes, fileName) : readCsv(bytes, fileName);
  if (typeof sheets === 'string') return { ok: false, errors: [sheets] };

  const errors: string[] = [];
  const notices: string[] = [];
  const tables: { sheet: Sheet; header: SheetRow; columns: ColumnIndex }[] = [];
  const emptySheets: string[] = [];
  const otherSheets: string[] = [];
  for (const sheet of sheets) {
    if (sheet.rows.every(isBlank)) {
      emptySheets.push(sheet.name);
      continue;
    }
    const found = findHeader(sheet);
    if (found === undefined) {
      otherSheets.push(sheet.name);
      continue;
    }
    const missing = REQUIRED_COLUMNS.filter((c) => found.columns[c] === undefined).map(
      (c) => `"${MICROSOFT_HEADERS[c]}"`,
    );
    if (!OS_COLUMNS.some((c) => found.columns[c] !== undefined))
      missing.push('an OS column (e.g. "Mac", "Linux")');
    if (missing.length > 0) {
      errors.push(
        `${fileName}: sheet "${sheet.name}": missing column${missing.length === 1 ? '' : 's'} ${missing.join(', ')} in the header row (row ${found.row.number})`,
      );
      continue;
    }
    for (const column of OS_COLUMNS) {
      if (found.columns[column] === undefined) {
        notices.push(`${fileName}: sheet "${sheet.name}" has no "${MICROSOFT_HEADERS[column]}" column`);
      }
    }
    tables.push({ sheet, header: found.row, columns: found.columns });
  }
  if (errors.length > 0) return { ok: false, errors };
  if (tables.length === 0) {
    if (otherSheets.length === 0) {
      const names = emptySheets.map((n) => `"${n}"`).join(', ');
      return {
        ok: false,
        errors: [
          emptySheets.length === 1 && isZip
            ? `${fileName}: sheet ${names} is empty: no header row and no endpoint rows`
            : isZip
              ? `${fileName}: every sheet (${names}) is empty`
              : `${fileName}: the file has no rows`,
        ],
      };
    }
    return {
      ok: false,
      errors: [
        `${fileName}: no sheet has the endpoint table (a header row naming ${Object.values(MICROSOFT_HEADERS)
          .slice(0, 7)
          .map((h) => `"${h}"`)
          .join(
            ', ',
          )}); ${isZip ? `sheets read: ${otherSheets.map((n) => `"${n}"`).join(', ')}` : 'the first rows hold none of them'}`,
      ],
    };
  }
  for (const name of emptySheets) notices.push(`${fileName}: sheet "${name}" is empty; skipped`);
  for (const name of otherSheets)
    notices.push(`${fileName}: sheet "${name}" has no endpoint columns; skipped`);

  const entries: CatalogEntry[] = [];
  const firstRow = new Map<string, { index: number; where: string }>();
  const unmapped: UnmappedRow[] = [];
  let rowsRead = 0;
  for (const table of tables) {
    const dataRows = table.sheet.rows.filter((r) => r.number > table.header.number && !isBlank(r));
    if (dataRows.length === 0) {
      errors.push(`${fileName}: sheet "${table.sheet.name}" has a header row but no endpoint rows`);
      continue;
    }
    for (const row of dataRows) {
      rowsRead++;
      const mapped = mapRow({ sheet: table.sheet, row, columns: table.columns, options });
      if (typeof mapped === 'string') {
        unmapped.push({
          sheet: table.sheet.name,
          row: row.number,
          reason: mapped,
          text: row.cells
            .map((c) => c.trim())
            .filter((c) => c.length > 0)
            .join(' | '),
        });
        continue;
      }
      for (const entry of mapped) {
        const where = `sheet "${table.sheet.name}" row ${row.number}`;
        const seen = firstRow.get(entry.id);
        if (seen === undefined) {
          firstRow.set(entry.id, { index: entries.length, where });
          entries.push(entry);
          continue;
        }
        const before = entries[seen.index]!;
        if (sameEntry(before, entry)) {
          notices.push(`${fileName}: ${where} repeats ${seen.where} (${entry.host}); kept once`);
          continue;
        }
        entries[seen.index] = {
          ...before,
          products: union(before.products, entry.products),
          os: union(before.os, entry.os),
          ports: union(before.ports, entry.ports),
          schemes: union(before.schemes, entry.schemes),
          source: union(before.source, entry.source),
          clouds: union(before.clouds, entry.clouds),
          required: before.required || entry.required,
        };
        notices.push(`${fileName}: ${where} names ${entry.host} again (first at ${seen.where}); merged`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const sourceKeys = [...new Set(entries.flatMap((e) => e.source))].sort();
  const sources: Record<string, string> = {};
  for (const key of sourceKeys)
    sources[key] = options.sourceTitles?.[key] ?? 'named in the imported spreadsheet';
  const catalog = {
    version: 1 as const,
    description: "Imported from Microsoft's endpoint spreadsheet by airlock catalog import",
    sources,
    entries,
    gaps: [],
    ...(unmapped.length > 0 ? { unmapped } : {}),
  };
  const validated = validateCatalog(catalog, fileName);
  if (!validated.ok) return { ok: false, errors: validated.errors };
  return { ok: true, catalog: validated.catalog, unmapped, notices, rowsRead };
}
