/**
 * The access log's file fails: its disk fills up (a 4 MiB tmpfs this file mounts and unmounts,
 * filled to the last byte),
 * or it is deleted while open. What must hold:
 *
 * - the gateway keeps serving: every request is answered while the log cannot be written;
 * - what could not be written is counted (airlock_log_write_errors_total,
 *   airlock_log_lines_dropped_total), and memory stays bounded (lines past 1 MiB are dropped);
 * - stderr says so once, not once per line, and once more when writing works again;
 * - when space returns the lines kept in memory are written and every line in the file parses
 *   (no torn line); a deleted file is recreated at its path within seconds.
 *
 * Needs root (mount); skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serve, type Served } from '../helpers/cli.js';
import { adminGet, adminPortOf, deniedRequests, jsonLines, metricValue, rssKiB } from '../helpers/faults.js';
import { waitFor } from '../helpers/wait.js';

function config(logFile: string): string {
  return `policy:
  sources: [127.0.0.0/8]
  destinations: [allowed.example.test]
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
log: { file: ${JSON.stringify(logFile)}, format: json }
admin: { listen: "127.0.0.1:0" }
limits: { newConnectionsPerClientPerSecond: 10000 }
timeouts: { drain: 1s }
`;
}

const count = (text: string, event: string): number => text.split(`"event":"${event}"`).length - 1;

let mountable: string | null = null;
try {
  const probe = mkdtempSync(join(tmpdir(), 'airlock-tmpfs-probe-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
  execFileSync('umount', [probe], { stdio: 'pipe' });
  rmSync(probe, { recursive: true });
} catch (error) {
  mountable = `cannot mount a tmpfs: ${(error as Error).message.split('\n')[0]}`;
}

describe('the log disk fills up', { skip: mountable ?? false }, () => {
  let dir: string;
  let gw: Served;
  let admin: number;
  let log: string;
  let filler: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-logfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0755', 'tmpfs', dir]);
    log = join(dir, 'access.log');
    filler = join(dir, 'filler');
    const conf = join(mkdtempSync(join(tmpdir(), 'airlock-logfull-conf-')), 'airlock.yaml');
    writeFileSync(conf, config(log));
    // One process: what it says and counts is the whole gateway's.
    gw = await serve(['--config', conf, '--listen', '127.0.0.1:0', '--workers', '1']);
    admin = adminPortOf(gw.stderr);
  });

  after(async () => {
    if (gw !== undefined && gw.child.exitCode === null) {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('keeps serving, counts, says so once, bounds memory, and catches up when space returns', async (t) => {
    // Before: lines are written.
    await deniedRequests(gw.port, 20);
    await waitFor('the first lines in the file', () => existsSync(log) && jsonLines(log, false).length >= 20);
    const rssBefore = rssKiB(gw.child.pid!);

    // Fill the disk: the filler takes every byte left.
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const linesBefore = jsonLines(log).length;

    // 12,000 refusals (about 4 MiB of log lines): every one answered, though none can be written.
    const started = Date.now();
    assert.equal(await deniedRequests(gw.port, 12_000, 'denied.invalid', 60_000), 12_000);
    const took = Date.now() - started;
    await waitFor(
      'dropped lines to be counted',
      async () => metricValue(await adminGet(admin, '/metrics'), 'airlock_log_lines_dropped_total') > 0,
    );
    const metrics = await adminGet(admin, '/metrics');
    const errors = metricValue(metrics, 'airlock_log_write_errors_total');
    const dropped = metricValue(metrics, 'airlock_log_lines_dropped_total');
    assert.ok(errors >= 1, `write errors: ${errors}`);
    // Memory stays bounded: at most 1 MiB of lines waits (lines of at least 300 bytes: under
    // 3,500 of them); the rest is dropped and counted.
    assert.ok(dropped >= 12_000 - 3_500 && dropped < 12_000, `dropped ${dropped}`);
    // Said once, not per line or per retry.
    assert.equal(count(gw.stderr, 'access_log_failing'), 1, gw.stderr);
    assert.match(gw.stderr, /access log \S+access\.log: cannot write \(ENOSPC/);
    assert.equal(count(gw.stderr, 'uncaught'), 0, 'no exception escaped');
    // Retried once a second (the timer), not once per line.
    assert.ok(errors <= Math.ceil(took / 1000) + 3, `${errors} write errors in ${took} ms`);
    t.diagnostic(
      `12,000 refusals in ${took} ms; ${errors} write errors, ${dropped} lines dropped, RSS +${rssKiB(gw.child.pid!) - rssBefore} KiB`,
    );

    // Space returns: the kept lines are written within the retry period, and it says so once.
    unlinkSync(filler);
    await waitFor('the recovery message', () => count(gw.stderr, 'access_log_recovered') === 1, {
      timeoutMs: 5000,
    });
    assert.match(gw.stderr, /access log \S+: writing again after \d+ s; \d+ lines were dropped/);
    await deniedRequests(gw.port, 10, 'after.invalid');
    await waitFor(
      'new lines in the file',
      () => jsonLines(log, false).some((l) => l.host === 'after.invalid'),
      { timeoutMs: 5000 },
    );
    const lines = jsonLines(log);
    // The lines kept in memory made it to the file, after those written before the disk filled.
    assert.ok(
      lines.length - linesBefore >= 12_000 - dropped,
      `${lines.length - linesBefore} lines written after the disk filled, ${12_000 - dropped} were kept`,
    );
    assert.equal(count(gw.stderr, 'access_log_failing'), 1);
  });

  test('a stop while the disk is full still ends the process and says which lines are lost', async () => {
    try {
      writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    assert.equal(await deniedRequests(gw.port, 200, 'lost.invalid'), 200);
    // Not written yet: the batch is still in memory (one write per 4 KiB or per second).
    const started = Date.now();
    gw.child.kill('SIGTERM');
    const code = await Promise.race([
      gw.exited,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref()),
    ]);
    assert.notEqual(
      code,
      'hung',
      `the gateway did not exit within 10 s of SIGTERM:\n${gw.stderr.slice(-2000)}`,
    );
    // timeouts.drain is 1 s; the log adds no more than its own bounded wait.
    assert.ok(Date.now() - started < 5000, `exit took ${Date.now() - started} ms`);
    assert.equal(count(gw.stderr, 'access_log_unflushed'), 1, gw.stderr.slice(-2000));
    unlinkSync(filler);
  });
});

describe('the log file is deleted while open', () => {
  let gw: Served;
  let log: string;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-logdel-'));
    log = join(dir, 'logs', 'access.log');
    writeFileSync(join(dir, 'airlock.yaml'), config(log));
    // One process: with workers each would notice the deletion and say so.
    gw = await serve(['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0', '--workers', '1']);
  });

  after(async () => {
    if (gw.child.exitCode === null) {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('the file is recreated at its path within seconds, said once; serving never stops', async () => {
    await deniedRequests(gw.port, 10, 'first.invalid');
    await waitFor('the first lines', () => existsSync(log) && jsonLines(log, false).length >= 10);
    unlinkSync(log);
    // Requests keep being answered while the file is gone and after.
    const deadline = Date.now() + 6000;
    while (!existsSync(log) && Date.now() < deadline) await deniedRequests(gw.port, 5, 'during.invalid');
    assert.ok(existsSync(log), 'the file was recreated');
    await deniedRequests(gw.port, 10, 'second.invalid');
    await waitFor(
      'lines in the new file',
      () => jsonLines(log, false).filter((l) => l.host === 'second.invalid').length === 10,
      { timeoutMs: 5000 },
    );
    assert.equal(count(gw.stderr, 'access_log_reopened'), 1, gw.stderr);
    assert.match(gw.stderr, /access log \S+access\.log was deleted or replaced while open; reopened it/);
    // So does a whole directory that disappears.
    rmSync(join(log, '..'), { recursive: true });
    await waitFor('the directory and file recreated', () => existsSync(log), { timeoutMs: 6000 });
    await deniedRequests(gw.port, 10, 'third.invalid');
    await waitFor(
      'lines in the third file',
      () => existsSync(log) && jsonLines(log, false).filter((l) => l.host === 'third.invalid').length === 10,
      { timeoutMs: 5000 },
    );
  });
});
