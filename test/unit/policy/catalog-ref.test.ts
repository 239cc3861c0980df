import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  catalogRefFor,
  compilePolicy,
  decide,
  type DestinationSpec,
  type RuleCatalogRef,
} from '../../../src/policy/index.js';

const ref = (id: string, host: string): RuleCatalogRef => ({ id, product: 'mde', service: 'edr', host });

/** Compiles one catalog rule and returns the entry a request to `host` is logged against. */
function attributed(ruleHost: string, catalog: readonly RuleCatalogRef[] | undefined, host: string) {
  const destination: DestinationSpec = {
    host: ruleHost,
    origin: { source: 'catalog', where: 'catalog: test', ...(catalog === undefined ? {} : { catalog }) },
  };
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: { source: 'config', where: 's' } }],
    destinations: [destination],
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok);
  const decision = decide(compiled.policy, { source: '10.1.2.3', method: 'CONNECT', host, port: 443 });
  assert.equal(decision.verdict, 'allow', `${host} through ${ruleHost}`);
  return catalogRefFor(decision.rule, decision.host);
}

describe('catalogRefFor(): the catalog entry a request is attributed to', () => {
  test('no rule (a refusal) and rules written outside the catalog have no entry', () => {
    assert.equal(catalogRefFor(null, 'login.live.com'), null);
    assert.equal(attributed('login.live.com', undefined, 'login.live.com'), null);
    assert.equal(attributed('login.live.com', [], 'login.live.com'), null);
  });

  test('a rule with one entry is attributed to it, whatever the host', () => {
    const own = ref('mde-edr-eu', '*.endpoint.security.microsoft.com');
    assert.equal(
      attributed('*.endpoint.security.microsoft.com', [own], 'edr-neu.eu.endpoint.security.microsoft.com'),
      own,
    );
  });

  test('of several entries, the one naming the host exactly wins, wherever it is listed', () => {
    const own = ref('mde-wildcard', '.microsoft.com');
    const gw = ref('mde-gw', 'winatp-gw-neu.microsoft.com');
    const other = ref('mde-cnc', 'x.cp.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [own, other, gw], 'winatp-gw-neu.microsoft.com'), gw);
  });

  test('an entry naming the host exactly wins over a domain entry with the same name listed first', () => {
    const domain = ref('mdi-domain', '.atp.azure.com');
    const exact = ref('mdi-exact', 'atp.azure.com');
    assert.equal(attributed('.atp.azure.com', [domain, exact], 'atp.azure.com'), exact);
  });

  test('of several matching entries, the one with the longest name wins, wherever it is listed', () => {
    const own = ref('mde-wildcard', '.microsoft.com');
    const wd = ref('mde-wd', '*.wd.microsoft.com');
    const cp = ref('mde-cp', '*.cp.wd.microsoft.com');
    const unrelated = ref('ama', '*.ods.opinsights.azure.com');
    const host = 'x.cp.wd.microsoft.com';
    assert.equal(attributed('.microsoft.com', [own, cp, wd, unrelated], host), cp);
    assert.equal(attributed('.microsoft.com', [own, wd, cp, unrelated], host), cp);
    assert.equal(attributed('.microsoft.com', [unrelated, cp, wd, own], host), cp);
  });

  test('an entry that does not match the host is never chosen, however long its name', () => {
    const own = ref('mde-wildcard', '.microsoft.com');
    const longer = ref('mde-gw', 'winatp-gw-neu.microsoft.com');
    const wd = ref('mde-wd', '*.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [own, longer, wd], 'a.wd.microsoft.com'), wd);
    assert.equal(attributed('.microsoft.com', [longer, own], 'go.microsoft.com'), own);
  });

  test('a wildcard entry does not match its bare domain', () => {
    const own = ref('mde-wildcard', '.microsoft.com');
    const wd = ref('mde-wd', '*.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [wd, own], 'wd.microsoft.com'), own);
  });

  test('two matching entries with names of the same length: the one listed first wins', () => {
    const domain = ref('first', '.wd.microsoft.com');
    const wildcard = ref('second', '*.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [domain, wildcard], 'a.wd.microsoft.com'), domain);
    assert.equal(attributed('.microsoft.com', [wildcard, domain], 'a.wd.microsoft.com'), wildcard);
  });

  test('an entry on a one-character internal name is chosen when it is the only match', () => {
    const own = ref('own', 'login.live.com');
    const zone = ref('zone', '.z');
    assert.equal(attributed('.z', [own, zone], 'files.z'), zone);
  });

  test("no entry matching the host: the rule's own entry (the first)", () => {
    const own = ref('own', '.microsoft.com');
    const wd = ref('mde-wd', '*.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [own, wd], 'go.microsoft.com'), own);
  });

  test('an entry whose host is not a valid pattern is passed over', () => {
    const own = ref('own', '.microsoft.com');
    const bad = ref('bad', 'a..microsoft.com');
    const wd = ref('mde-wd', '*.wd.microsoft.com');
    assert.equal(attributed('.microsoft.com', [bad, own, wd], 'x.wd.microsoft.com'), wd);
    assert.equal(attributed('.microsoft.com', [own, bad], 'go.microsoft.com'), own);
  });
});
