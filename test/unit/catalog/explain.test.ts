import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  builtinCatalog,
  explainDenial,
  parseCatalogSelection,
  selectDestinations,
  type CatalogSelectionInput,
  type DenialFacts,
  type ExplainContext,
  type ExplanationCode,
  type Suggestion,
} from '../../../src/catalog/index.js';
import { compilePolicy, type DestinationSpec } from '../../../src/policy/index.js';

const catalog = builtinCatalog();

/** The context a gateway with this catalog selection (and optionally its own destinations) would have. */
function context(
  input: CatalogSelectionInput,
  own: { destinations: string[]; ruleFiles: string[] } | null = null,
): ExplainContext {
  const parsed = parseCatalogSelection(input, 'catalog');
  assert.ok(parsed.ok);
  const destinations: DestinationSpec[] =
    own === null
      ? [...selectDestinations(catalog, parsed.selection).destinations]
      : own.destinations.map((host) => ({
          host,
          origin: { source: 'allowlist', where: `${own.ruleFiles[0]!}:1` },
        }));
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: { source: 'config', where: 'policy.sources[0]' } }],
    destinations,
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok);
  return {
    policy: compiled.policy,
    catalog,
    selection: parsed.selection,
    catalogInForce: own === null,
    ruleFiles: own?.ruleFiles ?? [],
  };
}

function facts(partial: Partial<DenialFacts> & { host: string }): DenialFacts {
  return {
    reason: 'DENY_HOST_NOT_ALLOWED',
    method: 'CONNECT',
    port: 443,
    client: '10.1.2.3',
    sni: null,
    ...partial,
  };
}

interface Case {
  readonly name: string;
  readonly selection?: CatalogSelectionInput;
  readonly own?: { destinations: string[]; ruleFiles: string[] };
  readonly facts: DenialFacts;
  readonly code: ExplanationCode;
  readonly next: RegExp | null;
  readonly suggestions?: readonly Suggestion[];
  readonly catalogId?: string;
}

const US_ONLY: CatalogSelectionInput = { products: ['mde'], geographies: ['US'] };

const CASES: readonly Case[] = [
  {
    name: 'a catalog host of another geography: add the geography',
    selection: US_ONLY,
    facts: facts({ host: 'winatp-gw-neu.microsoft.com' }),
    code: 'CATALOG_OTHER_GEOGRAPHY',
    next: /^add geography EU to catalog\.geographies$/,
    suggestions: [{ key: 'catalog.geographies', add: ['EU'] }],
    catalogId: 'mde:winatp-gw-neu.microsoft.com@EU',
  },
  {
    name: 'a catalog host of another cloud: set the cloud (and its geography)',
    selection: US_ONLY,
    facts: facts({ host: 'unitedstates4.ss.wd.microsoft.us' }),
    code: 'CATALOG_OTHER_CLOUD',
    next: /set catalog\.cloud: gcc.*add geography USGov/,
  },
  {
    name: 'a catalog host of another product: add the product',
    selection: US_ONLY,
    facts: facts({ host: 'contoso-corpsensorapi.atp.azure.com' }),
    code: 'CATALOG_OTHER_PRODUCT',
    next: /add product mdi to catalog\.products, and set catalog\.mdiWorkspaces to include "contoso-corp"/,
    suggestions: [
      { key: 'catalog.products', add: ['mdi'] },
      { key: 'catalog.mdiWorkspaces', add: ['contoso-corp'] },
    ],
  },
  {
    name: 'a tenant-specific name whose value is not configured: set catalog.mdiWorkspaces',
    selection: { products: ['mde', 'mdi'], geographies: ['US'], mdiWorkspaces: ['fabrikam'] },
    facts: facts({ host: 'contoso-corpsensorapi.atp.azure.com' }),
    code: 'TENANT_VALUE_MISSING',
    next: /^set catalog\.mdiWorkspaces to include "contoso-corp"/,
    suggestions: [{ key: 'catalog.mdiWorkspaces', add: ['contoso-corp'] }],
  },
  {
    name: 'an opt-in service: add it to catalog.services',
    selection: US_ONLY,
    facts: facts({ host: 'security.microsoft.com' }),
    code: 'CATALOG_SERVICE_NOT_SELECTED',
    next: /add service portal to catalog\.services/,
  },
  {
    name: 'an optional entry with includeOptional off',
    selection: { ...US_ONLY, includeOptional: false },
    facts: facts({ host: 'login.live.com' }),
    code: 'CATALOG_OPTIONAL_OFF',
    next: /catalog\.includeOptional: true/,
  },
  {
    name: 'an excluded entry',
    selection: { ...US_ONLY, exclude: ['mde:winatp-gw-eus.microsoft.com@US'] },
    facts: facts({ host: 'winatp-gw-eus.microsoft.com' }),
    code: 'CATALOG_EXCLUDED',
    next: /remove mde:winatp-gw-eus\.microsoft\.com@US from catalog\.exclude/,
  },
  {
    name: 'a catalog host refused by an own allowlist: add it to that file',
    selection: US_ONLY,
    own: { destinations: ['.windows.com'], ruleFiles: ['/etc/squid/mdemdi.conf'] },
    facts: facts({ host: 'winatp-gw-eus.microsoft.com' }),
    code: 'CATALOG_NOT_IN_LIST',
    next: /add winatp-gw-eus\.microsoft\.com to \/etc\/squid\/mdemdi\.conf/,
    suggestions: [{ key: '/etc/squid/mdemdi.conf', add: ['winatp-gw-eus.microsoft.com'] }],
  },
  {
    name: 'looks like a Defender host but is not in the catalog',
    selection: US_ONLY,
    facts: facts({ host: 'contoso-telemetry.microsoft.com' }),
    code: 'LOOKS_LIKE_DEFENDER',
    next: /if a Defender agent needs it .* add contoso-telemetry\.microsoft\.com to policy\.destinations/,
  },
  {
    name: 'a name in a namespace any cloud customer can create: never wholesale',
    selection: US_ONLY,
    facts: facts({ host: 'exfil.blob.core.windows.net' }),
    code: 'SHARED_NAMESPACE',
    next: /never allow blob\.core\.windows\.net as a whole/,
    suggestions: [],
  },
  {
    name: 'not a Defender host at all: nothing to do',
    selection: US_ONLY,
    facts: facts({ host: 'example.com' }),
    code: 'NOT_DEFENDER',
    next: null,
  },
  {
    name: 'the port is not allowed for that rule, and the catalog knows no such port',
    selection: US_ONLY,
    facts: facts({ host: 'winatp-gw-eus.microsoft.com', port: 8443, reason: 'DENY_PORT' }),
    code: 'PORT_NOT_ALLOWED',
    next: /the catalog lists no Defender endpoint on winatp-gw-eus\.microsoft\.com:8443/,
  },
  {
    name: 'the port is one the catalog lists for the host: open it',
    selection: { products: ['mde'], geographies: ['US'] },
    facts: facts({ host: 'crl.microsoft.com', port: 80, method: 'CONNECT', reason: 'DENY_PORT' }),
    code: 'PORT_NOT_ALLOWED',
    next: /add 80 to policy\.ports\.connect/,
    suggestions: [{ key: 'policy.ports.connect', add: ['80'] }],
  },
  {
    name: 'the source is outside the ACL',
    selection: US_ONLY,
    facts: facts({
      host: 'winatp-gw-eus.microsoft.com',
      reason: 'DENY_SOURCE_NOT_ALLOWED',
      client: '192.0.2.7',
    }),
    code: 'SOURCE_NOT_ALLOWED',
    next: /add it \(or its network 192\.0\.2\.0\/24\) to policy\.sources/,
    suggestions: [{ key: 'policy.sources', add: ['192.0.2.7/32'] }],
  },
  {
    name: 'the SNI named a host that is nothing to allow',
    selection: US_ONLY,
    facts: facts({ host: 'winatp-gw-eus.microsoft.com', reason: 'DENY_SNI_MISMATCH', sni: 'c2.example.net' }),
    code: 'SNI_MISMATCH',
    next: /^nothing to allow: c2\.example\.net is not a Defender endpoint/,
  },
  {
    name: 'the SNI named a catalog host of another geography',
    selection: US_ONLY,
    facts: facts({
      host: 'winatp-gw-eus.microsoft.com',
      reason: 'DENY_SNI_MISMATCH',
      sni: 'winatp-gw-weu.microsoft.com',
    }),
    code: 'SNI_MISMATCH',
    next: /only if the client really needs winatp-gw-weu\.microsoft\.com: add geography EU/,
    suggestions: [{ key: 'catalog.geographies', add: ['EU'] }],
  },
  {
    name: 'an IP literal',
    selection: US_ONLY,
    facts: facts({ host: '203.0.113.9', reason: 'DENY_IP_LITERAL' }),
    code: 'IP_LITERAL',
    next: /connect by name/,
    suggestions: [{ key: 'policy.destinations', add: ['cidr: 203.0.113.9/32'] }],
  },
  {
    name: 'a malformed request',
    selection: US_ONLY,
    facts: facts({ host: '-', reason: 'BAD_REQUEST', method: '-' }),
    code: 'MALFORMED',
    next: /nothing to allow/,
  },
];

describe('explainDenial: every denial carries a reason and a next step from the policy and the catalog', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const e = explainDenial(c.facts, context(c.selection ?? {}, c.own ?? null));
      assert.equal(e.code, c.code, JSON.stringify(e));
      assert.equal(e.reason, c.facts.reason);
      assert.ok(e.summary.length > 0);
      if (c.next === null) assert.equal(e.next, null);
      else assert.match(e.next ?? '', c.next);
      if (c.suggestions !== undefined) assert.deepEqual(e.suggestions, c.suggestions);
      if (c.catalogId !== undefined) assert.equal(e.catalog?.id, c.catalogId);
    });
  }

  test('the suggestion, applied, lets the request through', () => {
    const before = context(US_ONLY);
    const e = explainDenial(facts({ host: 'winatp-gw-neu.microsoft.com' }), before);
    const after = context({ ...US_ONLY, geographies: ['US', ...e.suggestions[0]!.add] as ['US', 'EU'] });
    assert.equal(after.policy.hostRules.match('winatp-gw-neu.microsoft.com') !== undefined, true);
  });
});
