import {
  METHOD_IDS,
  METHOD_LABELS,
  type CheckReport,
  type MethodResult,
  type TargetResult,
} from '../model.js';
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

/** A short cell for tables: `ok 200`, `x 407`, `x tcp timeout`, `-`. */
export function methodCell(m: MethodResult): string {
  switch (m.outcome) {
    case 'not-configured':
      return '-';
    case 'succeeded':
      return m.warnings.length > 0 ? `ok ${m.status ?? ''}*`.trim() : `ok ${m.status ?? ''}`.trim();
    case 'not-run':
      return 'not run';
    case 'failed': {
      const e = m.error;
      if (e === null) return 'x';
      switch (e.code) {
        case 'PROXY_AUTH_REQUIRED':
          return 'x 407';
        case 'TLS_INSPECTED':
          return 'x inspected';
        case 'UNEXPECTED_STATUS':
          return `x ${m.status ?? ''}`.trim();
        case 'PROXY_REFUSED':
          return `x refused`;
        case 'DNS_NOT_FOUND':
          return 'x dns';
        case 'TCP_REFUSED':
          return 'x refused';
        case 'BREAKER_OPEN':
          return 'x skipped';
        default:
          return e.code.endsWith('TIMEOUT')
            ? `x ${e.stage ?? ''} timeout`.replace('  ', ' ')
            : `x ${e.stage ?? 'error'}`;
      }
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
