/**
 * Reads the server_name out of a TLS ClientHello without decrypting anything: the bytes a
 * client sends first inside a CONNECT tunnel. Handles a ClientHello split over several TCP
 * segments and several TLS records (up to MAX_CLIENT_HELLO_RECORDS); refuses anything
 * malformed, oversized or ambiguous. Pure and total: any input gives a result, never an
 * exception. The work is linear in the bytes received, however they are split.
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
 * Most TLS records a ClientHello may be spread over. A client puts its ClientHello in one record
 * (two when it is longer than a record's 16 KiB); a few tools split it into several small ones.
 * Past this the input is refused: each record adds a header the gateway would otherwise buffer.
 */
export const MAX_CLIENT_HELLO_RECORDS = 64;

/** What a reader has done so far: bytes it looked at and record headers it read. */
export interface ClientHelloWork {
  /** Bytes examined: record headers and handshake bytes as they arrive, plus the one parse of the complete ClientHello. */
  bytes: number;
  /** Records started (headers read, in part or in full). */
  records: number;
}

export interface ClientHelloReaderOptions {
  /** Records the ClientHello may be spread over (default MAX_CLIENT_HELLO_RECORDS). */
  readonly maxRecords?: number;
}

const RECORD_HEADER = 5;

/**
 * Reads a ClientHello as the client's bytes arrive, chunk by chunk, looking at each byte once:
 * record headers are checked byte by byte, handshake bytes are copied once into a buffer of the
 * ClientHello's declared size, and the ClientHello is parsed once when its last byte arrives.
 *
 * Every verdict is final and depends only on the bytes, never on how they were split into
 * chunks: `incomplete` only while more bytes could still make a valid ClientHello. After a final
 * verdict further bytes are not examined. Bytes after the ClientHello (early data) are not read.
 */
export class ClientHelloReader {
  private readonly maxRecords: number;
  private verdict: ClientHelloResult | null = null;
  /** The current record's header, as far as it has arrived. */
  private readonly header = Buffer.alloc(RECORD_HEADER);
  private headerFill = 0;
  /** Payload bytes of the current record still to come (its header is complete). */
  private recordLeft = 0;
  /** Sum of the declared lengths of the records so far. */
  private declared = 0;
  /** The handshake's first four bytes (type and 24-bit length), then the whole message. */
  private readonly head = Buffer.alloc(4);
  private message: Buffer | null = null;
  /** Handshake bytes received. */
  private total = 0;
  /** The ClientHello's size (4 + its declared length) once its header is known, else -1. */
  private needed = -1;
  readonly work: ClientHelloWork = { bytes: 0, records: 0 };

  constructor(options: ClientHelloReaderOptions = {}) {
    this.maxRecords = options.maxRecords ?? MAX_CLIENT_HELLO_RECORDS;
  }

  /** The verdict so far. */
  get result(): ClientHelloResult {
    return this.verdict ?? INCOMPLETE;
  }

  /** Examines the next bytes the client sent; returns the verdict so far. */
  push(chunk: Buffer): ClientHelloResult {
    let i = 0;
    while (this.verdict === null && i < chunk.length) {
      if (this.headerFill < RECORD_HEADER) {
        this.headerByte(chunk[i]!);
        i++;
      } else {
        i += this.payload(chunk, i);
      }
    }
    return this.result;
  }

  private finish(result: ClientHelloResult): void {
    this.verdict = result;
  }

  private headerByte(byte: number): void {
    const at = this.headerFill;
    if (at === 0) {
      this.work.records++;
      if (this.work.records > this.maxRecords) {
        return this.finish(malformed(`ClientHello spread over more than ${this.maxRecords} records`));
      }
    }
    this.work.bytes++;
    this.header[at] = byte;
    this.headerFill++;
    switch (at) {
      case 0:
        if (byte !== RECORD_HANDSHAKE) {
          this.finish(
            this.work.records === 1
              ? NOT_TLS
              : malformed('a non-handshake record before the ClientHello was complete'),
          );
        }
        return;
      case 1:
        if (byte !== 0x03) this.finish(malformed('unknown TLS record version'));
        return;
      case 2:
        if (byte > 0x04) this.finish(malformed('unknown TLS record version'));
        return;
      case 3:
        if (byte > MAX_RECORD_PAYLOAD >> 8) this.finish(malformed('record longer than 16384 bytes'));
        return;
      default: {
        const length = this.header.readUInt16BE(3);
        if (length === 0) return this.finish(malformed('empty handshake record'));
        if (length > MAX_RECORD_PAYLOAD) return this.finish(malformed('record longer than 16384 bytes'));
        this.recordLeft = length;
        this.declared += length;
        this.checkDeclared();
      }
    }
  }

  /** Once the ClientHello's size is known, no record may reach past it. */
  private checkDeclared(): void {
    if (this.needed !== -1 && this.declared > this.needed) {
      // A record that holds the end of the ClientHello and more is another message after it.
      this.finish(malformed('trailing handshake data after the ClientHello'));
    }
  }

  /** Takes handshake bytes of the current record from `chunk` at `from`; returns how many. */
  private payload(chunk: Buffer, from: number): number {
    let i = from;
    const end = from + Math.min(this.recordLeft, chunk.length - from);
    // The handshake header byte by byte: its checks happen at the byte they depend on.
    while (this.total < 4 && i < end) {
      const byte = chunk[i++]!;
      this.work.bytes++;
      this.head[this.total++] = byte;
      if (this.total === 1 && byte !== HANDSHAKE_CLIENT_HELLO) {
        this.finish(malformed('first handshake message is not a ClientHello'));
        return i - from;
      }
      if (this.total === 4) {
        this.needed = 4 + this.head.readUIntBE(1, 3);
        if (this.needed > MAX_CLIENT_HELLO_BYTES) {
          this.finish(malformed('ClientHello too large'));
          return i - from;
        }
        this.checkDeclared();
        if (this.verdict !== null) return i - from;
        this.message = Buffer.allocUnsafe(this.needed);
        this.head.copy(this.message, 0);
      }
    }
    // The rest in one copy: no record reaches past the ClientHello (checkDeclared).
    if (i < end && this.message !== null) {
      chunk.copy(this.message, this.total, i, end);
      this.work.bytes += end - i;
      this.total += end - i;
      i = end;
    }
    this.recordLeft -= i - from;
    if (this.recordLeft === 0) this.headerFill = 0;
    if (this.message !== null && this.total === this.needed) {
      this.work.bytes += this.needed;
      this.finish(parseHello(this.message));
    }
    return i - from;
  }
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

/**
 * Examines the bytes received so far from a client that should be starting TLS, all at once.
 * Same verdict as a ClientHelloReader fed the same bytes in any number of chunks.
 */
export function parseClientHello(data: Buffer, options?: ClientHelloReaderOptions): ClientHelloResult {
  return new ClientHelloReader(options).push(data);
}
