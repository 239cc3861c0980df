import { isIP } from 'node:net';

/**
 * PROXY protocol v1 (text) and v2 (binary) header parsing, as sent by HAProxy, AWS NLB and
 * other L4 load balancers. Pure and total. A LOCAL (v2) or UNKNOWN (v1) header carries no
 * client address: the connection is the load balancer's own (health checks).
 */
export type ProxyHeaderResult =
  | { readonly status: 'incomplete' }
  | {
      readonly status: 'ok';
      readonly length: number;
      readonly source: { readonly address: string; readonly port: number } | null;
    }
  | { readonly status: 'malformed'; readonly why: string };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;
const V2_MAX_ADDRESS_BLOCK = 2048;
const INCOMPLETE: ProxyHeaderResult = { status: 'incomplete' };

function malformed(why: string): ProxyHeaderResult {
  return { status: 'malformed', why };
}

function startsWithPartial(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function parseV1(data: Buffer): ProxyHeaderResult {
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end === -1)
    return data.length >= V1_MAX ? malformed('PROXY v1 line longer than 107 bytes') : INCOMPLETE;
  if (end + 2 > V1_MAX) return malformed('PROXY v1 line longer than 107 bytes');
  const fields = data.toString('latin1', 0, end).split(' ');
  if (fields[1] === 'UNKNOWN') return { status: 'ok', length: end + 2, source: null };
  if (fields.length !== 6) return malformed('PROXY v1 line needs 6 fields');
  const [, proto, src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return malformed(`unknown PROXY v1 protocol "${proto}"`);
  if (isIP(src) !== family || isIP(dst) !== family)
    return malformed('PROXY v1 address does not match its protocol');
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) {
    return malformed('PROXY v1 port out of range');
  }
  return { status: 'ok', length: end + 2, source: { address: src, port: Number(sport) } };
}

function ipv6Text(bytes: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(bytes.readUInt16BE(i).toString(16));
  return parts.join(':');
}

function parseV2(data: Buffer): ProxyHeaderResult {
  if (data.length < 16) return INCOMPLETE;
  const verCmd = data[12]!;
  if (verCmd >> 4 !== 2) return malformed('PROXY v2 version is not 2');
  const command = verCmd & 0x0f;
  if (command > 1) return malformed('unknown PROXY v2 command');
  const family = data[13]!;
  const length = data.readUInt16BE(14);
  if (length > V2_MAX_ADDRESS_BLOCK) return malformed('PROXY v2 header too long');
  if (data.length < 16 + length) return INCOMPLETE;
  const total = 16 + length;
  if (command === 0) return { status: 'ok', length: total, source: null }; // LOCAL
  const block = data.subarray(16, total);
  switch (family) {
    case 0x11: // TCP over IPv4
      if (block.length < 12) return malformed('PROXY v2 IPv4 address block too short');
      return {
        status: 'ok',
        length: total,
        source: { address: `${block[0]}.${block[1]}.${block[2]}.${block[3]}`, port: block.readUInt16BE(8) },
      };
    case 0x21: // TCP over IPv6
      if (block.length < 36) return malformed('PROXY v2 IPv6 address block too short');
      return {
        status: 'ok',
        length: total,
        source: { address: ipv6Text(block.subarray(0, 16)), port: block.readUInt16BE(32) },
      };
    case 0x00: // UNSPEC: no address conveyed
      return { status: 'ok', length: total, source: null };
    default:
      return malformed('PROXY v2 transport is not TCP');
  }
}

export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (data.length === 0) return INCOMPLETE;
  if (startsWithPartial(data, V2_SIGNATURE))
    return data.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(data);
  if (startsWithPartial(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  return malformed('connection did not start with a PROXY protocol header');
}
