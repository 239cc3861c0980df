import assert from 'node:assert/strict';
import { test } from 'node:test';
import ExcelJS from 'exceljs';
import { parseCatalog, serializeCatalog, type Catalog } from '../../../src/catalog/index.js';
import {
  MICROSOFT_HEADERS,
  exportCsv,
  exportXlsx,
  formatCsv,
  importSpreadsheet,
  type ImportResult,
} from '../../../src/catalog/tools.js';

/**
 * Spreadsheets laid out like Microsoft's MDE URL workbook: a title row, a blank row, then a
 * header row with the 13 columns (here in a different order than Microsoft's, to prove
 * columns are found by name), then one row per endpoint, and a second "Defender Process" tab.
 */
type Row = Record<keyof typeof MICROSOFT_HEADERS, string>;

const MDE = 'Microsoft Defender for Endpoint';
const MDAV = 'Microsoft Defender Antivirus';
const SS = 'Microsoft Defender SmartScreen';

function row(
  service: string,
  geography: string,
  category: string,
  port: string,
  endpoint: string,
  description: string,
  required: 'Required' | 'Optional',
  os: string,
  comments = '',
): Row {
  const flags = os.split('');
  const yes = (c: string): string => (flags.includes(c) ? 'Yes' : '');
  return {
    service,
    geography,
    category,
    port,
    endpoint,
    description,
    required,
    osW: flags.includes('*') ? 'Yes*' : yes('W'),
    osW7: yes('7'),
    osMMA: yes('S'),
    osM: yes('M'),
    osL: yes('L'),
    comments,
  };
}

/** Worldwide rows (W = Windows unified, 7 = Windows 7/8.1, S = MMA servers, M = Mac, L = Linux, * = "Yes*"). */
const WW_ROWS: Row[] = [
  row(MDE, 'WW', 'CRL', '80', 'crl.microsoft.com', 'Certificate revocation lists', 'Required', 'WML'),
  row(MDE, 'WW', 'CRL', '80', 'ctldl.windowsupdate.com', 'Certificate trust list', 'Required', 'W'),
  row(MDE, 'WW', 'CRL', '80', 'www.microsoft.com/pkiops/*', 'CRL for the MAPS connection', 'Required', 'WML'),
  row(
    MDE,
    'WW',
    'Common',
    '443',
    'events.data.microsoft.com',
    'Connected User Experiences and Telemetry',
    'Required',
    'WML',
  ),
  row(
    MDE,
    'WW',
    'Common',
    '443',
    '*.wns.windows.com',
    'Windows Push Notification Services (WNS) - Live Response',
    'Optional',
    'W',
    'Direct connection or proxy bypass required',
  ),
  row(
    MDE,
    'WW',
    'Common (Mac/Linux)',
    '443',
    'x.cp.wd.microsoft.com',
    'Used by Microsoft Defender Antivirus to provide cloud-delivered protection',
    'Required',
    'ML',
  ),
  row(
    MDE,
    'WW',
    'Common (Linux)',
    '443',
    'packages.microsoft.com',
    'Required to download and update the MDE Linux agent',
    'Required',
    'L',
  ),
  row(
    MDE,
    'WW',
    'Microsoft Defender for Endpoint',
    '443',
    '\\*.blob.core.windows.net/networkscannerstable/*',
    'Vulnerability assessment for network devices (network scanner)',
    'Optional',
    'W7S',
  ),
  row(
    MDE,
    'WW',
    'Security Management',
    '443',
    '*.dm.microsoft.com',
    'Security Management for Microsoft Defender for Endpoint - Enrollment',
    'Optional',
    'W',
  ),
  row(
    MDE,
    'WW',
    'Microsoft Monitoring Agent (MMA)',
    '443',
    '*.ods.opinsights.azure.com',
    'MMA for Win 7/8.1/2008R2/2012R2/2016',
    'Optional',
    '7S',
  ),
  row(
    MDAV,
    'WW',
    'MU / WU',
    '443',
    '*.update.microsoft.com',
    'MU / WU - Security intelligence and product updates',
    'Optional',
    'W7S',
  ),
  row(
    MDAV,
    'WW',
    'MU / WU',
    '443',
    'go.microsoft.com',
    'MU / WU - Security intelligence and product updates',
    'Required',
    '*7SML',
    '*Optional if updates are managed internally',
  ),
  row(
    MDAV,
    'WW',
    'MU / WU',
    '443',
    'https://www.microsoft.com/security/encyclopedia/adlpackages.aspx',
    'MU / WU - Security intelligence and product updates',
    'Required',
    'W7SML',
  ),
  row(
    MDAV,
    'WW',
    'MAPS',
    '443',
    '*.wdcp.microsoft.com',
    'MAPS - Used by Microsoft Defender Antivirus to provide cloud-delivered protection',
    'Required',
    'W7SML',
  ),
  row(
    SS,
    'WW',
    'Reporting and Notifications',
    '443',
    '*.smartscreen.microsoft.com',
    'SmartScreen protection, reporting, and notifications',
    'Required',
    'WML',
  ),
  row(
    SS,
    'WW',
    'Reporting and Notifications',
    '443',
    '*.checkappexec.microsoft.com <br> *.urs.microsoft.com',
    'SmartScreen to check application execution for trusted apps',
    'Optional',
    'W',
  ),
  row(
    'Consolidated Defender for Endpoint services',
    'WW',
    'Streamlined connectivity new URL pattern',
    '443',
    '*.endpoint.security.microsoft.com',
    'Used for streamlined connectivity URL consolidation',
    'Required',
    'WSML',
  ),
];

function regionalRows(geo: string, gw: string[], accounts: string[]): Row[] {
  const cat = `${MDE} ${geo}`;
  return [
    row(
      MDE,
      geo,
      cat,
      '443',
      `${geo.toLowerCase()}-v20.events.data.microsoft.com`,
      'Microsoft Defender for Endpoint EDR Cyber Data',
      'Required',
      'WML',
    ),
    ...gw.map((dc) =>
      row(
        MDE,
        geo,
        cat,
        '443',
        `winatp-gw-${dc}.microsoft.com`,
        'Microsoft Defender for Endpoint Command and Control',
        'Required',
        'W7SML',
      ),
    ),
    ...gw.map((dc) =>
      row(
        MDE,
        geo,
        cat,
        '443',
        `automatedirstrprd${dc}.blob.core.windows.net`,
        'Microsoft Defender for Endpoint AutoIR Sample Storage',
        'Required',
        'WML',
      ),
    ),
    ...accounts.map((a) =>
      row(
        MDE,
        geo,
        cat,
        '443',
        `${a}.blob.core.windows.net`,
        'Malware Sample Submission Storage',
        'Required',
        'WML',
      ),
    ),
  ];
}

/** At least `minRows` endpoint rows: the worldwide and regional rows, topped up with more sample-storage rows. */
function generateRows(minRows: number): Row[] {
  const rows = [
    ...WW_ROWS,
    ...regionalRows('US', ['cus', 'eus', 'cus3', 'eus3'], ['ussus1eastprod', 'ussus1westprod']),
    ...regionalRows('EU', ['neu', 'weu', 'neu3', 'weu3'], ['usseu1northprod', 'usseu1westprod']),
    ...regionalRows('UK', ['uks', 'ukw'], ['ussuk1southprod', 'ussuk1westprod']),
    ...regionalRows('AU', ['aue', 'aus'], ['ussau1southeastprod', 'ussau1eastprod']),
  ];
  const geos = ['US', 'EU', 'UK', 'AU'];
  for (let n = 0; rows.length < minRows; n++) {
    const geo = geos[n % geos.length]!;
    rows.push(
      row(
        MDE,
        geo,
        `${MDE} ${geo}`,
        '443',
        `test${geo.toLowerCase()}${n}sample.blob.core.windows.net`,
        'Malware Sample Submission Storage',
        'Required',
        'WML',
      ),
    );
  }
  return rows;
}

/** The header order used in generated sheets: Microsoft's columns, shuffled. */
const COLUMN_ORDER: (keyof typeof MICROSOFT_HEADERS)[] = [
  'endpoint',
  'geography',
  'service',
  'osL',
  'category',
  'required',
  'port',
  'osW',
  'comments',
  'description',
  'osM',
  'osW7',
  'osMMA',
];

interface SheetOptions {
  readonly rows: readonly Row[];
  readonly omit?: keyof typeof MICROSOFT_HEADERS;
  readonly extraRows?: readonly (readonly string[])[];
}

function records(options: SheetOptions): string[][] {
  const columns = COLUMN_ORDER.filter((c) => c !== options.omit);
  return [
    columns.map((c) => MICROSOFT_HEADERS[c]),
    ...options.rows.map((r) => columns.map((c) => r[c])),
    ...(options.extraRows ?? []).map((r) => [...r]),
  ];
}

async function workbook(
  options: SheetOptions & { sheetName?: string; processTab?: boolean },
): Promise<Uint8Array> {
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet(options.sheetName ?? 'MDE URLs');
  sheet.addRow(['Microsoft Defender for Endpoint URL list for commercial customers']);
  sheet.addRow([]);
  for (const r of records(options)) sheet.addRow(r);
  if (options.processTab !== false) {
    const processes = wb.addWorksheet('Defender Process');
    processes.addRow(['Process', 'Path', 'Comment']);
    processes.addRow([
      'MsSense.exe',
      'C:\\Program Files\\Windows Defender Advanced Threat Protection',
      'service',
    ]);
  }
  return new Uint8Array(await wb.xlsx.writeBuffer());
}

function ok(result: ImportResult): Extract<ImportResult, { ok: true }> {
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result;
}

const ROWS = generateRows(320);
const HOSTS_PER_ROW = ROWS.map((r) => r.endpoint.split(/\s+|<br>/).filter((t) => t.includes('.')).length);

test('generated workbook: at least 300 endpoint rows, every one imported', async () => {
  assert.ok(ROWS.length >= 300);
  const result = ok(await importSpreadsheet(await workbook({ rows: ROWS }), 'mde-urls.xlsx'));
  assert.equal(result.rowsRead, ROWS.length);
  assert.equal(result.unmapped.length, 0);
  assert.equal(
    result.catalog.entries.length,
    HOSTS_PER_ROW.reduce((a, b) => a + b, 0),
  );
  assert.ok(
    result.notices.some((n) => n.includes('sheet "Defender Process" has no endpoint columns; skipped')),
  );
});

test('columns are mapped by header name: services, geographies, ports, OS and TLS flags', async () => {
  const { catalog } = ok(await importSpreadsheet(await workbook({ rows: ROWS }), 'mde-urls.xlsx'));
  const byHost = (host: string, path?: string) =>
    catalog.entries.find((e) => e.host === host && e.path === path) ?? assert.fail(`no entry for ${host}`);

  const cnc = byHost('winatp-gw-weu.microsoft.com');
  assert.equal(cnc.id, 'mde:winatp-gw-weu.microsoft.com@EU');
  assert.equal(cnc.service, 'command-and-control');
  assert.equal(cnc.geo, 'EU');
  assert.deepEqual(cnc.os, ['W', 'W7', 'MMA', 'M', 'L']);
  assert.deepEqual(cnc.products, ['mde']);
  assert.equal(cnc.noInspect, true);
  assert.deepEqual(cnc.source, ['mde-urls-standard']);

  const crl = byHost('crl.microsoft.com');
  assert.deepEqual([crl.ports, crl.schemes, crl.noInspect, crl.service], [[80], ['http'], false, 'crl-ocsp']);

  const scanner = byHost('*.blob.core.windows.net', '/networkscannerstable/*');
  assert.equal(scanner.service, 'network-scanner');
  assert.equal(
    scanner.noInspect,
    false,
    'the storage wildcard must never be exempted from inspection wholesale',
  );
  assert.equal(scanner.required, false);

  const adl = byHost('www.microsoft.com', '/security/encyclopedia/adlpackages.aspx');
  assert.deepEqual(adl.schemes, ['https']);
  assert.equal(adl.documentedAs, 'https://www.microsoft.com/security/encyclopedia/adlpackages.aspx');
  assert.equal(adl.service, 'security-intelligence-updates');

  assert.ok(byHost('go.microsoft.com').os.includes('W'), '"Yes*" counts as yes');
  assert.deepEqual(byHost('*.ods.opinsights.azure.com').products, ['mma']);
  assert.deepEqual(byHost('*.endpoint.security.microsoft.com').products, ['mde-streamlined']);
  assert.equal(
    byHost('*.urs.microsoft.com').service,
    'smartscreen',
    'a cell with two hosts gives two entries',
  );
  assert.equal(byHost('*.checkappexec.microsoft.com').required, false);
  assert.equal(byHost('automatedirstrprdcus.blob.core.windows.net').service, 'autoir-storage');
  assert.equal(byHost('us-v20.events.data.microsoft.com').service, 'edr-cyber-data');
});

test('import → export (CSV, xlsx, JSON) → import gives the same catalog', async () => {
  const first = ok(await importSpreadsheet(await workbook({ rows: ROWS }), 'mde-urls.xlsx')).catalog;
  assert.ok(first.entries.length >= 300);

  const fromCsv = ok(
    await importSpreadsheet(new TextEncoder().encode(exportCsv(first)), 'export.csv'),
  ).catalog;
  assert.deepEqual(fromCsv, first);

  const fromXlsx = ok(await importSpreadsheet(await exportXlsx(first), 'export.xlsx')).catalog;
  assert.deepEqual(fromXlsx, first);

  const fromJson = parseCatalog(serializeCatalog(first), 'export.json');
  assert.ok(fromJson.ok);
  assert.deepEqual(fromJson.catalog, first);
});

test('the shipped catalog survives export to a spreadsheet and import', async () => {
  const { builtinCatalog } = await import('../../../src/catalog/index.js');
  const shipped = builtinCatalog();
  const back = ok(
    await importSpreadsheet(await exportXlsx(shipped), 'shipped.xlsx', { sourceTitles: shipped.sources }),
  );
  const strip = (c: Catalog) => c.entries;
  assert.deepEqual(strip(back.catalog), strip(shipped));
});

test('a CSV export of the sheet imports like the workbook', async () => {
  const xlsx = ok(await importSpreadsheet(await workbook({ rows: ROWS }), 'mde-urls.xlsx')).catalog;
  const csv = ok(
    await importSpreadsheet(new TextEncoder().encode(formatCsv(records({ rows: ROWS }))), 'mde-urls.csv'),
  );
  assert.deepEqual(csv.catalog.entries, xlsx.entries);
});

test('rows that cannot be mapped are reported with sheet and row number, and the rest is imported', async () => {
  const bad = [
    row(
      MDE,
      'WW',
      'Common (Mac)',
      '443',
      'Microsoft AutoUpdate ChannelURL',
      'Product updates',
      'Required',
      'M',
    ),
    row(MDE, 'ZZ', 'Common', '443', 'zz.example.microsoft.com', 'Cyber data', 'Required', 'W'),
    row(MDE, 'US', 'Common', 'abc', 'port.example.microsoft.com', 'Cyber data', 'Required', 'W'),
    row(
      MDAV,
      'WW',
      'Common',
      '443',
      '*ecs.office.com/config/v1/MicrosoftWindowsDefenderClient',
      'Feature configuration (ECS)',
      'Required',
      'W',
    ),
    row(MDE, 'WW', 'Common', '443', 'maybe.microsoft.com', 'Something', 'Sometimes' as 'Required', 'W'),
  ];
  const rows = [...ROWS.slice(0, 10), ...bad, ...ROWS.slice(10, 20)];
  const result = ok(await importSpreadsheet(await workbook({ rows }), 'mde-urls.xlsx'));
  // Title row 1, blank row 2, header row 3: data row i is spreadsheet row i + 4.
  const expected = [
    { row: 14, reason: /"Microsoft" is not a host name or URL/ },
    { row: 15, reason: /Geography "ZZ" is not a known label/ },
    { row: 16, reason: /Port "abc" is not a port number/ },
    { row: 17, reason: /puts a wildcard inside a label/ },
    { row: 18, reason: /Required or Optional is "Sometimes"/ },
  ];
  assert.equal(result.unmapped.length, expected.length);
  expected.forEach((e, i) => {
    const u = result.unmapped[i]!;
    assert.equal(u.sheet, 'MDE URLs');
    assert.equal(u.row, e.row);
    assert.match(u.reason, e.reason);
  });
  assert.deepEqual(result.catalog.unmapped, result.unmapped);
  assert.equal(
    result.catalog.entries.length,
    HOSTS_PER_ROW.slice(0, 20).reduce((a, b) => a + b, 0),
  );
});

test('a host listed twice is merged and the repeat is noted', async () => {
  const twice = [ROWS[0]!, { ...ROWS[0]!, osW7: 'Yes' }];
  const result = ok(await importSpreadsheet(await workbook({ rows: twice }), 'dupes.xlsx'));
  assert.equal(result.catalog.entries.length, 1);
  assert.ok(result.catalog.entries[0]!.os.includes('W7'));
  assert.ok(
    result.notices.some((n) =>
      /row 5 names crl\.microsoft\.com again \(first at sheet "MDE URLs" row 4\); merged/.test(n),
    ),
  );
});

const fileErrors: { name: string; file: string; bytes: () => Promise<Uint8Array>; error: RegExp }[] = [
  {
    name: 'a missing column',
    file: 'no-required.xlsx',
    bytes: () => workbook({ rows: ROWS, omit: 'required' }),
    error:
      /^no-required\.xlsx: sheet "MDE URLs": missing column "Required or Optional" in the header row \(row 3\)$/,
  },
  {
    name: 'a missing column in CSV',
    file: 'no-geo.csv',
    bytes: () =>
      Promise.resolve(new TextEncoder().encode(formatCsv(records({ rows: ROWS, omit: 'geography' })))),
    error: /^no-geo\.csv: sheet "no-geo\.csv": missing column "Geography"/,
  },
  {
    name: 'an empty sheet',
    file: 'empty.xlsx',
    bytes: async () => {
      const wb = new ExcelJS.Workbook();
      wb.addWorksheet('MDE URLs');
      return new Uint8Array(await wb.xlsx.writeBuffer());
    },
    error: /^empty\.xlsx: sheet "MDE URLs" is empty: no header row and no endpoint rows$/,
  },
  {
    name: 'a header without rows',
    file: 'header-only.xlsx',
    bytes: () => workbook({ rows: [] }),
    error: /^header-only\.xlsx: sheet "MDE URLs" has a header row but no endpoint rows$/,
  },
  {
    name: 'a workbook without the endpoint table',
    file: 'processes.xlsx',
    bytes: async () => {
      const wb = new ExcelJS.Workbook();
      wb.addWorksheet('Defender Process').addRow(['Process', 'Path', 'Comment']);
      return new Uint8Array(await wb.xlsx.writeBuffer());
    },
    error: /^processes\.xlsx: no sheet has the endpoint table .*sheets read: "Defender Process"$/,
  },
  {
    name: 'a file that is not a spreadsheet (binary)',
    file: 'picture.png',
    bytes: () =>
      Promise.resolve(
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0xfe]),
      ),
    error: /^picture\.png: not a spreadsheet: neither an \.xlsx workbook nor CSV text/,
  },
  {
    name: 'a ZIP archive that is not a workbook',
    file: 'archive.xlsx',
    bytes: () => Promise.resolve(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8])),
    error: /^archive\.xlsx: not a readable \.xlsx workbook/,
  },
  {
    name: 'an old .xls workbook',
    file: 'old.xls',
    bytes: () => Promise.resolve(new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])),
    error: /^old\.xls: an Excel 97-2003 \(\.xls\) workbook; save it as \.xlsx or CSV/,
  },
  {
    name: 'an empty file',
    file: 'nothing.csv',
    bytes: () => Promise.resolve(new Uint8Array()),
    error: /^nothing\.csv: the file is empty$/,
  },
  {
    name: 'text that is not the endpoint table',
    file: 'notes.csv',
    bytes: () => Promise.resolve(new TextEncoder().encode('hello, world\nthis is not, a sheet\n')),
    error: /^notes\.csv: no sheet has the endpoint table/,
  },
];

for (const c of fileErrors) {
  test(`${c.name}: one clear error naming the file, no catalog`, async () => {
    const result = await importSpreadsheet(await c.bytes(), c.file);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 1, result.errors.join('\n'));
    assert.match(result.errors[0]!, c.error);
  });
}
