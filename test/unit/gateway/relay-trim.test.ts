import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadNative, Relay, type NativeAddon } from '../../../src/gateway/native.js';

/** An addon that records the calls the trim makes; the relay's other calls do nothing. */
function fakeAddon(): { addon: NativeAddon; trims: () => number; done: (ids: number[]) => void } {
  let trims = 0;
  let onDone: (records: Float64Array) => void = () => undefined;
  let next = 1;
  const addon = {
    start: (done: (records: Float64Array) => void) => {
      onDone = done;
    },
    add: () => next++,
    ref: () => undefined,
    trimMemory: () => {
      trims++;
      return 0;
    },
  } as unknown as NativeAddon;
  return {
    addon,
    trims: () => trims,
    done: (ids) => onDone(new Float64Array(ids.flatMap((id) => [id, 0, 0, 0, 0]))),
  };
}

test('the relay trims after connections came or went, and not otherwise', () => {
  const fake = fakeAddon();
  const relay = new Relay(fake.addon, 0);
  assert.equal(relay.trim(), false, 'nothing happened yet');
  assert.equal(fake.trims(), 0);
  const finished: string[] = [];
  const id = relay.add(10, 11, null, null, 0, { finished: (r) => finished.push(r.end) });
  assert.equal(relay.trim(), true, 'a tunnel was taken on');
  assert.equal(fake.trims(), 1);
  assert.equal(relay.trim(), false, 'nothing since');
  fake.done([id]);
  assert.deepEqual(finished, ['closed']);
  assert.equal(relay.trim(), true, 'a tunnel finished');
  relay.track(99, {
    connected: () => undefined,
    connectFailed: () => undefined,
    peeked: () => undefined,
    helloPassed: () => undefined,
    finished: () => undefined,
  });
  assert.equal(relay.trim(), true, 'a front connection was taken on');
  assert.equal(fake.trims(), 3);
});

test('the addon trims malloc and says how long it took', (t) => {
  const { addon } = loadNative();
  if (addon === null) return t.skip('the native addon is not built');
  const micros = addon.trimMemory();
  assert.ok(Number.isFinite(micros) && micros >= 0, String(micros));
});
