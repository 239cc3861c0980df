import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { commitStaged, stageFile, writeFileWhole } from '../../../src/files/index.js';

function scratch(): { dir: string; victim: string } {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-write-'));
  const victim = join(mkdtempSync(join(tmpdir(), 'airlock-victim-')), 'precious.txt');
  writeFileSync(victim, 'precious');
  return { dir, victim };
}

describe('writing a file whole', () => {
  test('a link at the path is replaced by the file, and what it pointed to is untouched', async () => {
    const { dir, victim } = scratch();
    const path = join(dir, 'out.conf');
    symlinkSync(victim, path);
    await writeFileWhole(path, 'new content\n');
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.ok(lstatSync(path).isFile());
    assert.equal(readFileSync(path, 'utf8'), 'new content\n');
  });

  test('links planted at temporary names a process id would predict are never written through', async () => {
    const { dir, victim } = scratch();
    const path = join(dir, 'out.conf');
    for (let pid = process.pid - 2; pid <= process.pid + 2; pid++) {
      symlinkSync(victim, join(dir, `.out.conf.${pid}.tmp`));
    }
    symlinkSync(victim, join(dir, '.out.conf.airlock-new'));
    await writeFileWhole(path, 'x');
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
    assert.equal(readFileSync(path, 'utf8'), 'x');
  });

  test('two staged files of one path get different temporary names, created exclusively', async () => {
    const { dir } = scratch();
    const path = join(dir, 'a.txt');
    const one = await stageFile(path, '1');
    const two = await stageFile(path, '2');
    assert.notEqual(one.temporary, two.temporary);
    await commitStaged(one);
    await commitStaged(two);
    assert.equal(readFileSync(path, 'utf8'), '2');
    assert.deepEqual(readdirSync(dir), ['a.txt']);
  });

  test('with a mode, the file has exactly that mode whatever the umask', async () => {
    const { dir } = scratch();
    const path = join(dir, 'secret');
    const before = process.umask(0o022);
    try {
      await writeFileWhole(path, 's', 0o600);
      assert.equal(lstatSync(path).mode & 0o777, 0o600);
      await writeFileWhole(path, 's', 0o664);
      assert.equal(lstatSync(path).mode & 0o777, 0o664);
    } finally {
      process.umask(before);
    }
  });

  test('a failed rename leaves no temporary behind', async () => {
    const { dir } = scratch();
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'kept');
    await assert.rejects(writeFileWhole(path, 'x'));
    assert.deepEqual(readdirSync(dir), ['taken']);
    assert.equal(readFileSync(join(path, 'inside'), 'utf8'), 'kept');
  });
});
