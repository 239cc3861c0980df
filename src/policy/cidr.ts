import { ipaddr, type IPv4, type IPv6 } from '../deps/ipaddr.js';

/** One network, kept as numbers so matching is arithmetic, not string work. */
export interface Cidr {
  readonly family: 4 | 6;
  /** IPv4: one 32-bit word; IPv6: four. */
  readonly words: readonly number[];
  readonly prefix: number;
  /** Canonical text, e.g. "10.0.0.0/8". */
  readonly text: string;
}

export type ParsedAddress = { readonly family: 4 | 6; readonly words: readonly number[] };

function toWords(addr: IPv4 | IPv6): number[] {
  if (addr.kind() === 'ipv4') {
    const b = (addr as IPv4).octets;
    return [((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0];
  }
  const p = (addr as IPv6).parts;
  return [
    ((p[0]! << 16) | p[1]!) >>> 0,
    ((p[2]! << 16) | p[3]!) >>> 0,
    ((p[4]! << 16) | p[5]!) >>> 0,
    ((p[6]! << 16) | p[7]!) >>> 0,
  ];
}

function maskWord(word: number, bits: number): number {
  if (bits >= 32) return word >>> 0;
  if (bits <= 0) return 0;
  return (word & (0xffffffff << (32 - bits))) >>> 0;
}

/** Parses "10.0.0.0/8", "fc00::/7" or a bare address (a /32 or /128). Returns null if it is not a CIDR. */
export function parseCidr(text: string): Cidr | null {
  const trimmed = text.trim();
  let addr: IPv4 | IPv6;
  let prefix: number;
  const slash = trimmed.indexOf('/');
  try {
    if (slash === -1) {
      if (!ipaddr.isValid(trimmed) || !isStrictAddress(trimmed)) return null;
      addr = ipaddr.parse(trimmed);
      prefix = addr.kind() === 'ipv4' ? 32 : 128;
    } else {
      const base = trimmed.slice(0, slash);
      const bits = trimmed.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(bits) || !isStrictAddress(base)) return null;
      [addr, prefix] = ipaddr.parseCIDR(trimmed);
    }
  } catch {
    return null;
  }
  const family = addr.kind() === 'ipv4' ? 4 : 6;
  const words = toWords(addr).map((w, i) => maskWord(w, prefix - i * 32));
  return { family, words, prefix, text: `${formatWords(family, words)}/${prefix}` };
}

/** Formats address words back to canonical text. */
export function formatWords(family: 4 | 6, words: readonly number[]): string {
  if (family === 4) {
    const w = words[0]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const parts: number[] = [];
  for (const w of words) parts.push(w >>> 16, w & 0xffff);
  return new ipaddr.IPv6(parts).toString();
}

/** Only dotted-quad IPv4 and plain IPv6 text: no "10.1" or "0x0a000001" shorthands in configuration. */
function isStrictAddress(text: string): boolean {
  if (text.includes(':')) return ipaddr.IPv6.isValid(text) && !text.includes('%');
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

/**
 * Parses an address as a socket reports it. IPv4-mapped IPv6 ("::ffff:10.1.2.3", what a
 * dual-stack listener reports for IPv4 clients) is returned as the IPv4 address it carries.
 */
export function parseAddress(text: string): ParsedAddress | null {
  const word = dottedQuad(text);
  if (word !== null) return { family: 4, words: [word] };
  let addr: IPv4 | IPv6;
  try {
    addr = ipaddr.parse(text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text);
  } catch {
    return null;
  }
  if (addr.kind() === 'ipv6' && (addr as IPv6).isIPv4MappedAddress()) {
    addr = (addr as IPv6).toIPv4Address();
  }
  return { family: addr.kind() === 'ipv4' ? 4 : 6, words: toWords(addr) };
}

/**
 * The 32-bit word of canonical dotted-quad IPv4 text ("10.1.2.3": four decimal octets, none
 * above 255, no leading zeros), or null for anything else, which `parseAddress` then hands to
 * the full parser (which reads a leading zero as octal, and accepts shorthands). A socket reports
 * every IPv4 peer this way, so a connection's address is read without the parser's objects.
 */
function dottedQuad(text: string): number | null {
  const n = text.length;
  if (n < 7 || n > 15) return null;
  let word = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return null;
      word = word * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return null; // a leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return word * 256 + octet;
}

export function cidrContains(cidr: Cidr, address: ParsedAddress): boolean {
  if (cidr.family !== address.family) return false;
  let remaining = cidr.prefix;
  for (let i = 0; i < cidr.words.length && remaining > 0; i++) {
    const bits = remaining >= 32 ? 32 : remaining;
    if (maskWord(address.words[i]!, bits) !== cidr.words[i]) return false;
    remaining -= 32;
  }
  return true;
}

/** A list of networks with values, matched most-specific first. Sizes here are small (sources, IP rules). */
export class CidrList<T> {
  private readonly entries: { cidr: Cidr; value: T }[] = [];

  add(cidr: Cidr, value: T): void {
    this.entries.push({ cidr, value });
    this.entries.sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  }

  get size(): number {
    return this.entries.length;
  }

  match(address: ParsedAddress): { cidr: Cidr; value: T } | undefined {
    for (const entry of this.entries) {
      if (cidrContains(entry.cidr, address)) return entry;
    }
    return undefined;
  }

  list(): readonly { cidr: Cidr; value: T }[] {
    return this.entries;
  }
}
