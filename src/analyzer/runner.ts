import { probeRoute, systemLookup, type Lookup, type ProbeOptions, type RouteProbe } from './connection.js';
import {
  describeEnvironment,
  envProxyFor,
  noProxyVariable,
  noProxyWarnings,
  proxyVariable,
  redactCredentials,
  type Environment,
} from './env-proxy.js';
import { groupFindings } from './causes.js';
import { issuerDataNotes, type IssuerData } from './issuers.js';
import { judgeTarget, summarizeServices, type MethodAttempt } from './judge.js';
import {
  METHOD_IDS,
  routeKey,
  type CheckReport,
  type CheckTarget,
  type HttpMethod,
  type MethodId,
  type MethodSetting,
  type NotTestable,
  type Route,
  type TargetResult,
} from './model.js';
import { ROUTE_TIMEOUTS } from './outcomes.js';
import { PacError, formatPacEntry, type PacEntry, type PacEvaluator } from './pac.js';

/**
 * Runs every target through every configured method with a bound on concurrent attempts, a
 * time limit per stage and a total deadline, then judges the results into a report. A route
 * whose resolver, egress or proxy keeps timing out is given up after a few attempts, so an
 * unreachable network ends the run quickly with one clear error per URL instead of waiting
 * out every timeout.
 */

export interface MethodConfig {
  /** The environment to read proxy variables from; the method counts as configured when one is set. */
  readonly env?: Environment;
  readonly pac?: { readonly evaluator: PacEvaluator; readonly source: string };
  readonly proxy?: { readonly route: Route; readonly text: string };
  readonly gateway?: { readonly route: Route; readonly text: string };
  /** Test without a proxy (default true). */
  readonly direct?: boolean;
}

export type ProbeFunction = (
  target: { readonly url: string; readonly method: HttpMethod },
  route: Route,
  options: ProbeOptions,
) => Promise<RouteProbe>;

export interface RunOptions {
  readonly mode: 'client' | 'gateway';
  readonly targets: readonly CheckTarget[];
  readonly notTestable: readonly NotTestable[];
  readonly methods: MethodConfig;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly concurrency: number;
  readonly issuers: IssuerData;
  readonly ca?: readonly string[];
  readonly lookup?: Lookup;
  /** Wall clock for the report's start time and the expected-issuer dates. */
  readonly clock?: () => Date;
  /** Monotonic milliseconds for stage and run durations. */
  readonly now?: () => number;
  readonly probe?: ProbeFunction;
  readonly onProgress?: (done: number, total: number, url: string) => void;
  readonly userAgent?: string;
}

/** Consecutive route timeouts after which a route is given up. */
export const BREAKER_THRESHOLD = 3;
const MAX_PAC_FAILOVER = 3;

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function envConfigured(env: Environment | undefined): boolean {
  return env !== undefined && (proxyVariable(env, 'https') !== null || proxyVariable(env, 'http') !== null);
}

function pacRoute(entry: PacEntry): Route {
  if (entry.kind === 'DIRECT') return { kind: 'direct' };
  if (entry.kind === 'PROXY' || entry.kind === 'HTTP')
    return { kind: 'http-proxy', host: entry.host, port: entry.port };
  return { kind: 'unsupported', text: formatPacEntry(entry), why: `${entry.kind} proxies are not tested` };
}

/** How each method is set up, for the report header. */
export function describeMethods(methods: MethodConfig): MethodSetting[] {
  return METHOD_IDS.map((method): MethodSetting => {
    switch (method) {
      case 'env': {
        const configured = envConfigured(methods.env);
        return {
          method,
          configured,
          description: configured ? (describeEnvironment(methods.env!) ?? '') : 'no proxy variable set',
        };
      }
      case 'pac':
        return {
          method,
          configured: methods.pac !== undefined,
          description: methods.pac?.source ?? 'no PAC given (--pac)',
        };
      case 'direct':
        return {
          method,
          configured: methods.direct !== false,
          description: methods.direct === false ? 'not tested' : 'connect without a proxy',
        };
      case 'proxy':
        return {
          method,
          configured: methods.proxy !== undefined,
          description:
            methods.proxy === undefined ? 'no proxy given (--proxy)' : redactCredentials(methods.proxy.text),
        };
      case 'gateway':
        return {
          method,
          configured: methods.gateway !== undefined,
          description: methods.gateway?.text ?? 'no gateway given (--gateway)',
        };
    }
  });
}

/** A name resolver for PAC scripts: the first IPv4 address, null on failure or after `timeoutMs`. */
export function pacNameResolver(lookup: Lookup, timeoutMs: number): (host: string) => Promise<string | null> {
  return async (host) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const addresses = await Promise.race([
        lookup(host),
        new Promise<never>(
          (_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)),
        ),
      ]);
      return addresses.find((a) => !a.includes(':')) ?? addresses[0] ?? null;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  };
}

export async function runCheck(options: RunOptions): Promise<CheckReport> {
  const clock = options.clock ?? (() => new Date());
  const now = options.now ?? (() => performance.now());
  const probe = options.probe ?? probeRoute;
  const lookup = options.lookup ?? systemLookup;
  const startedAt = clock().toISOString();
  const started = now();
  const semaphore = new Semaphore(Math.max(1, options.concurrency));
  const deadline = new AbortController();
  const deadlineTimer = setTimeout(() => deadline.abort(), options.deadlineMs);
  const timeouts = new Map<string, number>();
  const notes: string[] = [];
  const methods = options.methods;

  if (methods.env !== undefined) {
    const noProxy = noProxyVariable(methods.env);
    if (noProxy !== null) notes.push(...noProxyWarnings(noProxy.value));
  }

  const probeOptions: ProbeOptions = {
    timeoutMs: options.timeoutMs,
    signal: deadline.signal,
    lookup,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    now,
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
  };

  const attempt = async (target: CheckTarget, route: Route): Promise<RouteProbe> => {
    const key = routeKey(route);
    if (deadline.signal.aborted) {
      return {
        stages: [],
        status: null,
        error: { code: 'DEADLINE', stage: null, message: 'not started: the total deadline was reached' },
        tls: null,
        proxyAuth: null,
        proxyReason: null,
      };
    }
    return semaphore.run(async () => {
      if ((timeouts.get(key) ?? 0) >= BREAKER_THRESHOLD) {
        return {
          stages: [],
          status: null,
          error: {
            code: 'BREAKER_OPEN',
            stage: null,
            message: `not tried: ${BREAKER_THRESHOLD} attempts in a row over ${key} timed out before reaching a server`,
          },
          tls: null,
          proxyAuth: null,
          proxyReason: null,
        };
      }
      if (deadline.signal.aborted) {
        return {
          stages: [],
          status: null,
          error: { code: 'DEADLINE', stage: null, message: 'not started: the total deadline was reached' },
          tls: null,
          proxyAuth: null,
          proxyReason: null,
        };
      }
      const result = await probe(target, route, probeOptions);
      if (result.error !== null && ROUTE_TIMEOUTS.has(result.error.code))
        timeouts.set(key, (timeouts.get(key) ?? 0) + 1);
      else if (result.error === null || result.status !== null) timeouts.set(key, 0);
      return result;
    });
  };

  let done = 0;
  const checkTarget = async (target: CheckTarget): Promise<TargetResult> => {
    const url = new URL(target.url);
    // Methods that resolve to the same route share one attempt.
    const shared = new Map<string, Promise<RouteProbe>>();
    const via = (route: Route): Promise<RouteProbe> => {
      const key = routeKey(route);
      let pending = shared.get(key);
      if (pending === undefined) {
        pending = attempt(target, route);
        shared.set(key, pending);
      }
      return pending;
    };

    const perMethod = METHOD_IDS.map(async (method: MethodId): Promise<MethodAttempt> => {
      const none: MethodAttempt = { method, route: null, routeNote: null, probe: null };
      switch (method) {
        case 'env': {
          if (!envConfigured(methods.env)) return none;
          const decision = envProxyFor(url, methods.env!);
          const note = decision.bypass ?? (decision.variable === null ? null : `from ${decision.variable}`);
          return {
            method,
            route: routeKey(decision.route),
            routeNote: note,
            probe: await via(decision.route),
          };
        }
        case 'pac': {
          if (methods.pac === undefined) return none;
          let entries: readonly PacEntry[];
          let raw: string;
          try {
            const decision = await methods.pac.evaluator.findProxy(target.url);
            entries = decision.entries;
            raw = decision.raw;
          } catch (error) {
            return {
              method,
              route: null,
              routeNote: null,
              probe: null,
              skipped: {
                code: error instanceof PacError ? error.code : 'PAC_FAILED',
                stage: 'pac',
                message: (error as Error).message,
              },
            };
          }
          let last: { route: Route; probe: RouteProbe } | null = null;
          for (const entry of entries.slice(0, MAX_PAC_FAILOVER)) {
            const route = pacRoute(entry);
            const result = await via(route);
            last = { route, probe: result };
            const failedBeforeServer =
              result.error !== null &&
              result.status === null &&
              (result.error.code === 'PROXY_UNSUPPORTED' ||
                result.error.stage === 'dns' ||
                result.error.stage === 'tcp' ||
                result.error.code === 'BREAKER_OPEN');
            if (!failedBeforeServer) break;
          }
          return {
            method,
            route: routeKey(last!.route),
            routeNote: `PAC returned "${raw}"`,
            probe: last!.probe,
          };
        }
        case 'direct':
          if (methods.direct === false) return none;
          return { method, route: 'DIRECT', routeNote: null, probe: await via({ kind: 'direct' }) };
        case 'proxy':
          if (methods.proxy === undefined) return none;
          return {
            method,
            route: routeKey(methods.proxy.route),
            routeNote: null,
            probe: await via(methods.proxy.route),
          };
        case 'gateway':
          if (methods.gateway === undefined) return none;
          return {
            method,
            route: routeKey(methods.gateway.route),
            routeNote: null,
            probe: await via(methods.gateway.route),
          };
      }
    });
    const attempts = await Promise.all(perMethod);
    const result = judgeTarget(target, attempts, options.issuers, startedAt);
    done++;
    options.onProgress?.(done, options.targets.length, target.url);
    return result;
  };

  let results: TargetResult[];
  try {
    results = await Promise.all(options.targets.map((t) => checkTarget(t)));
  } finally {
    clearTimeout(deadlineTimer);
  }

  const services = summarizeServices(results, options.notTestable);
  const unreachable = results.filter((r) => !r.reachable);
  const requiredUnreachable = unreachable.filter((r) => r.target.required).length;
  const deadlineReached = deadline.signal.aborted;
  if (deadlineReached)
    notes.push(
      `the total deadline of ${options.deadlineMs} ms was reached; URLs not tried are counted as unreachable`,
    );
  return {
    kind: 'airlock-check',
    version: 1,
    mode: options.mode,
    startedAt,
    durationMs: Math.round(now() - started),
    settings: {
      timeoutMs: options.timeoutMs,
      deadlineMs: options.deadlineMs,
      concurrency: options.concurrency,
      methods: describeMethods(methods),
    },
    issuerData: { reviewed: options.issuers.reviewed, notes: issuerDataNotes(options.issuers, startedAt) },
    targets: results,
    notTestable: options.notTestable,
    services,
    findings: groupFindings(results, options.mode),
    summary: {
      urls: results.length,
      reachable: results.length - unreachable.length,
      unreachable: unreachable.length,
      requiredUnreachable,
      inspected: results.filter((r) => r.methods.some((m) => m.tls?.verdict === 'inspected')).length,
      proxyAuthRequired: results.filter((r) => r.methods.some((m) => m.error?.code === 'PROXY_AUTH_REQUIRED'))
        .length,
      deadlineReached,
    },
    notes,
    exitCode: requiredUnreachable > 0 ? 1 : 0,
  };
}
