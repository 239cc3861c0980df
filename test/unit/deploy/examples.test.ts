import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/supervisor/index.js';
import { planInstall } from '../../../src/install/index.js';
import type { ConfigFile } from '../../../src/config/index.js';

/** Every example configuration loads as `airlock config-check` loads it, and installs. */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const examples = join(repo, 'deploy/examples');

async function load(path: string): Promise<ConfigFile> {
  const loaded = await loadConfig({ configFile: path });
  return loaded.config.file;
}

describe('deploy/examples', async () => {
  const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml')).sort();

  test('the scenarios the issue names are all there', () => {
    assert.deepEqual(files, [
      'behind-haproxy.yaml',
      'defender-for-servers.yaml',
      'incident-response.yaml',
      'pac-failover.yaml',
    ]);
  });

  for (const name of [...files.map((f) => `examples/${f}`), 'docker/airlock.yaml']) {
    test(`${name}: valid, and "airlock install" accepts it for a real install`, async () => {
      const path = join(repo, 'deploy', name);
      const file = await load(path);
      const plan = planInstall({
        configText: await readFile(path, 'utf8'),
        config: file,
        allowlists: [],
        program: { node: '/usr/bin/node', main: '/usr/local/lib/node_modules/airlock/dist/src/cli/main.js' },
        target: 'system',
        firewall: 'nftables',
        ssh: { from: ['10.20.0.0/24'] },
      });
      assert.deepEqual(plan.errors, []);
      assert.deepEqual(plan.warnings, []);
    });
  }

  test('incident response: Defender for Identity with the tenant workspace, sized for tens of thousands', async () => {
    const file = await load(join(examples, 'incident-response.yaml'));
    assert.ok(file.catalog.products.includes('mdi'));
    assert.ok(file.catalog.products.includes('mde'));
    assert.ok(file.catalog.mdiWorkspaces.length > 0);
    assert.ok(file.limits.maxConnections >= 10_000);
    assert.equal(file.policy.sources.includes('127.0.0.0/8'), false, 'the box itself is not a client');
  });

  test('Defender for Servers: AMA and Arc, narrowed with tenant values', async () => {
    const file = await load(join(examples, 'defender-for-servers.yaml'));
    for (const product of ['mde', 'ama', 'arc'] as const) assert.ok(file.catalog.products.includes(product));
    assert.ok(file.catalog.azureRegions.length > 0);
    assert.ok(file.catalog.relayNamespaces.length > 0, 'no *.servicebus.windows.net fallback');
    assert.ok(file.catalog.storageAccounts.length > 0, 'no *.blob.core.windows.net fallback');
  });

  test('PAC failover: both gateways, in order, served on the proxy port', async () => {
    const file = await load(join(examples, 'pac-failover.yaml'));
    assert.equal(file.admin.pac.proxies.length, 2);
    assert.equal(file.admin.servePacOnProxyPort, true);
  });

  test('behind a load balancer: PROXY protocol only from the load balancers, admin reachable for health checks', async () => {
    const file = await load(join(examples, 'behind-haproxy.yaml'));
    assert.ok(file.listeners.length > 0);
    for (const listener of file.listeners) {
      assert.ok(listener.proxyProtocol, `${listener.text} must expect PROXY protocol`);
      assert.ok(listener.proxyProtocol.trustedProxies.length > 0);
    }
    assert.notEqual(file.admin.listen, null);
    assert.equal(file.admin.listen?.host, '0.0.0.0');
  });

  test('the container default writes no file (read-only root filesystem)', async () => {
    const file = await load(join(repo, 'deploy/docker/airlock.yaml'));
    assert.equal(file.log.file, null);
    assert.equal(file.pidFile, null);
    assert.notEqual(file.admin.listen, null, 'the image health check needs the admin listener');
  });
});
