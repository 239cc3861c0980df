import {
  METHOD_IDS,
  METHOD_LABELS,
  type CheckReport,
  type MethodResult,
  type TargetResult,
} from '../model.js';
import { causeOf, findingServices } from '../causes.js';
import { CHECK_ERRORS } from '../outcomes.js';

/** Wording shared by the renderers, so every format says the same thing the same way. */

/** The MDE client analyzer's wording for one method: `Succeeded (200)`, `Failed (12002: …)`, `Doesn't exist`. */
export function methodVerdict(m: MethodResult): string {
  switch (m.outcome) {
    case 'not-configured':
      return "Doesn't exist";
    case 'succeeded':
      return `Succeeded (${m.status ?? '-'})`;
    case 'not-run':
      return `Not run (${m.error?.message ?? 'skipped'})`;
    case 'failed': {
      const e = m.error;
      if (e === null) return 'Failed';
      const winhttp = CHECK_ERRORS[e.code].winhttp;
      const number =
        winhttp !== null
          ? `${winhttp}: `
          : e.code === 'PROXY_AUTH_REQUIRED'
            ? ''
            : e.code === 'UNEXPECTED_STATUS' && m.status !== null
              ? `${m.status}: `
              : '';
      return `Failed (${number}${e.message})`;
    }
  }
}

/**
 * A short cell for tables: `ok 200`, `x DENY_HOST_NOT_ALLOWED` (the gateway's policy),
 * `x FAIL_DNS` (the gateway could not resolve the name), `x dns` (this machine could not),
 * `x 407`, `-` (not configured).
 */
export function methodCell(m: MethodResult, mode: CheckReport['mode']): string {
  switch (m.outcome) {
    case 'not-configured':
      return '-';
    case 'succeeded':
      return m.warnings.length > 0 ? `ok ${m.status ?? ''}*`.trim() : `ok ${m.status ?? ''}`.trim();
    case 'not-run':
    case 'failed': {
      const cause = causeOf(m, mode);
      if (cause === null) return 'x';
      return m.outcome === 'not-run' ? cause.cell : `x ${cause.cell}`;
    }
  }
}

/** Methods that were set up for this run, in report order. */
export function configuredMethods(report: CheckReport): MethodResult['method'][] {
  return METHOD_IDS.filter((id) => report.settings.methods.find((m) => m.method === id)?.configured);
}

export function methodLabel(id: MethodResult['method']): string {
  return METHOD_LABELS[id];
}

/** Total time of a method's stages, in milliseconds. */
export function methodMs(m: MethodResult): number {
  return m.stages.reduce((sum, s) => sum + s.ms, 0);
}

/** The longest method's time for a URL, in milliseconds. */
export function targetMs(t: TargetResult): number {
  return t.methods.reduce((max, m) => Math.max(max, methodMs(m)), 0);
}

/** One line summing the run up. */
export function resultLine(report: CheckReport): string {
  const s = report.summary;
  const parts = [`${s.reachable} of ${s.urls} URLs reachable`];
  if (s.requiredUnreachable > 0)
    parts.push(`${s.requiredUnreachable} required URL${s.requiredUnreachable === 1 ? '' : 's'} unreachable`);
  if (s.inspected > 0) parts.push(`TLS inspection seen on ${s.inspected}`);
  if (s.proxyAuthRequired > 0) parts.push(`proxy authentication demanded on ${s.proxyAuthRequired}`);
  if (report.notTestable.length > 0) parts.push(`${report.notTestable.length} not testable`);
  return `${report.exitCode === 0 ? 'PASSED' : 'FAILED'}: ${parts.join('; ')}`;
}

export const STATUS_WORDS = {
  reachable: 'reachable',
  partial: 'partly reachable',
  unreachable: 'unreachable',
  untested: 'not testable',
} as const;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One block per finding, numbered, most important first: what, how many, where, the fix, examples. */
export function findingLines(report: CheckReport): string[] {
  if (report.findings.length === 0) return [];
  const out = ['Causes, most important first:'];
  report.findings.forEach((f, i) => {
    const label = f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warning' : 'note';
    out.push(`  ${i + 1}. ${label}: ${f.title} [${f.code}]`);
    const reach =
      f.unreachable === 0
        ? 'each reached by another method'
        : f.unreachable === f.urls
          ? `none reached by any method${f.requiredUnreachable > 0 ? ` (${f.requiredUnreachable} required)` : ''}`
          : `${f.unreachable} reached by no method${f.requiredUnreachable > 0 ? ` (${f.requiredUnreachable} required)` : ''}`;
    out.push(
      `     ${plural(f.urls, 'URL')}, ${reach}${f.notTried > 0 ? `; ${f.notTried} not tried after repeated timeouts` : ''}`,
    );
    out.push(`     services: ${findingServices(f)}`);
    out.push(`     seen on: ${f.via.join('; ')}`);
    out.push(`     fix: ${f.fix}`);
    const more = f.urls - f.examples.length;
    out.push(`     e.g. ${f.examples.join(', ')}${more > 0 ? ` and ${more} more` : ''}`);
  });
  return out;
}

/** The methods this run used, with what each was given: "Proxy disabled; Airlock gateway (127.0.0.1:3128)". */
export function methodsLine(report: CheckReport): string {
  return report.settings.methods
    .filter((m) => m.configured)
    .map((m) => `${methodLabel(m.method)} (${m.description})`)
    .join('; ');
}
