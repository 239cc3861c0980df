import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { loadConfig } from '../../../src/supervisor/index.js';
import { parseDuration, type ConfigFile } from '../../../src/config/index.js';

/**
 * The example's structure and its fit with deploy/examples/behind-haproxy.yaml. HAProxy itself
 * reads it in test/integration/validators.test.ts (`haproxy -c`, and a real PROXY v2 hop).
 */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** Section header → its lines, comments dropped. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line.trim() === '') continue;
    if (/^\S/.test(line)) {
      current = line.trim();
      out.set(current, []);
    } else {
      out.get(current)?.push(line.trim());
    }
  }
  return out;
}

let cfg: Map<string, string[]>;
let gateway: ConfigFile;

before(async () => {
  cfg = sections(await readFile(join(repo, 'deploy/haproxy/haproxy.cfg'), 'utf8'));
  gateway = (await loadConfig({ configFile: join(repo, 'deploy/examples/behind-haproxy.yaml') })).config.file;
});

function section(prefix: string): string[] {
  const found = [...cfg.entries()].find(([name]) => name.startsWith(prefix));
  assert.ok(found, `a "${prefix}" section`);
  return found[1];
}

describe('deploy/haproxy/haproxy.cfg', () => {
  test('layer 4: TCP mode, idle timeouts as long as the gateway keeps tunnels', () => {
    const defaults = section('defaults');
    assert.ok(defaults.includes('mode tcp'));
    for (const side of ['client', 'server']) {
      const line = defaults.find((l) => l.startsWith(`timeout ${side} `));
      assert.ok(line, `timeout ${side}`);
      assert.ok(parseDuration(line.split(' ')[2]!)! >= gateway.timeouts.tunnelIdle, line);
    }
  });

  test('every server gets a PROXY protocol v2 header, on the gateway PROXY-protocol port', () => {
    const backend = section('backend ');
    const defaults = backend.find((l) => l.startsWith('default-server ')) ?? '';
    const servers = backend.filter((l) => l.startsWith('server '));
    assert.ok(servers.length >= 2, 'several gateways');
    const proxyPorts = gateway.listeners.filter((l) => l.proxyProtocol).map((l) => l.port);
    for (const server of servers) {
      assert.ok(/\bsend-proxy-v2\b/.test(server) || /\bsend-proxy-v2\b/.test(defaults), server);
      const port = Number(/:(\d+)/.exec(server.split(/\s+/)[2]!)?.[1]);
      assert.ok(proxyPorts.includes(port), `${server}: port ${port} expects PROXY protocol`);
    }
  });

  test('health: /readyz on the admin listener, leastconn for long-lived tunnels', () => {
    const backend = section('backend ');
    assert.ok(backend.includes('balance leastconn'));
    assert.ok(backend.includes('option httpchk'));
    assert.ok(backend.includes('http-check send meth GET uri /readyz'));
    assert.ok(backend.includes('http-check expect status 200'));
    const defaults = backend.find((l) => l.startsWith('default-server ')) ?? '';
    assert.match(defaults, new RegExp(`\\bcheck port ${gateway.admin.listen?.port}\\b`));
  });

  test('the front end listens where agents expect a proxy', () => {
    assert.ok(section('frontend ').includes('bind :3128'));
  });
});
