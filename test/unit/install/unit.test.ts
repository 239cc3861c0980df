import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, type ConfigFile } from '../../../src/config/index.js';
import { lowPorts, renderFirewallUnit, renderUnit, sizing } from '../../../src/install/index.js';

function config(text: string): ConfigFile {
  const result = parseConfig(text, 'airlock.yaml');
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.config.file;
}

const program = { node: '/usr/bin/node', main: '/usr/local/lib/node_modules/airlock/dist/src/cli/main.js' };

/** The unit's directives as key → values (a key may repeat). */
function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!match) continue;
    out.set(match[1]!, [...(out.get(match[1]!) ?? []), match[2]!]);
  }
  return out;
}

function one(unit: string, key: string): string | undefined {
  const values = directives(unit).get(key);
  assert.ok(values === undefined || values.length === 1, `${key} appears more than once`);
  return values?.[0];
}

describe('renderUnit()', () => {
  const file = config('listeners: ["0.0.0.0:3128"]\n');
  const unit = renderUnit(file, sizing(file), { ...program, afterFirewall: false });

  test('carries every hardening setting the issue asks for', () => {
    assert.equal(one(unit, 'Restart'), 'on-failure');
    assert.equal(one(unit, 'DynamicUser'), 'yes');
    assert.equal(one(unit, 'NoNewPrivileges'), 'yes');
    assert.equal(one(unit, 'ProtectSystem'), 'strict');
    assert.equal(one(unit, 'ProtectHome'), 'yes');
    assert.equal(one(unit, 'PrivateTmp'), 'yes');
    assert.equal(one(unit, 'CapabilityBoundingSet'), '', 'no capabilities for ports >= 1024');
    assert.equal(one(unit, 'AmbientCapabilities'), undefined);
    assert.equal(one(unit, 'ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(one(unit, 'LimitNOFILE'), '65536');
    assert.equal(one(unit, 'MemoryDenyWriteExecute'), undefined, 'V8 needs writable executable memory');
  });

  test('runs serve with the installed configuration; a bad configuration is not restarted forever', () => {
    assert.equal(
      one(unit, 'ExecStart'),
      '/usr/bin/node --max-semi-space-size=4 --expose-gc /usr/local/lib/node_modules/airlock/dist/src/cli/main.js serve --config /etc/airlock/airlock.yaml',
    );
    assert.equal(one(unit, 'RestartPreventExitStatus'), '2');
    assert.equal(one(unit, 'KillMode'), 'mixed');
    assert.equal(one(unit, 'LogsDirectory'), 'airlock');
    assert.equal(one(unit, 'RuntimeDirectory'), 'airlock');
    assert.equal(one(unit, 'WantedBy'), 'multi-user.target');
  });

  test('the stop timeout covers timeouts.drain', () => {
    const slow = config('timeouts: { drain: 2m }\n');
    assert.equal(
      one(renderUnit(slow, sizing(slow), { ...program, afterFirewall: false }), 'TimeoutStopSec'),
      '135',
    );
    assert.equal(one(unit, 'TimeoutStopSec'), '45');
  });

  test('a listener below 1024 gets CAP_NET_BIND_SERVICE and nothing else, and no private user namespace', () => {
    const low = config('listeners: ["0.0.0.0:80", "0.0.0.0:3128"]\nadmin: { listen: "127.0.0.1:443" }\n');
    assert.deepEqual(lowPorts(low), [80, 443]);
    const text = renderUnit(low, sizing(low), { ...program, afterFirewall: false });
    assert.equal(one(text, 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one(text, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(one(text, 'PrivateUsers'), undefined);
    assert.equal(one(unit, 'PrivateUsers'), 'yes');
  });

  test('LimitNOFILE follows limits.maxConnections: two descriptors per tunnel plus spares', () => {
    for (const [max, nofile] of [
      [8000, 65536],
      [32_256, 65536],
      [50_000, 101_376],
      [600_000, 1_201_152],
    ] as const) {
      const file = config(`limits: { maxConnections: ${max} }\n`);
      const size = sizing(file);
      assert.equal(size.nofile, nofile, `maxConnections ${max}`);
      assert.ok(size.nofile >= 2 * max + 1024);
      assert.equal(size.nofile % 1024, 0);
      assert.equal(
        one(renderUnit(file, size, { ...program, afterFirewall: false }), 'LimitNOFILE'),
        String(nofile),
      );
    }
  });

  test('orders itself after the nftables unit only when there is one', () => {
    assert.equal(one(unit, 'After'), 'network-online.target');
    const after = renderUnit(file, sizing(file), { ...program, afterFirewall: true });
    assert.equal(one(after, 'After'), 'network-online.target airlock-firewall.service');
  });

  test('escapes % everywhere and $ in the arguments (the program path is taken literally)', () => {
    const text = renderUnit(file, sizing(file), {
      node: '/opt/n%de$x/bin/node',
      main: '/opt/a$b%c/dist/src/cli/main.js',
      afterFirewall: false,
    });
    assert.equal(
      one(text, 'ExecStart'),
      '/opt/n%%de$x/bin/node --max-semi-space-size=4 --expose-gc /opt/a$$b%%c/dist/src/cli/main.js serve --config /etc/airlock/airlock.yaml',
    );
  });

  test('quotes a program path with spaces', () => {
    const text = renderUnit(file, sizing(file), {
      node: '/opt/node 20/bin/node',
      main: program.main,
      afterFirewall: false,
    });
    assert.match(
      one(text, 'ExecStart')!,
      /^"\/opt\/node 20\/bin\/node" --max-semi-space-size=4 --expose-gc \/usr\/local/,
    );
  });
});

describe('renderFirewallUnit()', () => {
  test('loads, reloads and removes the table; starts before the network', () => {
    const unit = renderFirewallUnit();
    assert.equal(one(unit, 'ExecStart'), '/usr/sbin/nft -f /etc/airlock/firewall.nft');
    assert.equal(
      one(unit, 'ExecStop'),
      '-/usr/sbin/nft delete table inet airlock',
      'a table already flushed is no error',
    );
    assert.equal(one(unit, 'Type'), 'oneshot');
    assert.equal(one(unit, 'RemainAfterExit'), 'yes');
    assert.equal(one(unit, 'Before'), 'network-pre.target shutdown.target');
  });
});
