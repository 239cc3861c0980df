/**
 * The command the mutation runs use for each mutant: runs the given compiled test files one at
 * a time and stops at the first that fails, so a mutant a fast test kills does not wait for the
 * slow files. Exit 0 only when every file passed.
 */
import { spawnSync } from 'node:child_process';

for (const file of process.argv.slice(2)) {
  const result = spawnSync(process.execPath, ['--test', file], { stdio: 'ignore', timeout: 300_000 });
  if (result.status !== 0) process.exit(1);
}
