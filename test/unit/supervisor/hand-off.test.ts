import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { HandOffQueue, WorkerMember, type LoadedConfig } from '../../../src/supervisor/index.js';

/** A worker process as the member sees it: messages in, `send` calls recorded. */
class FakeWorker extends EventEmitter {
  connected = true;
  readonly pid = 4242;
  readonly sent: { message: { t: string; index?: number }; handle: unknown }[] = [];
  send(message: { t: string }, handle?: unknown, _options?: unknown, written?: () => void): boolean {
    this.sent.push({ message, handle });
    written?.();
    return true;
  }
  handles(): unknown[] {
    return this.sent.filter((s) => s.message.t === 'connection').map((s) => s.handle);
  }
}

type FakeSocket = Socket & { destroyed: boolean; name: string };

function fakeSocket(name: string): FakeSocket {
  const socket = { name, destroyed: false } as unknown as FakeSocket;
  socket.destroy = (): FakeSocket => {
    socket.destroyed = true;
    return socket;
  };
  return socket;
}

function member(stallMs?: number): { worker: FakeWorker; m: WorkerMember } {
  const worker = new FakeWorker();
  const m = new WorkerMember(
    worker as unknown as ChildProcess,
    () => ({ texts: [] }) as unknown as LoadedConfig,
    stallMs,
  );
  worker.emit('message', { t: 'ready' });
  return { worker, m };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('handing accepted sockets to a worker', () => {
  test('one socket at a time: the next goes once the worker said it took the last, in order', () => {
    const { worker, m } = member();
    const sockets = [0, 1, 2, 3].map((i) => fakeSocket(`s${i}`));
    for (const [i, s] of sockets.entries()) assert.equal(m.handOff(i % 2, s), true);
    assert.deepEqual(worker.handles(), [sockets[0]]);
    assert.equal(m.backlog, 4);
    worker.emit('message', { t: 'took' });
    assert.deepEqual(worker.handles(), [sockets[0], sockets[1]]);
    worker.emit('message', { t: 'took' });
    worker.emit('message', { t: 'took' });
    assert.deepEqual(worker.handles(), sockets);
    assert.deepEqual(
      worker.sent.map((s) => s.message.index),
      [0, 1, 0, 1],
    );
    worker.emit('message', { t: 'took' });
    assert.equal(m.backlog, 0);
    // This process closes its copy once the message is written.
    assert.ok(sockets.every((s) => s.destroyed));
  });

  test('a worker that is not ready, or gone, takes nothing', () => {
    const worker = new FakeWorker();
    const m = new WorkerMember(worker as unknown as ChildProcess, () => ({}) as LoadedConfig);
    assert.equal(m.handOff(0, fakeSocket('early')), false);
    worker.emit('message', { t: 'ready' });
    worker.connected = false;
    assert.equal(m.handOff(0, fakeSocket('late')), false);
    assert.equal(worker.handles().length, 0);
  });

  test('a worker that dies closes every socket still waiting for it', () => {
    const { worker, m } = member();
    const sockets = [0, 1, 2].map((i) => fakeSocket(`s${i}`));
    for (const s of sockets) m.handOff(0, s);
    assert.equal(sockets[1]!.destroyed, false);
    worker.connected = false;
    worker.emit('exit', 1, null);
    assert.ok(sockets.every((s) => s.destroyed));
    assert.equal(m.backlog, 0);
  });

  test('a socket never acknowledged holds the queue only until the stall time', async () => {
    const { worker, m } = member(60);
    const sockets = [0, 1].map((i) => fakeSocket(`s${i}`));
    for (const s of sockets) m.handOff(0, s);
    assert.equal(worker.handles().length, 1);
    await sleep(20);
    assert.equal(worker.handles().length, 1);
    await sleep(200);
    assert.deepEqual(worker.handles(), sockets);
  });
});

describe('HandOffQueue', () => {
  test('first in, first out across many pushes and shifts (compaction keeps the order)', () => {
    const q = new HandOffQueue();
    const socket = {} as Socket;
    let pushed = 0;
    let shifted = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) q.push({ index: pushed++, socket });
      for (let i = 0; i < 2500; i++) assert.equal(q.shift()?.index, shifted++);
      assert.equal(q.length, pushed - shifted);
    }
    while (q.length > 0) assert.equal(q.shift()?.index, shifted++);
    assert.equal(shifted, pushed);
    assert.equal(q.shift(), undefined);
  });
});
