import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FRONT_EVENTS,
  Relay,
  type FrontEvents,
  type FrontListener,
  type FrontTunnel,
  type NativeAddon,
} from '../../../src/gateway/native.js';

const {
  head: HEAD,
  adopt: ADOPT,
  connected: CONNECTED,
  connect_failed: CONNECT_FAILED,
  peek: PEEK,
  accept: ACCEPT,
  hello_passed: HELLO_PASSED,
} = FRONT_EVENTS;

/** An addon whose front events the test delivers; the relay's calls into it do nothing. */
function fakeFront(): { relay: Relay; deliver: (events: FrontEvents) => void } {
  let onFront: (events: FrontEvents) => void = () => undefined;
  const addon = {
    start: (_done: unknown, front: (events: FrontEvents) => void) => {
      onFront = front;
    },
    ref: () => undefined,
    frontListen: () => undefined,
    closeFd: () => undefined,
  } as unknown as NativeAddon;
  const relay = new Relay(addon, 0);
  return { relay, deliver: (events) => onFront(events) };
}

/** One event's six slots. */
function ev(
  kind: number,
  id: number,
  a = 0,
  b = 0,
  bytes: Buffer | null = null,
  address: string | null = null,
): FrontEvents {
  return [kind, id, a, b, bytes, address];
}

/** A listener and tunnels that write down what reaches them, in order. */
function recorder(relay: Relay, seen: string[]): FrontListener {
  const tunnel = (id: number): FrontTunnel => ({
    connected: () => seen.push(`connected ${id}`),
    connectFailed: () => seen.push(`connectFailed ${id}`),
    peeked: () => seen.push(`peeked ${id}`),
    helloPassed: () => seen.push(`helloPassed ${id}`),
    finished: () => seen.push(`finished ${id}`),
  });
  const listener: FrontListener = {
    onAccept: (id) => {
      seen.push(`accept ${id}`);
      relay.track(id, tunnel(id));
    },
    onHead: (id) => seen.push(`head ${id}`),
    onAdopt: (id) => seen.push(`adopt ${id}`),
    onGrantGone: (client) => seen.push(`grant gone ${client}`),
    onUnlisten: () => seen.push('unlisten'),
  };
  relay.listen(3, listener, 65536, 10_000);
  return listener;
}

test('a new head is decided before what earlier tunnels reported in the same batch', () => {
  const { relay, deliver } = fakeFront();
  const seen: string[] = [];
  recorder(relay, seen);
  deliver([...ev(ACCEPT, 1, 4000, 0, null, '10.0.0.1'), ...ev(HEAD, 1, 0, 0, Buffer.from('CONNECT'))]);
  deliver([...ev(ACCEPT, 2, 4001, 0, null, '10.0.0.1'), ...ev(HEAD, 2, 0, 0, Buffer.from('CONNECT'))]);
  seen.length = 0;
  // What the front sends when tunnel 1 is up, tunnel 2's connect failed and tunnel 3 arrived.
  deliver([
    ...ev(CONNECTED, 1, 2, 0),
    ...ev(PEEK, 1, 0, 0, Buffer.from([0x16])),
    ...ev(HELLO_PASSED, 1),
    ...ev(CONNECT_FAILED, 2, 111),
    ...ev(ACCEPT, 3, 4002, 0, null, '10.0.0.2'),
    ...ev(HEAD, 3, 0, 0, Buffer.from('CONNECT')),
    ...ev(ADOPT, 4, 17, 0),
  ]);
  assert.deepEqual(seen, [
    'connectFailed 2',
    'accept 3',
    'head 3',
    'adopt 4',
    'connected 1',
    'peeked 1',
    'helloPassed 1',
  ]);
});

test('a batch of only informational events keeps its order', () => {
  const { relay, deliver } = fakeFront();
  const seen: string[] = [];
  recorder(relay, seen);
  deliver([...ev(ACCEPT, 1, 4000, 0, null, '10.0.0.1'), ...ev(ACCEPT, 2, 4001, 0, null, '10.0.0.1')]);
  seen.length = 0;
  deliver([
    ...ev(CONNECTED, 2, 1, 0),
    ...ev(CONNECTED, 1, 1, 0),
    ...ev(PEEK, 1, 0, 0, Buffer.from([0x16])),
    ...ev(PEEK, 2, 0, 0, Buffer.from([0x16])),
  ]);
  assert.deepEqual(seen, ['connected 2', 'connected 1', 'peeked 1', 'peeked 2']);
  // The next batch starts afresh: nothing of this one is taken again.
  seen.length = 0;
  deliver(ev(HELLO_PASSED, 1));
  assert.deepEqual(seen, ['helloPassed 1']);
});

test('a fault in one event does not stop the others of its batch', () => {
  const { relay, deliver } = fakeFront();
  const seen: string[] = [];
  const faults: unknown[] = [];
  relay.fault = (error) => faults.push(error);
  recorder(relay, seen);
  relay.track(5, {
    connected: () => {
      throw new Error('boom');
    },
    connectFailed: () => undefined,
    peeked: () => undefined,
    helloPassed: () => seen.push('helloPassed 5'),
    finished: () => undefined,
  });
  deliver([...ev(CONNECTED, 5, 1, 0), ...ev(HEAD, 6, 0, 0, Buffer.from('CONNECT')), ...ev(HELLO_PASSED, 5)]);
  assert.deepEqual(seen, ['head 6', 'helloPassed 5']);
  assert.equal(faults.length, 1);
});
