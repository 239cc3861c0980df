/**
 * Seed inputs for the fuzz targets. ClientHellos are real: captured from Node's TLS client
 * (OpenSSL) connecting to a plain TCP listener on 127.0.0.1, then made deterministic by
 * overwriting the fields that change on every connection (random, session id, key shares).
 * The parser never looks at those bytes, so this only makes runs with the same --seed repeat.
 */
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { MAX_CLIENT_HELLO_RECORDS } from '../src/gateway/tls-client-hello.js';

const CAPTURE_TIMEOUT_MS = 5_000;

/** Captures the first bytes Node's TLS client sends for `servername` ('' sends no server_name). */
export function captureClientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let client: ReturnType<typeof tlsConnect> | undefined;
    const server = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => finish(null, chunk));
      socket.on('error', () => undefined);
    });
    const timer = setTimeout(() => finish(new Error('no ClientHello within 5 s'), null), CAPTURE_TIMEOUT_MS);
    const finish = (error: Error | null, chunk: Buffer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client?.destroy();
      server.close();
      if (chunk !== null) resolve(chunk);
      else reject(error ?? new Error('capture failed'));
    };
    server.on('error', (error) => finish(error, null));
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      client = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
      client.on('error', () => undefined);
    });
  });
}

/** Fills `length` bytes at `offset` with a fixed pattern. */
function fill(buf: Buffer, offset: number, length: number, tag: number): void {
  for (let i = 0; i < length && offset + i < buf.length; i++) buf[offset + i] = (tag + i * 7) & 0xff;
}

const EXT_KEY_SHARE = 51;

/**
 * Overwrites the per-connection fields of a single-record ClientHello (random, session id,
 * key_share key exchange values) with fixed bytes. Leaves every length field untouched.
 */
export function scrubClientHello(record: Buffer): Buffer {
  const out = Buffer.from(record);
  let p = 5 + 4 + 2; // record header, handshake header, legacy_version
  fill(out, p, 32, 0x11);
  p += 32;
  const sessionLength = out[p] ?? 0;
  fill(out, p + 1, sessionLength, 0x22);
  p += 1 + sessionLength;
  if (p + 2 > out.length) return out;
  p += 2 + out.readUInt16BE(p); // cipher suites
  if (p + 1 > out.length) return out;
  p += 1 + (out[p] ?? 0); // compression methods
  if (p + 2 > out.length) return out;
  const end = Math.min(out.length, p + 2 + out.readUInt16BE(p));
  p += 2;
  for (let guard = 0; guard < 256 && p + 4 <= end; guard++) {
    const type = out.readUInt16BE(p);
    const length = out.readUInt16BE(p + 2);
    const body = p + 4;
    if (type === EXT_KEY_SHARE && length >= 2) {
      let q = body + 2;
      const stop = Math.min(end, body + length);
      for (let share = 0; share < 16 && q + 4 <= stop; share++) {
        const keyLength = out.readUInt16BE(q + 2);
        fill(out, q + 4, Math.min(keyLength, stop - q - 4), 0x33 + share);
        q += 4 + keyLength;
      }
    }
    p = body + length;
  }
  return out;
}

/** Re-frames a single-record ClientHello into records of at most `size` payload bytes. */
export function reframe(record: Buffer, size: number): Buffer {
  const payload = record.subarray(5);
  const parts: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const part = payload.subarray(i, i + size);
    const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    parts.push(head, part);
  }
  return Buffer.concat(parts);
}

export const LONG_SERVER_NAME = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example.test`;

/** Real ClientHellos (with SNI, without SNI, long SNI), each also split over several records. */
export async function clientHelloSeeds(): Promise<Buffer[]> {
  const names = ['gateway.example.com', '', LONG_SERVER_NAME];
  const seeds: Buffer[] = [];
  for (const name of names) {
    const hello = scrubClientHello(await captureClientHello(name));
    seeds.push(hello);
    // The smallest records within the record bound, then two common sizes.
    const fewest = Math.ceil((hello.length - 5) / MAX_CLIENT_HELLO_RECORDS);
    for (const size of [fewest, 64, 200]) seeds.push(reframe(hello, size));
  }
  return seeds;
}

function v2Header(command: number, family: number, block: Buffer): Buffer {
  const head = Buffer.from([
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0, 0, 0, 0,
  ]);
  head[12] = 0x20 | command;
  head[13] = family;
  head.writeUInt16BE(block.length, 14);
  return Buffer.concat([head, block]);
}

const V4_BLOCK = Buffer.from([192, 0, 2, 10, 198, 51, 100, 7, 0xc8, 0x2e, 0x01, 0xbb]);
const V6_BLOCK = Buffer.concat([
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('20010db8000000000000000000000002', 'hex'),
  Buffer.from([0xc8, 0x2e, 0x01, 0xbb]),
]);

/**
 * Request-head inputs in the layout the request-head target reads: an optional PROXY
 * header, then a request-target line, then header lines ("name: value"), separated by LF.
 */
export function requestHeadSeeds(): Buffer[] {
  const heads = [
    'http://example.com/\nHost: example.com\nUser-Agent: probe/1.0\nAccept: */*',
    'http://EXAMPLE.com:8080/a/b?x=1#frag\nConnection: close, X-Trace\nX-Trace: 1\nX-Keep: 2',
    'http://[2001:db8::1]:8443/x\nProxy-Authorization: Basic Zm9vOmJhcg==\nVia: 1.1 lb\nX-Forwarded-For: 10.0.0.1',
    'example.com:443\nProxy-Connection: keep-alive\nKeep-Alive: timeout=5\nTE: trailers\nUpgrade: h2c',
    '[::1]:443\nForwarded: for=10.0.0.1\nTransfer-Encoding: chunked\nContent-Length: 10\nExpect: 100-continue',
    'http://bücher.example/\nTrailer: X-Sum\nAccept-Language: de',
    'http://例え.テスト/\nX-A: 1',
    'http://a\u3002b\uff0ec/\nX-B: 2',
    'http://xn--bcher-kva.example:80/?q\nCookie: a=b',
    'http://0x7f.1/\nX-C: 3',
    'updates.example.net.:8531\nX-D: 4',
    `http://${LONG_SERVER_NAME}/\nX-E: 5`,
  ];
  const body = heads.map((head) => Buffer.from(head, 'utf8'));
  const withProxy = [
    Buffer.concat([Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.7 51246 443\r\n'), body[0]!]),
    Buffer.concat([Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 51246 443\r\n'), body[3]!]),
    Buffer.concat([Buffer.from('PROXY UNKNOWN\r\n'), body[1]!]),
    Buffer.concat([v2Header(1, 0x11, V4_BLOCK), body[0]!]),
    Buffer.concat([v2Header(1, 0x21, V6_BLOCK), body[4]!]),
    Buffer.concat([v2Header(0, 0x00, Buffer.alloc(0)), body[2]!]),
    Buffer.concat([v2Header(1, 0x00, Buffer.alloc(0)), body[5]!]),
  ];
  return [...body, ...withProxy];
}
