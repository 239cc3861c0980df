import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import {
  HandOffQueue,
  WorkerMember,
  type HandOffOptions,
  type LoadedConfig,
} from '../../../src/supervisor/index.js';

/** A worker process as the member sees it: messages in, `send` calls recorded. */
class FakeWorker extends EventEmitter {
  connected = true;
  readonly pid = 4242;
  readonly sent: { message: { t: string; index?: number; seq?: number }; handle: unknown }[] = [];
  send(message: { t: string }, handle?: unknown, _options?: unknown, written?: () => void): boolean {
    this.sent.push({ message, handle });
    written?.();
    return true;
  }
  handles(): unknown[] {
    return this.sent.filter((s) => s.message.t === 'connection').map((s) => s.handle);
  }
  /** The worker's answer to the last socket it was sent. */
  took(): void {
    const last = this.sent.filter((s) => s.message.t === 'connection').at(-1);
    this.emit('message', { t: 'took', seq: last?.message.seq });
  }
  kinds(): string[] {
    return this.sent.map((s) =>
      s.message.t === 'connection' ? `socket ${String(s.message.index)}` : s.message.t,
    );
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

function member(options: HandOffOptions = {}): { worker: FakeWorker; m: WorkerMember } {
  const worker = new FakeWorker();
  const m = new WorkerMember(
    worker as unknown as ChildProcess,
    () => ({ texts: [] }) as unknown as LoadedConfig,
    options,
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
    // The first was written (this process closed its copy); three wait.
    assert.equal(m.backlog, 3);
    worker.took();
    assert.deepEqual(worker.handles(), [sockets[0], sockets[1]]);
    worker.took();
    worker.took();
    assert.deepEqual(worker.handles(), sockets);
    assert.deepEqual(
      worker.sent.map((s) => s.message.index),
      [0, 1, 0, 1],
    );
    worker.took();
    assert.equal(m.backlog, 0);
    assert.ok(sockets.every((s) => s.destroyed));
  });

  test('an answer that does not name the socket on its way sends nothing more', () => {
    const { worker, m } = member();
    for (const i of [0, 1, 2]) m.handOff(0, fakeSocket(`s${i}`));
    const [first] = worker.sent;
    worker.emit('message', { t: 'took', seq: (first!.message.seq ?? 0) + 7 });
    assert.equal(worker.handles().length, 1);
    worker.emit('message', { t: 'took', seq: first!.message.seq });
    assert.equal(worker.handles().length, 2);
    // The same answer again (late, or twice) does not release the second.
    worker.emit('message', { t: 'took', seq: first!.message.seq });
    assert.equal(worker.handles().length, 2);
  });

  test('a shutdown keeps its place behind the sockets accepted before it', () => {
    const { worker, m } = member();
    for (const i of [0, 1]) m.handOff(i, fakeSocket(`s${i}`));
    m.stop();
    assert.deepEqual(worker.kinds(), ['socket 0']);
    worker.took();
    assert.deepEqual(worker.kinds(), ['socket 0', 'socket 1', 'shutdown']);
    worker.took();
    assert.deepEqual(worker.kinds(), ['socket 0', 'socket 1', 'shutdown'], 'sent once');
  });

  test('questions, reloads and log reopening go ahead of the waiting sockets', async () => {
    const { worker, m } = member();
    for (const i of [0, 1, 2]) m.handOff(i, fakeSocket(`s${i}`));
    m.reopen();
    const stats = m.stats();
    const reload = m.reload('SIGHUP', { texts: [] } as unknown as LoadedConfig, 2);
    assert.deepEqual(worker.kinds(), ['socket 0', 'reopen', 'stats', 'reload']);
    // Answered while two sockets still wait here.
    const asked = worker.sent.find((x) => x.message.t === 'stats')!.message as unknown as { id: number };
    worker.emit('message', { t: 'stats', id: asked.id, value: { sessions: 7 } });
    worker.emit('message', { t: 'reloaded', generation: 2, ok: true });
    assert.deepEqual(await stats, { sessions: 7 });
    assert.deepEqual(await reload, { ok: true, message: undefined });
    assert.equal(m.backlog, 2);
    worker.took();
    worker.took();
    assert.deepEqual(worker.kinds(), ['socket 0', 'reopen', 'stats', 'reload', 'socket 1', 'socket 2']);
  });

  test('a shutdown with no time to drain closes the waiting sockets and goes at once', () => {
    const { worker, m } = member();
    const sockets = [0, 1, 2].map((i) => fakeSocket(`s${i}`));
    for (const s of sockets) m.handOff(0, s);
    m.stop(0);
    assert.deepEqual(worker.kinds(), ['socket 0', 'shutdown']);
    assert.ok(sockets.every((s) => s.destroyed));
    assert.equal(m.backlog, 0);
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

  for (const ending of ['exit', 'disconnect'] as const) {
    test(`a worker whose channel ends (${ending}) closes every socket still waiting for it`, () => {
      const { worker, m } = member();
      const sockets = [0, 1, 2].map((i) => fakeSocket(`s${i}`));
      for (const s of sockets) m.handOff(0, s);
      assert.equal(sockets[1]!.destroyed, false);
      worker.connected = false;
      worker.emit(ending, 1, null);
      assert.ok(sockets.every((s) => s.destroyed));
      assert.equal(m.backlog, 0);
    });
  }

  test('sockets a dying worker never received are offered to another; those not taken are closed', () => {
    const offered: string[] = [];
    const { worker, m } = member({
      rehome: (index, socket) => {
        offered.push(`${(socket as FakeSocket).name}@${index}`);
        return offered.length === 1;
      },
    });
    const sockets = [0, 1, 2].map((i) => fakeSocket(`s${i}`));
    for (const [i, s] of sockets.entries()) m.handOff(i, s);
    worker.connected = false;
    worker.emit('exit', 1, null);
    // s0 was on its way (this process had closed its copy): not offered.
    assert.deepEqual(offered, ['s1@1', 's2@2']);
    assert.equal(sockets[1]!.destroyed, false, 'taken by another worker');
    assert.equal(sockets[2]!.destroyed, true);
    assert.equal(m.backlog, 0);
  });

  test('a socket never acknowledged holds the queue only until the stall time', async () => {
    const stalls: (number | undefined)[] = [];
    const { worker, m } = member({ stallMs: 400, onStall: (pid) => stalls.push(pid) });
    const sockets = [0, 1].map((i) => fakeSocket(`s${i}`));
    for (const s of sockets) m.handOff(0, s);
    assert.equal(worker.handles().length, 1);
    await sleep(40);
    assert.equal(worker.handles().length, 1);
    const deadline = Date.now() + 5000;
    while (worker.handles().length < 2 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(worker.handles(), sockets);
    assert.deepEqual(stalls, [4242]);
  });
});

describe('HandOffQueue', () => {
  test('first in, first out across many pushes and shifts (compaction keeps the order)', () => {
    const q = new HandOffQueue<number>();
    let pushed = 0;
    let shifted = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) q.push(pushed++);
      assert.equal(q.peek(), shifted);
      for (let i = 0; i < 2500; i++) assert.equal(q.shift(), shifted++);
      assert.equal(q.length, pushed - shifted);
    }
    while (q.length > 0) assert.equal(q.shift(), shifted++);
    assert.equal(shifted, pushed);
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
  });
});
