import type ExcelJS from 'exceljs';

/**
 * The spreadsheet library, loaded only by the commands that read or write spreadsheets: the
 * gateway never needs it, and it is the largest thing it would otherwise load.
 */
export async function excel(): Promise<typeof ExcelJS> {
  return (await import('exceljs')).default;
}
