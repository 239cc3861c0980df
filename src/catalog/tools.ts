/**
 * What the catalog commands use beyond the catalog itself: spreadsheet import, diff, export,
 * listing and CSV. Kept out of the index so that the gateway, which needs only the catalog and
 * its selection, does not load them.
 */
export { importSpreadsheet, type ImportOptions, type ImportResult } from './import-sheet.js';
export {
  diffCatalogs,
  renderDiffText,
  type CatalogDiff,
  type EntryChange,
  type FieldChange,
} from './diff.js';
export {
  EXPORT_FORMATS,
  exportJson,
  exportCsv,
  exportXlsx,
  exportSquid,
  exportPac,
  subsetCatalog,
  type ExportFormat,
  type ExportFile,
  type SquidExportOptions,
  type PacExportOptions,
} from './export.js';
export { filterEntries, parseEntryFilter, renderEntryTable, renderTable, type EntryFilter } from './list.js';
export { parseCsv, formatCsv, type CsvResult } from './csv.js';
export { MICROSOFT_HEADERS, AIRLOCK_HEADERS } from './sheet-columns.js';
