import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/clients, from the compiled test under dist/test/unit/clients. */
export const GOLDEN_DIR = fileURLToPath(new URL('../../../../test/fixtures/clients/', import.meta.url));

/** Set AIRLOCK_UPDATE_GOLDENS=1 to rewrite the golden files from the current output (then review the diff). */
const UPDATE = process.env.AIRLOCK_UPDATE_GOLDENS === '1';

/** Compares generated output with its golden file byte for byte. */
export function assertGolden(name: string, actual: string | Buffer): void {
  const path = join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  let expected: Buffer;
  try {
    expected = readFileSync(path);
  } catch {
    assert.fail(`golden file ${name} is missing (run with AIRLOCK_UPDATE_GOLDENS=1 and review it)`);
  }
  if (typeof actual === 'string')
    assert.equal(actual, expected.toString('utf8'), `${name} differs from its golden file`);
  else assert.ok(actual.equals(expected), `${name} differs from its golden file (binary)`);
}

/** Every file under a golden directory, relative and /-separated. */
export function goldenFiles(dir: string): string[] {
  const root = join(GOLDEN_DIR, dir);
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(root, full).split('\\').join('/'));
    }
  };
  walk(root);
  return out.sort();
}

export const UPDATING_GOLDENS = UPDATE;
