import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { describe, test } from 'node:test';
import { fleetStopped, WorkerMember, type LoadedConfig } from '../../../src/supervisor/index.js';

describe("the supervisor's stopped line", () => {
  test('every worker drained: drained, nothing cut', () => {
    const { fields, message } = fleetStopped([
      { drained: true, cut: 0 },
      { drained: true, cut: 0 },
    ]);
    assert.deepEqual(fields, { drained: true, cut: 0, unreported: 0 });
    assert.equal(message, 'all 2 workers stopped: all sessions drained');
  });

  test('sessions cut in several workers are summed', () => {
    const { fields, message } = fleetStopped([
      { drained: false, cut: 3 },
      { drained: true, cut: 0 },
      { drained: false, cut: 1 },
    ]);
    assert.deepEqual(fields, { drained: false, cut: 4, unreported: 0 });
    assert.equal(message, 'all 3 workers stopped: 4 sessions cut at the drain deadline');
  });

  test('a worker that never reported (killed, crashed) means not drained, and says so', () => {
    const { fields, message } = fleetStopped([{ drained: true, cut: 0 }, null]);
    assert.deepEqual(fields, { drained: false, cut: 0, unreported: 1 });
    assert.equal(
      message,
      'all 2 workers stopped: 1 worker ended without reporting (killed or crashed: its sessions were cut, uncounted)',
    );
  });

  test('counted cuts and unreported workers are both said', () => {
    const { fields, message } = fleetStopped([{ drained: false, cut: 2 }, null, null]);
    assert.deepEqual(fields, { drained: false, cut: 2, unreported: 2 });
    assert.equal(
      message,
      'all 3 workers stopped: 2 sessions cut at the drain deadline; 2 workers ended without reporting (killed or crashed: their sessions were cut, uncounted)',
    );
  });

  test("a worker's member keeps what the worker reported on its way out", () => {
    const worker = Object.assign(new EventEmitter(), { connected: true, pid: 7, send: () => true });
    const member = new WorkerMember(worker as unknown as ChildProcess, () => ({}) as LoadedConfig);
    assert.equal(member.stopResult, null);
    worker.emit('message', { t: 'stopped', drained: false, cut: 2 });
    assert.deepEqual(member.stopResult, { drained: false, cut: 2 });
  });
});
