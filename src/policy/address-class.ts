import { cidrContains, parseCidr, type Cidr, type ParsedAddress } from './cidr.js';

/**
 * Special-purpose address classes a gateway must never connect to on a client's behalf,
 * whatever a DNS answer says (rebinding, cloud metadata, internal services). The IANA
 * documentation ranges are deliberately absent: they stand in for "the internet" in tests.
 */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared' // CGNAT 100.64.0.0/10
  | 'link-local'
  | 'protocol' // 192.0.0.0/24 IETF protocol assignments
  | 'benchmarking'
  | 'multicast'
  | 'reserved'
  | 'broadcast'
  | 'unique-local'
  | 'site-local'
  | 'discard';

const V4_TABLE: readonly [string, AddressClass][] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'protocol'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

const V6_TABLE: readonly [string, AddressClass][] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

function compile(table: readonly [string, AddressClass][]): [Cidr, AddressClass][] {
  return table.map(([text, cls]) => [parseCidr(text)!, cls]);
}

const V4 = compile(V4_TABLE);
const V6 = compile(V6_TABLE);

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach an IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and the
 * local-use 64:ff9b:1::/48) and 6to4 (2002:aabb:ccdd::/48). Null for any other address.
 */
export function embeddedIPv4(address: ParsedAddress): ParsedAddress | null {
  if (address.family !== 6) return null;
  const [w0, w1, w2, w3] = address.words as [number, number, number, number];
  if (w0 === 0 && w1 === 0 && (w2 === 0xffff || (w2 === 0 && w3 > 1))) return { family: 4, words: [w3] };
  if (w0 === 0x0064ff9b && w1 === 0 && w2 === 0) return { family: 4, words: [w3] };
  if (w0 === 0x0064ff9b && w1 >>> 16 === 0x0001) return { family: 4, words: [w3] };
  if (w0 >>> 16 === 0x2002) return { family: 4, words: [(((w0 & 0xffff) << 16) | (w1 >>> 16)) >>> 0] };
  return null;
}

/** The class of an address, judging IPv6 forms that embed IPv4 by the IPv4 address inside. */
export function classifyAddress(address: ParsedAddress): AddressClass {
  const inner = embeddedIPv4(address);
  const target = inner ?? address;
  for (const [cidr, cls] of target.family === 4 ? V4 : V6) {
    if (cidrContains(cidr, target)) return cls;
  }
  return 'public';
}
