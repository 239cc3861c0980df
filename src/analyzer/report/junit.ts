import type { CheckReport, TargetResult } from '../model.js';
import { methodLabel, methodVerdict, resultLine, targetMs } from './format.js';

/**
 * JUnit XML for pipelines: a test suite per service, a test case per URL. A required URL no
 * method reaches is a failure; an optional one is reported as skipped (with why), so a
 * pipeline fails only on what the exit code fails on. Destinations that cannot be tested are
 * skipped cases too.
 */

export function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
  );
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

function detail(t: TargetResult): string {
  const lines = t.methods.map((m) => `${methodLabel(m.method)}: ${methodVerdict(m)}`);
  return [...lines, ...t.notes].join('\n');
}

export function renderJunit(report: CheckReport): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  for (const service of report.services) {
    const cases: string[] = [];
    let suiteFailures = 0;
    let suiteSkipped = 0;
    let suiteMs = 0;
    const classname = `airlock.check.${service.service}`;
    for (const t of report.targets.filter((x) => x.target.services.includes(service.service))) {
      const ms = targetMs(t);
      suiteMs += ms;
      const open = `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(t.target.url)}" time="${seconds(ms)}"`;
      const out = `      <system-out>${escapeXml(detail(t))}</system-out>`;
      if (t.reachable) {
        cases.push(`${open}>\n${out}\n    </testcase>`);
      } else if (t.target.required) {
        suiteFailures++;
        const first = t.methods.find((m) => m.outcome === 'failed' || m.outcome === 'not-run');
        const message =
          first === undefined
            ? 'no method configured'
            : `${methodLabel(first.method)}: ${methodVerdict(first)}`;
        cases.push(
          `${open}>\n      <failure type="unreachable" message="${escapeXml(message)}">${escapeXml(detail(t))}</failure>\n${out}\n    </testcase>`,
        );
      } else {
        suiteSkipped++;
        cases.push(
          `${open}>\n      <skipped message="optional URL, unreachable by every method"/>\n${out}\n    </testcase>`,
        );
      }
    }
    for (const n of report.notTestable.filter((x) => x.services.includes(service.service))) {
      suiteSkipped++;
      cases.push(
        `    <testcase classname="${escapeXml(classname)}" name="${escapeXml(n.host)}" time="0.000">\n      <skipped message="${escapeXml(`not testable: ${n.reason}`)}"/>\n    </testcase>`,
      );
    }
    tests += cases.length;
    failures += suiteFailures;
    skipped += suiteSkipped;
    suites.push(
      `  <testsuite name="${escapeXml(service.label)}" tests="${cases.length}" failures="${suiteFailures}" errors="0" skipped="${suiteSkipped}" time="${seconds(suiteMs)}" timestamp="${escapeXml(report.startedAt)}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="airlock check" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(report.durationMs)}">`,
    `  <!-- ${escapeXml(resultLine(report)).replace(/--/g, '- -')} -->`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
