import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { builtinCatalog } from '../../src/catalog/index.js';
import { loadConfig } from '../../src/supervisor/index.js';
import { planPac, renderPac } from '../../src/clients/index.js';
import { decide, type Policy } from '../../src/policy/index.js';

/**
 * The PAC file against the gateway's own decision, host by host: for every host, the PAC
 * sends it to the gateways exactly when the policy would let it through on some port.
 * The PAC runs in pac-resolver's sandboxed QuickJS engine, as a client would run it.
 */

const PRODUCTS = ['mde', 'mde-streamlined', 'mdav', 'mdi', 'ama', 'mma', 'arc'];
const GATEWAYS = ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'];
const PROXY_ANSWER = 'PROXY gw1.contoso.test:3128; PROXY gw2.contoso.test:3128';

let dir: string;
let policy: Policy;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-clients-pac-'));
  const file = join(dir, 'airlock.yaml');
  writeFileSync(file, `catalog:\n  products: [${PRODUCTS.join(', ')}]\n`);
  policy = (await loadConfig({ configFile: file })).policy;
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** What the gateway does with the host: allowed on some port it serves (CONNECT 443 or plain HTTP 80). */
function gatewayAllows(host: string): boolean {
  const tries = [
    ...[...policy.connectPorts].map((port) => ({ method: 'CONNECT', port })),
    ...[...policy.httpPorts].map((port) => ({ method: 'GET', port })),
  ];
  return tries.some(
    (t) => decide(policy, { source: '10.1.2.3', method: t.method, host, port: t.port }).verdict === 'allow',
  );
}

/** Hosts around every rule: the name, names under it, look-alikes that only share a suffix, and odd spellings. */
function hostsAround(): string[] {
  const hosts = new Set<string>();
  for (const rule of policy.rules) {
    if (rule.pattern === null) continue;
    const name = rule.pattern.name;
    hosts.add(name);
    hosts.add(`a1.${name}`);
    hosts.add(`x.y.${name}`);
    hosts.add(`evil${name}`);
    hosts.add(`${name}.evil.test`);
    hosts.add(`${name.toUpperCase()}.`);
  }
  for (const odd of [
    'example.org',
    'microsoft.com',
    'windows.net',
    'core.windows.net',
    'azure.com',
    '10.0.0.6',
    '127.0.0.1',
    '[2001:db8::1]',
    '0x7f000001',
    'a..b.wd.microsoft.com',
    '-x.wd.microsoft.com',
    'x_y.events.data.microsoft.com',
    'localhost',
    'wpad',
  ]) {
    hosts.add(odd);
  }
  return [...hosts];
}

async function checkAgreement(
  pac: string,
  label: string,
): Promise<{ proxied: number; direct: number; total: number }> {
  const find = createPacResolver(await QuickJS.create(), pac);
  let proxied = 0;
  let direct = 0;
  const hosts = hostsAround();
  for (const host of hosts) {
    const answer = await find('https://example.invalid/', host);
    const allowed = gatewayAllows(host);
    assert.equal(
      answer,
      allowed ? PROXY_ANSWER : 'DIRECT',
      `${label}: ${host} (gateway ${allowed ? 'allows' : 'refuses'} it)`,
    );
    if (allowed) proxied++;
    else direct++;
  }
  return { proxied, direct, total: hosts.length };
}

test('the PAC rendered from the gateway policy agrees with decide() on every host', async () => {
  const rules = policy.rules.flatMap((r) => (r.pattern === null ? [] : [{ pattern: r.pattern }]));
  assert.ok(rules.length > 50, `the policy has ${rules.length} host rules`);
  const counts = await checkAgreement(renderPac(rules, { proxies: GATEWAYS }), 'policy PAC');
  assert.ok(counts.total >= 50, `only ${counts.total} hosts`);
  assert.ok(counts.proxied >= 50 && counts.direct >= 50, JSON.stringify(counts));
});

test('the PAC of `airlock clients --format pac` agrees with the gateway policy for the same products', async () => {
  const pac = planPac({ gateways: GATEWAYS, products: PRODUCTS }, builtinCatalog());
  const counts = await checkAgreement(pac, 'clients PAC');
  assert.ok(counts.total >= 50 && counts.proxied >= 50 && counts.direct >= 50, JSON.stringify(counts));
});

test('well-known hosts get the expected answers', async () => {
  const find = createPacResolver(
    await QuickJS.create(),
    planPac({ gateways: GATEWAYS, products: PRODUCTS }, builtinCatalog()),
  );
  const expected: [string, string][] = [
    ['winatp-gw-cus.microsoft.com', PROXY_ANSWER],
    ['WINATP-GW-CUS.microsoft.com.', PROXY_ANSWER],
    ['crl.microsoft.com', PROXY_ANSWER],
    ['evilwinatp-gw-cus.microsoft.com', 'DIRECT'],
    ['www.example.org', 'DIRECT'],
    ['10.0.0.6', 'DIRECT'],
  ];
  for (const [host, answer] of expected) {
    assert.equal(await find('https://example.invalid/', host), answer, host);
    assert.equal(gatewayAllows(host), answer !== 'DIRECT', `gateway on ${host}`);
  }
});
