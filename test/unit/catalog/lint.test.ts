import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  builtinCatalog,
  lintRules,
  lintWarnings,
  parseCatalogSelection,
  renderLintText,
  selectDestinations,
  type CatalogSelectionInput,
  type LintFinding,
  type LintRule,
} from '../../../src/catalog/index.js';
import { compilePolicy, parseDstdomain } from '../../../src/policy/index.js';

const catalog = builtinCatalog();
const fixture = new URL('../../../../test/fixtures/catalog/squidmdemdi-allowlist.txt', import.meta.url);

function rules(...texts: string[]): LintRule[] {
  return texts.map((text, i) => ({ text, origin: { source: 'config', where: `test.yaml:${i + 1}` } }));
}

function codesOf(findings: readonly LintFinding[], rule: string): string[] {
  return findings
    .filter((f) => f.rule === rule)
    .map((f) => `${f.severity}:${f.code}`)
    .sort();
}

test('the squidmdemdi list: what lint reports, rule by rule', () => {
  const parsed = parseDstdomain(readFileSync(fixture, 'utf8'), 'squidmdemdi-allowlist.txt');
  assert.deepEqual(parsed.errors, []);
  const findings = lintRules(
    parsed.destinations.map((d) => ({ text: d.host!, origin: d.origin })),
    catalog,
  );
  const expected: Record<string, string[]> = {
    '.atp.azure.com': ['high:CUSTOMER_CREATABLE'],
    '.azure-automation.net': ['high:CUSTOMER_CREATABLE'],
    '.azurewebsites.net': ['high:CUSTOMER_CREATABLE'],
    '.blob.core.usgovcloudapi.net': ['high:CUSTOMER_CREATABLE'],
    '.blob.core.windows.net': ['high:CUSTOMER_CREATABLE'],
    '.digicert.com': ['medium:BROAD_DOMAIN'],
    '.entrust.net': ['medium:BROAD_DOMAIN'],
    '.microsoft.com': ['high:BROAD_DOMAIN'],
    '.microsoft365.com': ['medium:BROAD_DOMAIN'],
    '.microsoftonline-p.com': ['low:NOT_AGENT_TRAFFIC'],
    '.ods.opinsights.azure.com': ['high:CUSTOMER_CREATABLE'],
    '.ods.opinsights.azure.us': ['high:CUSTOMER_CREATABLE'],
    '.oms.opinsights.azure.com': ['high:CUSTOMER_CREATABLE'],
    '.oms.opinsights.azure.us': ['high:CUSTOMER_CREATABLE'],
    '.securitycenter.microsoft.us': [],
    '.ss.wd.microsoft.us': [],
    '.ssllabs.com': ['low:NOT_AGENT_TRAFFIC'],
    '.windows.com': ['high:BROAD_DOMAIN'],
    '.windowsupdate.com': ['medium:BROAD_DOMAIN'],
    'azure.archive.ubuntu.com': ['low:NOT_AGENT_TRAFFIC'],
    'enterpriseregistration.windows.net': [],
    'login.live.com': [],
    'login.microsoftonline.com': [],
    'login.microsoftonline.us': [],
    'login.windows.net': [],
    'officecdn-microsoft-com.akamaized.net': [],
    'static2.sharepointonline.com': ['low:NOT_AGENT_TRAFFIC'],
  };
  assert.equal(parsed.destinations.length, Object.keys(expected).length);
  for (const [rule, codes] of Object.entries(expected))
    assert.deepEqual(codesOf(findings, rule), codes, rule);

  const blob = findings.find((f) => f.rule === '.blob.core.windows.net')!;
  assert.equal(blob.where, 'squidmdemdi-allowlist.txt:5');
  assert.match(blob.why, /any Azure customer can create a storage account/);
  assert.match(blob.why, /exfiltration/);
  assert.match(blob.narrow, /catalog\.storageAccounts/);
  const web = findings.find((f) => f.rule === '.azurewebsites.net')!;
  assert.match(web.narrow, /san-af-<region>-prod\.azurewebsites\.net/);
  const ms = findings.find((f) => f.rule === '.microsoft.com')!;
  assert.match(ms.narrow, /catalog's names under it \(\d+: /);

  const text = renderLintText(findings);
  assert.match(text, /^HIGH CUSTOMER_CREATABLE "\.atp\.azure\.com" \(squidmdemdi-allowlist\.txt:1\)$/m);
  assert.match(text, /\d+ findings \(11 high, 4 medium, 4 low\)\n$/);
});

const mustFlag = [
  '*.blob.core.windows.net',
  '*.azurewebsites.net',
  '*.cloudapp.azure.com',
  '*.cloudapp.net',
  '*.trafficmanager.net',
  '*.servicebus.windows.net',
  '*.azureedge.net',
  '.microsoft.com',
  '.windows.com',
  '.windows.net',
];
for (const rule of mustFlag) {
  test(`lint flags ${rule} as high with a reason and a way to narrow it`, () => {
    const findings = lintRules(rules(rule), catalog);
    const high = findings.filter((f) => f.severity === 'high');
    assert.ok(high.length >= 1, JSON.stringify(findings));
    for (const f of high) {
      assert.ok(f.why.length > 20 && f.narrow.length > 10);
      assert.equal(f.where, 'test.yaml:1');
    }
    assert.equal(lintWarnings(findings).length, findings.filter((f) => f.severity !== 'low').length);
  });
}

test('.windows.net admits both storage accounts and relay namespaces', () => {
  const [shared] = lintRules(rules('.windows.net'), catalog).filter((f) => f.code === 'CUSTOMER_CREATABLE');
  assert.ok(shared?.namespaces.includes('blob.core.windows.net'));
  assert.ok(shared?.namespaces.includes('servicebus.windows.net'));
});

const clean = [
  'winatp-gw-cus.microsoft.com',
  'automatedirstrprdcus.blob.core.windows.net',
  '*.contoso.blob.core.windows.net',
  '*.wd.microsoft.com',
  '*.endpoint.security.microsoft.com',
  'contoso-corpsensorapi.atp.azure.com',
  '*.notblob.core.windows.net.example',
];
for (const rule of clean) {
  test(`lint has nothing to say about ${rule}`, () => {
    assert.deepEqual(lintRules(rules(rule), catalog), []);
  });
}

test('a rule that is not a host rule is reported, not skipped', () => {
  const [finding] = lintRules(rules('10.0.0.1'), catalog);
  assert.equal(finding?.code, 'INVALID_RULE');
  assert.match(finding.why, /IP address/);
});

function lintSelection(input: CatalogSelectionInput): LintFinding[] {
  const parsed = parseCatalogSelection(input, 'catalog');
  assert.ok(parsed.ok);
  const selected = selectDestinations(catalog, parsed.selection);
  const compiled = compilePolicy({
    sources: [],
    destinations: selected.destinations,
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok);
  return lintRules(
    compiled.policy.rules.map((r) => ({ text: r.text, origin: r.origin })),
    catalog,
  );
}

for (const geo of ['US', 'EU', 'UK', 'AU', 'AEC', 'AEN'] as const) {
  test(`default commercial policy for ${geo}: nothing high, and every finding says the sources give no narrower name`, () => {
    const findings = lintSelection({ geographies: [geo] });
    assert.equal(findings.filter((f) => f.severity === 'high').length, 0);
    for (const f of findings) {
      assert.ok(f.catalog?.noNarrowerName !== undefined, `${f.rule} is flagged without an explanation`);
      assert.match(f.narrow, /^the sources give no narrower name: /);
      assert.ok(f.catalog.entryIds.length > 0);
    }
  });
}

test('a template fallback is flagged with the tenant value that would narrow it', () => {
  const findings = lintSelection({ products: ['mdi'], geographies: [] });
  const atp = findings.find((f) => f.rule === '*.atp.azure.com');
  assert.equal(atp?.severity, 'high');
  assert.equal(atp?.catalog?.fallbackField, 'mdiWorkspaces');
  assert.match(atp.narrow, /catalog\.mdiWorkspaces is empty/);
  assert.deepEqual(lintSelection({ products: ['mdi'], mdiWorkspaces: ['contoso'], geographies: [] }), []);
});

test('the network scanner storage wildcard is flagged with why nothing narrower exists', () => {
  const findings = lintSelection({ services: ['network-scanner'], geographies: [] });
  const blob = findings.find((f) => f.rule === '*.blob.core.windows.net');
  assert.equal(blob?.severity, 'high');
  assert.match(blob.narrow, /the sources give no narrower name: .*networkscannerstable/);
});

test('a hand-written copy of a documented wildcard gets the catalog explanation too', () => {
  const [finding] = lintRules(rules('*.windowsupdate.com'), catalog);
  assert.equal(finding?.code, 'BROAD_DOMAIN');
  assert.deepEqual(finding?.catalog?.entryIds, ['mde:*.windowsupdate.com']);
  assert.match(finding.narrow, /^the sources give no narrower name: Microsoft lists only this wildcard/);
});
