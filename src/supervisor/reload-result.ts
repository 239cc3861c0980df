import { readFile } from 'node:fs/promises';
import { AirlockError, fileErrorWords } from '../errors/index.js';
import { writeFileWhole } from '../files/index.js';
import type { ConfigFile } from '../config/index.js';

/** How the last reload went; written beside the pid file so that `airlock reload` can wait for it. */
export interface ReloadResult {
  /** Reload attempts since start; a waiting `airlock reload` looks for a higher number than it saw. */
  readonly seq: number;
  readonly at: number;
  readonly trigger: string;
  readonly ok: boolean;
  /** Why the new configuration was refused (the running one is kept), or which worker did not take it. */
  readonly error: string | null;
  /** The generation in force afterwards. */
  readonly generation: number;
  readonly pid: number;
}

/** Where a gateway with `pidFile` writes its reload results. */
export function reloadResultPath(pidFile: string): string {
  return `${pidFile}.reload.json`;
}

/** Writes the result atomically (a reader never sees half a file). */
export async function writeReloadResult(pidFile: string, result: ReloadResult): Promise<void> {
  await writeFileWhole(reloadResultPath(pidFile), `${JSON.stringify(result)}\n`);
}

/** The last result, or null when there is none yet (or it cannot be read). */
export async function readReloadResult(pidFile: string): Promise<ReloadResult | null> {
  try {
    return JSON.parse(await readFile(reloadResultPath(pidFile), 'utf8')) as ReloadResult;
  } catch {
    return null;
  }
}

/**
 * The admin token in force: AIRLOCK_ADMIN_TOKEN, else the file admin.tokenFile names, else
 * admin.token; null when none is set.
 */
export async function resolveAdminToken(
  admin: ConfigFile['admin'],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  const fromEnv = env.AIRLOCK_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return checked(fromEnv.trim(), 'AIRLOCK_ADMIN_TOKEN');
  if (admin.tokenFile !== null) {
    let text: string;
    try {
      text = await readFile(admin.tokenFile, 'utf8');
    } catch (error) {
      throw new AirlockError(
        'FILE_UNREADABLE',
        `admin.tokenFile: cannot read ${admin.tokenFile}: ${fileErrorWords(error)}`,
        { cause: error },
      );
    }
    return checked(text.trim(), `admin.tokenFile (${admin.tokenFile})`);
  }
  return admin.token;
}

function checked(token: string, where: string): string {
  if (token.length < 16 || /\s/.test(token))
    throw new AirlockError(
      'CONFIG_INVALID',
      `${where}: the admin token must be at least 16 characters, without spaces`,
    );
  return token;
}
