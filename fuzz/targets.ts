/**
 * Fuzz targets: each turns one byte string into calls to the code under test and checks the
 * properties the code promises. A target throws on a broken promise (PropertyViolation) and
 * lets any exception from the code under test escape: both are crashes for the engine.
 *
 * Coverage is taken from the target modules as imported here. Checks that need extra calls
 * (prefixes, extensions, idempotence) go to a second instance of the same module, imported
 * with a query string: same code, separate functions, so those calls do not count as
 * coverage of the input being tested.
 */
import { isIP } from 'node:net';
import type * as ClientHelloModule from '../src/gateway/tls-client-hello.js';
import {
  MAX_CLIENT_HELLO_BYTES,
  MAX_CLIENT_HELLO_RECORDS,
  parseClientHello,
} from '../src/gateway/tls-client-hello.js';
import type { ClientHelloResult } from '../src/gateway/tls-client-hello.js';
import { forwardHeaders } from '../src/gateway/headers.js';
import { loadNative } from '../src/gateway/native.js';
import type * as ProxyModule from '../src/gateway/proxy-protocol.js';
import { parseProxyHeader, type ProxyHeaderResult } from '../src/gateway/proxy-protocol.js';
import { parseConnectTarget, parseHttpTarget } from '../src/gateway/request-target.js';
import type * as HostModule from '../src/policy/host.js';
import { normalizeHost } from '../src/policy/host.js';
import type * as HttpBodyModule from '../src/gateway/http-body.js';
import type * as HttpHeadModule from '../src/gateway/http-head.js';
import { checkMessage } from './http-message.js';
import { clientHelloSeeds, requestHeadSeeds } from './seeds.js';

/** A broken promise of the code under test. `signature` groups violations of the same kind. */
export class PropertyViolation extends Error {
  override readonly name = 'PropertyViolation';
  constructor(
    readonly signature: string,
    message: string,
  ) {
    super(message);
  }
}

function violated(signature: string, message: string): never {
  throw new PropertyViolation(signature, message);
}

export interface FuzzTarget {
  readonly name: string;
  readonly description: string;
  /** Longest input the engine generates. */
  readonly maxLength: number;
  /** Script URLs whose block coverage guides the search. */
  readonly coverage: readonly string[];
  /** Byte strings the dictionary mutator inserts or overwrites. */
  readonly dictionary: readonly Buffer[];
  seeds(): Promise<Buffer[]>;
  /** Loads the code under test and returns the function that runs one input (throws on a crash). */
  load(): Promise<(input: Buffer) => void>;
  /** A format-aware mutation, used by the engine next to its byte-level ones; null when it does not apply. */
  readonly mutate?: (data: Buffer, random: Chance) => Buffer | null;
}

/** The engine's random numbers, as seen by a target's own mutation. */
export interface Chance {
  /** An integer in [0, n). */
  below(n: number): number;
}

const moduleUrl = (path: string): string => new URL(`../src/${path}`, import.meta.url).href;

/** A second instance of a module (for oracle calls), not counted as coverage. */
async function oracleInstance<T>(path: string): Promise<T> {
  return (await import(`${moduleUrl(path)}?oracle`)) as T;
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);
const text = (value: string): Buffer => Buffer.from(value, 'utf8');

function hex(data: Buffer, max = 64): string {
  return data.length <= max ? data.toString('hex') : `${data.subarray(0, max).toString('hex')}…`;
}

// ---------------------------------------------------------------------------------------------
// client-hello: parseClientHello and ClientHelloReader

const HOST_NAME_BYTES = /^[\x21-\x7e]{1,255}$/;
const MAX_RECORD_PAYLOAD = 16_384;

function describe(result: ClientHelloResult): string {
  switch (result.status) {
    case 'ok':
      return `ok(${JSON.stringify(result.serverName)})`;
    case 'malformed':
      return `malformed(${result.why})`;
    default:
      return result.status;
  }
}

const rejected = (r: ClientHelloResult): boolean => r.status === 'malformed' || r.status === 'not_tls';

function checkHelloShape(result: ClientHelloResult): void {
  switch (result.status) {
    case 'incomplete':
    case 'not_tls':
      return;
    case 'malformed':
      if (typeof result.why !== 'string' || result.why === '')
        violated('hello-shape', 'malformed without a reason');
      return;
    case 'ok':
      if (result.serverName !== null && !HOST_NAME_BYTES.test(result.serverName)) {
        violated(
          'hello-sni-bytes',
          `serverName ${JSON.stringify(result.serverName)}: not 1-255 bytes in 0x21-0x7e`,
        );
      }
      return;
    default:
      violated('hello-shape', `unknown status ${JSON.stringify(result)}`);
  }
}

/**
 * Verdicts are final: if `shorter` (a prefix of `longer`) is ok, `longer` is the same ok; if
 * `shorter` is refused, so is `longer`.
 */
function checkExtension(shorter: ClientHelloResult, longer: ClientHelloResult, where: string): void {
  if (shorter.status === 'ok') {
    if (longer.status !== 'ok' || longer.serverName !== shorter.serverName) {
      violated(
        'hello-ok-not-final',
        `${where}: the shorter input is ${describe(shorter)} but the longer one is ${describe(longer)}`,
      );
    }
  } else if (rejected(shorter) && !rejected(longer)) {
    violated(
      `hello-refusal-not-final:${longer.status}`,
      `${where}: the shorter input is ${describe(shorter)} but the longer one is ${describe(longer)}`,
    );
  }
}

/** Prefix lengths to re-parse: all short ones, record boundaries, the size limit, and a spread. */
function cutPoints(data: Buffer): number[] {
  const n = data.length;
  const cuts = new Set<number>();
  for (let i = 1; i < Math.min(n, 48); i++) cuts.add(i);
  const boundaries: number[] = [];
  let offset = 0;
  for (let guard = 0; guard < 4096 && offset + 5 <= n; guard++) {
    boundaries.push(offset);
    offset += 5 + data.readUInt16BE(offset + 3);
  }
  boundaries.push(offset);
  const kept = boundaries.length <= 16 ? boundaries : [...boundaries.slice(0, 8), ...boundaries.slice(-8)];
  for (const b of kept) for (let d = -1; d <= 5; d++) cuts.add(b + d);
  cuts.add(MAX_CLIENT_HELLO_BYTES);
  cuts.add(MAX_CLIENT_HELLO_BYTES + 1);
  for (let k = 1; k < 16; k++) cuts.add(Math.floor((n * k) / 16));
  return [...cuts].filter((c) => c >= 1 && c < n).sort((a, b) => a - b);
}

const TAILS = [
  bytes(0x00),
  bytes(0x16),
  bytes(0x16, 0x03, 0x01, 0x00, 0x01, 0x01),
  bytes(0x17, 0x03, 0x03, 0x00, 0x01, 0x00),
];

/**
 * For a result of `incomplete`: a reason why no longer input can complete `data`, judged from
 * the record layer and the handshake header alone (the bytes any completion must keep).
 */
function framingDeadEnd(data: Buffer): string | null {
  let offset = 0;
  let seen = 0;
  const header: number[] = [];
  for (let guard = 0; guard < 8192 && offset < data.length; guard++) {
    const avail = data.length - offset;
    if (data[offset] !== 0x16) return `the record at ${offset} is not a handshake record`;
    if (avail >= 2 && data[offset + 1] !== 0x03) return `the record at ${offset} has version major byte != 3`;
    if (avail >= 3 && data[offset + 2]! > 0x04) return `the record at ${offset} has version minor byte > 4`;
    if (avail >= 4 && data[offset + 3]! > 0x40) return `the record at ${offset} is longer than 16384 bytes`;
    if (avail < 5) return null;
    const length = data.readUInt16BE(offset + 3);
    if (length === 0) return `the record at ${offset} is empty`;
    if (length > MAX_RECORD_PAYLOAD) return `the record at ${offset} is longer than 16384 bytes`;
    const present = Math.min(length, avail - 5);
    for (let i = 0; i < present && header.length < 4; i++) header.push(data[offset + 5 + i]!);
    seen += present;
    if (header.length >= 1 && header[0] !== 0x01) return 'the first handshake message is not a ClientHello';
    if (header.length === 4) {
      const needed = 4 + ((header[1]! << 16) | (header[2]! << 8) | header[3]!);
      if (needed > MAX_CLIENT_HELLO_BYTES) return `the ClientHello declares ${needed} bytes`;
      if (seen >= needed) return null;
    }
    offset += 5 + length;
  }
  return null;
}

/** If the ClientHello is complete inside a partial last record: `data` with that record finished. */
function finishLastRecord(data: Buffer): Buffer | null {
  let offset = 0;
  for (let guard = 0; guard < 8192 && offset + 5 <= data.length; guard++) {
    const end = offset + 5 + data.readUInt16BE(offset + 3);
    if (end > data.length) return Buffer.concat([data, Buffer.alloc(end - data.length)]);
    offset = end;
  }
  return null;
}

/** A copy of `input` in a buffer followed by other bytes, to notice reads past the end. */
function withBytesAfter(input: Buffer): Buffer {
  const backing = Buffer.alloc(input.length + 64, 0x16);
  input.copy(backing);
  backing.fill(0x03, input.length + 1, input.length + 2);
  return backing.subarray(0, input.length);
}

function exactCopy(input: Buffer): Buffer {
  const copy = Buffer.from(new ArrayBuffer(input.length));
  input.copy(copy);
  return copy;
}

/**
 * The native front passes a tunnel on the name its own parser reads (native/front_scan.h): it
 * may name only what this parser reads as ok with the same name, and wait only where this parser
 * has no ok. Checked on every input when the addon is built.
 */
function checkFront(scan: (bytes: Buffer) => string | 0 | 2, input: Buffer, result: ClientHelloResult): void {
  const front = scan(exactCopy(input));
  if (typeof front === 'string') {
    if (result.status !== 'ok' || result.serverName !== front) {
      violated(
        'front-hello-name',
        `the native front reads ${JSON.stringify(front)}, the reader ${describe(result)}`,
      );
    }
  } else if (front === 0) {
    if (result.status === 'ok')
      violated('front-hello-waits', `the native front waits on ${describe(result)}`);
  } else if (front !== 2) {
    violated('front-hello-shape', `the native front answered ${String(front)}`);
  }
}

async function loadClientHello(): Promise<(input: Buffer) => void> {
  const oracle = await oracleInstance<typeof ClientHelloModule>('gateway/tls-client-hello.js');
  const addon = loadNative().addon;
  const scan = addon === null ? null : addon.scanClientHello.bind(addon);
  return (input) => {
    const result = parseClientHello(withBytesAfter(input));
    checkHelloShape(result);
    if (scan !== null) checkFront(scan, input, result);

    const alone = oracle.parseClientHello(exactCopy(input));
    if (describe(alone) !== describe(result)) {
      violated('hello-reads-past-end', `${describe(alone)} alone, ${describe(result)} with bytes after it`);
    }
    for (const cut of cutPoints(input)) {
      checkExtension(oracle.parseClientHello(input.subarray(0, cut)), result, `prefix of ${cut} bytes`);
    }
    for (const tail of TAILS) {
      checkExtension(result, oracle.parseClientHello(Buffer.concat([input, tail])), `appending ${hex(tail)}`);
    }
    for (const [how, cuts] of splits(input)) {
      const fed = feed(new oracle.ClientHelloReader(), input, cuts);
      if (describe(fed) !== describe(result)) {
        violated('hello-split-dependent', `${describe(result)} at once, ${describe(fed)} fed in ${how}`);
      }
    }
    if (result.status === 'incomplete') {
      const deadEnd = framingDeadEnd(input);
      if (deadEnd !== null) violated('hello-incomplete-dead-end', `incomplete, but ${deadEnd}`);
      // All the ClientHello's bytes are here, only its record is unfinished: the one way on is
      // to finish that record, whose remaining bytes the parser does not read.
      const finished = helloCompleteWithin(input) ? finishLastRecord(input) : null;
      if (finished !== null) {
        const completed = oracle.parseClientHello(finished);
        if (rejected(completed)) {
          violated(
            'hello-incomplete-dead-end',
            `incomplete, but the ClientHello is complete and finishing its record gives ${describe(completed)}`,
          );
        }
      }
    }
  };
}

/** Feeds `data` to a reader in the pieces `cuts` (ascending offsets) mark; returns its verdict. */
function feed(
  reader: InstanceType<typeof ClientHelloModule.ClientHelloReader>,
  data: Buffer,
  cuts: readonly number[],
): ClientHelloResult {
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    reader.push(data.subarray(from, cut));
    from = cut;
  }
  return reader.result;
}

/**
 * Ways to split an input into chunks, as TCP may deliver it: single bytes, fixed pieces, and
 * cut points chosen from the input's own bytes (so that a crash reproduces from the input alone).
 */
function splits(data: Buffer): [string, number[]][] {
  const every = (size: number): number[] => {
    const cuts: number[] = [];
    for (let at = size; at < data.length; at += size) cuts.push(at);
    return cuts;
  };
  const chosen = new Set<number>();
  let state = data.length;
  for (let i = 0; i < Math.min(data.length, 24); i++) {
    state = (Math.imul(state, 31) + data[(i * 7919) % data.length]! + i) >>> 0;
    chosen.add(state % data.length);
  }
  // Single bytes over the first KiB (every record-header split shows there), then one piece.
  const bytewise = every(1).filter((c) => c <= 1024);
  return [
    ['single bytes', bytewise],
    ['pieces of 7', every(7)],
    ['pieces of 120', every(120)],
    ['cuts chosen from the input', [...chosen].filter((c) => c > 0).sort((a, b) => a - b)],
  ];
}

/** True when all the bytes the ClientHello declares are present (its record may still be partial). */
function helloCompleteWithin(data: Buffer): boolean {
  let offset = 0;
  const payload: Buffer[] = [];
  let total = 0;
  for (let guard = 0; guard < 8192 && offset + 5 <= data.length; guard++) {
    const length = data.readUInt16BE(offset + 3);
    const part = data.subarray(offset + 5, Math.min(data.length, offset + 5 + length));
    payload.push(part);
    total += part.length;
    offset += 5 + length;
  }
  if (total < 4) return false;
  const joined = Buffer.concat(payload);
  return total >= 4 + joined.readUIntBE(1, 3);
}

/** The handshake bytes carried by the records in `data` (a partial last record included). */
function recordPayload(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (let guard = 0; guard < 8192 && offset + 5 <= data.length; guard++) {
    const end = offset + 5 + data.readUInt16BE(offset + 3);
    parts.push(data.subarray(offset + 5, Math.min(end, data.length)));
    offset = end;
  }
  return Buffer.concat(parts);
}

interface Extension {
  readonly type: number;
  readonly data: Buffer;
}

/** A ClientHello body split into its fixed fields and extensions, as far as it can be read. */
function splitHello(body: Buffer): { fixed: Buffer; extensions: Extension[] | null } {
  let p = 2 + 32;
  if (p + 1 > body.length) return { fixed: body, extensions: null };
  p += 1 + body[p]!;
  if (p + 2 > body.length) return { fixed: body, extensions: null };
  p += 2 + body.readUInt16BE(p);
  if (p + 1 > body.length) return { fixed: body, extensions: null };
  p += 1 + body[p]!;
  if (p + 2 > body.length) return { fixed: body.subarray(0, Math.min(p, body.length)), extensions: null };
  const fixed = body.subarray(0, p);
  const extensions: Extension[] = [];
  p += 2;
  for (let guard = 0; guard < 512 && p + 4 <= body.length; guard++) {
    const length = body.readUInt16BE(p + 2);
    extensions.push({
      type: body.readUInt16BE(p),
      data: body.subarray(p + 4, Math.min(body.length, p + 4 + length)),
    });
    p += 4 + length;
  }
  return { fixed, extensions };
}

const u16 = (value: number): Buffer => bytes((value >> 8) & 0xff, value & 0xff);

const SNI_NAMES = ['a.b', '', 'x'.repeat(256), 'a b', 'a\x7fb', 'caf\u00e9.example', 'gateway.example.com'];

/** A server_name extension body: one to three entries, sometimes with a wrong list length. */
function serverNameBody(random: Chance): Buffer {
  const entries: Buffer[] = [];
  const count = 1 + random.below(3);
  for (let i = 0; i < count; i++) {
    const name = Buffer.from(SNI_NAMES[random.below(SNI_NAMES.length)]!, 'latin1');
    const type = random.below(4) === 0 ? 1 : 0;
    entries.push(Buffer.concat([bytes(type), u16(name.length), name]));
  }
  const list = Buffer.concat(entries);
  const skew = random.below(6) === 0 ? random.below(3) - 1 : 0;
  const body = Buffer.concat([u16(list.length + skew), list]);
  return random.below(6) === 0 ? body.subarray(0, random.below(body.length)) : body;
}

/**
 * Rebuilds a ClientHello with consistent lengths after a change the byte-level mutations can
 * hardly make (each needs two to four length fields updated together): drop, repeat or
 * reorder extensions, replace the server_name, add padding, cut the body anywhere; then
 * sometimes add handshake bytes after it, and frame it all into records of a random size.
 */
function mutateClientHello(data: Buffer, random: Chance): Buffer | null {
  const hs = recordPayload(data);
  if (hs.length < 4 || hs[0] !== 0x01) return null;
  const body = hs.subarray(4);
  const { fixed, extensions } = splitHello(body);
  let out: Buffer;
  const choice = random.below(7);
  if (extensions === null || choice === 0) {
    out = body.subarray(0, random.below(body.length + 1));
  } else {
    const list = [...extensions];
    const at = random.below(list.length);
    switch (choice) {
      case 1:
        list.splice(at, 1);
        break;
      case 2:
        if (list.length > 0) list.splice(random.below(list.length + 1), 0, list[at]!);
        break;
      case 3:
        if (list.length > 0) list.push(...list.splice(at, 1));
        break;
      case 4: {
        // RFC 7685 padding; sometimes up to the size limit.
        const size = fixed.length + 6 + list.reduce((sum, e) => sum + 4 + e.data.length, 0);
        const room = Math.max(0, MAX_CLIENT_HELLO_BYTES - 4 - size);
        const length = random.below(2) === 0 ? Math.max(0, room - random.below(4)) : random.below(600);
        list.push({ type: 21, data: Buffer.alloc(length) });
        break;
      }
      default: {
        const sni = list.findIndex((e) => e.type === 0);
        const replacement = { type: 0, data: serverNameBody(random) };
        if (sni === -1) list.splice(at, 0, replacement);
        else list[sni] = replacement;
      }
    }
    const encoded = Buffer.concat(list.flatMap((e) => [u16(e.type), u16(e.data.length), e.data]));
    out =
      list.length === 0 && random.below(2) === 0
        ? fixed
        : Buffer.concat([fixed, u16(encoded.length), encoded]);
  }
  // Sometimes more handshake bytes follow in the same flight (coalesced handshake messages).
  const after = random.below(8) === 0 ? Buffer.alloc(1 + random.below(8), 0x02) : Buffer.alloc(0);
  const hello = Buffer.concat([bytes(0x01, 0, 0, 0), out, after]);
  hello.writeUIntBE(Math.max(0, out.length + (random.below(8) === 0 ? random.below(3) - 1 : 0)), 1, 3);
  // Records of any size, mostly few enough to stay within the record bound.
  const fewest = Math.ceil(hello.length / MAX_CLIENT_HELLO_RECORDS);
  const size =
    random.below(2) === 0
      ? hello.length
      : random.below(8) === 0
        ? 1 + random.below(Math.max(1, fewest))
        : fewest + random.below(Math.max(1, hello.length - fewest + 1));
  const records: Buffer[] = [];
  for (let i = 0; i < hello.length; i += Math.max(1, size)) {
    const part = hello.subarray(i, i + Math.max(1, size));
    records.push(bytes(0x16, 0x03, random.below(2) === 0 ? 0x01 : 0x03), u16(part.length), part);
  }
  return Buffer.concat(records);
}

export const clientHelloTarget: FuzzTarget = {
  name: 'client-hello',
  description:
    'parseClientHello / ClientHelloReader: TLS ClientHello server_name across records and segments',
  maxLength: 17 * 1024,
  coverage: [moduleUrl('gateway/tls-client-hello.js')],
  dictionary: [
    bytes(0x16, 0x03, 0x01),
    bytes(0x16, 0x03, 0x03),
    bytes(0x01, 0x00, 0x00),
    bytes(0x03, 0x03),
    bytes(0x00, 0x00),
    bytes(0x00, 0x00, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00),
    bytes(0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04),
    bytes(0x17, 0x03, 0x03),
    bytes(0x15, 0x03, 0x03),
    bytes(0x40, 0x00),
    bytes(0x40, 0x01),
    text('a.b'),
  ],
  seeds: clientHelloSeeds,
  load: loadClientHello,
  mutate: mutateClientHello,
};

// ---------------------------------------------------------------------------------------------
// request-head: PROXY header, request target, host normalisation, header filtering

const NAME = /^[a-z0-9_.-]+$/;
const NEVER_FORWARDED = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'via',
  'x-forwarded-for',
  'forwarded',
  'upgrade',
  'te',
  'keep-alive',
]);
/** Everything forwardHeaders documents dropping, besides Proxy-* and Connection-named headers. */
const DOCUMENTED_DROPS = new Set([
  ...NEVER_FORWARDED,
  'content-length',
  'transfer-encoding',
  'proxy-connection',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
  'host',
  'expect',
]);
const MAX_LINES = 64;

interface RequestHeadOracles {
  readonly host: typeof HostModule;
  readonly proxy: typeof ProxyModule;
}

function describeProxy(result: ProxyHeaderResult): string {
  return JSON.stringify(result);
}

function checkProxy(input: Buffer, result: ProxyHeaderResult, oracle: typeof ProxyModule): void {
  if (result.status === 'incomplete') return;
  if (result.status === 'malformed') {
    if (typeof result.why !== 'string' || result.why === '')
      violated('proxy-shape', 'malformed without a reason');
    return;
  }
  if (result.status !== 'ok') violated('proxy-shape', `unknown status ${describeProxy(result)}`);
  if (!Number.isInteger(result.length) || result.length < 1 || result.length > input.length) {
    violated('proxy-length', `ok.length ${result.length} for an input of ${input.length} bytes`);
  }
  const source = result.source;
  if (source !== null) {
    if (isIP(source.address) === 0)
      violated('proxy-source', `source address ${JSON.stringify(source.address)}`);
    if (!Number.isInteger(source.port) || source.port < 0 || source.port > 65535) {
      violated('proxy-source', `source port ${source.port}`);
    }
  }
  const alone = oracle.parseProxyHeader(exactCopy(input.subarray(0, result.length)));
  if (describeProxy(alone) !== describeProxy(result)) {
    violated('proxy-not-self-delimiting', `the header alone gives ${describeProxy(alone)}`);
  }
  const longer = oracle.parseProxyHeader(Buffer.concat([input, bytes(0x0d, 0x0a, 0x00)]));
  if (describeProxy(longer) !== describeProxy(result)) {
    violated('proxy-ok-not-final', `appending bytes gives ${describeProxy(longer)}`);
  }
}

function checkHost(host: string, oracles: RequestHeadOracles): void {
  const result = normalizeHost(host);
  switch (result.kind) {
    case 'name': {
      const name = result.name;
      if (!NAME.test(name) || name.length > 253) {
        violated('host-name-shape', `normalizeHost(${JSON.stringify(host)}) = ${JSON.stringify(name)}`);
      }
      const again = oracles.host.normalizeHost(name);
      if (again.kind !== 'name' || again.name !== name) {
        violated(
          'host-not-idempotent',
          `normalizeHost(${JSON.stringify(host)}) = ${JSON.stringify(name)}, then ${JSON.stringify(again)}`,
        );
      }
      return;
    }
    case 'ip': {
      if (isIP(result.address) !== result.family) {
        violated('host-ip-shape', `normalizeHost(${JSON.stringify(host)}) = ${JSON.stringify(result)}`);
      }
      const again = oracles.host.normalizeHost(result.address);
      if (again.kind !== 'ip' || again.address !== result.address) {
        violated(
          'host-not-idempotent',
          `normalizeHost(${JSON.stringify(host)}) = ${JSON.stringify(result)}, then ${JSON.stringify(again)}`,
        );
      }
      return;
    }
    case 'invalid':
      if (typeof result.why !== 'string' || result.why === '')
        violated('host-shape', 'invalid without a reason');
      return;
    default:
      violated('host-shape', `unknown kind ${JSON.stringify(result)}`);
  }
}

function checkTarget(url: string, oracles: RequestHeadOracles): void {
  const http = parseHttpTarget(url);
  if (!('error' in http)) {
    if (/[@/?#]/.test(http.host) || http.host === '') {
      violated(
        'http-target-host',
        `parseHttpTarget(${JSON.stringify(url)}) host ${JSON.stringify(http.host)}`,
      );
    }
    if (!Number.isInteger(http.port) || http.port < 1 || http.port > 65535) {
      violated('http-target-port', `parseHttpTarget(${JSON.stringify(url)}) port ${http.port}`);
    }
    if (!http.path.startsWith('/') || http.path.includes('#')) {
      violated(
        'http-target-path',
        `parseHttpTarget(${JSON.stringify(url)}) path ${JSON.stringify(http.path)}`,
      );
    }
    checkHost(http.host, oracles);
  } else if (typeof http.error !== 'string') {
    violated('http-target-shape', `parseHttpTarget(${JSON.stringify(url)}) = ${JSON.stringify(http)}`);
  }
  const connect = parseConnectTarget(url);
  if (!('error' in connect)) {
    if (!Number.isInteger(connect.port) || connect.port < 1 || connect.port > 65535 || connect.host === '') {
      violated('connect-target', `parseConnectTarget(${JSON.stringify(url)}) = ${JSON.stringify(connect)}`);
    }
    checkHost(connect.host, oracles);
  }
  checkHost(url, oracles);
}

/** The Connection tokens of a header list, as the head parser collects them. */
function connectionTokensOf(raw: readonly string[]): string[] {
  const named: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') named.push(t);
    }
  }
  return named;
}

/** The headers forwardHeaders documents keeping, computed independently. */
function expectedHeaders(raw: readonly string[]): string[] {
  const named = new Set(connectionTokensOf(raw));
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const dropped = DOCUMENTED_DROPS.has(lower) || lower.startsWith('proxy-') || named.has(lower);
    if (!dropped) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function checkHeaders(raw: readonly string[]): void {
  const out = forwardHeaders(raw, connectionTokensOf(raw));
  if (out.length % 2 !== 0) violated('headers-shape', `odd output length ${out.length}`);
  let j = 0;
  for (let i = 0; i + 1 < raw.length && j < out.length; i += 2) {
    if (raw[i] === out[j] && raw[i + 1] === out[j + 1]) j += 2;
  }
  if (j !== out.length)
    violated('headers-order', `output ${JSON.stringify(out)} is not a subsequence of the input`);
  for (let i = 0; i < out.length; i += 2) {
    const lower = out[i]!.replace(/[A-Z]/g, (c) => c.toLowerCase());
    if (NEVER_FORWARDED.has(lower) || lower.startsWith('proxy-')) {
      violated('headers-forwarded', `${JSON.stringify(out[i])} survived forwardHeaders`);
    }
  }
  const expected = expectedHeaders(raw);
  if (JSON.stringify(expected) !== JSON.stringify(out)) {
    violated('headers-dropped', `kept ${JSON.stringify(out)}, expected ${JSON.stringify(expected)}`);
  }
}

/** Splits at LF (at most MAX_LINES lines), dropping one CR before each LF. */
function lines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (out.length < MAX_LINES - 1) {
    const lf = data.indexOf(0x0a, start);
    if (lf === -1) break;
    out.push(data.subarray(start, lf > start && data[lf - 1] === 0x0d ? lf - 1 : lf));
    start = lf + 1;
  }
  out.push(data.subarray(start));
  return out;
}

/** Header lines as Node's rawHeaders: name as written, value without surrounding SP/HTAB. */
function rawHeaders(headerLines: readonly Buffer[]): string[] {
  const raw: string[] = [];
  for (const line of headerLines) {
    const textLine = line.toString('latin1');
    const colon = textLine.indexOf(':');
    const name = colon === -1 ? textLine : textLine.slice(0, colon);
    const value = colon === -1 ? '' : textLine.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    raw.push(name, value);
  }
  return raw;
}

function runRequestHead(input: Buffer, oracles: RequestHeadOracles): void {
  const proxy = parseProxyHeader(input);
  checkProxy(input, proxy, oracles.proxy);
  const head = proxy.status === 'ok' ? input.subarray(proxy.length) : input;
  const [first, ...rest] = lines(head);
  const target = first ?? Buffer.alloc(0);
  const utf8 = target.toString('utf8');
  checkTarget(utf8, oracles);
  const latin1 = target.toString('latin1');
  if (latin1 !== utf8) checkTarget(latin1, oracles);
  const raw = rawHeaders(rest);
  checkHeaders(raw);
}

async function requestHeadOracles(): Promise<RequestHeadOracles> {
  return {
    host: await oracleInstance<typeof HostModule>('policy/host.js'),
    proxy: await oracleInstance<typeof ProxyModule>('gateway/proxy-protocol.js'),
  };
}

const REQUEST_HEAD_DICTIONARY = [
  text('PROXY TCP4 '),
  text('PROXY TCP6 '),
  text('PROXY UNKNOWN'),
  text('\r\n'),
  bytes(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a),
  bytes(0x21, 0x11, 0x00, 0x0c),
  bytes(0x21, 0x21, 0x00, 0x24),
  text('http://'),
  text('HTTP://'),
  text('['),
  text(']'),
  text(':'),
  text('%'),
  text('%25'),
  text('@'),
  text('xn--'),
  text('\u3002'),
  text('\uff0e'),
  text('.'),
  text('::ffff:'),
  text('0x'),
  text('\n'),
  text('Connection: '),
  text('Proxy-'),
  text('Keep-Alive'),
  text('Transfer-Encoding'),
  text('X-Forwarded-For'),
  text('Forwarded'),
  text(', '),
];

export const requestHeadTarget: FuzzTarget = {
  name: 'request-head',
  description:
    'parseProxyHeader, parseHttpTarget, parseConnectTarget, normalizeHost, splitAuthority, filterHeaders',
  maxLength: 4096,
  coverage: [
    moduleUrl('gateway/proxy-protocol.js'),
    moduleUrl('gateway/request-target.js'),
    moduleUrl('gateway/headers.js'),
    moduleUrl('policy/host.js'),
  ],
  dictionary: REQUEST_HEAD_DICTIONARY,
  seeds: () => Promise.resolve(requestHeadSeeds()),
  async load() {
    const oracles = await requestHeadOracles();
    return (input) => runRequestHead(input, oracles);
  },
};

// ---------------------------------------------------------------------------------------------
// canary: a deliberately broken target, to show that the engine reports what it finds

/**
 * The request-head target plus a planted bug: it throws when an absolute-form request target
 * has a host containing "%". No seed does; one mutation (a byte, or the dictionary's "%") does. Used by the engine's own
 * tests and to check a CI setup: `--target canary` must fail.
 */
export const canaryTarget: FuzzTarget = {
  ...requestHeadTarget,
  name: 'canary',
  description: 'request-head with a planted bug (throws on "%" in an absolute-form host)',
  async load() {
    const oracles = await requestHeadOracles();
    return (input) => {
      runRequestHead(input, oracles);
      const [first] = lines(proxyRest(input));
      const http = parseHttpTarget((first ?? Buffer.alloc(0)).toString('utf8'));
      if (!('error' in http) && http.host.includes('%')) throw new Error(`canary: host ${http.host}`);
    };
  },
};

function proxyRest(input: Buffer): Buffer {
  const proxy = parseProxyHeader(input);
  return proxy.status === 'ok' ? input.subarray(proxy.length) : input;
}

// ---------------------------------------------------------------------------------------------
// http-message: request and response heads and bodies, against llhttp

const HTTP_MESSAGE_SEEDS = [
  'GET http://crl.example/pki/crl/x.crl HTTP/1.1\r\nHost: crl.example\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n',
  'POST http://ocsp.example/ HTTP/1.1\r\nHost: ocsp.example\r\nContent-Type: application/ocsp-request\r\nContent-Length: 5\r\n\r\nhello',
  'POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n',
  'CONNECT winatp-gw-eus.microsoft.com:443 HTTP/1.1\r\nHost: winatp-gw-eus.microsoft.com:443\r\nProxy-Connection: Keep-Alive\r\n\r\n',
  'GET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: 4\r\n\r\nabcd',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
  'HTTP/1.0 304 Not Modified\r\nETag: "x"\r\n\r\n',
  'HTTP/1.1 204 \r\n\r\n',
  // Whitespace around the framing fields' values (llhttp refuses a tab after them).
  'POST http://a.example/ HTTP/1.1\r\nHost: a.example\r\nContent-Length:\t4 \r\n\r\nabcd',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding:\tchunked \r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
];

export const httpMessageTarget: FuzzTarget = {
  name: 'http-message',
  description: 'parseRequestHead, parseResponseHead, BodyReader, against llhttp',
  maxLength: 2048,
  coverage: [moduleUrl('gateway/http-head.js'), moduleUrl('gateway/http-body.js')],
  dictionary: [
    text('\r\n'),
    text('\r\n\r\n'),
    text('Content-Length: '),
    text('Transfer-Encoding: chunked'),
    text('Transfer-Encoding: '),
    text('Connection: '),
    text('Host: '),
    text('HTTP/1.1'),
    text('HTTP/1.0'),
    text(' chunked'),
    text(';'),
    text('0\r\n\r\n'),
    text('\n'),
    text(' '),
    text('\t'),
    text(','),
    bytes(0x00),
    bytes(0x7f),
  ],
  seeds: () => Promise.resolve(HTTP_MESSAGE_SEEDS.map((s) => Buffer.from(s, 'latin1'))),
  async load() {
    const head = (await import(moduleUrl('gateway/http-head.js'))) as typeof HttpHeadModule;
    const body = (await import(moduleUrl('gateway/http-body.js'))) as typeof HttpBodyModule;
    return (input) => {
      const violation = checkMessage(input, head, body);
      if (violation !== null) violated(violation.signature, violation.message);
    };
  },
};

export const TARGETS: Readonly<Record<string, FuzzTarget>> = {
  [clientHelloTarget.name]: clientHelloTarget,
  [requestHeadTarget.name]: requestHeadTarget,
  [canaryTarget.name]: canaryTarget,
  [httpMessageTarget.name]: httpMessageTarget,
};
