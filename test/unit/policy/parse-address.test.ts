import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipaddr, type IPv4, type IPv6 } from '../../../src/deps/ipaddr.js';
import { formatWords, parseAddress } from '../../../src/policy/index.js';

/** What parseAddress answered before it read dotted quads itself: the full parser's reading. */
function reference(text: string): { family: 4 | 6; words: number[] } | null {
  let addr: IPv4 | IPv6;
  try {
    addr = ipaddr.parse(text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text);
  } catch {
    return null;
  }
  if (addr.kind() === 'ipv6' && (addr as IPv6).isIPv4MappedAddress()) addr = (addr as IPv6).toIPv4Address();
  if (addr.kind() === 'ipv4') {
    const b = (addr as IPv4).octets;
    return { family: 4, words: [((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0] };
  }
  const p = (addr as IPv6).parts;
  return {
    family: 6,
    words: [0, 2, 4, 6].map((i) => ((p[i]! << 16) | p[i + 1]!) >>> 0),
  };
}

const EDGES = [
  '0.0.0.0',
  '255.255.255.255',
  '10.1.2.3',
  '127.0.1.8',
  '192.168.0.1',
  '1.2.3.4',
  // Not canonical: read by the full parser as before (a leading zero is octal there).
  '010.1.2.3',
  '10.01.2.3',
  '00.0.0.0',
  '0x0a.1.2.3',
  '10.1',
  '167772161',
  // Not addresses.
  '256.1.2.3',
  '1.2.3.256',
  '1.2.3.4.5',
  '1..2.3',
  '.1.2.3',
  '1.2.3.',
  '1.2.3',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '1.2.3.4/8',
  '1.2.3.-4',
  '9999.1.1.1',
  '',
  '-',
  // IPv6, and IPv4 as a dual-stack listener reports it.
  '::1',
  '::ffff:10.1.2.3',
  '[::ffff:127.0.0.1]',
  'fe80::1',
  '2001:db8::5',
];

test('parseAddress reads every address as the full parser does, dotted quads included', () => {
  for (const text of EDGES) assert.deepEqual(parseAddress(text), reference(text), text);
});

test('parseAddress agrees with the full parser on random dotted text', () => {
  // A fixed generator: the same inputs every run.
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pieces = [
    '0',
    '1',
    '9',
    '10',
    '99',
    '100',
    '199',
    '200',
    '249',
    '250',
    '255',
    '256',
    '300',
    '01',
    '007',
  ];
  for (let i = 0; i < 5000; i++) {
    const parts = Array.from({ length: 3 + next(3) }, () => pieces[next(pieces.length)]!);
    const text = parts.join('.');
    assert.deepEqual(parseAddress(text), reference(text), text);
  }
});

test('a canonical dotted quad formats back to itself', () => {
  for (const text of ['0.0.0.0', '255.255.255.255', '10.200.3.40', '127.0.1.8']) {
    const parsed = parseAddress(text)!;
    assert.equal(formatWords(parsed.family, parsed.words), text);
  }
});
