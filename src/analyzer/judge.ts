import { isReasonCode, reasonInfo } from '../errors/index.js';
import { issuerClassFor, judgeChain, type IssuerClass, type IssuerData } from './issuers.js';
import {
  METHOD_LABELS,
  type CheckError,
  type CheckTarget,
  type MethodId,
  type MethodResult,
  type NotTestable,
  type ServiceStatus,
  type ServiceSummary,
  type TargetResult,
  type TlsFinding,
} from './model.js';
import type { RouteProbe } from './connection.js';
import { componentsThatCanAuthenticate, componentsThatCannotAuthenticate } from './proxy-auth.js';
import { serviceLabel } from './targets.js';

/**
 * Turns raw attempts into verdicts: whether the status is one the service answers with,
 * whether the certificate chain is the service's own (by the expected-issuer data, or by
 * comparing what different methods were shown), and what the report should say about it.
 * Pure: the same attempts always give the same verdicts.
 */

/** One method's attempt at a URL, before judgement. */
export interface MethodAttempt {
  readonly method: MethodId;
  readonly route: string | null;
  readonly routeNote: string | null;
  /** null: the method is not configured. */
  readonly probe: RouteProbe | null;
  /** Set when the method could not choose a route (the PAC script failed). */
  readonly skipped?: CheckError;
}

function fail(code: CheckError['code'], message: string, stage: CheckError['stage']): CheckError {
  return { code, message, stage };
}

function describeRefusal(reason: string): string {
  return isReasonCode(reason) ? `${reason}: ${reasonInfo(reason).summary}` : reason;
}

interface Judged {
  result: MethodResult;
  tls: TlsFinding | null;
}

/** What the presented chain says about inspection, by the expected-issuer data and the root it ends in. */
function readChain(
  cls: IssuerClass | null,
  tls: NonNullable<RouteProbe['tls']>,
  at: string,
): { verdict: TlsFinding['verdict']; warnings: string[]; detail?: string } {
  if (cls === null) return { verdict: 'unknown', warnings: [] };
  const judgement = judgeChain(cls, tls.chain, at);
  const leafIssuer = tls.chain[0]?.issuer ?? 'an unknown issuer';
  // A Microsoft service never chains to a private root: a middlebox's CA does, whatever its
  // name and whatever the date, so this holds even when the issuer data is out of date.
  if (cls.requirePublicRoot && tls.publicRoot === null && judgement.matches !== true) {
    const top = tls.chain.at(-1);
    const end = top === undefined ? 'nothing' : top.subject === top.issuer ? top.subject : top.issuer;
    return {
      verdict: 'inspected',
      warnings: [],
      // Worth saying when the names look like Microsoft's: the end of the chain gives it away.
      ...(end === leafIssuer
        ? {}
        : { detail: ` (the chain ends in ${end}, which is in no public root program)` }),
    };
  }
  if (judgement.matches === true) return { verdict: 'expected', warnings: [] };
  if (judgement.matches === null) {
    return { verdict: cls.requirePublicRoot ? 'expected' : 'unknown', warnings: [] };
  }
  const outdated = judgement.outdated.find(
    (a) => a.validUntil !== undefined && at.slice(0, 10) > a.validUntil,
  );
  if (outdated !== undefined) {
    return {
      verdict: 'unknown',
      warnings: [
        `the chain from ${leafIssuer} ends in the public root ${tls.publicRoot ?? '?'} but matches no current expected issuer, ` +
          `and the expected-issuer data is out of date ("${outdated.name}" expired on ${outdated.validUntil}): the service may ` +
          'have moved to a new chain; compare with another method, or add the new issuer with --issuers',
      ],
    };
  }
  return { verdict: 'inspected', warnings: [] };
}

function judgeOne(target: CheckTarget, attempt: MethodAttempt, data: IssuerData, at: string): Judged {
  const base = {
    method: attempt.method,
    route: attempt.route,
    routeNote: attempt.routeNote,
  };
  if (attempt.probe === null && attempt.skipped === undefined) {
    return {
      result: {
        ...base,
        outcome: 'not-configured',
        status: null,
        error: null,
        stages: [],
        tls: null,
        proxyAuth: null,
        proxyReason: null,
        warnings: [],
      },
      tls: null,
    };
  }
  if (attempt.probe === null) {
    return {
      result: {
        ...base,
        outcome: 'failed',
        status: null,
        error: attempt.skipped!,
        stages: [],
        tls: null,
        proxyAuth: null,
        proxyReason: null,
        warnings: [],
      },
      tls: null,
    };
  }
  const probe = attempt.probe;
  const warnings: string[] = [];
  let error: CheckError | null = probe.error;
  let tls: TlsFinding | null = null;
  if (probe.tls !== null) {
    const url = new URL(target.url);
    const cls = issuerClassFor(data, url);
    const leafIssuer = probe.tls.chain[0]?.issuer ?? 'an unknown issuer';
    const reading = readChain(cls, probe.tls, at);
    warnings.push(...reading.warnings);
    const inspected = reading.verdict === 'inspected';
    tls = {
      protocol: probe.tls.protocol,
      chain: probe.tls.chain,
      trusted: probe.tls.trusted,
      trustError: probe.tls.trustError,
      nameMatches: probe.tls.nameMatches,
      publicRoot: probe.tls.publicRoot,
      issuerClass: cls?.id ?? null,
      verdict: reading.verdict,
      inspectedBy: inspected ? leafIssuer : null,
    };
    if (error === null) {
      const breaks = (cls?.pinned ?? false) || target.noInspect;
      if (inspected && (breaks || !probe.tls.trusted)) {
        error = fail(
          'TLS_INSPECTED',
          `TLS inspected by ${leafIssuer}${reading.detail ?? ''}${breaks ? ': certificate pinning makes the agent reject this chain' : ''}`,
          'tls',
        );
      } else if (inspected) {
        warnings.push(
          `TLS re-signed by ${leafIssuer}; the destination is not pinned, so it works only where that CA is trusted`,
        );
      } else if (!probe.tls.trusted) {
        error = fail(
          'TLS_UNTRUSTED',
          `certificate not trusted (${probe.tls.trustError ?? 'unknown'}), issued by ${leafIssuer}`,
          'tls',
        );
      } else if (!probe.tls.nameMatches) {
        error = fail('TLS_NAME_MISMATCH', `certificate does not name ${url.hostname}`, 'tls');
      }
    }
  }
  if (error === null && probe.status !== null && !target.expect.includes(probe.status)) {
    error = fail(
      'UNEXPECTED_STATUS',
      `answered ${probe.status}; the service answers this URL with ${target.expect.join(', ')}`,
      'http',
    );
  }
  const outcome = error?.code === 'DEADLINE' ? 'not-run' : error === null ? 'succeeded' : 'failed';
  return {
    result: {
      ...base,
      outcome,
      status: probe.status,
      error,
      stages: probe.stages,
      tls,
      proxyAuth: probe.proxyAuth,
      proxyReason: probe.proxyReason,
      warnings,
    },
    tls,
  };
}

/** Methods least likely to sit behind an inspecting middlebox first: no proxy, then an Airlock gateway (a plain tunnel). */
const REFERENCE_ORDER: readonly MethodId[] = ['direct', 'gateway', 'pac', 'proxy', 'env'];

/**
 * Inspection by comparison: when the issuer data cannot decide for a host, a method shown a
 * different certificate, from a different issuer, than the reference method (one whose chain
 * matched the data, else the first verified one in REFERENCE_ORDER) was inspected.
 */
function compareChains(target: CheckTarget, results: MethodResult[]): MethodResult[] {
  const candidates = results.filter(
    (r) => r.tls !== null && r.tls.trusted && r.tls.nameMatches && r.tls.verdict !== 'inspected',
  );
  const reference = (
    candidates.find((r) => r.tls?.verdict === 'expected') ??
    [...candidates].sort((a, b) => REFERENCE_ORDER.indexOf(a.method) - REFERENCE_ORDER.indexOf(b.method))[0]
  )?.tls;
  if (reference === undefined || reference === null) return results;
  const refLeaf = reference.chain[0];
  if (refLeaf === undefined) return results;
  return results.map((r) => {
    const leaf = r.tls?.chain[0];
    if (r.tls === null || r.tls.verdict !== 'unknown' || leaf === undefined) return r;
    if (leaf.sha256 === refLeaf.sha256 || leaf.issuer === refLeaf.issuer) return r;
    const tls: TlsFinding = { ...r.tls, verdict: 'inspected', inspectedBy: leaf.issuer };
    const shown = `TLS inspected by ${leaf.issuer} (other methods see a certificate from ${refLeaf.issuer})`;
    const tlsOrNoError = r.error === null || r.error.code.startsWith('TLS_');
    if (tlsOrNoError && (target.noInspect || !r.tls.trusted)) {
      return {
        ...r,
        tls,
        outcome: 'failed',
        error: fail(
          'TLS_INSPECTED',
          target.noInspect ? `${shown}: certificate pinning makes the agent reject this chain` : shown,
          'tls',
        ),
      };
    }
    if (!tlsOrNoError) return { ...r, tls };
    return { ...r, tls, warnings: [...r.warnings, `${shown}; the destination is not pinned`] };
  });
}

function targetNotes(target: CheckTarget, results: readonly MethodResult[]): string[] {
  const notes: string[] = [];
  for (const r of results) {
    const via = `${METHOD_LABELS[r.method]}${r.route === null ? '' : ` (${r.route})`}`;
    if (r.tls?.verdict === 'inspected' && r.tls.inspectedBy !== null) {
      notes.push(
        `${via}: TLS inspected by ${r.tls.inspectedBy}${target.noInspect ? '; exclude this destination from inspection' : ''}`,
      );
    }
    if (r.error?.code === 'PROXY_AUTH_REQUIRED') {
      const cannot = componentsThatCannotAuthenticate(target.products);
      const can = componentsThatCanAuthenticate(target.products);
      notes.push(
        `${via}: the proxy demands authentication${r.proxyAuth !== null && r.proxyAuth.length > 0 ? ` (${r.proxyAuth.join(', ')})` : ''}` +
          (cannot.length > 0 ? `; cannot authenticate: ${cannot.join('; ')}` : '') +
          (can.length > 0 ? `; can be given credentials: ${can.join(', ')}` : ''),
      );
    }
    if (r.error?.code === 'PROXY_REFUSED' && r.proxyReason !== null) {
      notes.push(`${via}: refused by the proxy: ${describeRefusal(r.proxyReason)}`);
    }
    if (r.error?.code === 'PROXY_UPSTREAM_FAILED' && r.proxyReason !== null) {
      notes.push(`${via}: the proxy could not reach it: ${describeRefusal(r.proxyReason)}`);
    }
  }
  return notes;
}

/** Verdicts for one URL from every method's attempt. */
export function judgeTarget(
  target: CheckTarget,
  attempts: readonly MethodAttempt[],
  data: IssuerData,
  at: string,
): TargetResult {
  const judged = attempts.map((a) => judgeOne(target, a, data, at).result);
  const methods = compareChains(target, judged);
  return {
    target,
    methods,
    reachable: methods.some((m) => m.outcome === 'succeeded'),
    notes: targetNotes(target, methods),
  };
}

/** Per-service status: every URL reachable, some, none, or nothing testable. */
export function summarizeServices(
  results: readonly TargetResult[],
  notTestable: readonly NotTestable[],
): ServiceSummary[] {
  const byService = new Map<
    string,
    { required: boolean; urls: number; reachable: number; notTestable: number }
  >();
  const bump = (
    service: string,
  ): { required: boolean; urls: number; reachable: number; notTestable: number } => {
    let s = byService.get(service);
    if (s === undefined) {
      s = { required: false, urls: 0, reachable: 0, notTestable: 0 };
      byService.set(service, s);
    }
    return s;
  };
  for (const r of results) {
    for (const service of r.target.services) {
      const s = bump(service);
      s.urls++;
      if (r.reachable) s.reachable++;
      s.required ||= r.target.required;
    }
  }
  for (const n of notTestable) {
    for (const service of n.services) {
      const s = bump(service);
      s.notTestable++;
      s.required ||= n.required;
    }
  }
  return [...byService.entries()]
    .map(([service, s]): ServiceSummary => {
      const status: ServiceStatus =
        s.urls === 0
          ? 'untested'
          : s.reachable === s.urls
            ? 'reachable'
            : s.reachable === 0
              ? 'unreachable'
              : 'partial';
      return {
        service,
        label: serviceLabel(service),
        required: s.required,
        status,
        urls: s.urls,
        reachable: s.reachable,
        notTestable: s.notTestable,
      };
    })
    .sort((a, b) => Number(b.required) - Number(a.required) || a.label.localeCompare(b.label));
}
