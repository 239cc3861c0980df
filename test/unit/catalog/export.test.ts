import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import {
  builtinCatalog,
  parseCatalog,
  parseCatalogSelection,
  selectDestinations,
} from '../../../src/catalog/index.js';
import {
  MICROSOFT_HEADERS,
  exportCsv,
  exportJson,
  exportPac,
  exportSquid,
  parseCsv,
  subsetCatalog,
} from '../../../src/catalog/tools.js';
import { parseHostPattern, patternCovers, type HostPattern } from '../../../src/policy/index.js';

const catalog = builtinCatalog();
const parsed = parseCatalogSelection({ geographies: ['EU'] }, 'catalog');
assert.ok(parsed.ok);
const selection = selectDestinations(catalog, parsed.selection);

const squid = exportSquid(selection.rules, {
  sources: ['10.0.0.0/8', '192.168.0.0/16'],
  connectPorts: [443],
  httpPorts: [80],
});
const conf = String(squid.find((f) => f.name === 'airlock-access.conf')!.content);
const confLines = conf.split('\n').filter((l) => l.startsWith('http_access'));

test('squid: unsafe ports and foreign clients are denied before anything is allowed', () => {
  const firstAllow = confLines.findIndex((l) => l.startsWith('http_access allow'));
  assert.ok(firstAllow > 0);
  const denies = confLines.slice(0, firstAllow);
  assert.ok(denies.includes('http_access deny !airlock_clients'));
  assert.ok(denies.includes('http_access deny airlock_connect !airlock_connect_ports'));
  assert.ok(denies.includes('http_access deny !airlock_connect !airlock_http_ports'));
  assert.equal(confLines.at(-1), 'http_access deny all');
  assert.ok(!conf.includes('allow localhost'));
  assert.match(conf, /^acl airlock_clients src 192\.168\.0\.0\/16$/m);
  assert.match(conf, /^acl airlock_dst_443 dstdomain -n "\/etc\/squid\/airlock-dst-443\.txt"$/m);
  assert.match(conf, /^http_access allow airlock_clients airlock_port_80 airlock_dst_80$/m);
});

function entries(name: string): string[] {
  const file = squid.find((f) => f.name === name);
  assert.ok(file, name);
  return String(file.content)
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

test('squid: one dstdomain file per port, each name on the port it needs', () => {
  const tls = entries('airlock-dst-443.txt');
  const http = entries('airlock-dst-80.txt');
  assert.ok(tls.includes('winatp-gw-weu.microsoft.com'));
  assert.ok(tls.includes('.wd.microsoft.com'));
  assert.ok(!tls.includes('crl.microsoft.com'));
  assert.ok(http.includes('crl.microsoft.com'));
  assert.ok(!http.includes('winatp-gw-weu.microsoft.com'));
  assert.ok(!tls.some((l) => l.startsWith('*')), 'Squid has no "*." syntax');
});

test('squid: no dstdomain line is covered by another (Squid would reject the overlap)', () => {
  for (const name of ['airlock-dst-443.txt', 'airlock-dst-80.txt']) {
    const patterns = entries(name).map((l) => parseHostPattern(l) as HostPattern);
    for (const a of patterns)
      for (const b of patterns)
        if (a !== b) assert.ok(!patternCovers(a, b), `${name}: ${b.name} under ${a.name}`);
  }
});

const pac = exportPac(selection.rules, { proxies: ['gw1.example.net:3128', 'gw2.example.net:3128'] });
const sandbox: { FindProxyForURL?: (url: string, host: string) => string } = {};
vm.runInNewContext(pac, sandbox);
const find = (host: string): string => sandbox.FindProxyForURL!(`https://${host}/`, host);
const PROXY = 'PROXY gw1.example.net:3128; PROXY gw2.example.net:3128';

const pacCases: [string, string][] = [
  ['winatp-gw-weu.microsoft.com', PROXY],
  ['WINATP-GW-WEU.microsoft.com.', PROXY],
  ['a.b.wdcp.microsoft.com', PROXY],
  ['wdcp.microsoft.com', 'DIRECT'],
  ['evilwdcp.microsoft.com', 'DIRECT'],
  ['xcrl.microsoft.com', 'DIRECT'],
  ['crl.microsoft.com', PROXY],
  ['crl.microsoft.com.evil.example', 'DIRECT'],
  ['attacker.blob.core.windows.net', 'DIRECT'],
  ['hasOwnProperty', 'DIRECT'],
];
for (const [host, expected] of pacCases) {
  test(`pac: ${host} → ${expected === 'DIRECT' ? 'DIRECT' : 'gateway'}`, () => {
    assert.equal(find(host), expected);
  });
}

test('pac: matching is by label boundary, never a plain suffix helper', () => {
  assert.ok(!pac.includes('dnsDomainIs'));
  assert.ok(!pac.includes('shExpMatch'));
});

test('json export of a selection is a valid catalog holding just the selected entries', () => {
  const subset = subsetCatalog(catalog, selection.entries);
  const back = parseCatalog(exportJson(subset), 'selection.json');
  assert.ok(back.ok);
  assert.equal(back.catalog.entries.length, selection.entries.length);
  assert.ok(!back.catalog.entries.some((e) => e.geo === 'US'));
  for (const key of Object.keys(back.catalog.sources)) {
    assert.ok(
      back.catalog.entries.some((e) => e.source.includes(key)) ||
        back.catalog.gaps.some((g) => g.source.includes(key)),
      key,
    );
  }
});

test("csv export starts with Microsoft's 13 columns in their order", () => {
  const records = parseCsv(exportCsv(subsetCatalog(catalog, selection.entries)));
  assert.ok(records.ok);
  assert.deepEqual(records.records[0]!.slice(0, 13), Object.values(MICROSOFT_HEADERS));
  const crl = records.records.find((r) => r[4] === 'crl.microsoft.com')!;
  assert.equal(crl[1], 'WW');
  assert.equal(crl[3], '80');
  assert.equal(crl[6], 'Required');
});

test("csv export: Microsoft's Service and Category columns carry Microsoft's values, Airlock's labels their own columns", () => {
  const records = parseCsv(exportCsv(catalog));
  assert.ok(records.ok);
  const [head, ...rows] = records.records;
  const col = (name: string): number => {
    const i = head!.indexOf(name);
    assert.ok(i >= 0, name);
    return i;
  };
  const row = (host: string): string[] => rows.find((r) => r[col('Endpoint/URL')] === host)!;
  const cnc = row('winatp-gw-cus.microsoft.com');
  assert.equal(cnc[col('Service')], 'Microsoft Defender for Endpoint');
  assert.equal(cnc[col('Category')], 'Microsoft Defender for Endpoint US');
  assert.equal(cnc[col('Airlock: service')], 'command-and-control');
  assert.equal(cnc[col('Airlock: service label')], 'Command and control');
  // Every row of Microsoft's sheet has both values; a name from elsewhere leaves them empty.
  for (const entry of catalog.entries) {
    const r = rows.find((x) => x[col('Airlock: id')] === entry.id)!;
    if (entry.sheet !== undefined) {
      assert.equal(r[col('Service')], entry.sheet.service, entry.id);
      assert.equal(r[col('Category')], entry.sheet.category, entry.id);
    } else if (!entry.source.includes('mde-urls-standard')) {
      assert.equal(r[col('Service')], '', entry.id);
      assert.equal(r[col('Category')], '', entry.id);
    }
  }
  const graph = row('graph.microsoft.com');
  assert.equal(graph[col('Service')], '');
  assert.equal(graph[col('Airlock: service label')], 'Onboarding and configuration');
  // Every agent row of the standard list carries Microsoft's values (portal rows come from its
  // separate portal table, which has no Category column).
  const agentRows = catalog.entries.filter(
    (e) => e.source.includes('mde-urls-standard') && e.service !== 'portal',
  );
  assert.ok(agentRows.length > 100);
  for (const entry of agentRows)
    assert.ok(entry.sheet !== undefined && entry.sheet.service.length > 0, entry.id);
});
