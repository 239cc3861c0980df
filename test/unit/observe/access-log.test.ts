import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { accessLogTrouble, BATCH_BYTES } from '../../../src/observe/access-log.js';
import { AccessLog } from '../../../src/observe/index.js';
import { TUNNEL_RECORD } from './records.js';

const quiet = { warn: () => undefined };

/** The destination inside the log (sonic-boom), to count what is handed to it. */
function destinationOf(log: AccessLog): {
  write(text: string): boolean;
  emit(event: string, data: string): void;
} {
  return (
    log as unknown as { dest: { write(text: string): boolean; emit(event: string, data: string): void } }
  ).dest;
}

test('lines are handed to the file in batches, whole and in order, and all of them by flush', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-log-')), 'access.log');
  const log = new AccessLog({ format: 'json', file, ops: quiet });
  const dest = destinationOf(log);
  const write = dest.write.bind(dest);
  const handed: string[] = [];
  dest.write = (text: string): boolean => {
    handed.push(text);
    return write(text);
  };
  // What reached the file, write by write (sonic-boom reports each completed write).
  const fileWrites: number[] = [];
  (dest as unknown as { on(event: 'write', listener: (bytes: number) => void): void }).on('write', (bytes) =>
    fileWrites.push(bytes),
  );
  const lines = 1000;
  for (let i = 0; i < lines; i++) log.write({ ...TUNNEL_RECORD, id: `r${i}` });
  await log.flush();
  const written = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(
    written.map((l) => (JSON.parse(l) as { id: string }).id),
    Array.from({ length: lines }, (_, i) => `r${i}`),
  );
  assert.ok(
    handed.every((text) => text.endsWith('\n')),
    'only whole lines are handed over',
  );
  // One write per BATCH_BYTES of lines (the last one by flush), not one per line: every write is
  // a round trip through the thread pool.
  const bytes = handed.reduce((n, t) => n + t.length, 0);
  assert.ok(bytes > 2 * BATCH_BYTES, `${bytes} bytes make several batches`);
  assert.ok(
    handed.length <= Math.ceil(bytes / BATCH_BYTES) + 1,
    `${handed.length} hand-overs for ${bytes} bytes`,
  );
  assert.ok(fileWrites.length >= 2, `${fileWrites.length} writes`);
  assert.ok(
    fileWrites.slice(0, -1).every((n) => n >= BATCH_BYTES),
    `writes of ${fileWrites.join(', ')} bytes: all but the last at least ${BATCH_BYTES}`,
  );
});

test('a dropped batch counts every line in it', async () => {
  const log = new AccessLog({ format: 'json', file: null, ops: quiet });
  const before = accessLogTrouble().linesDropped;
  destinationOf(log).emit('drop', 'one\ntwo\nthree\n');
  assert.equal(accessLogTrouble().linesDropped - before, 3);
  await log.flush();
});

test('at shutdown a burst of final records beyond the in-memory limit is written whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-log-'));
  // 8,000 tunnels cut at once by the drain deadline: several MiB of lines in one turn of the
  // event loop, more than the limit that guards a log that cannot be written.
  const burst = (log: AccessLog): void => {
    for (let i = 0; i < 8000; i++) log.write({ ...TUNNEL_RECORD, id: `r${i}`, end: 'DRAIN_DEADLINE' });
  };
  const count = (file: string): number => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

  // Without the shutdown's word, the limit applies (and the drop is counted).
  const before = accessLogTrouble().linesDropped;
  const running = new AccessLog({ format: 'json', file: join(dir, 'running.log'), ops: quiet });
  burst(running);
  await running.flush();
  const dropped = accessLogTrouble().linesDropped - before;
  assert.ok(dropped > 0, 'the burst exceeds the limit');
  assert.equal(count(join(dir, 'running.log')) + dropped, 8000);

  const draining = new AccessLog({ format: 'json', file: join(dir, 'draining.log'), ops: quiet });
  draining.draining();
  burst(draining);
  await draining.flush();
  assert.equal(count(join(dir, 'draining.log')), 8000);
  assert.equal(accessLogTrouble().linesDropped - before, dropped, 'nothing dropped while draining');
});

test('an idle log writes nothing; a line below a batch still reaches the file within about a second', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-log-')), 'access.log');
  const log = new AccessLog({ format: 'json', file, ops: quiet });
  const writes: number[] = [];
  (destinationOf(log) as unknown as { on(event: 'write', listener: (bytes: number) => void): void }).on(
    'write',
    (bytes) => writes.push(bytes),
  );
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  // The once-a-second timer flushes what waits; with nothing waiting it must not write (zero
  // bytes is still a system call and its garbage, every second of an idle gateway).
  await sleep(2300);
  assert.deepEqual(writes, [], 'no write while idle');
  log.write({ ...TUNNEL_RECORD, id: 'lonely' });
  const deadline = Date.now() + 5000;
  while (!readFileSync(file, 'utf8').includes('"lonely"') && Date.now() < deadline) await sleep(50);
  assert.match(readFileSync(file, 'utf8'), /"lonely"/);
  await sleep(2300);
  assert.equal(writes.length, 1, `writes of ${writes.join(', ')} bytes`);
  await log.flush();
});

test('flush writes the lines that arrive while a batch is being written', async () => {
  // sonic-boom says it has drained when a write completes with less than a batch left behind
  // it; a shutdown flush at that moment must still write those lines before the process exits.
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-log-')), 'access.log');
  const log = new AccessLog({ format: 'json', file, ops: quiet });
  const dest = destinationOf(log) as unknown as { _writing: boolean; once(e: 'ready', f: () => void): void };
  await new Promise<void>((resolve) => dest.once('ready', resolve));
  let i = 0;
  // One batch: handed over, and its write starts (it completes on a later turn of the loop).
  while (!dest._writing && i < 10_000) log.write({ ...TUNNEL_RECORD, id: `r${i++}` });
  assert.ok(dest._writing, 'a write is in flight');
  // Three more lines, far below a batch, then the stop.
  for (let k = 0; k < 3; k++) log.write({ ...TUNNEL_RECORD, id: `r${i++}` });
  await log.flush();
  const ids = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
  assert.equal(ids.length, i, `${ids.length} of ${i} lines written`);
  assert.equal(ids.at(-1), `r${i - 1}`);
});

test('a flush answered EINVAL or EROFS counts as written only from fsync on what is not a file', async () => {
  // fsync(2) on a pipe, a socket or a terminal answers EINVAL: the lines were written. On a
  // regular file the same answer (or EROFS: a file system remounted read-only) means they may not be.
  const file = join(mkdtempSync(join(tmpdir(), 'airlock-log-')), 'access.log');
  const log = new AccessLog({ format: 'json', file, ops: quiet });
  const dest = destinationOf(log) as unknown as { once(e: 'ready', f: () => void): void };
  await new Promise<void>((resolve) => dest.once('ready', resolve));
  const written = (err: Partial<NodeJS.ErrnoException> | null): boolean =>
    (log as unknown as { written(e: unknown): boolean }).written(err);
  assert.equal(written(null), true);
  assert.equal(written({ syscall: 'fsync', code: 'EINVAL' }), false, 'a regular file that cannot be synced');
  assert.equal(written({ syscall: 'fsync', code: 'EROFS' }), false);
  assert.equal(written({ syscall: 'write', code: 'EROFS' }), false);
  assert.equal(written({ syscall: 'fsync', code: 'EIO' }), false);
  await log.flush();
});
