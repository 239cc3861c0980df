import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HostTrie,
  parseHostPattern,
  patternMatches,
  formatHostPattern,
  type HostPattern,
} from '../../../src/policy/index.js';

/** A small deterministic generator so the cross-check is repeatable. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('the trie agrees with the reference matcher on generated rules and names', () => {
  const rand = lcg(42);
  const labels = ['a', 'b', 'c', 'com', 'net', 'x'];
  const pick = (): string => labels[Math.floor(rand() * labels.length)]!;
  const name = (): string => Array.from({ length: 1 + Math.floor(rand() * 4) }, pick).join('.');
  for (let round = 0; round < 50; round++) {
    const trie = new HostTrie<HostPattern>();
    const patterns: HostPattern[] = [];
    for (let i = 0; i < 8; i++) {
      const prefix = ['', '.', '*.'][Math.floor(rand() * 3)]!;
      const p = parseHostPattern(prefix + name());
      if ('error' in p) continue;
      if (trie.insert(p, p) === undefined) patterns.push(p);
    }
    for (let q = 0; q < 40; q++) {
      const host = name();
      const expected = patterns.filter((p) => patternMatches(p, host));
      const got = trie.match(host);
      if (expected.length === 0) {
        assert.equal(got, undefined, `${host} matched ${got ? formatHostPattern(got) : ''}`);
      } else {
        assert.ok(
          got !== undefined && patternMatches(got, host),
          `${host} should match one of ${expected.map(formatHostPattern).join(' ')}`,
        );
        const longest = Math.max(...expected.map((p) => p.name.length));
        assert.equal(got.name.length, longest, `${host}: most specific rule wins`);
      }
    }
  }
});
