import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { embeddedIPv4s } from '../../../src/policy/address-class.js';
import {
  checkResolvedAddress,
  classifyAddress,
  compilePolicy,
  formatWords,
  parseAddress,
  parseCidr,
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
  // IPv4-translated (RFC 2765 SIIT, ::ffff:0:0/96).
  ['::ffff:0:10.0.0.5', 'private'],
  ['::ffff:0:a00:5', 'private'],
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['::ffff:0:169.254.169.254', 'link-local'],
  ['::ffff:0:0.0.0.0', 'unspecified'],
  ['::ffff:0:203.0.113.10', 'public'],
  // Teredo (RFC 4380): server IPv4 in bits 32-63, client IPv4 in the last 32 bits inverted.
  ['2001:0:4136:e378:8000:63bf:f5ff:fffa', 'private'], // client 10.0.0.5, server 65.54.227.120
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // client 127.0.0.1
  ['2001:0:4136:e378:8000:63bf:5601:5601', 'link-local'], // client 169.254.169.254
  ['2001:0:a9fe:a9fe:8000:63bf:34ff:8ef5', 'link-local'], // server 169.254.169.254, client public
  ['2001:0:c0a8:101:8000:63bf:34ff:8ef5', 'private'], // server 192.168.1.1
  ['2001:0:4136:e378:8000:63bf:34ff:8ef5', 'public'], // client 203.0.113.10, server public
  ['2001:1::1', 'public'], // 2001:1::/32 is not Teredo
  // IPv4-compatible (::a.b.c.d) written in hexadecimal.
  ['::a00:5', 'private'],
  ['::7f00:1', 'loopback'],
  // Outside the NAT64 prefixes: the last 32 bits are no IPv4 address.
  ['64:ff9b:2::a00:5', 'public'],
  ['64:ff9b::1:0:a00:5', 'public'],
  // IPv4 addresses whose first 16 bits equal the 6to4 and Teredo prefixes are ordinary IPv4.
  ['32.2.10.0', 'public'],
  ['32.1.0.0', 'public'],
];

describe('classifyAddress()', () => {
  for (const [address, cls] of CASES) {
    test(`${address} is ${cls}`, () => assert.equal(classifyAddress(parseAddress(address)!), cls));
  }
});

describe('embeddedIPv4s()', () => {
  // parseCidr keeps an IPv4-mapped address as IPv6 (parseAddress would unwrap it).
  const text = (address: string): string[] => {
    const cidr = parseCidr(address)!;
    return embeddedIPv4s(cidr).map((a) => formatWords(a.family, a.words));
  };
  const FORMS: [string, string[]][] = [
    ['::ffff:10.1.2.3', ['10.1.2.3']],
    ['::ffff:0:10.1.2.3', ['10.1.2.3']],
    ['::10.1.2.3', ['10.1.2.3']],
    ['64:ff9b::10.1.2.3', ['10.1.2.3']],
    ['64:ff9b:1::a01:203', ['10.1.2.3']],
    ['2002:a01:203::1', ['10.1.2.3']],
    // RFC 4380 section 4: client 192.0.2.45 (obfuscated 3fff:fdd2), server 65.54.227.120.
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', ['192.0.2.45', '65.54.227.120']],
    ['::1', []],
    ['::', []],
    ['2001:db8::1', []],
    ['2001:1::1', []],
    ['::1:ffff:0:a01:203', []],
    // IPv4-compatible in hexadecimal; the dotted "::a.b.c.d" spelling is read as IPv4-mapped.
    ['::a01:203', ['10.1.2.3']],
    ['::2', ['0.0.0.2']],
    ['::1:0:a01:203', []],
    // NAT64: only the /96 well-known prefix and the local-use /48.
    ['64:ff9b::1:0:a01:203', []],
    ['64:ff9b:0:1::a01:203', []],
    ['64:ff9b:2::a01:203', []],
    ['64:ff9b:1:fffe::a01:203', ['10.1.2.3']],
  ];
  for (const [address, expected] of FORMS) {
    test(`${address} carries ${expected.join(', ') || 'no IPv4 address'}`, () =>
      assert.deepEqual(text(address), expected));
  }
  test('an IPv4 address carries none', () => assert.deepEqual(text('10.1.2.3'), []));
  test('an IPv4 address whose bits look like a 6to4 or Teredo prefix carries none', () => {
    assert.deepEqual(text('32.2.10.0'), []);
    assert.deepEqual(text('32.1.0.0'), []);
  });
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
  test('IPv4-translated and Teredo forms of internal addresses are refused', () => {
    for (const [address, cls] of [
      ['::ffff:0:10.0.0.5', 'private'],
      ['::ffff:0:169.254.169.254', 'link-local'],
      ['2001:0:4136:e378:8000:63bf:f5ff:fffa', 'private'],
      ['2001:0:a9fe:a9fe:8000:63bf:34ff:8ef5', 'link-local'],
    ] as const) {
      assert.deepEqual(checkResolvedAddress(policy, address), {
        allowed: false,
        addressClass: cls,
        allowedBy: null,
      });
    }
  });
  test('the internal network admits its IPv4-translated form', () => {
    assert.equal(checkResolvedAddress(policy, '::ffff:0:10.1.2.3').allowedBy, '10.1.0.0/16');
  });
  test('a Teredo address is admitted only when every non-public address it carries is', () => {
    // Client 10.1.2.3 (admitted), server 65.54.227.120 (public).
    const clientInside = '2001:0:4136:e378:8000:63bf:f5fe:fdfc';
    assert.deepEqual(checkResolvedAddress(policy, clientInside), {
      allowed: true,
      addressClass: 'private',
      allowedBy: '10.1.0.0/16',
    });
    // Client 10.1.2.3 (admitted), server 169.254.169.254 (not admitted).
    const serverMetadata = '2001:0:a9fe:a9fe:8000:63bf:f5fe:fdfc';
    assert.equal(checkResolvedAddress(policy, serverMetadata).allowed, false);
  });
  test('a CIDR destination rule admits its addresses', () => {
    assert.equal(checkResolvedAddress(policy, '192.168.50.7').allowedBy, '192.168.50.0/24');
  });
  test('unparseable input is refused, classed as reserved', () =>
    assert.deepEqual(checkResolvedAddress(policy, 'nonsense'), {
      allowed: false,
      addressClass: 'reserved',
      allowedBy: null,
    }));
  test('an address already parsed is judged like its text', () => {
    assert.deepEqual(checkResolvedAddress(policy, parseAddress('10.1.2.3')!), {
      allowed: true,
      addressClass: 'private',
      allowedBy: '10.1.0.0/16',
    });
    assert.equal(checkResolvedAddress(policy, parseAddress('10.0.0.5')!).allowed, false);
  });
  test('an IPv4 address that looks like a 6to4 prefix is public, not the address its bits would embed', () => {
    assert.deepEqual(checkResolvedAddress(policy, '32.2.10.0'), {
      allowed: true,
      addressClass: 'public',
      allowedBy: null,
    });
  });
  test('IPv4-compatible and local-use NAT64 forms of internal addresses are refused', () => {
    assert.equal(checkResolvedAddress(policy, '::a00:5').allowed, false);
    assert.equal(checkResolvedAddress(policy, '64:ff9b:1::a00:5').allowed, false);
    assert.equal(checkResolvedAddress(policy, '::a01:203').allowedBy, '10.1.0.0/16');
  });
});
