import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { captureClientHello } from '../../helpers/client-hello.js';
import {
  ClientHelloReader,
  MAX_CLIENT_HELLO_BYTES,
  MAX_CLIENT_HELLO_RECORDS,
  parseClientHello,
  type ClientHelloResult,
} from '../../../src/gateway/tls-client-hello.js';

/** Re-frames one ClientHello record into several records of at most `size` bytes of payload. */
function reframe(hello: Buffer, size: number): Buffer {
  const payload = hello.subarray(5);
  const records: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const part = payload.subarray(i, i + size);
    const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    records.push(head, part);
  }
  return Buffer.concat(records);
}

/** Replaces the server_name extension's host with `name` (same length) to craft variants. */
function withServerName(hello: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(hello);
  const at = out.indexOf(from, 0, 'latin1');
  assert.ok(at > 0);
  out.write(to, at, 'latin1');
  return out;
}

let hello: Buffer;
let noSni: Buffer;
let longName: Buffer;
const LONG = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example.test`;

before(async () => {
  hello = await captureClientHello('winatp-gw-eus.microsoft.com');
  noSni = await captureClientHello('');
  longName = await captureClientHello(LONG);
});

describe('parseClientHello()', () => {
  test('reads the server name of a real ClientHello', () => {
    assert.deepEqual(parseClientHello(hello), { status: 'ok', serverName: 'winatp-gw-eus.microsoft.com' });
  });
  test('a ClientHello without server_name', () => {
    assert.deepEqual(parseClientHello(noSni), { status: 'ok', serverName: null });
  });
  test('a long server name', () => {
    assert.deepEqual(parseClientHello(longName), { status: 'ok', serverName: LONG });
  });
  test('every strict prefix is incomplete (split over any number of TCP segments)', () => {
    for (let n = 1; n < hello.length; n++) {
      assert.deepEqual(
        parseClientHello(hello.subarray(0, n)),
        { status: 'incomplete' },
        `${n} of ${hello.length} bytes`,
      );
    }
  });
  test('a ClientHello spread over several TLS records', () => {
    const payload = hello.length - 5;
    // The smallest records that keep it within the bound, and two common sizes.
    for (const size of [Math.ceil(payload / MAX_CLIENT_HELLO_RECORDS), 64, 200]) {
      const framed = reframe(hello, size);
      assert.deepEqual(
        parseClientHello(framed),
        { status: 'ok', serverName: 'winatp-gw-eus.microsoft.com' },
        `records of ${size}`,
      );
      for (let n = 1; n < framed.length; n += 13)
        assert.equal(parseClientHello(framed.subarray(0, n)).status, 'incomplete');
    }
  });
  test(`more than ${MAX_CLIENT_HELLO_RECORDS} records before the ClientHello is complete are refused at once`, () => {
    const framed = reframe(hello, 1); // one record per byte
    const recordStart = (k: number): number => k * 6; // header + 1 byte
    const limit = recordStart(MAX_CLIENT_HELLO_RECORDS);
    assert.equal(
      parseClientHello(framed.subarray(0, limit)).status,
      'incomplete',
      'the bound itself is allowed',
    );
    assert.deepEqual(parseClientHello(framed.subarray(0, limit + 1)), {
      status: 'malformed',
      why: `ClientHello spread over more than ${MAX_CLIENT_HELLO_RECORDS} records`,
    });
    assert.deepEqual(parseClientHello(framed, { maxRecords: Infinity }), {
      status: 'ok',
      serverName: 'winatp-gw-eus.microsoft.com',
    });
  });
  test('bytes after the ClientHello (early data) do not matter', () => {
    const early = Buffer.concat([hello, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5])]);
    assert.deepEqual(parseClientHello(early), { status: 'ok', serverName: 'winatp-gw-eus.microsoft.com' });
  });
  test('plain HTTP is not TLS', () => {
    assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { status: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from('S')), { status: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), { status: 'not_tls' });
  });
  test('an empty buffer is incomplete', () =>
    assert.deepEqual(parseClientHello(Buffer.alloc(0)), { status: 'incomplete' }));

  const malformed: [string, () => Buffer, RegExp][] = [
    ['an alert record', () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x02, 0x15, 0x00]), /not a ClientHello/],
    [
      'a ServerHello',
      () => Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]),
      /not a ClientHello/,
    ],
    ['record version 2.x', () => Buffer.from([0x16, 0x02, 0x00, 0x00, 0x01, 0x01]), /record version/],
    ['an empty record', () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), /empty handshake record/],
    ['a record over 16 KiB', () => Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), /longer than 16384/],
    [
      'a handshake length beyond the limit',
      () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff]),
      /too large/,
    ],
    [
      'an application-data record in the middle',
      () => {
        const framed = reframe(hello, 50);
        const cut = framed.subarray(0, 55);
        return Buffer.concat([cut, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])]);
      },
      /non-handshake record/,
    ],
    [
      'a server name with a NUL byte',
      () => withServerName(hello, 'winatp-gw-eus', 'winatp\u0000gw-eus'),
      /not allowed in a DNS name/,
    ],
    [
      'a truncated handshake message inside a complete record',
      () => {
        const out = Buffer.from(hello);
        out.writeUInt16BE(out.readUInt16BE(3) - 10, 3); // record shorter than the message it claims to hold
        return out.subarray(0, out.length - 10);
      },
      /.*/,
    ],
  ];
  for (const [name, make, why] of malformed) {
    test(`refuses ${name}`, () => {
      const input = make();
      const r = parseClientHello(input);
      if (name.startsWith('a truncated')) {
        assert.notEqual(r.status, 'ok');
        return;
      }
      assert.equal(r.status, 'malformed', JSON.stringify(r));
      assert.match(r.status === 'malformed' ? r.why : '', why);
    });
  }

  // Found by the coverage-guided fuzzer (fuzz/): a verdict must not depend on how bytes are split.
  test('trailing handshake bytes are refused whether or not more bytes follow', () => {
    const body = Buffer.concat([
      Buffer.from('0303', 'hex'),
      Buffer.alloc(32),
      Buffer.from('0000021301' + '0100' + '000c000000080006000003612e62', 'hex'),
    ]);
    const msg = Buffer.concat([Buffer.from([1, 0, 0, body.length]), body]);
    const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0, msg.length + 1]), msg, Buffer.from([0])]);
    assert.match(JSON.stringify(parseClientHello(record)), /trailing handshake data/);
    assert.match(
      JSON.stringify(parseClientHello(Buffer.concat([record, Buffer.from([0x16])]))),
      /trailing handshake data/,
    );
    // The same record cut right after the ClientHello's last byte is already refused: the record
    // header announced one byte too many.
    assert.match(
      JSON.stringify(parseClientHello(record.subarray(0, record.length - 1))),
      /trailing handshake data/,
    );
  });

  test('inputs that can never become a ClientHello are refused at once, not left waiting', () => {
    for (const hex of [
      '160305',
      '16030141',
      '160301000501ffffff',
      '16030100010117',
      '16030100100100000403030000',
    ]) {
      assert.equal(parseClientHello(Buffer.from(hex, 'hex')).status, 'malformed', hex);
    }
  });

  test('the size limit applies to the handshake message, not to the record headers around it', () => {
    const big = Buffer.alloc(MAX_CLIENT_HELLO_BYTES);
    big[0] = 1;
    big.writeUIntBE(MAX_CLIENT_HELLO_BYTES - 4, 1, 3);
    const first = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), big.subarray(0, 16_384)]);
    assert.equal(
      parseClientHello(first).status,
      'malformed',
      'a 16 KiB body with no extensions field is malformed, not too large',
    );
    assert.doesNotMatch(JSON.stringify(parseClientHello(first)), /too large/);
  });

  test('a duplicated extension is refused', () => {
    // Build a minimal ClientHello with two server_name extensions.
    const sni = (name: string): Buffer => {
      const host = Buffer.from(name);
      const entry = Buffer.concat([Buffer.from([0]), Buffer.from([0, host.length]), host]);
      const list = Buffer.concat([Buffer.from([0, entry.length]), entry]);
      return Buffer.concat([Buffer.from([0, 0, 0, list.length]), list]);
    };
    const exts = Buffer.concat([sni('a.example'), sni('b.example')]);
    const body = Buffer.concat([
      Buffer.from([0x03, 0x03]),
      Buffer.alloc(32),
      Buffer.from([0]),
      Buffer.from([0, 2, 0x13, 0x01]),
      Buffer.from([1, 0]),
      Buffer.from([exts.length >> 8, exts.length & 0xff]),
      exts,
    ]);
    const msg = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
    const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, msg.length >> 8, msg.length & 0xff]), msg]);
    assert.match(JSON.stringify(parseClientHello(record)), /appears twice/);
  });

  test('a byte-level mutation sweep never throws and never yields a server name with bad bytes', () => {
    let state = 7;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 3000; i++) {
      const input = Buffer.from(hello);
      for (let k = 0; k < 1 + (next() % 4); k++) input[next() % input.length] = next() & 0xff;
      const cut = input.subarray(0, 1 + (next() % input.length));
      const r = parseClientHello(cut);
      if (r.status === 'ok' && r.serverName !== null) assert.match(r.serverName, /^[\x21-\x7e]+$/);
    }
  });

  test('the size cap is above any real ClientHello and below unbounded buffering', () => {
    assert.ok(hello.length < MAX_CLIENT_HELLO_BYTES && MAX_CLIENT_HELLO_BYTES <= 20_000);
  });
});

/** The verdict a reader gives when fed `data` in the pieces that `cuts` (ascending offsets) mark. */
function fed(data: Buffer, cuts: readonly number[], reader = new ClientHelloReader()): ClientHelloResult {
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    reader.push(data.subarray(from, cut));
    from = cut;
  }
  return reader.result;
}

function pieces(length: number, size: number): number[] {
  const cuts: number[] = [];
  for (let at = size; at < length; at += size) cuts.push(at);
  return cuts;
}

/**
 * A ClientHello of exactly `size` bytes (handshake header included) naming `host`, made up to
 * size with an RFC 7685 padding extension.
 */
function helloOfSize(size: number, host: string): Buffer {
  const name = Buffer.from(host);
  const sni = Buffer.alloc(9 + name.length);
  sni.writeUInt16BE(0, 0); // server_name
  sni.writeUInt16BE(5 + name.length, 2);
  sni.writeUInt16BE(3 + name.length, 4);
  sni[6] = 0; // host_name
  sni.writeUInt16BE(name.length, 7);
  name.copy(sni, 9);
  const fixed = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32),
    Buffer.from([0, 0, 2, 0x13, 0x01, 1, 0]),
  ]);
  const paddingLength = size - 4 - fixed.length - 2 - sni.length - 4;
  const padding = Buffer.alloc(4 + paddingLength);
  padding.writeUInt16BE(21, 0);
  padding.writeUInt16BE(paddingLength, 2);
  const extensions = Buffer.concat([sni, padding]);
  const body = Buffer.concat([
    fixed,
    Buffer.from([extensions.length >> 8, extensions.length & 0xff]),
    extensions,
  ]);
  const message = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  message.writeUIntBE(body.length, 1, 3);
  assert.equal(message.length, size);
  return message;
}

/** Frames a handshake message into records of `size` bytes of payload. */
function records(message: Buffer, size: number): Buffer {
  return reframe(Buffer.concat([Buffer.alloc(5), message]), size);
}

describe('ClientHelloReader', () => {
  test('the same verdict however the bytes are split', () => {
    const inputs: [string, Buffer][] = [
      ['one record', hello],
      ['records of 64', reframe(hello, 64)],
      ['records of 13', reframe(hello, 13)],
      ['a truncated hello', hello.subarray(0, 100)],
      ['early data after it', Buffer.concat([hello, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00])])],
      ['a server name with a NUL byte', withServerName(hello, 'winatp-gw-eus', 'winatp\u0000gw-eus')],
      ['too many records', reframe(hello, 1)],
      ['plain HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')],
    ];
    let state = 11;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    for (const [name, input] of inputs) {
      const whole = parseClientHello(input);
      const splits: [string, number[]][] = [
        ['bytes', pieces(input.length, 1)],
        ['pieces of 2', pieces(input.length, 2)],
        ['pieces of 5', pieces(input.length, 5)],
        ['pieces of 120', pieces(input.length, 120)],
      ];
      for (let k = 0; k < 20; k++) {
        const cuts = [...new Set(Array.from({ length: 1 + (next() % 12) }, () => next() % input.length))];
        splits.push([`random cuts ${k}`, cuts.sort((a, b) => a - b)]);
      }
      for (const [how, cuts] of splits) assert.deepEqual(fed(input, cuts), whole, `${name}, ${how}`);
    }
  });

  test('an empty chunk changes nothing; a final verdict stays and later bytes are not examined', () => {
    const reader = new ClientHelloReader();
    assert.deepEqual(reader.push(Buffer.alloc(0)), { status: 'incomplete' });
    assert.deepEqual(reader.push(hello), { status: 'ok', serverName: 'winatp-gw-eus.microsoft.com' });
    const work = { ...reader.work };
    assert.deepEqual(reader.push(Buffer.from([0x15, 0x03, 0x03])), {
      status: 'ok',
      serverName: 'winatp-gw-eus.microsoft.com',
    });
    assert.deepEqual(reader.work, work);
  });

  // 16,384 records of one byte each, sent in 120-byte pieces: re-reading everything received on
  // every piece made this quadratic (about 819 pieces × up to 16,384 records each).
  const MESSAGE = helloOfSize(16_384, 'winatp-gw-eus.microsoft.com');
  const ONE_BYTE_RECORDS = records(MESSAGE, 1);

  test('16,384 one-byte records in 120-byte pieces: every byte is examined a bounded number of times', () => {
    assert.equal(ONE_BYTE_RECORDS.length, 16_384 * 6);
    const reader = new ClientHelloReader({ maxRecords: Infinity });
    const verdict = fed(ONE_BYTE_RECORDS, pieces(ONE_BYTE_RECORDS.length, 120), reader);
    assert.deepEqual(verdict, { status: 'ok', serverName: 'winatp-gw-eus.microsoft.com' });
    assert.equal(reader.work.records, 16_384, 'each record header is read once');
    // Each received byte once, plus one pass over the complete ClientHello when it is parsed.
    assert.equal(reader.work.bytes, ONE_BYTE_RECORDS.length + MESSAGE.length);
  });

  test('the work grows linearly with the input, not with the square of it', () => {
    const work = (size: number): number => {
      const input = records(helloOfSize(size, 'a.example'), 1);
      const reader = new ClientHelloReader({ maxRecords: Infinity });
      fed(input, pieces(input.length, 120), reader);
      assert.equal(reader.result.status, 'ok');
      return reader.work.bytes / input.length;
    };
    const small = work(1024);
    const large = work(16_384);
    assert.ok(large <= small * 1.01, `bytes examined per input byte: ${small} at 1 KiB, ${large} at 16 KiB`);
  });

  test('with the default record bound the same input is refused after 64 records', () => {
    const reader = new ClientHelloReader();
    const verdict = fed(ONE_BYTE_RECORDS, pieces(ONE_BYTE_RECORDS.length, 120), reader);
    assert.deepEqual(verdict, {
      status: 'malformed',
      why: `ClientHello spread over more than ${MAX_CLIENT_HELLO_RECORDS} records`,
    });
    assert.ok(reader.work.bytes <= 6 * MAX_CLIENT_HELLO_RECORDS, `${reader.work.bytes} bytes examined`);
  });

  test('a ClientHello of the largest allowed size in two records is read once', () => {
    const message = helloOfSize(MAX_CLIENT_HELLO_BYTES, 'a.example');
    const input = records(message, 16_000);
    const reader = new ClientHelloReader();
    assert.deepEqual(fed(input, pieces(input.length, 1000), reader), {
      status: 'ok',
      serverName: 'a.example',
    });
    assert.equal(reader.work.records, 2);
    assert.equal(reader.work.bytes, input.length + message.length);
  });
});
