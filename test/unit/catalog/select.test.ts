import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  builtinCatalog,
  formatCatalogWhere,
  parseCatalogSelection,
  parseCatalogWhere,
  selectDestinations,
  type CatalogSelectionInput,
  type CatalogSelectionResult,
} from '../../../src/catalog/index.js';
import { compilePolicy, decide, type Policy } from '../../../src/policy/index.js';

const catalog = builtinCatalog();

function select(input: CatalogSelectionInput): CatalogSelectionResult {
  const parsed = parseCatalogSelection(input, 'catalog');
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  return selectDestinations(catalog, parsed.selection);
}

function compile(result: CatalogSelectionResult): { policy: Policy; warnings: readonly string[] } {
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: { source: 'default', where: 'test' } }],
    destinations: result.destinations,
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.errors.join('\n'));
  return { policy: compiled.policy, warnings: compiled.warnings };
}

function hosts(result: CatalogSelectionResult): string[] {
  return result.rules.map((r) => r.host);
}

test('defaults: MDE (both connectivity types) and Defender Antivirus, commercial, every geography with rows', () => {
  const parsed = parseCatalogSelection(undefined, 'catalog');
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.selection.products, ['mde', 'mde-streamlined', 'mdav']);
  assert.equal(parsed.selection.cloud, 'commercial');
  assert.deepEqual(parsed.selection.geographies, ['US', 'EU', 'UK', 'AU', 'AEC', 'AEN']);
});

test('the default selection compiles without a duplicate or coverage warning', () => {
  const { warnings } = compile(select({}));
  assert.deepEqual(warnings, []);
});

// Table of decisions for a commercial tenant in the EU: WW names, EU names, nothing else.
const euCases: {
  name: string;
  method: string;
  host: string;
  port: number;
  verdict: 'allow' | 'deny';
  reason: string;
}[] = [
  {
    name: 'EU command and control',
    method: 'CONNECT',
    host: 'winatp-gw-weu.microsoft.com',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'US command and control is not the tenant geography',
    method: 'CONNECT',
    host: 'winatp-gw-cus.microsoft.com',
    port: 443,
    verdict: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
  },
  {
    name: 'EU sample storage account by name',
    method: 'CONNECT',
    host: 'usseu1northprod.blob.core.windows.net',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'any other storage account',
    method: 'CONNECT',
    host: 'attacker.blob.core.windows.net',
    port: 443,
    verdict: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
  },
  {
    name: 'App Service apps',
    method: 'CONNECT',
    host: 'attacker.azurewebsites.net',
    port: 443,
    verdict: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
  },
  {
    name: 'streamlined wildcard',
    method: 'CONNECT',
    host: 'edr-weu.eu.endpoint.security.microsoft.com',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'cloud protection under *.wd.microsoft.com',
    method: 'CONNECT',
    host: 'europe.x.cp.wd.microsoft.com',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'CRL over plain HTTP',
    method: 'GET',
    host: 'crl.microsoft.com',
    port: 80,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'CRL host is HTTP-only',
    method: 'CONNECT',
    host: 'crl.microsoft.com',
    port: 443,
    verdict: 'deny',
    reason: 'DENY_PORT',
  },
  {
    name: 'www.microsoft.com: pkiops over HTTP',
    method: 'GET',
    host: 'www.microsoft.com',
    port: 80,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'www.microsoft.com: definition page over HTTPS',
    method: 'CONNECT',
    host: 'www.microsoft.com',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'ctldl keeps the HTTPS of *.windowsupdate.com',
    method: 'CONNECT',
    host: 'ctldl.windowsupdate.com',
    port: 443,
    verdict: 'allow',
    reason: 'ALLOWED',
  },
  {
    name: 'command and control is HTTPS-only',
    method: 'GET',
    host: 'winatp-gw-weu.microsoft.com',
    port: 80,
    verdict: 'deny',
    reason: 'DENY_PORT',
  },
  {
    name: 'bare microsoft.com is not opened',
    method: 'CONNECT',
    host: 'anything.microsoft.com',
    port: 443,
    verdict: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
  },
];

const euPolicy = compile(select({ geographies: ['EU'] })).policy;
for (const c of euCases) {
  test(`EU tenant: ${c.name}`, () => {
    const d = decide(euPolicy, { source: '10.1.2.3', method: c.method, host: c.host, port: c.port });
    assert.equal(d.verdict, c.verdict);
    assert.equal(d.reason, c.reason);
  });
}

test('WW is always included, even with no geography', () => {
  const result = select({ geographies: [] });
  const h = hosts(result);
  assert.ok(h.includes('crl.microsoft.com'));
  assert.ok(!h.some((x) => x.startsWith('winatp-gw-')));
});

test('UAE North opens its command-and-control host and the AutoIR account labelled AU, not the AEC ones', () => {
  const h = hosts(select({ geographies: ['AEN'] }));
  assert.ok(h.includes('winatp-gw-aen0a.microsoft.com'));
  assert.ok(h.includes('automatedirstrprdaen0a.blob.core.windows.net'));
  assert.ok(!h.includes('automatedirstrprdaec0a.blob.core.windows.net'));
  assert.ok(!h.includes('winatp-gw-aue.microsoft.com'));
});

test('a geography without rows is reported as a catalog gap, not silently empty', () => {
  const result = select({ geographies: ['CH'] });
  const gap = result.notes.find((n) => n.code === 'GAP' && n.message.includes('"ch-in-rows"'));
  assert.equal(gap?.level, 'warning');
});

test('entries that share a host are merged: ports united, every entry named in the origin', () => {
  const result = select({ geographies: ['US'] });
  const rule = result.rules.find((r) => r.host === 'www.microsoft.com')!;
  assert.deepEqual(rule.ports, [80, 443]);
  const ids = rule.contributions.map((c) => c.entryId);
  assert.ok(ids.includes('mde:www.microsoft.com/pkiops/*'));
  assert.ok(ids.includes('mde:www.microsoft.com/security/encyclopedia/adlpackages.aspx'));
  const dest = result.destinations.find((d) => d.host === 'www.microsoft.com')!;
  assert.equal(dest.origin.where, formatCatalogWhere(rule.contributions));
});

test('names covered by a broader selected rule are folded into it', () => {
  const result = select({ geographies: ['US'] });
  assert.ok(!hosts(result).includes('unitedstates.x.cp.wd.microsoft.com'));
  const wd = result.rules.find((r) => r.host === '*.wd.microsoft.com')!;
  assert.ok(wd.contributions.some((c) => c.entryId === 'mde:unitedstates.x.cp.wd.microsoft.com@US'));
});

test('MDI without a workspace name falls back to the documented wildcard and says so', () => {
  const result = select({ products: ['mdi'], geographies: [] });
  const rule = result.rules.find((r) => r.host === '*.atp.azure.com');
  assert.ok(rule !== undefined);
  assert.equal(rule.contributions[0]?.fallbackField, 'mdiWorkspaces');
  const note = result.notes.find((n) => n.code === 'FALLBACK');
  assert.ok(note !== undefined && note.level === 'warning' && note.message.includes('catalog.mdiWorkspaces'));
});

test('MDI workspace name → <name>sensorapi.atp.azure.com instead of the wildcard (a full host name is accepted)', () => {
  const result = select({
    products: ['mdi'],
    mdiWorkspaces: ['contoso-corp', 'Fabrikam-HQsensorapi.atp.azure.com'],
  });
  const h = hosts(result);
  assert.ok(h.includes('contoso-corpsensorapi.atp.azure.com'));
  assert.ok(h.includes('fabrikam-hqsensorapi.atp.azure.com'));
  assert.ok(!h.includes('*.atp.azure.com'));
  assert.ok(!result.notes.some((n) => n.code === 'FALLBACK'));
});

test('Log Analytics workspace IDs replace the three MMA wildcards', () => {
  const id = '8b1a0c2e-53f1-4a7e-9f0e-2d7c3b4a5e6f';
  const result = select({
    products: ['mma'],
    logAnalyticsWorkspaces: [id],
    storageAccounts: ['contosologs01'],
  });
  const h = hosts(result);
  for (const suffix of [
    'ods.opinsights.azure.com',
    'oms.opinsights.azure.com',
    'agentsvc.azure-automation.net',
  ]) {
    assert.ok(h.includes(`${id}.${suffix}`), suffix);
    assert.ok(!h.includes(`*.${suffix}`), suffix);
  }
  assert.ok(h.includes('contosologs01.blob.core.windows.net'));
  assert.ok(!h.includes('*.blob.core.windows.net'));
});

test('a template with no documented wildcard is reported and left out', () => {
  const result = select({ products: ['arc-sql'], geographies: [] });
  assert.ok(!hosts(result).some((h) => h.includes('azurewebsites.net')));
  const unfilled = result.notes.filter((n) => n.code === 'UNFILLED');
  assert.equal(unfilled.length, 2);
  assert.ok(unfilled.every((n) => n.message.includes('catalog.azureRegions')));
  const filled = hosts(select({ products: ['arc-sql'], azureRegions: ['westeurope'] }));
  assert.ok(filled.includes('san-af-westeurope-prod.azurewebsites.net'));
});

test('opt-in services stay closed unless named, and say how to open them', () => {
  const closed = select({});
  assert.ok(!hosts(closed).includes('*.blob.core.windows.net'));
  assert.ok(closed.notes.some((n) => n.code === 'OPT_IN' && n.message.includes('"network-scanner"')));
  const open = select({ services: ['network-scanner', 'command-and-control'] });
  assert.ok(hosts(open).includes('*.blob.core.windows.net'));
  assert.ok(!hosts(open).includes('crl.microsoft.com'));
});

test('government clouds get the .us streamlined names and a warning that the standard list is not catalogued', () => {
  const result = select({ cloud: 'gcc-high' });
  const h = hosts(result);
  assert.ok(h.includes('*.endpoint.security.microsoft.us'));
  assert.ok(h.includes('unitedstates1.ss.wd.microsoft.us'));
  assert.ok(!h.includes('unitedstates4.ss.wd.microsoft.us'));
  assert.ok(!h.some((x) => x.startsWith('winatp-gw-')));
  assert.ok(h.includes('crl.microsoft.com'));
  assert.ok(result.notes.some((n) => n.level === 'warning' && n.message.includes('"gov-standard-list"')));
});

test('optional entries, OS filter and exclusions narrow the selection', () => {
  assert.ok(!hosts(select({ includeOptional: false })).includes('login.live.com'));
  const linux = hosts(select({ os: ['L'], geographies: ['US'] }));
  assert.ok(linux.includes('winatp-gw-cus.microsoft.com'));
  assert.ok(!linux.includes('wsus1eastprod.blob.core.windows.net'));
  const excluded = select({ exclude: ['mde:*.windowsupdate.com', 'mde:no-such-entry'] });
  assert.ok(!hosts(excluded).includes('*.windowsupdate.com'));
  assert.ok(excluded.notes.some((n) => n.code === 'UNKNOWN_ID' && n.message.includes('mde:no-such-entry')));
});

test('an opt-in entry (all of Microsoft Graph) stays closed until catalog.include names it', () => {
  const closed = select({});
  assert.ok(!hosts(closed).includes('graph.microsoft.com'));
  assert.ok(
    closed.notes.some(
      (n) =>
        n.code === 'OPT_IN' &&
        /^mde:graph\.microsoft\.com not opened: it serves all of Microsoft Graph.*catalog\.include/.test(
          n.message,
        ),
    ),
  );
  // The other names of the same feature stay in the default selection.
  assert.ok(hosts(closed).includes('enterpriseregistration.windows.net'));
  const open = select({ include: ['mde:graph.microsoft.com', 'mde:no-such-entry'] });
  assert.ok(hosts(open).includes('graph.microsoft.com'));
  assert.ok(
    open.notes.some(
      (n) => n.code === 'UNKNOWN_ID' && n.message === 'catalog.include: no catalog entry "mde:no-such-entry"',
    ),
  );
  // Exclusion still wins.
  assert.ok(
    !hosts(select({ include: ['mde:graph.microsoft.com'], exclude: ['mde:graph.microsoft.com'] })).includes(
      'graph.microsoft.com',
    ),
  );
});

test('invalid selection values are errors naming the field', () => {
  const result = parseCatalogSelection(
    { products: ['edr'], logAnalyticsWorkspaces: ['not-a-guid'], storageAccounts: ['Bad_Name'] },
    'catalog',
  );
  assert.ok(!result.ok);
  const text = result.errors.join('\n');
  assert.match(text, /catalog\.products\[0\]/);
  assert.match(
    text,
    /catalog\.logAnalyticsWorkspaces\[0\]: "not-a-guid" is not a Log Analytics workspace ID/,
  );
  assert.match(text, /catalog\.storageAccounts\[0\]: "Bad_Name" is not a storage account name/);
  assert.ok(!parseCatalogSelection({ unknown: true }, 'catalog').ok);
});

test('catalog rule origins read back to their entries', () => {
  const contributions = [
    { entryId: 'mde:crl.microsoft.com' },
    { entryId: 'mma:<storage-account>.blob.core.windows.net', fallbackField: 'storageAccounts' as const },
  ];
  const where = formatCatalogWhere(contributions);
  assert.match(where, /^catalog: /);
  assert.deepEqual(parseCatalogWhere(where), contributions);
  assert.equal(parseCatalogWhere('airlock.yaml:12 (policy.destinations[0])'), null);
});
