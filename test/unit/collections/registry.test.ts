import assert from 'node:assert/strict';
import { test } from 'node:test';
import { promotedBytes } from '../../helpers/promoted.js';
import { Registry } from '../../../src/collections/registry.js';

interface Member {
  slot: number;
  readonly name: string;
}

const member = (name: string): Member => ({ slot: -1, name });

test('members come and go; each knows its place', () => {
  const registry = new Registry<'slot', Member>('slot');
  const [a, b, c] = [member('a'), member('b'), member('c')];
  registry.add(a);
  registry.add(b);
  registry.add(c);
  assert.equal(registry.size, 3);
  registry.delete(a);
  assert.equal(registry.size, 2);
  assert.equal(registry.has(a), false);
  assert.equal(a.slot, -1);
  assert.deepEqual(
    [...registry].map((m) => m.name),
    ['c', 'b'],
    'the last member fills the hole',
  );
  assert.equal(c.slot, 0);
  assert.equal(registry.has(c), true);
  registry.delete(c);
  registry.delete(b);
  assert.equal(registry.size, 0);
});

test('adding a member twice or removing a stranger changes nothing', () => {
  const registry = new Registry<'slot', Member>('slot');
  const other = new Registry<'slot', Member>('slot');
  const [a, b, stranger] = [member('a'), member('b'), member('stranger')];
  registry.add(a);
  registry.add(a);
  registry.add(b);
  assert.equal(registry.size, 2);
  registry.delete(stranger);
  assert.equal(registry.size, 2);
  // A member of another registry of the same key points at a slot here that is someone else's.
  other.add(stranger);
  assert.equal(stranger.slot, 0);
  registry.delete(stranger);
  assert.equal(registry.size, 2);
  assert.equal(registry.has(a), true);
  assert.equal(registry.has(stranger), false);
  assert.equal(other.has(stranger), true);
});

test('walking the members while they leave visits each once', () => {
  const registry = new Registry<'slot', Member>('slot');
  const members = Array.from({ length: 10 }, (_, i) => member(String(i)));
  for (const m of members) registry.add(m);
  const seen: string[] = [];
  for (const m of registry) {
    seen.push(m.name);
    registry.delete(m);
    if (m.name === '3') registry.add(member('late'));
  }
  assert.deepEqual(seen.sort(), members.map((m) => m.name).sort());
  assert.deepEqual(
    [...registry].map((m) => m.name),
    ['late'],
  );
});

test('agrees with a Set over a long random mix of additions and removals', () => {
  const registry = new Registry<'slot', Member>('slot');
  const reference = new Set<Member>();
  const pool = Array.from({ length: 40 }, (_, i) => member(`m${i}`));
  let seed = 7;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let step = 0; step < 20_000; step++) {
    const m = pool[next() % pool.length]!;
    if (next() % 2 === 0) {
      registry.add(m);
      reference.add(m);
    } else {
      registry.delete(m);
      reference.delete(m);
    }
    assert.equal(registry.size, reference.size, `size after step ${step}`);
    for (const p of pool) assert.equal(registry.has(p), reference.has(p), `${p.name} after step ${step}`);
  }
  assert.deepEqual(new Set(registry), reference);
});

test('a long churn promotes no removed member into the old generation', () => {
  // The reason the registry exists (see registry.ts): a V8 Set churned like the gateway's
  // sessions, once its table is old, keeps every replaced table and its members alive until a
  // full collection. Counted from V8's own trace in a process of its own, with the gateway's
  // young-generation size: about 3 MB promoted through the registry, over 60 MB through a Set.
  const moduleUrl = new URL('../../../src/collections/registry.js', import.meta.url).href;
  const script = `
    const { Registry } = await import(${JSON.stringify(moduleUrl)});
    const registry = new Registry('slot');
    let sink = 0;
    for (let i = 0; i < 2e6; i++) sink += [i, i + 1].length;
    const live = [];
    for (let i = 0; i < 8; i++) { const m = { slot: -1, payload: 'x'.repeat(10) + i }; registry.add(m); live.push(m); }
    for (let i = 0; i < 300000; i++) {
      const m = { slot: -1, payload: ('y' + i).repeat(40) };
      registry.add(m); live.push(m);
      registry.delete(live.shift());
    }
    if (registry.size !== 8 || sink === 0) process.exit(3);
  `;
  const promoted = promotedBytes(script);
  assert.ok(promoted < 20e6, `promoted ${(promoted / 1e6).toFixed(1)} MB`);
});
