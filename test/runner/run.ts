/**
 * `npm test`: every compiled test file (or the files and folders named, e.g. `unit`) in one
 * `node --test` run, with its usual output on the terminal or in the CI log. Every process of
 * the run writes its output blocking (blocking-output.ts); a TAP copy of the run is checked
 * afterwards and the run fails when a test started and never reported a result
 * (completeness.ts). Options (arguments starting with `-`) go to `node --test`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkCompleteness } from './completeness.js';

const here = dirname(fileURLToPath(import.meta.url));
const testRoot = join(here, '..');
const args = process.argv.slice(2);
const selected = args.filter((a) => !a.startsWith('-'));
/** A test file, or the test files under a folder; relative to the compiled tests or to the working directory. */
function testFiles(selection: string): string[] {
  const path = [join(testRoot, selection), resolve(selection)].find((p) => existsSync(p));
  if (path === undefined) {
    process.stderr.write(`tests: ${selection}: no such file or folder (under ${testRoot} or here)\n`);
    process.exit(2);
  }
  return statSync(path).isDirectory() ? under(path) : [path];
}
function under(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(folder, f));
}
const files = (selected.length > 0 ? selected.flatMap(testFiles) : under(testRoot)).sort();
if (files.length === 0) {
  process.stderr.write(`tests: no *.test.js in ${selected.join(', ')}\n`);
  process.exit(2);
}
process.stdout.write(`tests: ${files.length} test file${files.length === 1 ? '' : 's'}\n`);
const scratch = mkdtempSync(join(tmpdir(), 'airlock-tests-'));
const tapFile = join(scratch, 'run.tap');

const child = spawn(
  process.execPath,
  [
    '--import',
    pathToFileURL(join(here, 'blocking-output.js')).href,
    '--test',
    '--test-concurrency=1',
    '--test-force-exit',
    '--test-timeout=300000',
    // What `node --test` prints by itself: spec on a terminal, TAP otherwise.
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...args.filter((a) => a.startsWith('-')),
    ...files.map((f) => relative(process.cwd(), f)),
  ],
  { stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
const code = await new Promise<number>((resolve) =>
  child.on('exit', (c, signal) => resolve(c ?? (signal === null ? 1 : 128))),
);

let tap = '';
try {
  tap = readFileSync(tapFile, 'utf8');
} catch {
  // No copy: the runner died before writing it; its own exit code says so.
}
rmSync(scratch, { recursive: true, force: true });
const { finished, unfinished } = checkCompleteness(tap);
if (finished === 0) {
  process.stderr.write('\ntests: no test reported a result\n');
  process.exitCode = code === 0 ? 1 : code;
} else if (unfinished.length > 0) {
  process.stderr.write(
    `\ntests: ${unfinished.length} test(s) started and never reported a result (their output was lost, so they count as neither passed nor failed):\n` +
      unfinished.map((u) => `  - ${u.path.join(' > ')}\n`).join(''),
  );
  process.exitCode = code === 0 ? 1 : code;
} else {
  process.stdout.write(`\ntests: all ${finished} tests and suites that started reported a result\n`);
  process.exitCode = code;
}
