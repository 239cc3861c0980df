import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  OPT_IN_SERVICES,
  SERVICES,
  builtinCatalog,
  explainDenial,
  type DenialFacts,
} from '../../../src/catalog/index.js';
import type { ReasonCode } from '../../../src/errors/index.js';
import { decideDestination, sourceAllowed } from '../../../src/policy/index.js';
import { loadConfig, type LoadedConfig } from '../../../src/supervisor/load-config.js';
import {
  allowRuleSnippet,
  isCatalogSelection,
  ruleFor,
  suggestionSnippet,
  yamlScalar,
  type PolicyFacts,
  type PolicyRule,
} from '../../../web/src/config-snippet.js';

/**
 * The dashboard's "copy" buttons: the text they produce, pasted as it says (YAML merged into the
 * configuration file, a list replacing the key's list, destinations appended; lines appended to
 * an allowlist file), must make the gateway admit what it refused, and keep admitting what it
 * admitted before.
 */

/** What the dashboard reads from /api/policy, worked out the way the gateway answers it. */
function factsOf(loaded: LoadedConfig): PolicyFacts {
  return {
    selection: loaded.config.file.catalog,
    defaultServices: SERVICES.filter((s) => !OPT_IN_SERVICES.includes(s)),
    sources: loaded.policy.sources.list().map((s) => s.value.cidr),
    ports: { connect: [...loaded.policy.connectPorts], http: [...loaded.policy.httpPorts] },
    catalogInForce: loaded.catalogInForce,
    configDestinations: loaded.policy.rules.some((r) => r.origin.source === 'config'),
  };
}

/** /api/policy's rules. */
function rulesOf(loaded: LoadedConfig): PolicyRule[] {
  return loaded.policy.rules.map((r) => ({
    rule: r.text,
    ports: r.ports === null ? null : [...r.ports],
    origin: r.origin.where,
    source: r.origin.source,
  }));
}

function explain(loaded: LoadedConfig, facts: Partial<DenialFacts> & { reason: ReasonCode; host: string }) {
  return explainDenial(
    { method: 'CONNECT', port: 443, client: '10.1.2.3', sni: null, ...facts },
    {
      policy: loaded.policy,
      catalog: builtinCatalog(),
      selection: loaded.config.file.catalog,
      catalogInForce: loaded.catalogInForce,
      ruleFiles: loaded.ruleFiles,
    },
  );
}

type Tree = Record<string, unknown>;

/** Merges pasted YAML as a person follows the snippet: maps merge, lists replace, destinations append. */
function merge(base: Tree, add: Tree, path = ''): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(add)) {
    const at = path === '' ? key : `${path}.${key}`;
    const prior = out[key];
    if (Array.isArray(value) && at === 'policy.destinations' && Array.isArray(prior)) {
      out[key] = [...(prior as unknown[]), ...(value as unknown[])];
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = merge((prior ?? {}) as Tree, value as Tree, at);
    } else out[key] = value;
  }
  return out;
}

/** Applies a snippet: its YAML to the configuration file, its "append to FILE" parts to those files. */
async function paste(file: string, snippet: string): Promise<LoadedConfig> {
  for (const part of snippet.split('\n\n')) {
    const append = /^# append to (.+)\n([\s\S]*)$/.exec(part);
    if (append !== null) appendFileSync(append[1]!, `\n${append[2]!}`);
    else {
      const merged = merge(parse(readFileSync(file, 'utf8')) as Tree, parse(part) as Tree);
      writeFileSync(file, stringify(merged));
    }
  }
  return loadConfig({ configFile: file });
}

function allows(loaded: LoadedConfig, host: string, port = 443, method = 'CONNECT'): boolean {
  return decideDestination(loaded.policy, method, host, port).verdict === 'allow';
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-snippet-'));
  const file = join(dir, 'airlock.yaml');
  writeFileSync(file, text.replaceAll('DIR', dir));
  return file;
}

const BASE = `policy:
  sources: [10.0.0.0/8]
catalog:
  products: [mde]
  geographies: [US]
dns: { hostsFile: null }
`;

function catalogHost(pick: (e: ReturnType<typeof builtinCatalog>['entries'][number]) => boolean): string {
  const entry = builtinCatalog().entries.find(
    (e) => pick(e) && !e.host.includes('*') && !e.host.includes('<') && e.clouds.includes('commercial'),
  );
  assert.ok(entry !== undefined, 'the catalog has such an entry');
  return entry.host;
}

describe('configuration snippets for a refusal', () => {
  test('scalars are plain when unambiguous and quoted otherwise', () => {
    assert.equal(yamlScalar('winatp-gw-neu.microsoft.com'), 'winatp-gw-neu.microsoft.com');
    assert.equal(yamlScalar('10.1.2.3/32'), '10.1.2.3/32');
    assert.equal(yamlScalar('EU'), 'EU');
    for (const tricky of [
      'no',
      'on',
      'true',
      'null',
      '1e3',
      '0443',
      'fd00::1/128',
      'a b',
      '*.example.com',
      '',
    ]) {
      assert.equal((parse(`x: [${yamlScalar(tricky)}]`) as { x: string[] }).x[0], tricky, tricky);
    }
    assert.equal(yamlScalar(true), 'true');
  });

  test('another geography: the whole list, the current one kept, and the refused host admitted', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const keep = catalogHost((e) => e.service === 'command-and-control' && e.geo === 'US');
    assert.ok(allows(before, keep));
    assert.ok(!allows(before, 'winatp-gw-neu.microsoft.com'));
    const e = explain(before, { reason: 'DENY_HOST_NOT_ALLOWED', host: 'winatp-gw-neu.microsoft.com' });
    assert.equal(e.code, 'CATALOG_OTHER_GEOGRAPHY');
    assert.ok(isCatalogSelection(e.suggestions));
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    assert.match(snippet, /^catalog:\n {2}geographies: \[US, EU\]$/m);
    const after = await paste(file, snippet);
    assert.ok(allows(after, 'winatp-gw-neu.microsoft.com'));
    assert.ok(allows(after, keep));
  });

  test('a tenant-specific name of a product not selected: product and tenant value together', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const host = 'contoso-corpsensorapi.atp.azure.com';
    const e = explain(before, { reason: 'DENY_HOST_NOT_ALLOWED', host });
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    assert.match(snippet, /products: \[mde, mdi\]/);
    assert.match(snippet, /mdiWorkspaces: \[contoso-corp\]/);
    const after = await paste(file, snippet);
    assert.ok(allows(after, host));
    assert.ok(!allows(after, 'other-tenantsensorapi.atp.azure.com'));
  });

  test('an opt-in service while catalog.services is unset: every service selected until now, and the new one', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const portal = catalogHost((e) => e.service === 'portal' && e.products.includes('mde') && e.geo === 'WW');
    const keep = catalogHost((e) => e.service === 'command-and-control' && e.geo === 'US');
    const e = explain(before, { reason: 'DENY_HOST_NOT_ALLOWED', host: portal });
    assert.equal(e.code, 'CATALOG_SERVICE_NOT_SELECTED');
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    const after = await paste(file, snippet);
    assert.ok(allows(after, portal), snippet);
    // Naming services would otherwise narrow the selection to the one service.
    assert.ok(allows(after, keep), snippet);
    assert.equal(after.policy.rules.length > before.policy.rules.length, true);
  });

  test('an allow rule keeps the catalog in force and adds the port the method lacks', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const keep = catalogHost((e) => e.service === 'command-and-control' && e.geo === 'US');
    const snippet = allowRuleSnippet(
      { method: 'CONNECT', host: 'updates.example.org', port: 8443 },
      factsOf(before),
    );
    assert.match(snippet, /defaultAllowlist: true/);
    assert.match(snippet, /- \{ host: updates\.example\.org, ports: \[8443\] \}/);
    assert.match(snippet, /connect: \[443, 8443\]/);
    const after = await paste(file, snippet);
    assert.ok(allows(after, 'updates.example.org', 8443));
    assert.ok(!allows(after, 'updates.example.org', 443), 'only the port asked for');
    assert.ok(allows(after, keep), 'the catalog stays in force');

    // A second rule goes after the first, and needs no second defaultAllowlist.
    const more = allowRuleSnippet(
      { method: 'CONNECT', host: 'other.example.org', port: 443 },
      factsOf(after),
    );
    assert.doesNotMatch(more, /defaultAllowlist/);
    assert.match(more, /append these to the entries already there/);
    const last = await paste(file, more);
    assert.ok(allows(last, 'other.example.org'));
    assert.ok(allows(last, 'updates.example.org', 8443));
  });

  test('a port refused for a host the configuration names: its entry replaced, its ports kept', async () => {
    const file = configFile(`policy:
  sources: [10.0.0.0/8]
  defaultAllowlist: true
  destinations:
    - { host: updates.example.org, ports: [7777] }
  ports: { connect: [443, 7777] }
catalog: { products: [mde], geographies: [US] }
dns: { hostsFile: null }
`);
    const before = await loadConfig({ configFile: file });
    assert.ok(allows(before, 'updates.example.org', 7777));
    const denial = decideDestination(before.policy, 'CONNECT', 'updates.example.org', 8443);
    assert.equal(denial.reason, 'DENY_PORT');
    const facts = factsOf(before);
    const rules = rulesOf(before);
    const matched = ruleFor('updates.example.org', rules, denial.rule?.text ?? null);
    assert.equal(matched?.source, 'config');
    const snippet = allowRuleSnippet(
      { method: 'CONNECT', host: 'updates.example.org', port: 8443 },
      facts,
      matched,
    );
    assert.match(snippet, /replace the entry at .*policy\.destinations\[0\]/);
    assert.match(snippet, /- \{ host: updates\.example\.org, ports: \[7777, 8443\] \}/);
    // Replaced as it says: the one entry gives way to the new one.
    const text = readFileSync(file, 'utf8').replace('- { host: updates.example.org, ports: [7777] }', '');
    writeFileSync(file, text);
    const after = await paste(file, snippet.replace(/ {2}# replace the entry.*$/m, ''));
    assert.ok(allows(after, 'updates.example.org', 8443), snippet);
    assert.ok(allows(after, 'updates.example.org', 7777));
  });

  test('a port refused for a catalog host: an entry with the catalog ports and the new one', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const host = catalogHost((e) => e.service === 'command-and-control' && e.geo === 'US');
    const denial = decideDestination(before.policy, 'CONNECT', host, 8443);
    assert.equal(denial.reason, 'DENY_PORT');
    const rules = rulesOf(before);
    const matched = ruleFor(host, rules);
    assert.equal(matched?.source, 'catalog');
    const snippet = allowRuleSnippet({ method: 'CONNECT', host, port: 8443 }, factsOf(before), matched);
    const after = await paste(file, snippet);
    assert.ok(allows(after, host, 8443), snippet);
    assert.ok(allows(after, host, 443), 'the catalog port stays');
  });

  test('a port refused under a wildcard rule: an exact entry keeps the wildcard ports', async () => {
    const file = configFile(`policy:
  sources: [10.0.0.0/8]
  destinations:
    - { host: "*.example.net", ports: [443] }
    - .example.com
  ports: { connect: [443] }
dns: { hostsFile: null }
`);
    const before = await loadConfig({ configFile: file });
    const rules = rulesOf(before);
    const net = allowRuleSnippet(
      { method: 'CONNECT', host: 'a.example.net', port: 8443 },
      factsOf(before),
      ruleFor('a.example.net', rules),
    );
    let after = await paste(file, net);
    assert.ok(allows(after, 'a.example.net', 8443), net);
    assert.ok(allows(after, 'a.example.net', 443));
    assert.ok(allows(after, 'b.example.net', 443));
    assert.ok(!allows(after, 'b.example.net', 8443));

    // A rule without ports of its own takes the method's ports: adding the port there is enough.
    const com = allowRuleSnippet(
      { method: 'CONNECT', host: 'x.example.com', port: 9443 },
      factsOf(after),
      ruleFor('x.example.com', rules),
    );
    assert.doesNotMatch(com, /destinations/);
    after = await paste(file, com);
    assert.ok(allows(after, 'x.example.com', 9443), com);
  });

  test('an address: a cidr destination', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const e = explain(before, { reason: 'DENY_IP_LITERAL', host: '192.0.2.7' });
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    assert.match(snippet, /- \{ cidr: 192\.0\.2\.7\/32 \}/);
    const after = await paste(file, snippet);
    assert.ok(allows(after, '192.0.2.7'));
    const rule = allowRuleSnippet({ method: 'CONNECT', host: '192.0.2.8', port: 443 }, factsOf(after));
    assert.ok(allows(await paste(file, rule), '192.0.2.8'));
  });

  test('a client outside policy.sources: the sources in force and the client', async () => {
    const file = configFile(BASE);
    const before = await loadConfig({ configFile: file });
    const e = explain(before, {
      reason: 'DENY_SOURCE_NOT_ALLOWED',
      host: 'x.example',
      client: '192.168.7.9',
    });
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    assert.match(snippet, /sources: \[10\.0\.0\.0\/8, 192\.168\.7\.9\/32\]/);
    assert.equal(isCatalogSelection(e.suggestions), false);
    const after = await paste(file, snippet);
    assert.ok(sourceAllowed(after.policy, '192.168.7.9'));
    assert.ok(sourceAllowed(after.policy, '10.9.9.9'));
    assert.ok(!sourceAllowed(after.policy, '192.168.7.10'));
  });

  test('an own allowlist file: the line to append to that file', async () => {
    const file = configFile(`policy:
  sources: [10.0.0.0/8]
  allowlistFiles: [DIR/mdemdi.conf]
dns: { hostsFile: null }
`);
    const list = join(file, '..', 'mdemdi.conf');
    writeFileSync(list, 'winatp-gw-eus.microsoft.com\n');
    const before = await loadConfig({ configFile: file });
    const e = explain(before, { reason: 'DENY_HOST_NOT_ALLOWED', host: 'winatp-gw-neu.microsoft.com' });
    assert.equal(e.code, 'CATALOG_NOT_IN_LIST');
    const snippet = suggestionSnippet(e.suggestions, factsOf(before));
    assert.equal(snippet, `# append to ${list}\nwinatp-gw-neu.microsoft.com\n`);
    const after = await paste(file, snippet);
    assert.ok(allows(after, 'winatp-gw-neu.microsoft.com'));
    assert.ok(allows(after, 'winatp-gw-eus.microsoft.com'));
  });

  test('no suggestion, no snippet', () => {
    const facts: PolicyFacts = {
      selection: null,
      defaultServices: null,
      sources: [],
      ports: { connect: [443], http: [80] },
      catalogInForce: true,
      configDestinations: false,
    };
    assert.equal(suggestionSnippet([], facts), '');
    assert.equal(isCatalogSelection([]), false);
  });
});
