import type { Finding } from './causes.js';
import type { CheckErrorCode } from './outcomes.js';
import { hostPort } from '../text/host-port.js';

/**
 * The analyzer's vocabulary: what is tested (targets), how (methods and the routes they
 * resolve to), what happened at each stage, and the report every renderer reads.
 */

/** The ways a URL is tried, in the order the report lists them (the MDE client analyzer's order, adapted). */
export const METHOD_IDS = ['env', 'pac', 'direct', 'proxy', 'gateway'] as const;
export type MethodId = (typeof METHOD_IDS)[number];

/** Labels as the text layout prints them; "Default proxy" is the environment's proxy on this machine. */
export const METHOD_LABELS: Readonly<Record<MethodId, string>> = {
  env: 'Default proxy',
  pac: 'Proxy auto-config (PAC)',
  direct: 'Proxy disabled',
  proxy: 'Named proxy',
  gateway: 'Airlock gateway',
};

/** Short column headings for the terminal table. */
export const METHOD_SHORT: Readonly<Record<MethodId, string>> = {
  env: 'Env',
  pac: 'PAC',
  direct: 'Direct',
  proxy: 'Proxy',
  gateway: 'Gateway',
};

export const STAGES = ['pac', 'dns', 'tcp', 'proxy', 'tls', 'http'] as const;
export type Stage = (typeof STAGES)[number];

export type HttpMethod = 'GET' | 'HEAD' | 'POST';

/** One URL to test and what it stands for. */
export interface CheckTarget {
  readonly url: string;
  readonly method: HttpMethod;
  /** Statuses the real service answers this URL with; anything else is not proof of reachability. */
  readonly expect: readonly number[];
  /** Catalog services the URL stands for (`custom` for URLs outside the catalog). */
  readonly services: readonly string[];
  readonly products: readonly string[];
  /** A required service depends on this URL: the exit code counts it. */
  readonly required: boolean;
  /** Inspection of this destination breaks the agent (pinned, or Microsoft says to exclude it). */
  readonly noInspect: boolean;
  readonly entryIds: readonly string[];
  /** Where the URL comes from: the analyzer probe it reproduces, or how it was derived. */
  readonly origin: string;
}

/** A catalog destination that cannot be tested, and why. */
export interface NotTestable {
  readonly host: string;
  readonly services: readonly string[];
  readonly required: boolean;
  readonly entryIds: readonly string[];
  readonly reason: string;
}

/** How a method reaches a URL. */
export type Route =
  | { readonly kind: 'direct' }
  | {
      readonly kind: 'http-proxy';
      readonly host: string;
      readonly port: number;
      /** `user:password` from the proxy URL, sent as Basic credentials (as curl does). */
      readonly credentials?: string;
    }
  | { readonly kind: 'unsupported'; readonly text: string; readonly why: string };

export function routeKey(route: Route): string {
  switch (route.kind) {
    case 'direct':
      return 'DIRECT';
    case 'http-proxy':
      return `PROXY ${hostPort(route.host, route.port)}`;
    case 'unsupported':
      return route.text;
  }
}

export interface StageResult {
  readonly stage: Stage;
  readonly ms: number;
  readonly ok: boolean;
  /** What the stage reached or found ("127.0.0.1", "TLSv1.3", "200"), or why it failed. */
  readonly detail: string;
}

export interface CheckError {
  readonly code: CheckErrorCode;
  readonly stage: Stage | null;
  readonly message: string;
}

export interface CertSummary {
  readonly subject: string;
  readonly issuer: string;
  /** Certificate fingerprints as Node prints them (colon-separated hex). */
  readonly sha256: string;
  readonly sha1?: string;
  /** SHA-256 of the public key (SubjectPublicKeyInfo), upper-case hex: what anchors match on. */
  readonly spkiSha256?: string;
  readonly validTo: string;
}

export type InspectionVerdict =
  /** The chain carries an issuer the service is known to use. */
  | 'expected'
  /** Something other than the service signed the certificate. */
  | 'inspected'
  /** No issuer data for this host, and no other method to compare with. */
  | 'unknown';

export interface TlsFinding {
  readonly protocol: string;
  /** Leaf first, as presented (completed from the trust store when it verified). */
  readonly chain: readonly CertSummary[];
  readonly trusted: boolean;
  readonly trustError: string | null;
  readonly nameMatches: boolean;
  /** The public root (Node's bundled store or Microsoft's published roots) the chain anchors in, by key. */
  readonly publicRoot: string | null;
  /** The expected-issuer class the host belongs to, if any. */
  readonly issuerClass: string | null;
  readonly verdict: InspectionVerdict;
  /** The issuer that re-signed, when inspected. */
  readonly inspectedBy: string | null;
}

export type MethodOutcome = 'succeeded' | 'failed' | 'not-configured' | 'not-run';

export interface MethodResult {
  readonly method: MethodId;
  readonly outcome: MethodOutcome;
  /** The route taken ("DIRECT", "PROXY host:port"), null when the method is not configured. */
  readonly route: string | null;
  /** Why that route ("NO_PROXY entry .example.test", "PAC returned …"). */
  readonly routeNote: string | null;
  readonly status: number | null;
  readonly error: CheckError | null;
  readonly stages: readonly StageResult[];
  readonly tls: TlsFinding | null;
  /** Authentication schemes a proxy demanded with 407. */
  readonly proxyAuth: readonly string[] | null;
  /** The reason code an Airlock gateway gave in its Proxy-Status header. */
  readonly proxyReason: string | null;
  readonly warnings: readonly string[];
}

export interface TargetResult {
  readonly target: CheckTarget;
  readonly methods: readonly MethodResult[];
  readonly reachable: boolean;
  /** Findings about the URL as a whole (inspection, proxy authentication). */
  readonly notes: readonly string[];
}

export type ServiceStatus = 'reachable' | 'partial' | 'unreachable' | 'untested';

export interface ServiceSummary {
  readonly service: string;
  readonly label: string;
  readonly required: boolean;
  readonly status: ServiceStatus;
  readonly urls: number;
  readonly reachable: number;
  readonly notTestable: number;
}

export interface MethodSetting {
  readonly method: MethodId;
  readonly configured: boolean;
  /** What the method uses, e.g. "HTTPS_PROXY=http://proxy:3128; NO_PROXY=.corp". */
  readonly description: string;
}

export interface CheckReport {
  readonly kind: 'airlock-check';
  readonly version: 1;
  /** `client`: this machine's routes; `gateway`: the gateway box's upstream reachability of its policy. */
  readonly mode: 'client' | 'gateway';
  readonly startedAt: string;
  readonly durationMs: number;
  readonly settings: {
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly concurrency: number;
    readonly methods: readonly MethodSetting[];
  };
  readonly issuerData: { readonly reviewed: string; readonly notes: readonly string[] };
  readonly targets: readonly TargetResult[];
  readonly notTestable: readonly NotTestable[];
  readonly services: readonly ServiceSummary[];
  /** Failures grouped by cause, most important first. */
  readonly findings: readonly Finding[];
  readonly summary: {
    readonly urls: number;
    readonly reachable: number;
    readonly unreachable: number;
    readonly requiredUnreachable: number;
    readonly inspected: number;
    readonly proxyAuthRequired: number;
    readonly deadlineReached: boolean;
  };
  readonly notes: readonly string[];
  /** 0 when every required URL is reachable by some method, 1 otherwise. */
  readonly exitCode: 0 | 1;
}
