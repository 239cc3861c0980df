import type { SourceId } from './sources.js';

/**
 * Places where the sources contradict each other. The model evaluates both readings; the
 * explanation says which one it assumed and what the other would change. A description can pick
 * a reading with `assume: { <id>: <reading> }`.
 */
export const READING_VALUES = {
  'static-proxy-unreachable': ['direct', 'default-proxy'],
  'revocation-for-cloud-protection': ['required', 'not-observed'],
  'live-response-over-wininet': ['times-out', 'works-with-user'],
} as const;

export type DisagreementId = keyof typeof READING_VALUES;
export type Readings = { -readonly [K in DisagreementId]: (typeof READING_VALUES)[K][number] };

export interface Reading {
  readonly value: string;
  readonly meaning: string;
  readonly sources: readonly SourceId[];
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
        sources: ['R7', 'R9', 'seed-004'],
      },
      {
        value: 'default-proxy',
        meaning: 'it falls back to the default proxy configuration (WinHTTP, then WPAD, then direct)',
        sources: ['R33'],
      },
    ],
    assumed: 'direct',
    why: 'the Defender for Endpoint pages say "direct"; the other text is the Windows telemetry policy (domain.md §8 q7)',
  },
  {
    id: 'revocation-for-cloud-protection',
    question:
      'Does cloud-delivered protection fail when the OS cannot fetch certificate revocation lists through the system (WinHTTP) path?',
    readings: [
      {
        value: 'required',
        meaning: 'yes: MAPS connections fail (0x80072F8F) even though the endpoints answer',
        sources: ['R8'],
      },
      {
        value: 'not-observed',
        meaning: 'no: the lab with only a static proxy reported Defender working',
        sources: ['seed-001'],
      },
    ],
    assumed: 'required',
    why: 'Microsoft documents the failure and its error codes; the lab did not test cloud protection itself',
  },
  {
    id: 'live-response-over-wininet',
    question: "Can Live Response work when the only proxy is the logged-on user's WinINET proxy?",
    readings: [
      {
        value: 'times-out',
        meaning: 'no: the session times out even with a user logged on',
        sources: ['seed-001'],
      },
      {
        value: 'works-with-user',
        meaning: 'yes, while a user stays logged on and authenticates to the proxy',
        sources: ['seed-000'],
      },
    ],
    assumed: 'times-out',
    why: 'seed 001 observed it in a lab; seed 000 states the outcome without a test',
  },
];

export const DEFAULT_READINGS: Readings = {
  'static-proxy-unreachable': 'direct',
  'revocation-for-cloud-protection': 'required',
  'live-response-over-wininet': 'times-out',
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
