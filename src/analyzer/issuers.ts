import { z } from 'zod';
import data from './data/expected-issuers.json' with { type: 'json' };
import type { CertSummary } from './model.js';
import { formatIssuePath } from '../text/issue-path.js';

/**
 * Which issuers each class of Defender endpoint is expected to present. Anchors are matched by
 * key (the SHA-256 of the public key, or a certificate fingerprint), never by name: an
 * inspection CA can take any name. Every anchor carries the day it was checked and, when it has
 * one, its end date; after that date it no longer vouches for a chain, and the report says so.
 * Operators can add classes (for their own endpoints or a changed chain) with a file of the same
 * shape; their classes are tried first.
 */

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD');
const fingerprint = (length: number) =>
  z
    .string()
    .transform((text) => text.replaceAll(':', '').toUpperCase())
    .refine((text) => new RegExp(`^[0-9A-F]{${length}}$`).test(text), {
      message: `${length / 2} bytes of hex (colons optional)`,
    });

const anchorSchema = z
  .strictObject({
    /** Common name of the CA certificate, for the report only: it never decides a match. */
    name: z.string().min(1),
    /** SHA-256 of the CA's SubjectPublicKeyInfo. */
    spkiSha256: fingerprint(64).optional(),
    /** SHA-256 fingerprint of the CA certificate. */
    sha256: fingerprint(64).optional(),
    /** SHA-1 thumbprint of the CA certificate (as Microsoft lists them). */
    sha1: fingerprint(40).optional(),
    validFrom: day.optional(),
    validUntil: day.optional(),
    /** The day the entry was checked against its sources. */
    checked: day.optional(),
    source: z.array(z.string()).default([]),
  })
  .refine((a) => a.spkiSha256 !== undefined || a.sha256 !== undefined || a.sha1 !== undefined, {
    message: 'give spkiSha256, sha256 or sha1: an anchor is matched by key, not by its name',
  });

const classSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string().min(1),
  /** Host globs: `*.suffix` matches any name under suffix; another `*` matches within one label. */
  hosts: z.array(z.string().min(1)).min(1),
  pathPrefix: z.string().startsWith('/').optional(),
  /** The agent pins this chain, or Microsoft says inspection is unsupported: re-signing breaks it. */
  pinned: z.boolean(),
  /**
   * The chain must end in a public root program (Node's bundled roots or Microsoft's published
   * roots); one that does not is inspection whatever the anchors say. Default true; set false
   * for an operator's own endpoints behind a private CA.
   */
  requirePublicRoot: z.boolean().default(true),
  /** Empty: no issuer is documented; the public-root rule alone decides. */
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
    errors: parsed.error.issues.map((i) => `${fileName}: ${formatIssuePath(i.path)}: ${i.message}`),
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

const normalFingerprint = (text: string | undefined): string =>
  (text ?? '').replaceAll(':', '').toUpperCase();

/** Whether a certificate of the chain is the anchor: same public key, or the same certificate. */
function isAnchor(cert: CertSummary, anchor: IssuerAnchor): boolean {
  if (anchor.spkiSha256 !== undefined && normalFingerprint(cert.spkiSha256) === anchor.spkiSha256)
    return true;
  if (anchor.sha256 !== undefined && normalFingerprint(cert.sha256) === anchor.sha256) return true;
  return anchor.sha1 !== undefined && normalFingerprint(cert.sha1) === anchor.sha1;
}

export interface ChainJudgement {
  /** null when the class documents no issuer. */
  readonly matches: boolean | null;
  /** The anchor that vouched for the chain. */
  readonly anchor: string | null;
  /** Anchors of the class the check time has outlived (or not reached). */
  readonly outdated: readonly IssuerAnchor[];
}

/**
 * Whether a presented chain carries, by key, an anchor of the class that is valid at `at` (ISO
 * time). A certificate that only matches an anchor outside its dates vouches for nothing.
 */
export function judgeChain(cls: IssuerClass, chain: readonly CertSummary[], at: string): ChainJudgement {
  const outdated = cls.anchors.filter((a) => !anchorValidAt(a, at));
  if (cls.anchors.length === 0) return { matches: null, anchor: null, outdated };
  for (const anchor of cls.anchors) {
    if (!anchorValidAt(anchor, at)) continue;
    if (chain.some((cert) => isAnchor(cert, anchor))) return { matches: true, anchor: anchor.name, outdated };
  }
  return { matches: false, anchor: null, outdated };
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
          ? `expected issuer "${anchor.name}" expired on ${anchor.validUntil}: it no longer vouches for a chain. Chains that do not end in a public root program are still reported as inspection; a chain from another public CA is reported as undecided until the data names it (add it with --issuers; data reviewed ${data.reviewed})`
          : `expected issuer "${anchor.name}" is valid only from ${anchor.validFrom ?? '?'}`,
      );
    }
  }
  return notes;
}
