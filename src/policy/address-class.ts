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

const TEREDO_PREFIX = 0x20010000; // 2001::/32

/**
 * The IPv4 addresses an IPv6 address carries, for the forms that reach an IPv4 host, the host
 * packets are delivered to first:
 * - IPv4-mapped `::ffff:a.b.c.d` and IPv4-compatible `::a.b.c.d` (RFC 4291 section 2.5.5);
 * - IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765 section 2.1, the SIIT form);
 * - NAT64 `64:ff9b::/96` and the local-use `64:ff9b:1::/48` (RFC 6052, RFC 8215);
 * - 6to4 `2002:aabb:ccdd::/48` (RFC 3056);
 * - Teredo `2001:0::/32` (RFC 4380 section 4): the client's public IPv4 address is the last 32
 *   bits with every bit inverted, and the Teredo server's IPv4 address is bits 32-63. A relay
 *   sends to the client, and its first "bubble" may go through the server, so both are listed,
 *   the client first.
 * Empty for any other address.
 */
export function embeddedIPv4s(address: ParsedAddress): ParsedAddress[] {
  if (address.family !== 6) return [];
  const [w0, w1, w2, w3] = address.words as [number, number, number, number];
  const v4 = (word: number): ParsedAddress => ({ family: 4, words: [word >>> 0] });
  if (w0 === 0 && w1 === 0) {
    if (w2 === 0xffff || w2 === 0xffff0000 || (w2 === 0 && w3 > 1)) return [v4(w3)];
    return [];
  }
  if (w0 === 0x0064ff9b && w1 === 0 && w2 === 0) return [v4(w3)];
  if (w0 === 0x0064ff9b && w1 >>> 16 === 0x0001) return [v4(w3)];
  if (w0 >>> 16 === 0x2002) return [v4(((w0 & 0xffff) << 16) | (w1 >>> 16))];
  if (w0 === TEREDO_PREFIX) return [v4(~w3), v4(w1)];
  return [];
}

function lookup(address: ParsedAddress): AddressClass {
  for (const [cidr, cls] of address.family === 4 ? V4 : V6) {
    if (cidrContains(cidr, address)) return cls;
  }
  return 'public';
}

/**
 * The class of an address. An IPv6 form that embeds IPv4 is judged by the IPv4 addresses inside:
 * the first of them that is not public gives the class, so a Teredo address is public only when
 * both its client and its server are.
 */
export function classifyAddress(address: ParsedAddress): AddressClass {
  const inner = embeddedIPv4s(address);
  if (inner.length === 0) return lookup(address);
  for (const v4 of inner) {
    const cls = lookup(v4);
    if (cls !== 'public') return cls;
  }
  return 'public';
}
