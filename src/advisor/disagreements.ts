import type { SourceId } from './sources.js';

/**
 * Places where the sources contradict each other. The model evaluates both readings; the
 * explanation says which one it assumed and what the other would change. Where a lab observed
 * the outcome, the observed reading is the default and the documentation that disagrees is the
 * alternative; where nobody observed it, the default follows the Defender documentation. A
 * description picks a reading with `assume: { <id>: <reading> }`, the command line with
 * `--assume <id>=<reading>`.
 */
export const READING_VALUES = {
  'static-proxy-unreachable': ['direct', 'default-proxy'],
  'revocation-for-cloud-protection': ['not-observed', 'required'],
  'live-response-over-wininet': ['times-out', 'works-with-user'],
  'system-services-over-wininet': ['works-with-user', 'system-path-only'],
} as const;

export type DisagreementId = keyof typeof READING_VALUES;
export type Readings = { -readonly [K in DisagreementId]: (typeof READING_VALUES)[K][number] };

export interface Reading {
  readonly value: string;
  readonly meaning: string;
  readonly sources: readonly SourceId[];
  /** A lab saw this outcome happen (rather than a document stating it). */
  readonly observed?: boolean;
}

export interface Disagreement {
  readonly id: DisagreementId;
  readonly question: string;
  readonly readings: readonly Reading[];
  readonly assumed: string;
  /** Why the assumed reading is the default. */
  readonly why: string;
}

export const DISAGREEMENTS: readonly Disagreement[] = [
  {
    id: 'static-proxy-unreachable',
    question: 'What does the EDR sensor do when the TelemetryProxyServer proxy cannot be reached?',
    readings: [
      {
        value: 'direct',
        meaning: 'it falls back to a direct connection',
        sources: ['mde-proxy-2020', 'mde-verify-connectivity'],
      },
      {
        value: 'default-proxy',
        meaning: 'it falls back to the default proxy configuration (WinHTTP, then WPAD, then direct)',
        sources: ['policy-csp-telemetry-proxy'],
      },
    ],
    assumed: 'direct',
    why: 'no lab observed it; the Defender for Endpoint pages say "direct", the other text is the Windows telemetry policy reference',
  },
  {
    id: 'revocation-for-cloud-protection',
    question:
      'Does cloud-delivered protection fail when the OS cannot fetch certificate revocation lists through the system (WinHTTP) path?',
    readings: [
      {
        value: 'not-observed',
        meaning:
          'no: a lab with only the Defender static proxies, and one with only a user WinINET proxy, saw Defender working',
        sources: ['blog-which-proxy-wins'],
        observed: true,
      },
      {
        value: 'required',
        meaning: 'yes: MAPS connections fail (0x80072F8F) even though the endpoints answer',
        sources: ['mdav-network'],
      },
    ],
    assumed: 'not-observed',
    why: 'a lab observed Defender working without a system route for revocation lists; Microsoft documents the failure and its error codes',
  },
  {
    id: 'live-response-over-wininet',
    question: "Can Live Response work when the only proxy is the logged-on user's WinINET proxy?",
    readings: [
      {
        value: 'times-out',
        meaning: 'no: the session times out even with a user logged on',
        sources: ['blog-which-proxy-wins'],
        observed: true,
      },
      {
        value: 'works-with-user',
        meaning:
          'yes, while a user stays logged on and the Defender URLs pass the proxy without authentication',
        sources: ['blog-disconnected-proxies'],
      },
    ],
    assumed: 'times-out',
    why: 'a lab observed the time-out; the other article states the outcome without a test',
  },
  {
    id: 'system-services-over-wininet',
    question:
      "Do security intelligence updates and revocation checks reach out through the logged-on user's WinINET proxy when the machine has no other route?",
    readings: [
      {
        value: 'works-with-user',
        meaning:
          'yes, while the user is logged on: with only a WinINET proxy the lab found Live Response the only feature that did not work',
        sources: ['blog-which-proxy-wins'],
        observed: true,
      },
      {
        value: 'system-path-only',
        meaning:
          'no: updates and revocation lists go through the system-wide (WinHTTP) proxy or an internal source, not the user settings',
        sources: ['mde-proxy-2024', 'mdav-network'],
      },
    ],
    assumed: 'works-with-user',
    why: 'a lab observed every feature but Live Response working over the user WinINET proxy; Microsoft documents the system path only',
  },
];

export const DEFAULT_READINGS: Readings = {
  'static-proxy-unreachable': 'direct',
  'revocation-for-cloud-protection': 'not-observed',
  'live-response-over-wininet': 'times-out',
  'system-services-over-wininet': 'works-with-user',
};

export function disagreement(id: DisagreementId): Disagreement {
  const found = DISAGREEMENTS.find((d) => d.id === id);
  if (!found) throw new Error(`unknown disagreement ${id}`);
  return found;
}

/** The reading that is not `value` (every disagreement has exactly two). */
export function otherReading(id: DisagreementId, value: string): string {
  const values: readonly string[] = READING_VALUES[id];
  return values.find((v) => v !== value) ?? value;
}
