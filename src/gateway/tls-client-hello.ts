/**
 * Reads the server_name out of a TLS ClientHello without decrypting anything: the bytes a
 * client sends first inside a CONNECT tunnel. Handles a ClientHello split over several TCP
 * segments and several TLS records; refuses anything malformed, oversized or ambiguous. Pure
 * and total: any input gives a result, never an exception.
 */
export type ClientHelloResult =
  | { readonly status: 'incomplete' }
  | { readonly status: 'ok'; readonly serverName: string | null }
  | { readonly status: 'not_tls' }
  | { readonly status: 'malformed'; readonly why: string };

/** Largest ClientHello handshake message we wait for (post-quantum key shares make them ~2 KB). */
export const MAX_CLIENT_HELLO_BYTES = 16_384;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
const MAX_RECORD_PAYLOAD = 16_384;

const INCOMPLETE: ClientHelloResult = { status: 'incomplete' };
const NOT_TLS: ClientHelloResult = { status: 'not_tls' };

function malformed(why: string): ClientHelloResult {
  return { status: 'malformed', why };
}

/**
 * Joins the handshake payloads of the records in `data` into the ClientHello message. Every
 * verdict is final: `incomplete` only while more bytes could still make a valid ClientHello,
 * and a verdict reached on a prefix never changes when more bytes arrive (the answer must not
 * depend on how the client's bytes were split into TCP segments).
 */
function handshakeBytes(data: Buffer): Buffer | ClientHelloResult {
  const parts: Buffer[] = [];
  let offset = 0;
  let total = 0;
  let needed = -1;
  while (offset < data.length) {
    // The record header, checked byte by byte as far as it has arrived.
    if (data[offset] !== RECORD_HANDSHAKE) {
      return offset === 0 ? NOT_TLS : malformed('a non-handshake record before the ClientHello was complete');
    }
    if (offset + 1 < data.length && data[offset + 1] !== 0x03) return malformed('unknown TLS record version');
    if (offset + 2 < data.length && data[offset + 2]! > 0x04) return malformed('unknown TLS record version');
    if (offset + 3 < data.length && data[offset + 3]! > MAX_RECORD_PAYLOAD >> 8) {
      return malformed('record longer than 16384 bytes');
    }
    if (offset + 5 > data.length) return INCOMPLETE;
    const length = data.readUInt16BE(offset + 3);
    if (length === 0) return malformed('empty handshake record');
    if (length > MAX_RECORD_PAYLOAD) return malformed('record longer than 16384 bytes');
    const available = Math.min(length, data.length - offset - 5);
    const declaredTotal = total + length;
    if (available > 0) parts.push(data.subarray(offset + 5, offset + 5 + available));
    total += available;
    if (needed === -1 && total >= 1 && parts[0]![0] !== HANDSHAKE_CLIENT_HELLO) {
      return malformed('first handshake message is not a ClientHello');
    }
    if (needed === -1 && total >= 4) {
      const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello too large');
    }
    if (needed !== -1 && declaredTotal >= needed) {
      // This record holds the end of the ClientHello; anything more in it is another message.
      if (declaredTotal > needed) return malformed('trailing handshake data after the ClientHello');
      if (total < needed) return INCOMPLETE;
      return Buffer.concat(parts).subarray(0, needed);
    }
    if (available < length) return INCOMPLETE;
    offset += 5 + length;
  }
  return INCOMPLETE;
}

const HOST_NAME_BYTE = /^[\x21-\x7e]+$/;

/** Parses a complete ClientHello handshake message (type, 24-bit length, body). */
function parseHello(msg: Buffer): ClientHelloResult {
  let p = 4;
  const end = msg.length;
  const need = (n: number): boolean => p + n <= end;
  if (!need(2 + 32)) return malformed('ClientHello shorter than its fixed fields');
  p += 2 + 32; // legacy_version, random
  if (!need(1)) return malformed('truncated session id');
  const sessionLength = msg[p]!;
  if (sessionLength > 32) return malformed('session id longer than 32 bytes');
  p += 1;
  if (!need(sessionLength)) return malformed('truncated session id');
  p += sessionLength;
  if (!need(2)) return malformed('truncated cipher suites');
  const suites = msg.readUInt16BE(p);
  p += 2;
  if (suites < 2 || suites % 2 !== 0 || !need(suites)) return malformed('bad cipher suite list');
  p += suites;
  if (!need(1)) return malformed('truncated compression methods');
  const compression = msg[p]!;
  p += 1;
  if (compression < 1 || !need(compression)) return malformed('bad compression method list');
  p += compression;
  if (p === end) return { status: 'ok', serverName: null };
  if (!need(2)) return malformed('truncated extensions');
  const extLength = msg.readUInt16BE(p);
  p += 2;
  if (p + extLength !== end) return malformed('extensions length does not match the ClientHello');
  const seen = new Set<number>();
  let serverName: string | null = null;
  while (p < end) {
    if (!need(4)) return malformed('truncated extension header');
    const type = msg.readUInt16BE(p);
    const length = msg.readUInt16BE(p + 2);
    p += 4;
    if (!need(length)) return malformed('truncated extension');
    if (seen.has(type)) return malformed(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(msg.subarray(p, p + length));
      if (typeof name !== 'string') return name;
      serverName = name;
    }
    p += length;
  }
  return { status: 'ok', serverName };
}

function parseServerName(ext: Buffer): string | ClientHelloResult {
  if (ext.length < 2) return malformed('truncated server_name list');
  const listLength = ext.readUInt16BE(0);
  if (listLength + 2 !== ext.length) return malformed('server_name list length mismatch');
  let p = 2;
  let host: string | null = null;
  while (p < ext.length) {
    if (p + 3 > ext.length) return malformed('truncated server_name entry');
    const type = ext[p]!;
    const length = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + length > ext.length) return malformed('truncated server_name entry');
    if (type === NAME_TYPE_HOST) {
      if (host !== null) return malformed('more than one host_name in server_name');
      if (length === 0 || length > 255) return malformed('host_name length out of range');
      const name = ext.toString('latin1', p, p + length);
      if (!HOST_NAME_BYTE.test(name)) return malformed('host_name contains bytes not allowed in a DNS name');
      host = name;
    }
    p += length;
  }
  if (host === null) return malformed('server_name without a host_name');
  return host;
}

/** Examines the bytes received so far from a client that should be starting TLS. */
export function parseClientHello(data: Buffer): ClientHelloResult {
  if (data.length === 0) return INCOMPLETE;
  const hs = handshakeBytes(data);
  if (!Buffer.isBuffer(hs)) return hs;
  return parseHello(hs);
}
