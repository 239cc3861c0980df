import { readFile } from 'node:fs/promises';
import { AirlockError } from '../../errors/index.js';

/** Sends SIGHUP to a running gateway found by --pid or --pid-file. */
export async function reload(options: { pidFile?: string; pid?: string }): Promise<number> {
  let text = options.pid;
  let where = '--pid';
  if (text === undefined) {
    if (options.pidFile === undefined)
      throw new AirlockError('USAGE', 'reload needs --pid-file FILE (the pidFile setting) or --pid PID');
    where = options.pidFile;
    try {
      text = (await readFile(options.pidFile, 'utf8')).trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new AirlockError(
        'FILE_UNREADABLE',
        `cannot read pid file ${options.pidFile}: ${code === 'ENOENT' ? 'no such file (is the gateway running with pidFile set?)' : String(code)}`,
      );
    }
  }
  if (!/^[1-9][0-9]*$/.test(text)) throw new AirlockError('USAGE', `${where}: "${text}" is not a process id`);
  try {
    process.kill(Number(text), 'SIGHUP');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AirlockError(
      'USAGE',
      `cannot signal process ${text}: ${code === 'ESRCH' ? 'no such process' : String(code)}`,
    );
  }
  process.stdout.write(
    `reload requested (SIGHUP to ${text}); the gateway logs "reloaded" or "reload_failed"\n`,
  );
  return 0;
}
