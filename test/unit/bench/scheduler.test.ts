import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeAutogroups, switchOffAutogroups } from '../../../bench/scheduler.js';

function setting(value: string | null): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'autogroup-'));
  const path = join(dir, 'sched_autogroup_enabled');
  if (value !== null) writeFileSync(path, value);
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('autogroups on: switched off for the run, and the old value written back once', () => {
  const s = setting('1\n');
  try {
    const state = switchOffAutogroups(false, s.path);
    assert.equal(state.kind, 'switched-off');
    assert.equal(readFileSync(s.path, 'utf8').trim(), '0');
    if (state.kind !== 'switched-off') return;
    state.restore();
    assert.equal(readFileSync(s.path, 'utf8').trim(), '1');
    // A second exit path must not write again (the operator may have changed it since).
    writeFileSync(s.path, '0\n');
    state.restore();
    assert.equal(readFileSync(s.path, 'utf8').trim(), '0');
    assert.match(describeAutogroups(state), /switched off for the run and restored/);
  } finally {
    s.done();
  }
});

test('autogroups already off, absent, or kept on: the setting is left alone', () => {
  const off = setting('0\n');
  const on = setting('1\n');
  const absent = setting(null);
  try {
    assert.equal(switchOffAutogroups(false, off.path).kind, 'off');
    assert.equal(switchOffAutogroups(false, absent.path).kind, 'absent');
    const kept = switchOffAutogroups(true, on.path);
    assert.equal(kept.kind, 'on');
    assert.equal(readFileSync(on.path, 'utf8').trim(), '1');
    assert.match(describeAutogroups(kept), /stayed on \(kept on by --keep-autogroup\)/);
  } finally {
    off.done();
    on.done();
    absent.done();
  }
});

test('a setting that cannot be written leaves autogroups on and says why', () => {
  // A kernel file that reads as something other than 0 and takes no writes, even from root.
  const state = switchOffAutogroups(false, '/proc/version');
  assert.equal(state.kind, 'on');
  if (state.kind === 'on') assert.match(state.reason, /\/proc\/version could not be written/);
});

test('a failed restore is reported, not thrown', () => {
  const s = setting('1\n');
  const messages: string[] = [];
  const state = switchOffAutogroups(false, s.path, (m) => messages.push(m));
  s.done(); // the directory is gone: writing the old value back fails
  assert.equal(state.kind, 'switched-off');
  if (state.kind === 'switched-off') assert.doesNotThrow(() => state.restore());
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /could not set .* back to 1/);
});

test('a run that was killed with autogroups off: the next run puts the setting back first', () => {
  const s = setting('0\n');
  try {
    // What a killed run leaves: the setting switched off, and its marker naming a process gone.
    const gone = spawnSync('true').pid;
    writeFileSync(`${s.path}.run.json`, JSON.stringify({ pid: gone, value: '1', path: s.path }));
    const said: string[] = [];
    const state = switchOffAutogroups(false, s.path, undefined, (m) => said.push(m));
    assert.equal(said.length, 1);
    assert.match(said[0]!, new RegExp(`set back to 1: an earlier run \\(pid ${gone}\\)`));
    // Then this run switches them off itself, and marks it with its own pid.
    assert.equal(state.kind, 'switched-off');
    assert.equal(readFileSync(s.path, 'utf8').trim(), '0');
    const marker = JSON.parse(readFileSync(`${s.path}.run.json`, 'utf8')) as { pid: number; value: string };
    assert.deepEqual([marker.pid, marker.value], [process.pid, '1']);
    if (state.kind === 'switched-off') state.restore();
    assert.equal(readFileSync(s.path, 'utf8').trim(), '1');
    assert.equal(existsSync(`${s.path}.run.json`), false, 'the marker goes with the restore');
  } finally {
    s.done();
  }
});

test('another run still going: its marker and the setting are left alone', () => {
  const s = setting('0\n');
  try {
    writeFileSync(`${s.path}.run.json`, JSON.stringify({ pid: process.ppid, value: '1', path: s.path }));
    const said: string[] = [];
    assert.equal(switchOffAutogroups(false, s.path, undefined, (m) => said.push(m)).kind, 'off');
    assert.deepEqual(said, []);
    assert.equal(readFileSync(s.path, 'utf8').trim(), '0');
    assert.equal(existsSync(`${s.path}.run.json`), true);
  } finally {
    s.done();
  }
});

test('a marker that does not name 0 or 1 is not written to the setting', () => {
  const s = setting('0\n');
  try {
    const gone = spawnSync('true').pid;
    writeFileSync(`${s.path}.run.json`, JSON.stringify({ pid: gone, value: '1; reboot', path: s.path }));
    const said: string[] = [];
    assert.equal(switchOffAutogroups(false, s.path, undefined, (m) => said.push(m)).kind, 'off');
    assert.deepEqual(said, []);
    assert.equal(readFileSync(s.path, 'utf8').trim(), '0');
  } finally {
    s.done();
  }
});
