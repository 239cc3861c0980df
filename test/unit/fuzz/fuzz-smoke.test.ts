import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fuzz, type FuzzReport } from '../../../fuzz/fuzz.js';
import { TARGETS } from '../../../fuzz/targets.js';

const crashDir = mkdtempSync(join(tmpdir(), 'airlock-fuzz-'));
after(() => rmSync(crashDir, { recursive: true, force: true }));

for (const target of ['client-hello', 'request-head']) {
  describe(`fuzz target ${target}, 3 s from the seeds`, () => {
    let report: FuzzReport;
    before(async () => {
      report = await fuzz({ target, seconds: 3, seed: 1, corpusDir: null, crashDir, keepGoing: true });
    });

    test('coverage grows beyond the seeds', () => {
      assert.ok(report.executions > report.seedInputs + 20, `only ${report.executions} executions`);
      const seeds = report.seedFeatures ?? 0;
      assert.ok(seeds > 0, 'the seeds cover something');
      assert.ok(report.features > seeds, `features ${report.features}, seeds alone ${seeds}`);
      assert.ok(report.newInputs > 0);
    });

    test('no crash', () => {
      const found = report.crashes.map((c) => `${c.signature}: ${c.message} (${c.file ?? 'not written'})`);
      assert.deepEqual(found, []);
    });
  });
}

test('the engine finds a planted bug, stops, and writes the input that trips it', async () => {
  const report = await fuzz({ target: 'canary', seconds: 60, seed: 1, corpusDir: null, crashDir });
  assert.equal(report.crashes.length, 1, 'found within the budget');
  const crash = report.crashes[0]!;
  assert.equal(crash.kind, 'exception');
  // The signature keeps the first 120 characters of the message; the whole line names the "%".
  assert.match(crash.signature, /^Error: canary: host /);
  assert.match(crash.message.split('\n')[0]!, /^Error: canary: host .*%/);
  assert.ok(crash.file !== null);
  assert.deepEqual(readFileSync(crash.file), crash.input);
  assert.ok(report.executions > report.seedInputs, 'found by mutation, not by a seed');
  assert.ok(report.seconds < 60, 'stopped at the crash');

  const planted = await TARGETS.canary!.load();
  assert.throws(() => planted(crash.input), /canary/);
  const plain = await TARGETS['request-head']!.load();
  assert.doesNotThrow(() => plain(crash.input), 'only the planted bug trips');
});
