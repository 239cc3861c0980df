import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseReader } from '../../../bench/loadgen/http-response.js';
import {
  ipv4ToNumber,
  numberToIpv4,
  SourceAllocator,
  sourceAddress,
} from '../../../bench/loadgen/protocol.js';
import { split } from '../../../bench/scenarios.js';
import { tinyproxyFilter } from '../../../bench/proxies.js';

test('IPv4 addresses convert both ways', () => {
  assert.equal(ipv4ToNumber('127.1.2.3'), 127 * 2 ** 24 + 1 * 2 ** 16 + 2 * 256 + 3);
  assert.equal(numberToIpv4(ipv4ToNumber('127.254.255.1')), '127.254.255.1');
  assert.throws(() => ipv4ToNumber('127.1.2'), RangeError);
  assert.throws(() => ipv4ToNumber('127.1.2.256'), RangeError);
});

test('source ranges skip .0 and .255 and never overlap', () => {
  const alloc = new SourceAllocator();
  const a = alloc.take(300);
  const b = alloc.take(10);
  assert.equal(sourceAddress(a, 0), '127.1.0.1');
  assert.equal(sourceAddress(a, 253), '127.1.0.254');
  assert.equal(sourceAddress(a, 254), '127.1.1.1');
  assert.equal(sourceAddress(a, 300), '127.1.0.1', 'wraps around inside its range');
  assert.equal(sourceAddress(b, 0), '127.1.2.1', 'the next range starts on a fresh /24');
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(sourceAddress(a, i));
  assert.equal(seen.size, 300);
  assert.throws(() => new SourceAllocator('127.1.0.0', '127.1.1.0').take(600), RangeError);
});

test('work splits over generators without empty shares', () => {
  assert.deepEqual(split(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(split(1, 8), [1]);
  assert.deepEqual(
    split(50_000, 8).reduce((a, b) => a + b, 0),
    50_000,
  );
});

test('responses framed by Content-Length, split anywhere', () => {
  const wire = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
  );
  for (let cut = 1; cut < wire.length; cut++) {
    const reader = new ResponseReader();
    const done = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
    assert.deepEqual(
      done.map((d) => [d.status, d.bodyBytes, d.keepAlive]),
      [
        [200, 5, true],
        [404, 0, true],
      ],
      `cut at ${cut}`,
    );
    assert.equal(reader.idle, true);
  }
});

test('chunked bodies, Connection: close and HTTP/1.0', () => {
  const reader = new ResponseReader();
  const chunked = reader.push(
    Buffer.from(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n',
    ),
  );
  assert.deepEqual(chunked, [{ status: 200, bodyBytes: 5, keepAlive: false }]);
  const old = new ResponseReader().push(Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx'));
  assert.equal(old[0]?.keepAlive, false);
  const kept = new ResponseReader().push(
    Buffer.from('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx'),
  );
  assert.equal(kept[0]?.keepAlive, true);
});

test('a body delimited by the close completes at the end; a cut response throws', () => {
  const reader = new ResponseReader();
  assert.deepEqual(reader.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabcd')), []);
  assert.deepEqual(reader.end(), { status: 200, bodyBytes: 4, keepAlive: false });
  const cut = new ResponseReader();
  cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  assert.throws(() => cut.end(), /closed inside a response/);
  assert.equal(new ResponseReader().end(), null);
  assert.throws(() => new ResponseReader().push(Buffer.from('SSH-2.0-x\r\n\r\n')), /bad status line/);
});

test('tinyproxy filters are the dstdomain rules as anchored regular expressions', () => {
  assert.equal(
    tinyproxyFilter(['localhost', '.wd.microsoft.com']),
    '^localhost$\n(^|\\.)wd\\.microsoft\\.com$\n',
  );
});
