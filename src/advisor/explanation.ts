import type { ComponentId } from './components.js';
import type { DisagreementId } from './disagreements.js';
import type { RouteSourceId } from './route-sources.js';
import type { CitedSource, SourceId } from './sources.js';

export type Verdict = 'works' | 'degraded' | 'fails';

/** The exact setting to change, what to change it to, and a command where one exists. */
export interface Fix {
  readonly setting: string;
  readonly change: string;
  readonly command: string | null;
}

/** The path a component's traffic takes on this machine. */
export interface Route {
  readonly kind: 'proxy' | 'direct' | 'pac' | 'internal-source' | 'local' | 'none';
  /** The setting that decided the route. */
  readonly source: RouteSourceId | null;
  /** How the output names that setting. */
  readonly via: string;
  /** `host:port` of the proxy, for proxy routes. */
  readonly proxy: string | null;
  /** Why the route is a fallback (e.g. the static proxy is unreachable), or null. */
  readonly fallback: string | null;
  /** Destinations that skip the proxy because of a bypass entry. */
  readonly bypassed: readonly { readonly host: string; readonly entry: string }[];
  /** Settings that exist but could not be used (e.g. WinINET with nobody logged on). */
  readonly skipped: readonly { readonly source: RouteSourceId; readonly why: string }[];
  /** A setting whose value does not parse, which stops the component. */
  readonly problem: string | null;
  /** Each setting consulted, in order, and what it gave. */
  readonly trace: readonly string[];
}

export interface Alternative {
  readonly disagreement: DisagreementId;
  readonly reading: string;
  readonly route: string;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface ComponentVerdict {
  readonly component: ComponentId;
  readonly name: string;
  /** Account or session the traffic leaves from. */
  readonly context: string;
  readonly route: Route;
  /** One-line route: `static proxy (TelemetryProxyServer) 10.0.0.6:8080`. */
  readonly routeText: string;
  readonly verdict: Verdict;
  /** One sentence. */
  readonly reason: string;
  readonly fix: Fix | null;
  /** Id of the rule that decided the verdict. */
  readonly rule: string;
  /** The documents the deciding rules cite (keys of `Explanation.sources`). */
  readonly sources: readonly SourceId[];
  /** Readings of documented disagreements this verdict depends on. */
  readonly readings: readonly { readonly disagreement: DisagreementId; readonly reading: string }[];
  /** What the other reading of each of those disagreements would give, when it differs. */
  readonly alternatives: readonly Alternative[];
  readonly notes: readonly string[];
}

export interface ReadingSummary {
  readonly id: DisagreementId;
  readonly question: string;
  readonly assumed: string;
  readonly assumedMeaning: string;
  readonly assumedSources: readonly SourceId[];
  /** The assumed reading is what a lab observed (not only what a document states). */
  readonly assumedObserved: boolean;
  readonly other: string;
  readonly otherMeaning: string;
  readonly otherSources: readonly SourceId[];
  readonly otherObserved: boolean;
  /** Components whose verdict consulted this reading. */
  readonly affects: readonly ComponentId[];
  /** Components whose route or verdict would change under the other reading. */
  readonly changes: readonly ComponentId[];
}

export interface Explanation {
  readonly machine: {
    readonly name: string;
    readonly platform: 'windows' | 'linux';
    readonly role: 'workstation' | 'server';
    readonly windowsVersion: string | null;
    readonly userLoggedOn: boolean;
    readonly products: readonly string[];
    readonly connectivity: 'standard' | 'streamlined';
    readonly geography: string;
  };
  readonly components: readonly ComponentVerdict[];
  readonly readings: readonly ReadingSummary[];
  /** Gaps filled with defaults. */
  readonly assumptions: readonly string[];
  /** Things the input parsers noticed (`file:line: message`). */
  readonly warnings: readonly string[];
  readonly summary: Readonly<Record<Verdict, number>>;
  /** Every document cited above, numbered in the order first cited: title, publisher and address. */
  readonly sources: readonly CitedSource[];
}

/** Injected allowlist check, e.g. an Airlock policy's decide(). */
export type PolicyCheck = (host: string, port: number) => { allowed: boolean; reason: string };
