import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A file written under a temporary name beside the path it is meant for. */
export interface StagedFile {
  readonly temporary: string;
  readonly path: string;
}

/**
 * Writes `content` to a new file beside `path`, under a name nobody can guess, created
 * exclusively: a link or file already at that name makes it fail instead of being written
 * through, so a directory others may write to cannot redirect the write. With `mode` the file
 * gets exactly that mode (the umask does not apply); without, the default one.
 */
export async function stageFile(
  path: string,
  content: string | Uint8Array,
  mode?: number,
): Promise<StagedFile> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode ?? 0o666);
  try {
    await handle.writeFile(content);
    if (mode !== undefined) await handle.chmod(mode);
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  return { temporary, path };
}

/** Puts a staged file in place: renamed over `path` (a link there is replaced, not followed). */
export async function commitStaged(staged: StagedFile): Promise<void> {
  try {
    await rename(staged.temporary, staged.path);
  } catch (error) {
    await rm(staged.temporary, { force: true });
    throw error;
  }
}

/**
 * Replaces `path` with `content` whole: a reader sees the old file or the new one, never part
 * of either, and a failed write leaves the old one and no temporary behind.
 */
export async function writeFileWhole(
  path: string,
  content: string | Uint8Array,
  mode?: number,
): Promise<void> {
  await commitStaged(await stageFile(path, content, mode));
}
