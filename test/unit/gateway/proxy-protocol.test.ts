import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseProxyHeader } from '../../../src/gateway/proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(command: number, family: number, block: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIG, head, block]);
}

describe('PROXY protocol v1', () => {
  test('TCP4', () => {
    const header = 'PROXY TCP4 10.1.2.3 192.0.2.10 51000 3128\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(`${header}CONNECT x:443 HTTP/1.1\r\n`)), {
      status: 'ok',
      length: header.length,
      source: { address: '10.1.2.3', port: 51000 },
    });
  });
  test('TCP6', () => {
    const r = parseProxyHeader(Buffer.from('PROXY TCP6 fd00::5 2001:db8::1 4000 3128\r\n'));
    assert.deepEqual(r.status === 'ok' ? r.source : null, { address: 'fd00::5', port: 4000 });
  });
  test('UNKNOWN carries no address', () => {
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), {
      status: 'ok',
      length: 15,
      source: null,
    });
  });
  test('a prefix is incomplete', () => {
    for (const prefix of ['P', 'PROXY', 'PROXY TCP4 10.1.2.3 192.0.2.10 51000 31']) {
      assert.deepEqual(parseProxyHeader(Buffer.from(prefix)), { status: 'incomplete' }, prefix);
    }
  });
  const bad: [string, RegExp][] = [
    ['GET / HTTP/1.1\r\n', /did not start with a PROXY/],
    ['PROXY TCP4 10.1.2.3 192.0.2.10 51000\r\n', /6 fields/],
    ['PROXY TCP5 10.1.2.3 192.0.2.10 1 2\r\n', /unknown PROXY v1 protocol/],
    ['PROXY TCP4 fd00::5 192.0.2.10 1 2\r\n', /does not match/],
    ['PROXY TCP4 10.1.2.3 192.0.2.10 70000 2\r\n', /port out of range/],
    ['PROXY TCP4 10.1.2.3 192.0.2.10 01 2\r\n', /port out of range/],
    [`PROXY TCP4 ${'1'.repeat(120)}`, /longer than 107/],
  ];
  for (const [input, why] of bad) {
    test(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      const r = parseProxyHeader(Buffer.from(input));
      assert.equal(r.status, 'malformed');
      assert.match(r.status === 'malformed' ? r.why : '', why);
    });
  }
});

describe('PROXY protocol v2', () => {
  test('PROXY over TCP/IPv4, with a TLV after the addresses', () => {
    const block = Buffer.from([10, 1, 2, 3, 192, 0, 2, 10, 0xc7, 0x38, 0x0c, 0x38, 0x04, 0x00, 0x01, 0x00]);
    const header = v2(1, 0x11, block);
    const r = parseProxyHeader(Buffer.concat([header, Buffer.from('CONNECT')]));
    assert.deepEqual(r, {
      status: 'ok',
      length: header.length,
      source: { address: '10.1.2.3', port: 0xc738 },
    });
  });
  test('PROXY over TCP/IPv6', () => {
    const block = Buffer.alloc(36);
    Buffer.from('fd000000000000000000000000000005', 'hex').copy(block, 0);
    block.writeUInt16BE(4000, 32);
    const r = parseProxyHeader(v2(1, 0x21, block));
    assert.deepEqual(r.status === 'ok' ? r.source : null, { address: 'fd00:0:0:0:0:0:0:5', port: 4000 });
  });
  test('LOCAL (health check) carries no address', () => {
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), {
      status: 'ok',
      length: 16,
      source: null,
    });
  });
  test('every prefix of a valid header is incomplete', () => {
    const full = v2(1, 0x11, Buffer.alloc(12));
    for (let n = 1; n < full.length; n++)
      assert.deepEqual(parseProxyHeader(full.subarray(0, n)), { status: 'incomplete' }, `${n} bytes`);
  });
  test('refuses version 1 in the binary header, unknown commands, UDP, short blocks, oversized blocks', () => {
    const wrongVersion = Buffer.concat([SIG, Buffer.from([0x11, 0x11, 0, 12]), Buffer.alloc(12)]);
    assert.match(JSON.stringify(parseProxyHeader(wrongVersion)), /version is not 2/);
    assert.match(JSON.stringify(parseProxyHeader(v2(2, 0x11, Buffer.alloc(12)))), /unknown PROXY v2 command/);
    assert.match(JSON.stringify(parseProxyHeader(v2(1, 0x12, Buffer.alloc(12)))), /not TCP/);
    assert.match(JSON.stringify(parseProxyHeader(v2(1, 0x11, Buffer.alloc(8)))), /too short/);
    const huge = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    assert.match(JSON.stringify(parseProxyHeader(huge)), /too long/);
  });
});
