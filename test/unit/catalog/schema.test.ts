import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  builtinCatalog,
  checkCatalog,
  parseCatalog,
  serializeCatalog,
  validateCatalog,
  type Catalog,
  type CatalogEntry,
} from '../../../src/catalog/index.js';

const catalog = builtinCatalog();

function withEntries(entries: CatalogEntry[]): Catalog {
  return { ...catalog, entries };
}

const winatp = catalog.entries.find((e) => e.host === 'winatp-gw-cus.microsoft.com')!;

test('the built-in catalog validates and every entry names a source it lists', () => {
  assert.ok(catalog.entries.length > 100);
  assert.deepEqual(checkCatalog(catalog), []);
  for (const entry of catalog.entries) {
    assert.ok(entry.source.length > 0, entry.id);
    for (const key of entry.source) assert.ok(key in catalog.sources, `${entry.id}: ${key}`);
  }
});

test('the built-in catalog carries every worldwide and regional command-and-control host of the standard list', () => {
  const hosts = new Set(catalog.entries.map((e) => e.host));
  for (const dc of [
    'cus',
    'eus',
    'cus3',
    'eus3',
    'neu',
    'weu',
    'neu3',
    'weu3',
    'uks',
    'ukw',
    'aue',
    'aus',
    'aec0a',
    'aen0a',
  ])
    assert.ok(hosts.has(`winatp-gw-${dc}.microsoft.com`), dc);
  const cnc = catalog.entries.filter((e) => e.service === 'command-and-control');
  assert.ok(cnc.every((e) => e.geo !== 'WW' && e.os.length === 5 && e.noInspect));
});

test("corrections from Microsoft's lists: scanner rows are streamlined rows, settings-win is for 1803 and earlier, the analyzer's extra names", () => {
  const scanner = catalog.entries.filter((e) => e.service === 'network-scanner');
  assert.ok(scanner.length >= 3);
  for (const entry of scanner) {
    assert.ok(entry.products.includes('mde-streamlined'), `${entry.id} is on the streamlined list`);
    assert.ok(entry.source.includes('mde-urls-streamlined'), `${entry.id} cites the streamlined list`);
  }
  const settings = catalog.entries.find((e) => e.host === 'settings-win.data.microsoft.com')!;
  assert.match(settings.comment ?? '', /^Windows 10 1803 and earlier/);
  assert.ok(
    settings.source.includes('mde-network-environment') && settings.source.includes('mde-proxy-2020'),
  );
  for (const host of ['global.notify.windows.com', 'graph.microsoft.com']) {
    const entry = catalog.entries.find((e) => e.host === host);
    assert.ok(entry, `${host} is catalogued`);
    assert.deepEqual(entry.source, ['mde-client-analyzer'], `${host} cites the Windows client analyzer`);
    assert.equal(entry.required, false, host);
    assert.equal(entry.sheet, undefined, `${host} is not on Microsoft's spreadsheet`);
  }
});

test('MDE storage accounts are named; the storage wildcard appears only with a reason or as a template fallback', () => {
  for (const entry of catalog.entries) {
    if (entry.host !== '*.blob.core.windows.net') continue;
    assert.ok(entry.noNarrowerName !== undefined, `${entry.id} needs noNarrowerName`);
  }
  const templated = catalog.entries.filter((e) => e.template?.fallback === '*.blob.core.windows.net');
  assert.ok(templated.length >= 1);
  assert.ok(templated.every((e) => e.host === '<storage-account>.blob.core.windows.net'));
});

test('every open question the catalog records names its sources', () => {
  assert.ok(catalog.gaps.length >= 5);
  for (const gap of catalog.gaps) for (const key of gap.source) assert.ok(key in catalog.sources, gap.id);
  assert.ok(catalog.gaps.some((g) => g.id === 'ch-in-rows' && g.geos?.includes('CH')));
});

const invalid: { name: string; change: (c: Catalog) => unknown; message: RegExp }[] = [
  {
    name: 'a repeated id',
    change: () => withEntries([winatp, { ...winatp, host: 'winatp-gw-xx.microsoft.com' }]),
    message: /entries\[1\] \(mde:winatp-gw-cus\.microsoft\.com@US\): id repeats entries\[0\]/,
  },
  {
    name: 'a placeholder without a template',
    change: () => withEntries([{ ...winatp, host: '<workspace>sensorapi.atp.azure.com' }]),
    message: /has a placeholder <workspace> but no "template"/,
  },
  {
    name: 'a template whose placeholder is not in the host',
    change: () => withEntries([{ ...winatp, template: { param: 'region' } }]),
    message: /does not contain the placeholder <region>/,
  },
  {
    name: 'an unknown source key',
    change: () => withEntries([{ ...winatp, source: ['R999'] }]),
    message: /source: "R999" is not in "sources"/,
  },
  {
    name: 'a host that is not a host rule',
    change: () => withEntries([{ ...winatp, host: 'winatp-*.microsoft.com' }]),
    message: /wildcard is only allowed as a leading/,
  },
  {
    name: 'an unknown product',
    change: () => withEntries([{ ...winatp, products: ['mde', 'edr' as 'mde'] }]),
    message: /entries\[0\]\.products\[1\]/,
  },
  {
    name: 'a wrong version',
    change: (c) => ({ ...c, version: 2 }),
    message: /only catalog version 1 is supported/,
  },
];

for (const c of invalid) {
  test(`validateCatalog rejects ${c.name}, naming the file and the entry`, () => {
    const result = validateCatalog(c.change(catalog), 'my.catalog.json');
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.errors.every((e) => e.startsWith('my.catalog.json: ')));
    assert.ok(
      !result.ok && result.errors.some((e) => c.message.test(e)),
      !result.ok ? result.errors.join('\n') : '',
    );
  });
}

test('parseCatalog names the file when the text is not JSON', () => {
  const result = parseCatalog('{ "version": 1,', 'broken.json');
  assert.ok(!result.ok && /^broken\.json: not a catalog file: invalid JSON/.test(result.errors[0]!));
});

test('serializeCatalog → parseCatalog returns the same catalog', () => {
  const result = parseCatalog(serializeCatalog(catalog), 'round-trip.json');
  assert.ok(result.ok);
  assert.deepEqual(result.catalog, catalog);
});
