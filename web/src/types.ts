/** The admin API's JSON, as the dashboard reads it (docs/admin-api.md). Times: ms since the epoch. */

import type { PolicyRule as SnippetRule, Suggestion } from './config-snippet.js';

export interface Totals {
  readonly allowed: number;
  readonly denied: number;
  readonly failed: number;
  readonly opened: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly dropped?: number;
}

export interface ObserveSummary {
  readonly state: boolean;
  readonly at?: number;
  readonly clients?: number;
  readonly services?: number;
  readonly deniedDestinations?: number;
  readonly openTunnels?: number;
  readonly totals?: Totals;
}

export interface ReloadResult {
  readonly seq?: number;
  readonly at: number;
  readonly trigger: string;
  readonly ok: boolean;
  readonly error: string | null;
  readonly generation: number;
}

export interface ProcessRow {
  readonly index: number;
  readonly up: boolean;
  readonly pid?: number;
  readonly connections?: number;
  readonly sessions?: number;
  readonly relayed?: number;
  readonly generation?: number;
}

export interface LintFinding {
  readonly rule: string;
  readonly where: string;
  readonly severity: string;
  readonly code: string;
  readonly why: string;
  readonly narrow?: string;
}

export interface Status {
  readonly ready: boolean;
  readonly mode: string;
  readonly workers: number;
  readonly connections: number;
  readonly rules: number;
  readonly version?: string;
  readonly config?: string;
  readonly generation: number;
  readonly startedAt: number;
  readonly uptimeSeconds: number;
  readonly reload: { readonly attempts: number; readonly last: ReloadResult | null };
  readonly processes: readonly ProcessRow[];
  readonly warnings: readonly string[];
  readonly lint: readonly LintFinding[];
  readonly observe: ObserveSummary;
}

export type ServiceStatus = 'reaching' | 'failing' | 'idle';

export interface ServiceRow {
  readonly key: string;
  readonly product: string | null;
  readonly service: string | null;
  readonly productLabel: string | null;
  readonly serviceLabel: string | null;
  readonly status: ServiceStatus;
  readonly open: number;
  readonly clients: number;
  readonly requests: number;
  readonly successes: number;
  readonly lastSuccess: number | null;
  readonly lastFailure: number | null;
  readonly lastFailureKind: string | null;
  readonly failures: Readonly<Record<string, number>>;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}

export interface ClientService {
  readonly key: string;
  readonly product: string | null;
  readonly service: string | null;
  readonly lastAllowed: number;
  readonly host: string;
}

export interface DenialBrief {
  readonly at: number;
  readonly host: string;
  readonly port: number;
  readonly reason: string;
}

export interface ClientRow {
  readonly address: string;
  readonly name: string | null;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly open: number;
  readonly allowed: number;
  readonly denied: number;
  readonly failed: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly services: readonly ClientService[];
  readonly denials: readonly DenialBrief[];
}

export interface Explanation {
  readonly code: string;
  readonly reason: string;
  readonly summary: string;
  readonly next: string | null;
  readonly suggestions: readonly Suggestion[];
  readonly catalog: {
    readonly id: string;
    readonly products: readonly string[];
    readonly service: string;
    readonly geo: string;
  } | null;
}

export interface Denial {
  readonly id: string;
  readonly at: number;
  readonly client: string;
  readonly clientName: string | null;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly reason: string;
  readonly sni: string | null;
  /** The rule that matched the host (a refusal for its port), or null. */
  readonly rule: string | null;
  readonly audit: boolean;
  readonly explanation: Explanation | null;
}

export interface DeniedDestination {
  readonly host: string;
  readonly port: number;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly lastReason: string;
  readonly clients: readonly string[];
  readonly moreClients: boolean;
  readonly sni: string | null;
  readonly explanation: Explanation | null;
}

export interface Tunnel {
  readonly id: string;
  readonly client: string;
  readonly clientName: string | null;
  readonly host: string;
  readonly port: number;
  readonly service: string;
  readonly since: number;
  readonly upstream: string | null;
  readonly setupMs: number | null;
  readonly worker?: string;
}

export interface HistoryMinute {
  readonly minute: number;
  readonly allowed: number;
  readonly denied: number;
  readonly failed: number;
  readonly opened: number;
  readonly bytes: number;
  readonly openPeak: number;
}

export interface PolicyRule extends SnippetRule {
  readonly catalog: readonly { readonly id: string; readonly product: string; readonly service: string }[];
}

export interface Policy {
  readonly generation: number;
  readonly mode: string;
  readonly catalogInForce: boolean;
  readonly selection?: Readonly<Record<string, unknown>>;
  readonly defaultServices?: readonly string[];
  readonly rules: readonly PolicyRule[];
  readonly sources: readonly string[];
  readonly ports: { readonly connect: readonly number[]; readonly http: readonly number[] };
  readonly lint: readonly LintFinding[];
  readonly warnings: readonly string[];
}
