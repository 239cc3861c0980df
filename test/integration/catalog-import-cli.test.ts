import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import ExcelJS from 'exceljs';
import { MICROSOFT_HEADERS } from '../../src/catalog/tools.js';
import { CLI } from '../helpers/cli.js';
import { run } from '../helpers/run.js';

/**
 * `airlock catalog import` of a spreadsheet through the command line, with the columns where
 * Microsoft's sheet has them and moved about: the columns are found by their header names.
 */

type Column = keyof typeof MICROSOFT_HEADERS;

const ROWS: Partial<Record<Column, string>>[] = [
  {
    service: 'Microsoft Defender for Endpoint',
    geography: 'WW',
    category: 'CRL',
    port: '80',
    endpoint: 'crl.microsoft.com',
    description: 'Certificate revocation lists',
    required: 'Required',
    osW: 'Yes',
    osM: 'Yes',
    osL: 'Yes',
  },
  {
    service: 'Microsoft Defender for Endpoint',
    geography: 'EU',
    category: 'Microsoft Defender for Endpoint EU',
    port: '443',
    endpoint: 'winatp-gw-neu.microsoft.com',
    description: 'Cyber data',
    required: 'Required',
    osW: 'Yes',
    osM: 'Yes',
    osL: 'Yes',
  },
  {
    service: 'Microsoft Defender Antivirus',
    geography: 'WW',
    category: 'Security Intelligence updates',
    port: '443',
    endpoint: 'definitionupdates.microsoft.com',
    description: 'Defender Antivirus updates',
    required: 'Optional',
    osW: 'Yes',
  },
];

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-import-cli-'));
});

async function writeSheet(name: string, columns: readonly Column[], titleRows: number): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('MDE URLs');
  for (let i = 0; i < titleRows; i++)
    sheet.addRow(i === 0 ? ['Microsoft Defender for Endpoint URL list'] : []);
  sheet.addRow(columns.map((c) => MICROSOFT_HEADERS[c]));
  for (const r of ROWS) sheet.addRow(columns.map((c) => r[c] ?? ''));
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(await wb.xlsx.writeBuffer()));
  return path;
}

async function importSheet(path: string): Promise<{ code: number | null; out: string; stderr: string }> {
  const out = `${path}.catalog.json`;
  const r = await run(process.execPath, [CLI, 'catalog', 'import', path, '--output', out, '--source', 'R1']);
  return { code: r.code, out: r.code === 0 ? readFileSync(out, 'utf8') : '', stderr: r.stderr };
}

test('catalog import of an .xlsx: the same catalog whatever the column order and the rows above the header', async () => {
  const inOrder = Object.keys(MICROSOFT_HEADERS) as Column[];
  const moved = [...inOrder].reverse();
  const a = await importSheet(await writeSheet('microsoft-order.xlsx', inOrder, 2));
  const b = await importSheet(await writeSheet('moved-columns.xlsx', moved, 0));
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const catalog = JSON.parse(a.out) as { entries: { host?: string; pattern?: string }[] };
  const text = JSON.stringify(catalog);
  for (const host of [
    'crl.microsoft.com',
    'winatp-gw-neu.microsoft.com',
    'definitionupdates.microsoft.com',
  ]) {
    assert.ok(text.includes(host), `${host} imported`);
  }
  assert.deepEqual(JSON.parse(b.out), catalog, 'moved columns give the same catalog');
});

test('catalog import of an .xlsx without a required column names the file, the column and the header row', async () => {
  const columns = (Object.keys(MICROSOFT_HEADERS) as Column[]).filter((c) => c !== 'endpoint').reverse();
  const path = await writeSheet('no-endpoint.xlsx', columns, 1);
  const r = await importSheet(path);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /no-endpoint\.xlsx: sheet "MDE URLs": missing column ".+" in the header row \(row 2\)/,
  );
});
