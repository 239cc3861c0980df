import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CLI } from '../helpers/cli.js';
import { closedPort, startOrigin, type TestOrigin } from '../helpers/origins.js';
import { run } from '../helpers/run.js';

/**
 * `airlock check` through the real command line: the report format chosen by `--format` or by
 * the `--output` file's extension is what reaches stdout or the file, read back by an XML parser
 * the project did not write.
 */

let origin: TestOrigin;
let dead: number;

before(async () => {
  origin = await startOrigin();
  dead = await closedPort();
});

after(async () => {
  await origin.close();
});

function check(...extra: string[]) {
  // The environment's proxy variables are left out so only the direct route is tested.
  return run(process.execPath, [
    CLI,
    'check',
    '--url',
    `http://plain.example.test:${origin.port}/ok`,
    '--url',
    `http://dead.example.test:${dead}/`,
    '--resolve',
    'plain.example.test:127.0.0.1',
    '--resolve',
    'dead.example.test:127.0.0.1',
    '--no-env-proxy',
    '--timeout',
    '3000',
    ...extra,
  ]);
}

interface JunitCase {
  '@_name': string;
  failure?: unknown;
}

/** Parses JUnit XML strictly and returns the suite totals and test case names. */
function readJunit(xml: string): { tests: number; failures: number; cases: JunitCase[] } {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}\n${xml.slice(0, 300)}`);
  const doc = new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => name === 'testsuite' || name === 'testcase',
  }).parse(xml) as {
    testsuites?: { '@_tests': string; '@_failures': string; testsuite: { testcase: JunitCase[] }[] };
  };
  assert.ok(doc.testsuites, 'a <testsuites> root element');
  return {
    tests: Number(doc.testsuites['@_tests']),
    failures: Number(doc.testsuites['@_failures']),
    cases: doc.testsuites.testsuite.flatMap((s) => s.testcase),
  };
}

describe('airlock check report formats', () => {
  test('--format junit prints JUnit XML on stdout: one test case per URL, the unreachable one failed', async () => {
    const r = await check('--format', 'junit');
    assert.equal(r.code, 1, r.stderr);
    const junit = readJunit(r.stdout.toString());
    assert.equal(junit.tests, 2);
    assert.equal(junit.failures, 1);
    const byName = new Map(junit.cases.map((c) => [c['@_name'], c]));
    assert.equal(byName.get(`http://plain.example.test:${origin.port}/ok`)?.failure, undefined);
    assert.ok(byName.get(`http://dead.example.test:${dead}/`)?.failure !== undefined, 'the dead URL failed');
  });

  test('--output x.xml writes JUnit XML to the file, nothing to stdout, and says where on stderr', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'airlock-check-out-')), 'nested', 'report.xml');
    const r = await check('--output', file);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout.toString(), '');
    assert.match(
      r.stderr,
      new RegExp(`FAILED; junit report written to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    const junit = readJunit(readFileSync(file, 'utf8'));
    assert.equal(junit.tests, 2);
    assert.equal(junit.failures, 1);
  });

  test('--output x.json writes the JSON report; --format overrides the extension', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-check-out-'));
    const json = await check('--output', join(dir, 'report.json'));
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { targets: unknown[] };
    assert.equal(report.targets.length, 2);
    const forced = await check('--output', join(dir, 'report.xml'), '--format', 'json');
    assert.equal(forced.code, 1, forced.stderr);
    assert.doesNotThrow(() => JSON.parse(readFileSync(join(dir, 'report.xml'), 'utf8')) as unknown);
  });
});
