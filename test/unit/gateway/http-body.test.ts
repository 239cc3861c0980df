import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BodyReader, bodyOut, type BodyFraming } from '../../../src/gateway/http-body.js';

/** Feeds `input` split at every `step` bytes; returns the body, how much was consumed, and any error. */
function read(framing: BodyFraming, input: string, step = input.length || 1) {
  const pieces: Buffer[] = [];
  const reader = new BodyReader(framing, (p) => pieces.push(Buffer.from(p)));
  const data = Buffer.from(input, 'latin1');
  let consumed = 0;
  let error: string | null = null;
  let done = reader.done;
  for (let i = 0; i < data.length && !done && error === null; i += step) {
    const chunk = data.subarray(i, Math.min(data.length, i + step));
    const r = reader.feed(chunk);
    consumed += r.consumed;
    error = r.error;
    done = r.done;
    if (r.consumed < chunk.length) break;
  }
  return { body: Buffer.concat(pieces).toString('latin1'), consumed, error, done };
}

const CHUNKED: BodyFraming = { kind: 'chunked' };

describe('BodyReader', () => {
  test('a length: exactly that many bytes, the rest left for the next message', () => {
    for (const step of [1, 2, 3, 100]) {
      const r = read({ kind: 'length', length: 5 }, 'helloGET / HTTP/1.1', step);
      assert.deepEqual(r, { body: 'hello', consumed: 5, error: null, done: true }, `step ${step}`);
    }
  });

  test('length 0 and none are complete before any byte', () => {
    assert.equal(new BodyReader({ kind: 'length', length: 0 }, () => undefined).done, true);
    assert.equal(new BodyReader({ kind: 'none' }, () => undefined).done, true);
  });

  test('chunked, with extensions and trailers, split anywhere', () => {
    const text =
      '5;a=b\r\nhello\r\n1;x;q="a\\\\\\"b"\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nNEXT';
    for (let step = 1; step <= text.length; step++) {
      const r = read(CHUNKED, text, step);
      assert.equal(r.error, null, `step ${step}`);
      assert.equal(r.body, 'hello 0123456789', `step ${step}`);
      assert.equal(r.done, true);
      assert.equal(r.consumed, text.length - 'NEXT'.length, `step ${step}`);
    }
  });

  test('upper- and lower-case hex sizes', () => {
    assert.equal(read(CHUNKED, `1a\r\n${'x'.repeat(26)}\r\n0\r\n\r\n`).body.length, 26);
    assert.equal(read(CHUNKED, `1A\r\n${'x'.repeat(26)}\r\n0\r\n\r\n`).body.length, 26);
  });

  // prettier-ignore
  const BAD: [string, string][] = [
    ['a size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a missing size', '\r\nhello\r\n0\r\n\r\n'],
    ['a signed size', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a space inside the size', '1 0\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF after the data', '5\r\nhello\n0\r\n\r\n'],
    ['a size of 13 hex digits', '1000000000000\r\n'],
    ['a control character in an extension', '5;a\x01\r\nhello\r\n0\r\n\r\n'],
    ['a bare LF in a trailer', '0\r\nX: 1\n\r\n'],
    ['a space after the size', '5 \r\nhello\r\n0\r\n\r\n'],
    ['whitespace in an extension', '5; a=b\r\nhello\r\n0\r\n\r\n'],
    ['an extension without a name', '5;\r\nhello\r\n0\r\n\r\n'],
    ['an extension value that is not a token', '5;a=b>c\r\nhello\r\n0\r\n\r\n'],
    ['an unterminated quoted extension', '5;a="b\r\nhello\r\n0\r\n\r\n'],
    ['Transfer-Encoding in a trailer', '0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Content-Length in a trailer', '0\r\ncontent-length: 5\r\n\r\n'],
    ['a trailer line without a colon', '0\r\nX\r\n\r\n'],
  ];
  for (const [name, text] of BAD) {
    test(`chunked refuses ${name}`, () => {
      for (const step of [1, text.length]) {
        const r = read(CHUNKED, text, step);
        assert.notEqual(r.error, null, `step ${step}: ${JSON.stringify(r)}`);
      }
    });
  }

  test('an oversized trailer section is refused', () => {
    const r = read(CHUNKED, `0\r\n${'X: 1\r\n'.repeat(2000)}\r\n`);
    assert.notEqual(r.error, null);
  });

  test('until close: everything is body; the end is proper only when the sender closes', () => {
    const reader = new BodyReader({ kind: 'close' }, () => undefined);
    assert.equal(reader.feed(Buffer.from('abc')).consumed, 3);
    assert.equal(reader.done, false);
    assert.equal(reader.finish(), true);
    const short = new BodyReader({ kind: 'length', length: 5 }, () => undefined);
    short.feed(Buffer.from('abc'));
    assert.equal(short.finish(), false);
  });
});

describe('bodyOut', () => {
  test('a piece as it is: a copy, not a view of the input', () => {
    const piece = Buffer.from('hello');
    const out = bodyOut(piece, false);
    assert.equal(out.toString(), 'hello');
    piece[0] = 0x4a;
    assert.equal(out.toString(), 'hello');
  });

  test('a chunk: size line in hex, the data, CRLF', () => {
    const piece = Buffer.alloc(26, 0x61);
    assert.equal(bodyOut(piece, true).toString('latin1'), `1a\r\n${'a'.repeat(26)}\r\n`);
  });

  test('the head before the first piece, as Latin-1 bytes', () => {
    const head = 'HTTP/1.1 200 OK\r\nX-Name: caf\u00e9\r\n\r\n';
    const plain = bodyOut(Buffer.from('xy'), false, head);
    assert.deepEqual(plain, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('xy')]));
    const chunked = bodyOut(Buffer.from('xy'), true, head);
    assert.equal(chunked.toString('latin1'), `${head}2\r\nxy\r\n`);
  });
});
