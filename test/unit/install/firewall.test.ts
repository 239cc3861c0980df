import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, type ConfigFile } from '../../../src/config/index.js';
import {
  minimalCidrs,
  openings,
  parseUfwRules,
  renderNftables,
  renderUfwRules,
  sshLockout,
} from '../../../src/install/index.js';

function config(text: string): ConfigFile {
  const result = parseConfig(text, 'airlock.yaml');
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.config.file;
}

const ssh = { port: 22, from: ['10.20.0.0/24'] };

function summary(file: ConfigFile, access = ssh): Record<number, string[]> {
  return Object.fromEntries(openings(file, access).map((o) => [o.port, o.sources.map((c) => c.text)]));
}

describe('minimalCidrs()', () => {
  test('canonical, sorted, no network inside another, no loopback', () => {
    assert.deepEqual(
      minimalCidrs([
        '10.1.2.3/16',
        '10.0.0.0/8',
        '127.0.0.0/8',
        '::1/128',
        'fc00::/7',
        'fd00::/8',
        '192.168.1.0/24',
      ]).map((c) => c.text),
      ['10.0.0.0/8', '192.168.1.0/24', 'fc00::/7'],
    );
  });
});

describe('openings()', () => {
  test('SSH from the management networks only, the proxy port from policy.sources', () => {
    const file = config(
      'listeners: ["0.0.0.0:3128", "[::]:3128"]\npolicy: { sources: [10.0.0.0/8, "fd00::/8"] }\n',
    );
    assert.deepEqual(summary(file), { 22: ['10.20.0.0/24'], 3128: ['10.0.0.0/8', 'fd00::/8'] });
  });

  test('a PROXY-protocol listener is open to its load balancers only, never to the clients', () => {
    const file = config(
      [
        'listeners:',
        '  - { address: 0.0.0.0:3129, proxyProtocol: true, trustedProxies: [10.30.0.11/32, 10.30.0.12/32] }',
        'policy: { sources: [10.0.0.0/8] }',
        'admin: { listen: 0.0.0.0:9090 }',
      ].join('\n'),
    );
    assert.deepEqual(summary(file), {
      22: ['10.20.0.0/24'],
      3129: ['10.30.0.11/32', '10.30.0.12/32'],
      // The admin listener: management networks and the load balancers' health checks.
      9090: ['10.20.0.0/24', '10.30.0.11/32', '10.30.0.12/32'],
    });
  });

  test('listeners and an admin listener on loopback need no rule', () => {
    const file = config('listeners: ["127.0.0.1:3128", "0.0.0.0:3130"]\nadmin: { listen: 127.0.0.1:9090 }\n');
    assert.deepEqual(Object.keys(summary(file)), ['22', '3130']);
  });

  test('SSH on another port', () => {
    assert.deepEqual(Object.keys(summary(config(''), { port: 2222, from: ['10.0.0.0/8'] })), [
      '2222',
      '3128',
    ]);
  });
});

describe('renderNftables()', () => {
  const file = config(
    'listeners: ["0.0.0.0:3128"]\npolicy: { sources: [10.0.0.0/8, 192.168.0.0/16, "fd00::/8"] }\n',
  );
  const text = renderNftables(openings(file, ssh));

  test('replaces its own table atomically and drops what is not opened', () => {
    const lines = text.split('\n');
    const table = lines.indexOf('table inet airlock');
    assert.ok(table > 0);
    assert.equal(lines[table + 1], 'delete table inet airlock');
    assert.match(text, /type filter hook input priority filter; policy drop;/);
    assert.match(text, /ct state established,related accept/);
    assert.match(text, /iif "lo" accept/);
    assert.match(text, /meta l4proto ipv6-icmp accept/);
  });

  test('one set per port and family, a rule for each', () => {
    assert.match(
      text,
      /set tcp22_v4 \{\n\s+type ipv4_addr\n\s+flags interval\n\s+elements = \{ 10\.20\.0\.0\/24 \}/,
    );
    assert.match(text, /elements = \{ 10\.0\.0\.0\/8, 192\.168\.0\.0\/16 \}/);
    assert.match(text, /elements = \{ fd00::\/8 \}/);
    assert.match(text, /tcp dport 22 ip saddr @tcp22_v4 accept/);
    assert.match(text, /tcp dport 3128 ip saddr @tcp3128_v4 accept/);
    assert.match(text, /tcp dport 3128 ip6 saddr @tcp3128_v6 accept/);
    assert.doesNotMatch(text, /tcp22_v6/, 'no empty set');
    assert.doesNotMatch(text, /0\.0\.0\.0\/0/);
  });

  test('braces balance', () => {
    assert.equal((text.match(/\{/g) ?? []).length, (text.match(/\}/g) ?? []).length);
  });
});

describe('ufw rules', () => {
  test('one rule per port and network, tagged; the file round-trips', () => {
    const file = config(
      'listeners: ["0.0.0.0:3128"]\npolicy: { sources: [10.0.0.0/8] }\nadmin: { listen: 0.0.0.0:9090 }\n',
    );
    const text = renderUfwRules(openings(file, ssh));
    assert.deepEqual(parseUfwRules(text), [
      'allow proto tcp from 10.20.0.0/24 to any port 22 comment airlock-ssh',
      'allow proto tcp from 10.0.0.0/8 to any port 3128 comment airlock-proxy',
      'allow proto tcp from 10.20.0.0/24 to any port 9090 comment airlock-admin',
    ]);
    assert.deepEqual(parseUfwRules(null), []);
  });
});

describe('sshLockout()', () => {
  test('the address of an SSH session the firewall would shut out', () => {
    assert.equal(sshLockout('10.20.0.7', ssh), undefined);
    assert.equal(sshLockout('::ffff:10.20.0.7', ssh), undefined);
    assert.equal(sshLockout('198.51.100.7', ssh), '198.51.100.7');
    assert.equal(sshLockout(undefined, ssh), undefined, 'not over SSH');
    assert.equal(sshLockout('127.0.0.1', ssh), undefined, 'loopback is always allowed');
  });
});
