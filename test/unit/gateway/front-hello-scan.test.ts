import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { captureClientHello } from '../../helpers/client-hello.js';
import { loadNative } from '../../../src/gateway/native.js';
import { parseClientHello } from '../../../src/gateway/tls-client-hello.js';
import { requirement } from '../../helpers/skip.js';

/*
 * The native front passes a tunnel itself when its ClientHello names the CONNECT host, so its
 * C parser must never accept what JavaScript's reader (the judgement the gateway documents)
 * refuses, nor read another name. Differential: the same bytes through both, for real
 * ClientHellos, hand-made edge cases and many generated and mutated ones.
 */

const native = loadNative();
const scan = native.addon === null ? null : native.addon.scanClientHello.bind(native.addon);
const MORE = 0;
const OTHER = 2;

/** Deterministic generator (a linear congruential one): the same cases on every run. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
}

function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function serverName(entries: readonly [number, Buffer][]): Buffer {
  const list = Buffer.concat(
    entries.map(([type, name]) => Buffer.concat([Buffer.from([type]), u16(name.length), name])),
  );
  return Buffer.concat([u16(list.length), list]);
}

interface Parts {
  session?: number;
  suites?: number;
  compression?: number;
  extensions?: Buffer[] | null;
  extensionsLength?: number;
}

/** A ClientHello handshake message (type, 24-bit length, body) from parts. */
function message(parts: Parts): Buffer {
  const body: Buffer[] = [Buffer.from([3, 3]), Buffer.alloc(32, 7)];
  const session = parts.session ?? 32;
  body.push(Buffer.from([session]), Buffer.alloc(session, 1));
  const suites = parts.suites ?? 4;
  body.push(u16(suites), Buffer.alloc(suites, 0x13));
  const compression = parts.compression ?? 1;
  body.push(Buffer.from([compression]), Buffer.alloc(compression));
  if (parts.extensions !== null) {
    const extensions = Buffer.concat(parts.extensions ?? []);
    body.push(u16(parts.extensionsLength ?? extensions.length), extensions);
  }
  const all = Buffer.concat(body);
  const head = Buffer.from([1, 0, 0, 0]);
  head.writeUIntBE(all.length, 1, 3);
  return Buffer.concat([head, all]);
}

function record(payload: Buffer, length = payload.length, version = [3, 1]): Buffer {
  return Buffer.concat([Buffer.from([0x16, version[0]!, version[1]!]), u16(length), payload]);
}

/** One record holding exactly `msg`: the only shape the front judges. */
function oneRecord(msg: Buffer): Buffer {
  return record(msg);
}

/**
 * Checks the front's answer against JavaScript's reader for the same bytes. A name only when
 * JavaScript reads the same name from a complete ClientHello; and for a well-formed one-record
 * ClientHello with a name, the front must answer it (else the fast path never runs).
 */
function agree(bytes: Buffer, what: string): string | 0 | 2 {
  const front = scan!(bytes);
  const js = parseClientHello(bytes);
  if (typeof front === 'string') {
    assert.equal(
      js.status,
      'ok',
      `${what}: the front read "${front}", JavaScript says ${JSON.stringify(js)}`,
    );
    assert.equal(js.status === 'ok' && js.serverName, front, `${what}: another name`);
  } else if (front === MORE) {
    assert.notEqual(js.status, 'ok', `${what}: the front waits, JavaScript has a verdict`);
  } else {
    assert.equal(front, OTHER, `${what}: unknown answer ${String(front)}`);
  }
  const singleRecord =
    bytes.length >= 9 &&
    bytes.readUInt16BE(3) === bytes.readUIntBE(6, 3) + 4 &&
    bytes.length >= 5 + bytes.readUInt16BE(3);
  if (js.status === 'ok' && js.serverName !== null && singleRecord) {
    assert.equal(front, js.serverName, `${what}: a one-record ClientHello the front did not read`);
  }
  return front;
}

const HOST = 'winatp-gw-eus.microsoft.com';

describe(
  'the native front reads ClientHellos as JavaScript does',
  { skip: requirement('front ClientHello scan', native.why) },
  () => {
    const real: Buffer[] = [];
    before(async () => {
      for (const name of [
        HOST,
        'A.Example.TEST.',
        'x',
        `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example`,
        undefined,
      ]) {
        real.push(await captureClientHello(name));
      }
    });

    test('real ClientHellos: the name as sent, none without server_name, and waits on every prefix', () => {
      assert.equal(agree(real[0]!, 'node'), HOST);
      assert.equal(agree(real[1]!, 'mixed case, trailing dot'), 'A.Example.TEST.');
      assert.equal(agree(real[4]!, 'no server_name'), OTHER);
      for (const hello of real) {
        for (let cut = 0; cut < hello.length; cut++) {
          const answer = agree(hello.subarray(0, cut), `prefix ${cut}`);
          assert.equal(answer, MORE, `prefix of ${cut} bytes`);
        }
        // Early data after the record is not read.
        const early = Buffer.concat([hello, Buffer.from([0x17, 3, 3, 0, 1, 0])]);
        assert.equal(typeof agree(early, 'early data'), hello === real[4] ? 'number' : 'string');
      }
    });

    test('hand-made edge cases', () => {
      const sni = (name: string): Buffer => extension(0, serverName([[0, Buffer.from(name, 'latin1')]]));
      /** One record whose only extension is a server_name with these (name type, name) entries. */
      const names = (...entries: [number, string][]): Buffer =>
        oneRecord(
          message({
            extensions: [extension(0, serverName(entries.map(([type, name]) => [type, Buffer.from(name)])))],
          }),
        );
      const ok = message({ extensions: [sni('a.example')] });
      const cases: [string, Buffer, string | 0 | 2][] = [
        ['minimal', oneRecord(ok), 'a.example'],
        ['record version 3.0', record(ok, ok.length, [3, 0]), 'a.example'],
        ['record version 3.4', record(ok, ok.length, [3, 4]), 'a.example'],
        ['record version 3.5', record(ok, ok.length, [3, 5]), OTHER],
        ['record version 2.1', record(ok, ok.length, [2, 1]), OTHER],
        ['not a handshake record', Buffer.concat([Buffer.from([0x17]), oneRecord(ok).subarray(1)]), OTHER],
        ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n'), OTHER],
        ['two records', Buffer.concat([record(ok.subarray(0, 10)), record(ok.subarray(10))]), OTHER],
        ['a record longer than the ClientHello', record(Buffer.concat([ok, Buffer.from([1])])), OTHER],
        ['an empty record', record(Buffer.alloc(0)), OTHER],
        ['a record of 16,385 bytes', Buffer.concat([Buffer.from([0x16, 3, 1, 0x40, 0x01])]), OTHER],
        ['not a ClientHello', oneRecord(Buffer.concat([Buffer.from([2]), ok.subarray(1)])), OTHER],
        ['session id of 33', oneRecord(message({ session: 33, extensions: [sni('a.example')] })), OTHER],
        ['odd cipher suites', oneRecord(message({ suites: 3, extensions: [sni('a.example')] })), OTHER],
        ['no cipher suites', oneRecord(message({ suites: 0, extensions: [sni('a.example')] })), OTHER],
        ['no compression', oneRecord(message({ compression: 0, extensions: [sni('a.example')] })), OTHER],
        ['no extensions', oneRecord(message({ extensions: null })), OTHER],
        ['empty extensions', oneRecord(message({ extensions: [] })), OTHER],
        [
          'extensions length too long',
          oneRecord(message({ extensions: [sni('a.example')], extensionsLength: 200 })),
          OTHER,
        ],
        [
          'a duplicate extension',
          oneRecord(
            message({
              extensions: [extension(10, Buffer.alloc(2)), sni('a'), extension(10, Buffer.alloc(0))],
            }),
          ),
          OTHER,
        ],
        ['server_name twice', oneRecord(message({ extensions: [sni('a'), sni('a')] })), OTHER],
        ['two host_names', names([0, 'a'], [0, 'b']), OTHER],
        ['another name type first', names([1, 'zz'], [0, 'b']), 'b'],
        ['only another name type', names([1, 'zz']), OTHER],
        ['an empty host_name', oneRecord(message({ extensions: [sni('')] })), OTHER],
        ['a host_name of 255', oneRecord(message({ extensions: [sni('a'.repeat(255))] })), 'a'.repeat(255)],
        ['a host_name of 256', oneRecord(message({ extensions: [sni('a'.repeat(256))] })), OTHER],
        ['a space in the host_name', oneRecord(message({ extensions: [sni('a b')] })), OTHER],
        ['DEL in the host_name', oneRecord(message({ extensions: [sni('a\u007f')] })), OTHER],
        ['a high byte in the host_name', oneRecord(message({ extensions: [sni('a\u00e9')] })), OTHER],
        [
          'server_name list length off',
          oneRecord(
            message({
              extensions: [
                extension(0, Buffer.concat([u16(9), serverName([[0, Buffer.from('a')]]).subarray(2)])),
              ],
            }),
          ),
          OTHER,
        ],
        [
          '64 extensions',
          oneRecord(
            message({
              extensions: [
                sni('a'),
                ...Array.from({ length: 63 }, (_, i) => extension(100 + i, Buffer.alloc(0))),
              ],
            }),
          ),
          'a',
        ],
        [
          '65 extensions (left to JavaScript)',
          oneRecord(
            message({
              extensions: [
                sni('a'),
                ...Array.from({ length: 64 }, (_, i) => extension(100 + i, Buffer.alloc(0))),
              ],
            }),
          ),
          OTHER,
        ],
      ];
      for (const [what, bytes, expected] of cases) {
        const front = scan!(bytes);
        assert.equal(front, expected, what);
        if (what.startsWith('65 extensions')) {
          // JavaScript reads it; the front leaves it to JavaScript.
          assert.deepEqual(parseClientHello(bytes), { status: 'ok', serverName: 'a' });
          continue;
        }
        agree(bytes, what);
      }
    });

    test('generated ClientHellos (20,000, every field varied)', () => {
      const next = random(0x5eed);
      const names = [
        'a.example',
        'A.EXAMPLE.',
        'x',
        'a b',
        '',
        'a'.repeat(255),
        'a'.repeat(256),
        'é.example',
        'a..b',
        '-',
      ];
      let named = 0;
      for (let k = 0; k < 20_000; k++) {
        const entries: [number, Buffer][] = [];
        for (let e = next(3); e >= 0; e--)
          entries.push([next(4) === 0 ? 1 : 0, Buffer.from(names[next(names.length)]!, 'latin1')]);
        const extensions: Buffer[] = [];
        for (let e = next(6); e > 0; e--) {
          const type = next(3) === 0 ? 0 : next(5) + 10;
          extensions.push(
            type === 0 ? extension(0, serverName(entries)) : extension(type, Buffer.alloc(next(4))),
          );
        }
        const msg = message({
          session: next(10) === 0 ? 33 : next(33),
          suites: next(8) === 0 ? next(5) : 2 * (1 + next(20)),
          compression: next(10) === 0 ? 0 : 1 + next(2),
          extensions: next(12) === 0 ? null : extensions,
          ...(next(15) === 0 ? { extensionsLength: next(300) } : {}),
        });
        let bytes: Buffer;
        switch (next(6)) {
          case 0:
            bytes = record(msg, msg.length + next(3) - 1);
            break;
          case 1: {
            const cut = 1 + next(msg.length - 1);
            bytes = Buffer.concat([record(msg.subarray(0, cut)), record(msg.subarray(cut))]);
            break;
          }
          case 2:
            bytes = oneRecord(msg).subarray(0, next(msg.length + 5));
            break;
          default:
            bytes = oneRecord(msg);
        }
        if (typeof agree(bytes, `generated ${k}`) === 'string') named++;
      }
      // The generator reaches the accepting paths, not only refusals.
      assert.ok(named > 300, `only ${named} named`);
    });

    test('mutated real ClientHellos (every byte flipped, and 20,000 random mutations)', () => {
      const hello = real[0]!;
      for (let at = 0; at < hello.length; at++) {
        for (const bit of [0x01, 0x80, 0xff]) {
          const bytes = Buffer.from(hello);
          bytes[at] = bytes[at]! ^ bit;
          agree(bytes, `byte ${at} ^ ${bit}`);
        }
      }
      const next = random(0xc0ffee);
      for (let k = 0; k < 20_000; k++) {
        const source = real[next(real.length)]!;
        let bytes = Buffer.from(source);
        for (let m = 1 + next(3); m > 0; m--) {
          const at = next(bytes.length);
          switch (next(4)) {
            case 0:
              bytes[at] = next(256);
              break;
            case 1:
              bytes = bytes.subarray(0, at);
              break;
            case 2:
              bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([next(256)]), bytes.subarray(at)]);
              break;
            default:
              bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          }
          if (bytes.length === 0) break;
        }
        agree(bytes, `mutation ${k}`);
      }
    });
  },
);
