/**
 * Loaded into the test runner and every test file's process (`--import`): writes to standard
 * output and error block, so a test process that exits at once when its tests are done
 * (`--test-force-exit`) does not leave the end of its report in a pipe. Without it Node's
 * runner on Linux can lose the last results of a file and still pass
 * (https://github.com/nodejs/node/issues/64833).
 */
interface BlockingHandle {
  setBlocking?: (blocking: boolean) => number;
}
for (const stream of [process.stdout, process.stderr]) {
  (stream as unknown as { _handle?: BlockingHandle })._handle?.setBlocking?.(true);
}
