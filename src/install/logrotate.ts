import type { ConfigFile } from '../config/index.js';
import { PATHS, UNIT_NAME } from './paths.js';
import { shown } from '../text/printable.js';
import { forbiddenCharacter } from './values.js';

/**
 * Characters of a log path logrotate would not take literally: braces open and close a block,
 * `#` starts a comment, `*?[]` make a pattern. Controls, whitespace, quotes and backslashes are
 * refused as well (forbiddenCharacter).
 */
export const LOGROTATE_SPECIAL = '{}#*?[]';

/**
 * Log rotation for the access log. logrotate renames the file and sends SIGUSR1 to the main
 * process, which reopens the log (its workers too); `nocreate` because the gateway creates the
 * new file itself, as its own user, and `delaycompress` because lines written between the rename
 * and the reopen still go to the renamed file.
 */
export function renderLogrotate(file: ConfigFile): string {
  // The installer refuses such a log.file first; this keeps any other caller from writing it.
  if (file.log.file !== null && forbiddenCharacter(file.log.file, LOGROTATE_SPECIAL) !== undefined) {
    throw new Error(`log.file ${shown(file.log.file)} cannot be written into a logrotate file`);
  }
  const target = file.log.file ?? `${PATHS.logDir}/*.log`;
  return [
    '# Airlock access log: written by "airlock install", removed by "airlock uninstall".',
    file.log.file === null
      ? '# log.file is not set: the access log goes to the journal, which rotates it itself.'
      : `# log.file = ${file.log.file}`,
    `${target} {`,
    '    daily',
    '    rotate 14',
    '    maxsize 500M',
    '    missingok',
    '    notifempty',
    '    compress',
    '    delaycompress',
    '    nocreate',
    '    sharedscripts',
    '    postrotate',
    `        pid=$(systemctl show --property=MainPID --value ${UNIT_NAME} 2>/dev/null)`,
    '        if [ -n "$pid" ] && [ "$pid" != 0 ]; then kill -USR1 "$pid"; fi',
    '    endscript',
    '}',
    '',
  ].join('\n');
}
