import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  destinationsFromCatalog,
  destinationsFromPolicy,
  planTargets,
  probeForHost,
  targetsFromUrls,
  type TargetPlan,
} from '../../../src/analyzer/index.js';
import {
  builtinCatalog,
  parseCatalogSelection,
  selectDestinations,
  selectedGeos,
  type CatalogSelectionInput,
} from '../../../src/catalog/index.js';
import { compilePolicy } from '../../../src/policy/index.js';

const catalog = builtinCatalog();

function plan(input: CatalogSelectionInput): TargetPlan {
  const parsed = parseCatalogSelection(input, 'catalog');
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  return planTargets(destinationsFromCatalog(catalog, parsed.selection), selectedGeos(parsed.selection));
}

const urls = (p: TargetPlan): string[] => p.targets.map((t) => t.url);

test("probe URLs are the analyzers' own, with the statuses the services answer", () => {
  const cases: {
    host: string;
    scheme: 'http' | 'https';
    path?: string;
    url: string | null;
    expect?: number;
  }[] = [
    {
      host: 'winatp-gw-cus.microsoft.com',
      scheme: 'https',
      url: 'https://winatp-gw-cus.microsoft.com/commands/test',
      expect: 200,
    },
    {
      host: 'us-v20.events.data.microsoft.com',
      scheme: 'https',
      url: 'https://us-v20.events.data.microsoft.com/ping',
    },
    {
      host: 'eu.vortex-win.data.microsoft.com',
      scheme: 'https',
      url: 'https://eu.vortex-win.data.microsoft.com/ping',
    },
    {
      host: 'settings-win.data.microsoft.com',
      scheme: 'https',
      url: 'https://settings-win.data.microsoft.com/qos',
    },
    {
      host: 'ctldl.windowsupdate.com',
      scheme: 'http',
      url: 'http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab',
    },
    { host: 'ctldl.windowsupdate.com', scheme: 'https', url: null },
    {
      host: 'ussus1eastprod.blob.core.windows.net',
      scheme: 'https',
      url: 'https://ussus1eastprod.blob.core.windows.net/',
      expect: 400,
    },
    {
      host: 'unitedstates.x.cp.wd.microsoft.com',
      scheme: 'https',
      url: 'https://unitedstates.x.cp.wd.microsoft.com/api/report',
    },
    { host: 'cdn.x.cp.wd.microsoft.com', scheme: 'https', url: 'https://cdn.x.cp.wd.microsoft.com/ping' },
    {
      host: 'www.microsoft.com',
      scheme: 'http',
      path: '/pkiops/*',
      url: 'http://www.microsoft.com/pkiops/crl/',
    },
    { host: 'www.microsoft.com', scheme: 'https', url: null },
    { host: 'login.live.com', scheme: 'https', url: null },
  ];
  for (const c of cases) {
    const probe = probeForHost(c.host, c.scheme, c.path);
    assert.equal(probe?.url ?? null, c.url, `${c.scheme} ${c.host}`);
    if (c.expect !== undefined) assert.ok(probe?.expect.includes(c.expect), `${c.host} expects ${c.expect}`);
  }
  assert.equal(probeForHost('go.microsoft.com', 'https')?.method, 'HEAD');
});

test('a US standard MDE selection tests the C&C probes, blob roots and CRL over http; wildcards with known names are expanded', () => {
  const p = plan({ products: ['mde', 'mde-streamlined', 'mdav'], geographies: ['US'] });
  const all = urls(p);
  for (const expected of [
    'https://winatp-gw-cus.microsoft.com/commands/test',
    'https://winatp-gw-eus3.microsoft.com/commands/test',
    'https://us-v20.events.data.microsoft.com/ping',
    'https://automatedirstrprdcus.blob.core.windows.net/',
    'http://crl.microsoft.com/pki/crl/products',
    'http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab',
    'https://edr-cus.us.endpoint.security.microsoft.com/edr/commands/test',
    'https://mdav.us.endpoint.security.microsoft.com/mdav/test',
    'https://unitedstates.cp.wd.microsoft.com/wdcp.svc/bond/submitReport/test',
    'https://discovery.dm.microsoft.com/',
    'https://www.microsoft.com/security/encyclopedia/adlpackages.aspx',
  ]) {
    assert.ok(all.includes(expected), `missing ${expected}`);
  }
  assert.ok(!all.some((u) => u.includes('winatp-gw-weu')), 'EU hosts are not selected');
  assert.ok(!all.some((u) => u.includes('edr-weu')), 'EU streamlined hosts are not selected');
  assert.equal(new Set(all).size, all.length, 'one target per URL');
  const cnc = p.targets.find((t) => t.url === 'https://winatp-gw-cus.microsoft.com/commands/test')!;
  assert.deepEqual(cnc.services, ['command-and-control']);
  assert.equal(cnc.required, true);
  assert.equal(cnc.noInspect, true);
  const wns = p.notTestable.find((n) => n.host === '*.wns.windows.com');
  assert.match(wns?.reason ?? '', /raw TCP/);
  assert.ok(p.notTestable.some((n) => n.host === '*.update.microsoft.com' && /wildcard/.test(n.reason)));
});

test('templates: filled values are tested, an empty value is not testable with the reason', () => {
  const empty = plan({ products: ['mdi'], geographies: [] });
  const sensor = empty.notTestable.find((n) => n.host === '<workspace>sensorapi.atp.azure.com');
  assert.match(
    sensor?.reason ?? '',
    /catalog\.mdiWorkspaces is empty: only the documented wildcard \*\.atp\.azure\.com is known/,
  );
  const filled = plan({ products: ['mdi'], geographies: [], mdiWorkspaces: ['contoso-corp'] });
  assert.ok(urls(filled).includes('https://contoso-corpsensorapi.atp.azure.com/tri/sensor/api/ping'));
});

test('gateway policy rules: catalog rules are traced to their entries, hand-written rules use the policy ports', () => {
  const parsed = parseCatalogSelection({ products: ['mde'], geographies: ['US'] }, 'catalog');
  assert.ok(parsed.ok);
  const selection = selectDestinations(catalog, parsed.selection);
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: { source: 'default', where: 't' } }],
    destinations: [
      ...selection.destinations,
      { host: 'updates.corp.example', origin: { source: 'config', where: 'airlock.yaml:3' } },
      { host: 'mirror.corp.example', ports: [8443], origin: { source: 'config', where: 'airlock.yaml:4' } },
      { cidr: '192.0.2.0/24', origin: { source: 'config', where: 'airlock.yaml:5' } },
    ],
    ports: { connect: [443, 8443], http: [80] },
  });
  assert.ok(compiled.ok);
  const { destinations, notTestable } = destinationsFromPolicy(
    compiled.policy.rules,
    catalog,
    parsed.selection,
    {
      connect: compiled.policy.connectPorts,
      http: compiled.policy.httpPorts,
      tls: new Set([443, 8443]),
    },
  );
  const p = planTargets(destinations, selectedGeos(parsed.selection));
  const all = urls(p);
  // unitedstates.x.cp.wd.microsoft.com is folded into *.wd.microsoft.com by the compiler, and still tested.
  assert.ok(all.includes('https://unitedstates.x.cp.wd.microsoft.com/api/report'));
  assert.ok(all.includes('https://winatp-gw-cus.microsoft.com/commands/test'));
  assert.ok(all.includes('https://updates.corp.example/'));
  assert.ok(all.includes('https://updates.corp.example:8443/'));
  assert.ok(all.includes('http://updates.corp.example/'));
  assert.ok(all.includes('https://mirror.corp.example:8443/'));
  assert.ok(!all.includes('https://mirror.corp.example/'));
  assert.equal(p.targets.find((t) => t.url === 'https://updates.corp.example/')?.services[0], 'policy');
  assert.ok(notTestable.some((n) => n.host === '192.0.2.0/24'));
});

test('URLs given by hand keep a documented probe method and are tied to their catalog service', () => {
  const targets = targetsFromUrls(
    ['https://go.microsoft.com/fwlink/?linkid=2120136', 'https://intranet.corp.example/x'],
    catalog,
  );
  assert.ok(Array.isArray(targets));
  assert.equal(targets[0]?.method, 'HEAD');
  assert.deepEqual(targets[0]?.services, ['security-intelligence-updates']);
  assert.deepEqual(targets[1]?.services, ['custom']);
  assert.equal(targets[1]?.required, true);
  for (const bad of ['not a url', 'ftp://x.example/', 'https://user:pw@x.example/']) {
    assert.ok('error' in (targetsFromUrls([bad], catalog) as object), bad);
  }
});
