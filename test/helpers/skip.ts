import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';

/**
 * Skips that cannot hide a gap in continuous integration. Locally a test or suite whose
 * prerequisite is missing (a tool, root, a free port) is skipped and says why; with `CI=true`
 * the same condition is a failure, because CI installs everything the suite needs.
 */
export const IN_CI = process.env.CI === 'true';

const CI_RULE = 'with CI=true a test that should run here may not be skipped';

/**
 * For a suite (`describe(name, { skip: requirement(name, reason) }, ...)`): null means it can
 * run. Otherwise the suite is skipped, and in CI a test named after it fails with the reason.
 */
export function requirement(suite: string, reason: string | null): string | false {
  if (reason === null) return false;
  if (IN_CI) {
    test(`${suite}: its prerequisites are here`, () => {
      assert.fail(`${suite}: ${reason} (${CI_RULE})`);
    });
  } else {
    console.log(`${suite} skipped: ${reason}`);
  }
  return reason;
}

/** Inside a test: skip it locally (printing why); in CI fail it. Returns after `t.skip`, so `return` next. */
export function skipHere(t: TestContext, reason: string): void {
  if (IN_CI) assert.fail(`${t.name}: ${reason} (${CI_RULE})`);
  console.log(`${t.name} skipped: ${reason}`);
  t.skip(reason);
}
