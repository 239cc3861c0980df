import { z } from 'zod';
import data from './data/expected-issuers.json' with { type: 'json' };
import type { CertSummary } from './model.js';

/**
 * Which issuers each class of Defender endpoint is expected to present. The data is dated:
 * Microsoft's pinned intermediate has an end date, so an anchor only vouches for a chain
 * while the check runs within its validity, and the report says when the data has outlived an
 * anchor. Operators can add classes (for their own endpoints or a changed chain) with a file
 * of the same shape; their classes are tried first.
 */

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD');

const anchorSchema = z.strictObject({
  /** Common name of a CA certificate that appears in (or above) the chain. */
  name: z.string().min(1),
  /** SHA-256 fingerprint (hex, colons optional) of that certificate, when known. */
  sha256: z
    .string()
    .regex(/^[0-9A-Fa-f:]{64,95}$/)
    .optional(),
  validFrom: day.optional(),
  validUntil: day.optional(),
});

const classSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string().min(1),
  /** Host globs: `*.suffix` matches any name under suffix; another `*` matches within one label. */
  hosts: z.array(z.string().min(1)).min(1),
  pathPrefix: z.string().startsWith('/').optional(),
  /** The agent pins this chain, or Microsoft says inspection is unsupported: re-signing breaks it. */
  pinned: z.boolean(),
  /** Empty: the system trust store decides, no issuer is expected. */
  anchors: z.array(anchorSchema),
  source: z.array(z.string()).default([]),
});

export const issuerDataSchema = z.strictObject({
  version: z.literal(1),
  reviewed: day,
  description: z.string().optional(),
  classes: z.array(classSchema),
});

export type IssuerData = z.output<typeof issuerDataSchema>;
export type IssuerClass = z.output<typeof classSchema>;
export type IssuerAnchor = z.output<typeof anchorSchema>;

let builtin: IssuerData | undefined;

/** The expected-issuer data shipped with Airlock. */
export function builtinIssuerData(): IssuerData {
  builtin ??= issuerDataSchema.parse(data);
  return builtin;
}

/** Validates an operator's issuer file; errors name the field. */
export function parseIssuerData(text: string, fileName: string): IssuerData | { errors: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { errors: [`${fileName}: not JSON (${(error as Error).message})`] };
  }
  const parsed = issuerDataSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  return {
    errors: parsed.error.issues.map(
      (i) => `${fileName}: ${i.path.map(String).join('.') || '(top)'}: ${i.message}`,
    ),
  };
}

/** Operator classes first, then the built-in ones; the older review date is the one reported. */
export function mergeIssuerData(first: IssuerData, then: IssuerData): IssuerData {
  return {
    version: 1,
    reviewed: first.reviewed < then.reviewed ? first.reviewed : then.reviewed,
    classes: [...first.classes, ...then.classes],
  };
}

function globToRegExp(glob: string): RegExp {
  const lower = glob.toLowerCase();
  let body = '';
  let rest = lower;
  if (rest.startsWith('*.')) {
    body = '(?:[^.]+\\.)+';
    rest = rest.slice(2);
  }
  body += rest
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*');
  return new RegExp(`^${body}$`);
}

const compiled = new Map<string, RegExp>();

export function hostMatchesGlob(host: string, glob: string): boolean {
  let re = compiled.get(glob);
  if (re === undefined) {
    re = globToRegExp(glob);
    compiled.set(glob, re);
  }
  return re.test(host.toLowerCase().replace(/\.$/, ''));
}

/** The class that applies to a URL, or null. */
export function issuerClassFor(data: IssuerData, url: URL): IssuerClass | null {
  for (const cls of data.classes) {
    if (cls.pathPrefix !== undefined && !url.pathname.startsWith(cls.pathPrefix)) continue;
    if (cls.hosts.some((glob) => hostMatchesGlob(url.hostname, glob))) return cls;
  }
  return null;
}

function anchorValidAt(anchor: IssuerAnchor, at: string): boolean {
  const dayOf = at.slice(0, 10);
  if (anchor.validFrom !== undefined && dayOf < anchor.validFrom) return false;
  if (anchor.validUntil !== undefined && dayOf > anchor.validUntil) return false;
  return true;
}

const normalFingerprint = (text: string): string => text.replaceAll(':', '').toUpperCase();

export interface ChainJudgement {
  /** null when the class expects no issuer (system trust store only). */
  readonly matches: boolean | null;
  /** The anchor that vouched for the chain. */
  readonly anchor: string | null;
}

/**
 * Whether a presented chain carries an anchor of the class that is valid at `at` (ISO time):
 * a CA certificate in the chain with the anchor's name or fingerprint, or the issuer named by
 * the top certificate.
 */
export function judgeChain(cls: IssuerClass, chain: readonly CertSummary[], at: string): ChainJudgement {
  const anchors = cls.anchors.filter((a) => anchorValidAt(a, at));
  if (cls.anchors.length === 0) return { matches: null, anchor: null };
  const names = new Set<string>();
  const prints = new Set<string>();
  chain.forEach((cert, i) => {
    if (i > 0) names.add(cert.subject);
    names.add(cert.issuer);
    prints.add(normalFingerprint(cert.sha256));
  });
  for (const anchor of anchors) {
    if (names.has(anchor.name)) return { matches: true, anchor: anchor.name };
    if (anchor.sha256 !== undefined && prints.has(normalFingerprint(anchor.sha256)))
      return { matches: true, anchor: anchor.name };
  }
  return { matches: false, anchor: null };
}

/** Sentences about anchors the check time has outlived (or not reached), for the report. */
export function issuerDataNotes(data: IssuerData, at: string): string[] {
  const notes: string[] = [];
  const seen = new Set<string>();
  for (const cls of data.classes) {
    for (const anchor of cls.anchors) {
      const key = `${anchor.name}|${anchor.validUntil ?? ''}`;
      if (seen.has(key) || anchorValidAt(anchor, at)) continue;
      seen.add(key);
      notes.push(
        anchor.validUntil !== undefined && at.slice(0, 10) > anchor.validUntil
          ? `expected issuer "${anchor.name}" expired on ${anchor.validUntil}: chains are no longer accepted on its name; if the services moved to a new intermediate, add it with --issuers (data reviewed ${data.reviewed})`
          : `expected issuer "${anchor.name}" is valid only from ${anchor.validFrom ?? '?'}`,
      );
    }
  }
  return notes;
}
