import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { promotedBytes } from '../../helpers/promoted.js';
import { SlotMap } from '../../../src/collections/slot-map.js';

test('set, get, overwrite, delete', () => {
  const map = new SlotMap<number, string>();
  assert.equal(map.get(1), undefined);
  map.set(1, 'one').set(2, 'two');
  assert.equal(map.size, 2);
  assert.equal(map.get(1), 'one');
  map.set(1, 'uno');
  assert.equal(map.size, 2);
  assert.equal(map.get(1), 'uno');
  assert.equal(map.delete(1), true);
  assert.equal(map.delete(1), false);
  assert.equal(map.has(1), false);
  assert.equal(map.has(2), true);
  assert.deepEqual(map.values(), ['two']);
  map.clear();
  assert.equal(map.size, 0);
  assert.equal(map.get(2), undefined);
});

/** A deterministic pseudo-random sequence (the tests must fail the same way every time). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
}

function agreesWithMap<K extends string | number>(keys: readonly K[], steps: number, seed: number): void {
  const map = new SlotMap<K, number>(4);
  const reference = new Map<K, number>();
  const next = random(seed);
  for (let step = 0; step < steps; step++) {
    const key = keys[next() % keys.length]!;
    const op = next() % 5;
    if (op < 3) {
      map.set(key, step);
      reference.set(key, step);
    } else {
      assert.equal(map.delete(key), reference.delete(key), `delete ${String(key)} at step ${step}`);
    }
    assert.equal(map.size, reference.size, `size at step ${step}`);
    for (const k of keys) assert.equal(map.get(k), reference.get(k), `${String(k)} at step ${step}`);
  }
  assert.deepEqual(
    map.values().sort((a, b) => a - b),
    [...reference.values()].sort((a, b) => a - b),
  );
}

test('agrees with a Map: relay ids, small and beyond 2^32', () => {
  const ids = [
    ...Array.from({ length: 60 }, (_, i) => i + 1),
    ...Array.from({ length: 20 }, (_, i) => 2 ** 32 + i * 7),
    2 ** 53 - 1,
  ];
  agreesWithMap(ids, 6_000, 11);
});

test('agrees with a Map: client addresses and record ids', () => {
  const keys = [
    ...Array.from({ length: 50 }, (_, i) => `10.0.${i >> 3}.${i}`),
    ...Array.from({ length: 30 }, (_, i) => `2001:db8::${i.toString(16)}`),
    ...Array.from({ length: 30 }, (_, i) => `3fk.t0qz9c.${i.toString(36)}`),
    '',
  ];
  agreesWithMap(keys, 6_000, 5);
});

test('grows to thousands and shrinks back without losing an entry', () => {
  const map = new SlotMap<number, number>();
  for (let i = 0; i < 5_000; i++) map.set(i * 3, i);
  assert.equal(map.size, 5_000);
  for (let i = 0; i < 5_000; i += 2) assert.equal(map.delete(i * 3), true);
  assert.equal(map.size, 2_500);
  for (let i = 0; i < 5_000; i++) assert.equal(map.get(i * 3), i % 2 === 1 ? i : undefined, `key ${i * 3}`);
  for (let i = 1; i < 5_000; i += 2) map.delete(i * 3);
  assert.equal(map.size, 0);
  map.set(7, 7);
  assert.deepEqual(map.values(), [7]);
});

test('a long churn promotes no removed entry into the old generation', () => {
  // See registry.test.ts: the same measurement, for a Map's churn (tunnels by relay id).
  const moduleUrl = new URL('../../../src/collections/slot-map.js', import.meta.url).href;
  const script = `
    const { SlotMap } = await import(${JSON.stringify(moduleUrl)});
    const map = new SlotMap();
    let sink = 0;
    for (let i = 0; i < 2e6; i++) sink += [i, i + 1].length;
    for (let i = 0; i < 8; i++) map.set(i, { payload: 'x'.repeat(10) + i });
    for (let i = 8; i < 300008; i++) {
      map.set(i, { payload: ('y' + i).repeat(40) });
      map.delete(i - 8);
    }
    if (map.size !== 8 || sink === 0) process.exit(3);
  `;
  const promoted = promotedBytes(script);
  assert.ok(promoted < 20e6, `promoted ${(promoted / 1e6).toFixed(1)} MB`);
});

test('each process hashes with a seed of its own (clients cannot pile their addresses up)', () => {
  // The same addresses in the same order: the table's order (values()) differs between two
  // processes only if the hash does. Unseeded, it would be the same every time.
  const moduleUrl = new URL('../../../src/collections/slot-map.js', import.meta.url).href;
  const script = `
    const { SlotMap } = await import(${JSON.stringify(moduleUrl)});
    const map = new SlotMap(128);
    for (let i = 0; i < 40; i++) map.set('10.1.' + (i >> 4) + '.' + i, i);
    process.stdout.write(map.values().join(','));
  `;
  const orders = [1, 2, 3].map(() =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
  );
  assert.equal(orders[0]!.split(',').length, 40);
  assert.ok(new Set(orders).size > 1, `the same order in three processes: ${orders[0]}`);
});
