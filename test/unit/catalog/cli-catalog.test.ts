import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import {
  builtinCatalog,
  parseCatalog,
  parseCatalogSelection,
  selectDestinations,
} from '../../../src/catalog/index.js';
import { formatCsv, MICROSOFT_HEADERS } from '../../../src/catalog/tools.js';
import {
  catalogDiff,
  catalogExport,
  catalogImport,
  catalogLint,
  catalogList,
} from '../../../src/cli/commands/catalog.js';
import { policyShow } from '../../../src/cli/commands/policy-show.js';
import { isAirlockError } from '../../../src/errors/index.js';

let dir: string;
let out: string[] = [];
const fixture = new URL('../../../../test/fixtures/catalog/squidmdemdi-allowlist.txt', import.meta.url);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-catalog-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  out = [];
  err = [];
});
let err: string[] = [];
const io = {
  out: (text: string | Uint8Array) => void out.push(String(text)),
  err: (text: string) => void err.push(text),
};

const header = Object.values(MICROSOFT_HEADERS);
const goodRow = [
  'Microsoft Defender for Endpoint',
  'US',
  'Microsoft Defender for Endpoint US',
  '443',
  'winatp-gw-cus.microsoft.com',
  'Microsoft Defender for Endpoint Command and Control',
  'Required',
  'Yes',
  'Yes',
  'Yes',
  'Yes',
  'Yes',
  '',
];

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isAirlockError(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test('catalog import writes the catalog next to the sheet', async () => {
  const sheet = join(dir, 'urls.csv');
  await writeFile(sheet, formatCsv([header, goodRow]));
  assert.equal(await catalogImport({ file: sheet }, io), 0);
  const written = parseCatalog(await readFile(join(dir, 'urls.catalog.json'), 'utf8'), 'urls.catalog.json');
  assert.ok(written.ok);
  assert.deepEqual(
    written.catalog.entries.map((e) => e.id),
    ['mde:winatp-gw-cus.microsoft.com@US'],
  );
  assert.match(out.join(''), /urls\.catalog\.json: 1 entries from 1 rows/);
});

test('catalog import of a sheet with a missing column fails, names the file and writes nothing', async () => {
  const sheet = join(dir, 'broken.csv');
  await writeFile(sheet, formatCsv([header.filter((h) => h !== 'Port'), goodRow.filter((_, i) => i !== 3)]));
  await rejectsWith(
    catalogImport({ file: sheet, output: join(dir, 'broken.json') }, io),
    /broken\.csv: sheet "broken\.csv": missing column "Port".*\nnothing was written$/s,
  );
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith('broken.json') || f.includes('.tmp')));
});

test('catalog import --strict refuses to write when a row cannot be mapped', async () => {
  const sheet = join(dir, 'prose.csv');
  const prose = [...goodRow];
  prose[4] = 'see the ChannelURL note';
  await writeFile(sheet, formatCsv([header, goodRow, prose]));
  await rejectsWith(
    catalogImport({ file: sheet, output: join(dir, 'prose.json'), strict: true }, io),
    /prose\.csv: 1 row could not be mapped \(--strict\); nothing was written/,
  );
  assert.ok(!(await readdir(dir)).includes('prose.json'));
  assert.equal(await catalogImport({ file: sheet, output: join(dir, 'prose.json') }, io), 0);
  const written = parseCatalog(await readFile(join(dir, 'prose.json'), 'utf8'), 'prose.json');
  assert.ok(written.ok);
  assert.deepEqual(
    written.catalog.unmapped?.map((u) => u.row),
    [3],
  );
});

test('catalog import of a missing file says so', async () => {
  await rejectsWith(
    catalogImport({ file: join(dir, 'nope.xlsx') }, io),
    /cannot read spreadsheet .*nope\.xlsx: no such file/,
  );
});

test('catalog diff compares a sheet with a catalog file', async () => {
  const sheet = join(dir, 'two.csv');
  const second = [...goodRow];
  second[4] = 'winatp-gw-eus.microsoft.com';
  await writeFile(sheet, formatCsv([header, goodRow, second]));
  const one = join(dir, 'one.csv');
  await writeFile(one, formatCsv([header, goodRow]));
  assert.equal(await catalogImport({ file: one, output: join(dir, 'one.json') }, io), 0);
  out = [];
  assert.equal(
    await catalogDiff({ oldFile: join(dir, 'one.json'), newFile: sheet, format: 'text', exitCode: true }, io),
    3,
  );
  assert.match(out.join(''), /^\+ mde:winatp-gw-eus\.microsoft\.com@US/m);
  assert.match(out.join(''), /1 added, 0 removed, 0 changed/);
});

test('catalog lint of the squidmdemdi list exits 3 on high findings; --fail-on none exits 0', async () => {
  const path = new URL(fixture).pathname;
  assert.equal(await catalogLint({ file: path, format: 'text' }, io), 3);
  assert.match(
    out.join(''),
    /HIGH CUSTOMER_CREATABLE "\.blob\.core\.windows\.net" \(.*squidmdemdi-allowlist\.txt:5\)/,
  );
  assert.equal(await catalogLint({ file: path, format: 'json', failOn: 'none' }, io), 0);
});

test('catalog export --format squid writes the dstdomain files and the access block', async () => {
  const target = join(dir, 'squid');
  assert.equal(await catalogExport({ format: 'squid', output: target, geos: ['UK'] }, io), 0);
  const files = (await readdir(target)).sort();
  assert.deepEqual(files, ['airlock-access.conf', 'airlock-dst-443.txt', 'airlock-dst-80.txt']);
  const tls = await readFile(join(target, 'airlock-dst-443.txt'), 'utf8');
  assert.match(tls, /^winatp-gw-uks\.microsoft\.com$/m);
  assert.doesNotMatch(tls, /winatp-gw-cus/);
});

test('catalog export rejects an unknown format and pac without a proxy', async () => {
  await rejectsWith(
    catalogExport({ format: 'yaml' }, io),
    /--format: "yaml" is not one of squid, json, csv, xlsx, pac/,
  );
  await rejectsWith(catalogExport({ format: 'pac' }, io), /--format pac needs --proxy/);
  await rejectsWith(catalogExport({ format: 'json', geos: ['XX'] }, io), /catalog\.geographies\[0\]/);
});

test('catalog list filters by product, geography and service', async () => {
  assert.equal(await catalogList({ geos: ['UK'], services: ['command-and-control'], format: 'json' }, io), 0);
  const listed = JSON.parse(out.join('')) as { host: string }[];
  assert.deepEqual(listed.map((e) => e.host).sort(), [
    'winatp-gw-uks.microsoft.com',
    'winatp-gw-ukw.microsoft.com',
  ]);
  await rejectsWith(
    catalogList({ products: ['edr'], format: 'table' }, io),
    /--product: "edr" is not one of mde,/,
  );
});

test('catalog list: the ids catalog.exclude takes, a legend for SOURCE, --wide adds clouds and descriptions', async () => {
  assert.equal(
    await catalogList({ geos: ['UK'], services: ['command-and-control'], format: 'table' }, io),
    0,
  );
  const table = out.join('');
  const lines = table.split('\n');
  assert.match(lines[0]!, /^ID +HOST +PORTS +GEO +SERVICE +PRODUCTS +OS +REQ +TLS +SOURCE$/);
  const row = lines.find((l) => l.includes('winatp-gw-uks.microsoft.com'))!;
  const id = row.split(/ +/)[0]!;
  // The ID column is exactly what catalog.exclude (and the startup warnings) use.
  const excluded = parseCatalogSelection(
    { geographies: ['UK'], services: ['command-and-control'], exclude: [id] },
    'catalog',
  );
  assert.ok(excluded.ok);
  const hosts = selectDestinations(builtinCatalog(), excluded.selection).rules.map((r) => r.host);
  assert.ok(
    !hosts.includes('winatp-gw-uks.microsoft.com') && hosts.includes('winatp-gw-ukw.microsoft.com'),
    hosts.join(' '),
  );
  // Each SOURCE number is explained under the table with a title and an address.
  const numbers = row.trim().split(/ +/).at(-1)!.split(',');
  assert.ok(numbers.length > 0 && numbers.every((n) => /^\d+$/.test(n)), row);
  assert.match(table, /\nSOURCE numbers:\n/);
  for (const n of numbers) {
    assert.match(
      table,
      new RegExp(
        `^ {2}\\[${n}\\] Microsoft Defender for Endpoint standard connectivity URLs - commercial \\(Microsoft Learn\\): https://learn\\.microsoft\\.com/`,
        'm',
      ),
    );
  }
  out = [];
  assert.equal(
    await catalogList({ geos: ['UK'], services: ['command-and-control'], format: 'table', wide: true }, io),
    0,
  );
  const wide = out.join('');
  assert.match(wide.split('\n')[0]!, /^ID +HOST .* TLS +CLOUDS +DESCRIPTION +SOURCE$/);
  assert.match(wide, /winatp-gw-uks\.microsoft\.com .* commercial +EDR command and control /);
  assert.doesNotMatch(table, /CLOUDS|EDR command and control/, 'the narrow table stays narrow');
});

test('policy show names the file and line of a hand-written rule', async () => {
  const config = join(dir, 'airlock.yaml');
  await writeFile(
    config,
    'policy:\n  destinations:\n    - winatp-gw-cus.microsoft.com\n    - .blob.core.windows.net\n',
  );
  assert.equal(await policyShow({ configFile: config, format: 'json' }, io), 0);
  const shown = JSON.parse(out.join('')) as {
    rules: { rule: string; where: string; lint: { code: string }[] }[];
  };
  const blob = shown.rules.find((r) => r.rule === '.blob.core.windows.net')!;
  assert.match(blob.where, /airlock\.yaml:4 \(policy\.destinations\[1\]\)/);
  assert.deepEqual(
    blob.lint.map((l) => l.code),
    ['CUSTOMER_CREATABLE'],
  );
  out = [];
  assert.equal(await policyShow({ configFile: config, format: 'table' }, io), 0);
  assert.match(out.join(''), /^winatp-gw-cus\.microsoft\.com +default +config +- +.*airlock\.yaml:3/m);
  assert.match(out.join(''), /default ports: CONNECT 443; HTTP 80\n$/);
});
