import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import {
  builtinCatalog,
  lintRules,
  parseCatalog,
  parseCatalogSelection,
  renderLintText,
  SOURCE_KEY_PATTERN,
  selectDestinations,
  serializeCatalog,
  type Catalog,
  type LintFinding,
  type LintRule,
  type LintSeverity,
} from '../../catalog/index.js';
import {
  EXPORT_FORMATS,
  diffCatalogs,
  exportCsv,
  exportJson,
  exportPac,
  exportSquid,
  exportXlsx,
  filterEntries,
  importSpreadsheet,
  parseEntryFilter,
  renderDiffText,
  renderEntryTable,
  subsetCatalog,
  type ExportFormat,
} from '../../catalog/tools.js';
import { DEFAULTS } from '../../config/index.js';
import { AirlockError, unreadableFile } from '../../errors/index.js';
import { writeFileWhole } from '../../files/index.js';
import { parseDstdomain } from '../../policy/index.js';
import { loadConfig } from '../../supervisor/index.js';
import { fitAlignedTable } from '../../text/table.js';

async function readBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw unreadableFile(path, error, what);
  }
}

/** Writes `path` whole (see writeFileWhole), with a message naming it when that fails. */
async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  try {
    await writeFileWhole(path, content);
  } catch (error) {
    throw new AirlockError('FILE_UNREADABLE', `cannot write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Where a command prints: the process's streams, or a test's buffers. */
export interface CommandIo {
  readonly out: (text: string | Uint8Array) => void;
  readonly err: (text: string) => void;
  /** The widest a line of a table may be; unset or Infinity: no limit (--wide). */
  readonly width?: number;
}

export const PROCESS_IO: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

function warn(io: CommandIo, lines: readonly string[], prefix: string): void {
  for (const line of lines) io.err(`${prefix}: ${line}\n`);
}

/** Reads a catalog JSON file, or imports a spreadsheet, so `diff` compares either. */
async function readCatalogOrSheet(path: string, io: CommandIo): Promise<Catalog> {
  const bytes = await readBytes(path, 'catalog');
  const head = new TextDecoder()
    .decode(bytes.subarray(0, 64))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (head.startsWith('{')) {
    const parsed = parseCatalog(new TextDecoder().decode(bytes), path);
    if (!parsed.ok) throw new AirlockError('CONFIG_INVALID', parsed.errors.join('\n'));
    return parsed.catalog;
  }
  const imported = await importSpreadsheet(bytes, path, { sourceTitles: builtinCatalog().sources });
  if (!imported.ok) throw new AirlockError('FILE_UNREADABLE', imported.errors.join('\n'));
  warn(
    io,
    imported.unmapped.map((u) => `${path}: sheet "${u.sheet}" row ${u.row}: ${u.reason}`),
    'warning',
  );
  return imported.catalog;
}

export interface CatalogImportOptions {
  readonly file: string;
  /** Catalog file to write (default: FILE with its extension replaced by .catalog.json). */
  readonly output?: string | undefined;
  /** Source key for rows that name none (default mde-urls-standard). */
  readonly source?: string | undefined;
  /** Refuse to write when any row cannot be mapped. */
  readonly strict?: boolean | undefined;
}

/** `airlock catalog import FILE [--output OUT] [--source KEY] [--strict]` */
export async function catalogImport(
  options: CatalogImportOptions,
  io: CommandIo = PROCESS_IO,
): Promise<number> {
  if (options.source !== undefined && !SOURCE_KEY_PATTERN.test(options.source)) {
    throw new AirlockError(
      'USAGE',
      `--source: "${options.source}" is not a source key (letters, digits and dashes, like mde-urls-standard)`,
    );
  }
  const bytes = await readBytes(options.file, 'spreadsheet');
  const result = await importSpreadsheet(bytes, options.file, {
    ...(options.source === undefined ? {} : { source: options.source }),
    sourceTitles: builtinCatalog().sources,
  });
  if (!result.ok)
    throw new AirlockError('FILE_UNREADABLE', `${result.errors.join('\n')}\nnothing was written`);
  warn(io, result.notices, 'note');
  const unmapped = result.unmapped.map(
    (u) => `${options.file}: sheet "${u.sheet}" row ${u.row}: not imported: ${u.reason}`,
  );
  warn(io, unmapped, 'warning');
  if (options.strict === true && unmapped.length > 0) {
    throw new AirlockError(
      'FILE_UNREADABLE',
      `${options.file}: ${unmapped.length} row${unmapped.length === 1 ? '' : 's'} could not be mapped (--strict); nothing was written`,
    );
  }
  const output =
    options.output ??
    join(dirname(options.file), `${basename(options.file, extname(options.file))}.catalog.json`);
  await writeFileAtomic(output, serializeCatalog(result.catalog));
  io.out(
    `${output}: ${result.catalog.entries.length} entries from ${result.rowsRead} rows` +
      (unmapped.length > 0
        ? `; ${unmapped.length} rows not imported (listed above and under "unmapped")`
        : '') +
      '\n',
  );
  return 0;
}

export interface CatalogDiffOptions {
  readonly oldFile: string;
  readonly newFile: string;
  readonly format: 'text' | 'json';
  /** Exit with 3 when the catalogs differ. */
  readonly exitCode?: boolean | undefined;
}

/** `airlock catalog diff OLD NEW [--format text|json] [--exit-code]` (catalog JSON files or spreadsheets) */
export async function catalogDiff(options: CatalogDiffOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const before = await readCatalogOrSheet(options.oldFile, io);
  const after = await readCatalogOrSheet(options.newFile, io);
  const diff = diffCatalogs(before, after);
  io.out(
    options.format === 'json'
      ? `${JSON.stringify({ added: diff.added, removed: diff.removed, changed: diff.changed.map((c) => ({ id: c.id, fields: c.fields })) }, null, 2)}\n`
      : renderDiffText(diff),
  );
  const differs = diff.added.length + diff.removed.length + diff.changed.length > 0;
  return options.exitCode === true && differs ? 3 : 0;
}

export interface CatalogSelectionFlags {
  readonly configFile?: string | undefined;
  readonly products?: readonly string[] | undefined;
  readonly geos?: readonly string[] | undefined;
  readonly cloud?: string | undefined;
  readonly services?: readonly string[] | undefined;
}

export interface CatalogExportOptions extends CatalogSelectionFlags {
  readonly format: string;
  /** File to write; for squid, a directory for the dstdomain files and airlock-access.conf. */
  readonly output?: string | undefined;
  /** Every catalog entry instead of the selection (json, csv, xlsx). */
  readonly all?: boolean | undefined;
  /** PAC: proxies as host:port (repeatable). */
  readonly proxy?: readonly string[] | undefined;
  /** Squid: directory the dstdomain files are read from (default /etc/squid). */
  readonly squidDir?: string | undefined;
}

/** The selection from the configuration's catalog section (once mounted) with flags on top. */
async function resolveSelection(flags: CatalogSelectionFlags) {
  let section: Record<string, unknown> = {};
  let sources: readonly string[] = DEFAULTS.sources;
  let ports: { connect: readonly number[]; http: readonly number[] } = DEFAULTS.ports;
  if (flags.configFile !== undefined) {
    const loaded = await loadConfig({ configFile: flags.configFile });
    const fromFile = (loaded.config.file as { catalog?: unknown }).catalog;
    if (typeof fromFile === 'object' && fromFile !== null)
      section = { ...(fromFile as Record<string, unknown>) };
    sources = loaded.policy.sources.list().map((s) => s.cidr.text);
    ports = { connect: [...loaded.policy.connectPorts], http: [...loaded.policy.httpPorts] };
  }
  if (flags.products !== undefined && flags.products.length > 0) section.products = flags.products;
  if (flags.geos !== undefined && flags.geos.length > 0) section.geographies = flags.geos;
  if (flags.cloud !== undefined) section.cloud = flags.cloud;
  if (flags.services !== undefined && flags.services.length > 0) section.services = flags.services;
  const parsed = parseCatalogSelection(section, 'catalog');
  if (!parsed.ok) throw new AirlockError('USAGE', parsed.errors.join('\n'));
  return { selection: parsed.selection, sources, ports };
}

/** `airlock catalog export --format squid|json|csv|xlsx|pac [--output PATH] [selection flags]` */
export async function catalogExport(
  options: CatalogExportOptions,
  io: CommandIo = PROCESS_IO,
): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new AirlockError(
      'USAGE',
      `--format: "${options.format}" is not one of ${EXPORT_FORMATS.join(', ')}`,
    );
  }
  const format = options.format as ExportFormat;
  if (options.all === true && (format === 'squid' || format === 'pac')) {
    throw new AirlockError('USAGE', '--all applies to json, csv and xlsx; squid and pac export a selection');
  }
  if (format === 'pac' && (options.proxy === undefined || options.proxy.length === 0)) {
    throw new AirlockError('USAGE', '--format pac needs --proxy host:port (the gateway clients should use)');
  }
  if (format === 'xlsx' && options.output === undefined) {
    throw new AirlockError('USAGE', '--format xlsx needs --output FILE');
  }
  const catalog = builtinCatalog();
  const { selection, sources, ports } = await resolveSelection(options);
  const selected = selectDestinations(catalog, selection);
  for (const note of selected.notes) if (note.level === 'warning') io.err(`warning: ${note.message}\n`);
  const subset = options.all === true ? catalog : subsetCatalog(catalog, selected.entries);

  if (format === 'squid') {
    const files = exportSquid(selected.rules, {
      sources,
      connectPorts: ports.connect,
      httpPorts: ports.http,
      ...(options.squidDir === undefined ? {} : { directory: options.squidDir }),
    });
    if (options.output === undefined) {
      for (const file of files) io.out(`# ---- ${file.name} ----\n${String(file.content)}`);
    } else {
      await mkdir(options.output, { recursive: true });
      for (const file of files) await writeFileAtomic(join(options.output, file.name), file.content);
      io.out(`${options.output}: wrote ${files.map((f) => f.name).join(', ')}\n`);
    }
    return 0;
  }
  const content =
    format === 'json'
      ? exportJson(subset)
      : format === 'csv'
        ? exportCsv(subset)
        : format === 'xlsx'
          ? await exportXlsx(subset)
          : exportPac(selected.rules, { proxies: options.proxy! });
  if (options.output === undefined) io.out(content);
  else {
    await writeFileAtomic(options.output, content);
    io.out(`${options.output}: ${format} written\n`);
  }
  return 0;
}

export interface CatalogLintOptions {
  /** A Squid dstdomain file or an Airlock configuration file; absent = the effective policy. */
  readonly file?: string | undefined;
  readonly configFile?: string | undefined;
  readonly allowlist?: readonly string[] | undefined;
  readonly format: 'text' | 'json';
  /** Exit with 3 when a finding is at least this severe (default high; "none" never). */
  readonly failOn?: string | undefined;
}

const YAML_KEY_LINE = /^[A-Za-z_][\w-]*:(\s|$)/m;

/** `airlock catalog lint [FILE] [--config FILE] [--format text|json] [--fail-on high|medium|low|none]` */
export async function catalogLint(options: CatalogLintOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const failOn = options.failOn ?? 'high';
  if (!['high', 'medium', 'low', 'none'].includes(failOn)) {
    throw new AirlockError('USAGE', `--fail-on: "${failOn}" is not one of high, medium, low, none`);
  }
  let rules: LintRule[];
  if (options.file !== undefined) {
    const text = new TextDecoder().decode(await readBytes(options.file, 'file'));
    const ext = extname(options.file).toLowerCase();
    if (
      ext === '.yaml' ||
      ext === '.yml' ||
      (ext !== '.txt' && ext !== '.conf' && YAML_KEY_LINE.test(text))
    ) {
      const loaded = await loadConfig({ configFile: options.file });
      rules = loaded.policy.rules.map((r) => ({ text: r.text, origin: r.origin }));
    } else {
      const parsed = parseDstdomain(text, options.file);
      if (parsed.errors.length > 0) throw new AirlockError('CONFIG_INVALID', parsed.errors.join('\n'));
      rules = parsed.destinations.map((d) => ({ text: d.host ?? d.cidr ?? '', origin: d.origin }));
    }
  } else {
    const loaded = await loadConfig({ configFile: options.configFile, allowlist: options.allowlist });
    rules = loaded.policy.rules.map((r) => ({ text: r.text, origin: r.origin }));
  }
  const findings = lintRules(rules, builtinCatalog());
  io.out(options.format === 'json' ? `${JSON.stringify(findings, null, 2)}\n` : renderLintText(findings));
  return failing(findings, failOn) ? 3 : 0;
}

function failing(findings: readonly LintFinding[], failOn: string): boolean {
  if (failOn === 'none') return false;
  const rank: Record<LintSeverity, number> = { high: 0, medium: 1, low: 2 };
  return findings.some((f) => rank[f.severity] <= rank[failOn as LintSeverity]);
}

export interface CatalogListOptions {
  readonly products?: readonly string[] | undefined;
  readonly geos?: readonly string[] | undefined;
  readonly services?: readonly string[] | undefined;
  readonly clouds?: readonly string[] | undefined;
  readonly format: 'table' | 'json';
  /** --wide: add the clouds and descriptions to the table. */
  readonly wide?: boolean | undefined;
}

/** The entry table fitted to the output width: host names wrap, the product list is cut first (--wide shows it). */
function fitEntryTable(text: string, rows: number, width: number): string {
  const lines = text.split('\n');
  const header = lines.findIndex((l, i) => /^-+( {2}-+)+$/.test(lines[i + 1] ?? ''));
  return header < 0
    ? text
    : fitAlignedTable(text, { header, rows }, width, {
        HOST: { min: 24 },
        PRODUCTS: { overflow: 'truncate' },
      });
}

/** `airlock catalog list [--product P] [--geo G] [--service S] [--cloud C] [--format table|json] [--wide]` */
export async function catalogList(options: CatalogListOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const raw: Record<string, readonly string[]> = {};
  if (options.products !== undefined && options.products.length > 0) raw.products = options.products;
  if (options.geos !== undefined && options.geos.length > 0) raw.geos = options.geos;
  if (options.services !== undefined && options.services.length > 0) raw.services = options.services;
  if (options.clouds !== undefined && options.clouds.length > 0) raw.clouds = options.clouds;
  const filter = parseEntryFilter(raw);
  if (!filter.ok) throw new AirlockError('USAGE', filter.errors.join('\n'));
  const catalog = builtinCatalog();
  const entries = filterEntries(catalog, filter.filter);
  if (options.format === 'json') io.out(`${JSON.stringify(entries, null, 2)}\n`);
  else {
    const table = renderEntryTable(entries, catalog.sources, { wide: options.wide === true });
    io.out(fitEntryTable(table, entries.length, io.width ?? Infinity));
  }
  return Promise.resolve(0);
}
