import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeHost, parsePort, splitAuthority } from '../../../src/policy/index.js';

describe('normalizeHost()', () => {
  const names: [string, string][] = [
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['a-b.example', 'a-b.example'],
  ];
  for (const [input, name] of names) {
    test(`${JSON.stringify(input)} → ${name}`, () =>
      assert.deepEqual(normalizeHost(input), { kind: 'name', name }));
  }
  const ips: [string, string, 4 | 6][] = [
    ['192.0.2.1', '192.0.2.1', 4],
    ['192.0.2.1.', '192.0.2.1', 4],
    ['3221225985', '192.0.2.1', 4],
    ['0300.0.02.01', '192.0.2.1', 4],
    ['[2001:DB8::1]', '2001:db8::1', 6],
    ['2001:db8::1', '2001:db8::1', 6],
  ];
  for (const [input, address, family] of ips) {
    test(`${input} is the IP literal ${address}`, () =>
      assert.deepEqual(normalizeHost(input), { kind: 'ip', address, family }));
  }
  for (const bad of [
    '',
    '..',
    'a..b',
    '-a.example',
    'a-.example',
    'exa mple.com',
    'a/b',
    'a:b',
    '[::1',
    '[zz::1]',
    '1.2.3.4.5',
    '256.1.1.1',
    'x.123',
  ]) {
    test(`${JSON.stringify(bad)} is invalid`, () => assert.equal(normalizeHost(bad).kind, 'invalid'));
  }
});

describe('splitAuthority()', () => {
  test('host:port', () =>
    assert.deepEqual(splitAuthority('example.com:443'), { host: 'example.com', port: 443 }));
  test('[v6]:port', () =>
    assert.deepEqual(splitAuthority('[2001:db8::1]:443'), { host: '[2001:db8::1]', port: 443 }));
  for (const bad of [
    'example.com',
    'example.com:',
    ':443',
    'example.com:0',
    'example.com:65536',
    'example.com:+1',
    'a:b:443',
    '[::1]443',
    'example.com:44 3',
  ]) {
    test(`${JSON.stringify(bad)} is not an authority`, () => assert.equal(splitAuthority(bad), null));
  }
  test('parsePort bounds', () => {
    assert.equal(parsePort('1'), 1);
    assert.equal(parsePort('65535'), 65535);
    assert.equal(parsePort('00080'), 80);
    assert.equal(parsePort('123456'), null);
  });
});
