import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkResolvedAddress,
  classifyAddress,
  compilePolicy,
  parseAddress,
  type AddressClass,
} from '../../../src/policy/index.js';

const CASES: [string, AddressClass][] = [
  ['203.0.113.10', 'public'],
  ['198.51.100.2', 'public'],
  ['192.0.2.1', 'public'],
  ['8.8.8.8', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.5', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'shared'],
  ['100.127.255.255', 'shared'],
  ['100.128.0.1', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.169.254', 'link-local'],
  ['192.0.0.8', 'protocol'],
  ['198.18.0.1', 'benchmarking'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  ['fe80::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['ff02::1', 'multicast'],
  ['100::1', 'discard'],
  ['2001:db8::1', 'public'],
  ['2606:4700::1111', 'public'],
  // IPv6 forms judged by the IPv4 address they carry.
  ['::ffff:10.0.0.5', 'private'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:203.0.113.10', 'public'],
  ['::10.0.0.5', 'private'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::a00:5', 'private'],
  ['64:ff9b::a9fe:a9fe', 'link-local'],
  ['64:ff9b::cb00:710a', 'public'],
  ['64:ff9b:1::a00:5', 'private'],
  ['2002:a00:5::1', 'private'],
  ['2002:7f00:1::', 'loopback'],
  ['2002:cb00:710a::1', 'public'],
];

describe('classifyAddress()', () => {
  for (const [address, cls] of CASES) {
    test(`${address} is ${cls}`, () => assert.equal(classifyAddress(parseAddress(address)!), cls));
  }
});

describe('checkResolvedAddress()', () => {
  const origin = { source: 'config', where: 't' } as const;
  const compiled = compilePolicy({
    sources: [],
    destinations: [{ cidr: '192.168.50.0/24', origin }],
    ports: { connect: [443], http: [80] },
    internalNetworks: [{ cidr: '10.1.0.0/16', origin }],
  });
  assert.ok(compiled.ok);
  const policy = compiled.ok ? compiled.policy : null!;

  test('public addresses pass', () =>
    assert.equal(checkResolvedAddress(policy, '203.0.113.10').allowed, true));
  test('internal addresses are refused', () => {
    const verdict = checkResolvedAddress(policy, '10.0.0.5');
    assert.deepEqual(verdict, { allowed: false, addressClass: 'private', allowedBy: null });
  });
  test('metadata is refused', () =>
    assert.equal(checkResolvedAddress(policy, '169.254.169.254').allowed, false));
  test('an internal network of the policy admits its addresses (split-horizon)', () => {
    assert.deepEqual(checkResolvedAddress(policy, '10.1.2.3'), {
      allowed: true,
      addressClass: 'private',
      allowedBy: '10.1.0.0/16',
    });
  });
  test('the internal network also admits its NAT64 and mapped forms', () => {
    assert.equal(checkResolvedAddress(policy, '64:ff9b::a01:203').allowed, true);
    assert.equal(checkResolvedAddress(policy, '::ffff:10.1.2.3').allowed, true);
  });
  test('a CIDR destination rule admits its addresses', () => {
    assert.equal(checkResolvedAddress(policy, '192.168.50.7').allowedBy, '192.168.50.0/24');
  });
  test('unparseable input is refused', () =>
    assert.equal(checkResolvedAddress(policy, 'nonsense').allowed, false));
});
