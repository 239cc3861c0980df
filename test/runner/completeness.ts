/**
 * Checks a test run's TAP output for tests that started and never reported a result. Node's
 * test runner reads each test file's results from the child process's output; where part of
 * that output is lost, the tests in it count as neither passed nor failed and the run stays
 * green. Every `# Subtest: name` must be closed by `ok N - name` or `not ok N - name` at the
 * same depth.
 */

export interface Unfinished {
  /** Names from the outermost suite down to the test, as the TAP output spells them. */
  readonly path: readonly string[];
  /** Line of the `# Subtest:` (1-based). */
  readonly line: number;
}

export interface Completeness {
  /** Tests that reported a result. */
  readonly finished: number;
  readonly unfinished: readonly Unfinished[];
}

const SUBTEST = /^( *)# Subtest: (.*)$/;
const RESULT = /^( *)(?:not )?ok \d+ - (.*?)(?: # (?:SKIP|TODO)\b.*)?$/i;

export function checkCompleteness(tap: string): Completeness {
  const open: { depth: number; name: string; line: number }[] = [];
  const unfinished: Unfinished[] = [];
  let finished = 0;
  const lost = (): void => {
    const top = open.pop()!;
    unfinished.push({ path: [...open.map((o) => o.name), top.name], line: top.line });
  };
  const lines = tap.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const start = SUBTEST.exec(line);
    if (start !== null) {
      const depth = start[1]!.length;
      // Tests at one depth run one after the other: one starting means those before it at its
      // depth, and anything deeper, are over, whether or not their result came.
      while (open.length > 0 && open[open.length - 1]!.depth >= depth) lost();
      open.push({ depth, name: start[2]!, line: i + 1 });
      continue;
    }
    const result = RESULT.exec(line);
    if (result === null) continue;
    const depth = result[1]!.length;
    // A result closes the test opened at its depth; anything deeper still open never finished.
    while (open.length > 0 && open[open.length - 1]!.depth > depth) lost();
    const top = open[open.length - 1];
    if (top !== undefined && top.depth === depth && top.name === result[2]) open.pop();
    finished++;
  }
  while (open.length > 0) lost();
  unfinished.sort((a, b) => a.line - b.line);
  return { finished, unfinished };
}
