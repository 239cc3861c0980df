import { readFile } from 'node:fs/promises';
import { AirlockError, fileErrorWords } from '../../errors/index.js';
import { readReloadResult, reloadResultPath, type ReloadResult } from '../../supervisor/reload-result.js';
import { adminRequest, adminTarget } from './admin-client.js';

export interface ReloadOptions {
  readonly pidFile?: string | undefined;
  readonly pid?: string | undefined;
  /** The admin listener (HOST:PORT or URL): reload through POST /api/reload. */
  readonly admin?: string | undefined;
  readonly token?: string | undefined;
  /** How long to wait for the outcome (seconds). */
  readonly timeout?: string | undefined;
}

function refused(error: string | null): AirlockError {
  return new AirlockError(
    'CONFIG_INVALID',
    `the gateway refused the new configuration and keeps running the previous one:\n${error ?? 'no reason given'}`,
  );
}

function report(result: { ok: boolean; error: string | null; generation?: unknown }): number {
  if (!result.ok) throw refused(result.error);
  process.stdout.write(`reloaded: configuration generation ${String(result.generation)} is in force\n`);
  return 0;
}

async function readPid(pidFile: string): Promise<string> {
  try {
    return (await readFile(pidFile, 'utf8')).trim();
  } catch (error) {
    const hint =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is the gateway running with pidFile set?)' : '';
    throw new AirlockError(
      'FILE_UNREADABLE',
      `cannot read pid file ${pidFile}: ${fileErrorWords(error)}${hint}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Makes a running gateway re-read its configuration and reports the outcome: through the admin
 * API (--admin), or by SIGHUP and the result the gateway writes beside its pid file. Exits
 * non-zero with the gateway's error when it refused the new configuration.
 */
export async function reload(options: ReloadOptions): Promise<number> {
  const timeoutMs = options.timeout === undefined ? 30_000 : Number(options.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new AirlockError('USAGE', `--timeout: "${String(options.timeout)}" is not a number of seconds`);

  if (options.admin !== undefined) {
    const target = adminTarget(options.admin, options.token);
    const { status, body } = await adminRequest(target, '/api/reload', { method: 'POST', timeoutMs });
    if (typeof body !== 'object' || body === null || !('ok' in body))
      throw new AirlockError(
        'USAGE',
        `the admin API at ${target.base} answered ${status}: ${String(body).trim()}`,
      );
    return report(body as ReloadResult);
  }

  let text = options.pid;
  let where = '--pid';
  if (text === undefined) {
    if (options.pidFile === undefined)
      throw new AirlockError(
        'USAGE',
        'reload needs --pid-file FILE (the pidFile setting), --admin HOST:PORT, or --pid PID',
      );
    where = options.pidFile;
    text = await readPid(options.pidFile);
  }
  if (!/^[1-9][0-9]*$/.test(text)) throw new AirlockError('USAGE', `${where}: "${text}" is not a process id`);
  const pid = Number(text);
  const before = options.pidFile === undefined ? null : await readReloadResult(options.pidFile);
  const seen = before !== null && before.pid === pid ? before.seq : -1;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AirlockError(
      'USAGE',
      `cannot signal process ${text}: ${code === 'ESRCH' ? 'no such process' : String(code)}`,
    );
  }
  if (options.pidFile === undefined) {
    process.stdout.write(
      `reload requested (SIGHUP to ${text}); to wait for its outcome use --pid-file or --admin\n`,
    );
    return 0;
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const result = await readReloadResult(options.pidFile);
    if (result !== null && result.pid === pid && result.seq > seen) return report(result);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AirlockError(
    'INTERNAL_ERROR',
    `no reload result from process ${text} within ${timeoutMs / 1000} s (${reloadResultPath(options.pidFile)}); its log says "reloaded" or "reload_failed"`,
  );
}
