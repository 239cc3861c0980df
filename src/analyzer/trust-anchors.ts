import { X509Certificate, createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import data from './data/public-roots.json' with { type: 'json' };

/**
 * The public root programs a Microsoft service's chain must end in: the roots Node bundles
 * (Mozilla's list) and the roots of Microsoft's own program that Mozilla does not carry, as
 * Microsoft publishes them. A chain is anchored when one of its certificates is such a root
 * (same public key) or its top certificate is signed by one; names count for nothing, because
 * any CA can call itself "DigiCert Global Root G2". An inspecting middlebox signs with a private
 * root, so a Microsoft chain that anchors in neither program is inspection, whatever the date.
 */

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const hex64 = z.string().regex(/^[0-9A-F]{64}$/);

const publishedRootsSchema = z.strictObject({
  description: z.string(),
  roots: z.array(
    z.strictObject({
      name: z.string().min(1),
      program: z.string().min(1),
      sha256: hex64,
      spkiSha256: hex64,
      validFrom: day,
      validUntil: day,
      published: z.string().url(),
      checked: day,
      source: z.array(z.string()).min(1),
      pem: z.string().startsWith('-----BEGIN CERTIFICATE-----'),
    }),
  ),
});

export type PublishedRoots = z.output<typeof publishedRootsSchema>;

export interface PublicRoot {
  readonly name: string;
  /** `Mozilla (Node.js bundle)` or `Microsoft`. */
  readonly program: string;
  readonly spkiSha256: string;
  readonly certificate: X509Certificate;
}

/** Microsoft's published roots shipped with Airlock (checked at first use). */
export function publishedRoots(): PublishedRoots {
  return publishedRootsSchema.parse(data);
}

/** PEM texts of Microsoft's published roots, for the trust store a check uses. */
export function publishedRootPems(): string[] {
  return publishedRoots().roots.map((r) => r.pem);
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo, upper-case hex. */
export function spkiSha256(cert: X509Certificate): string {
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .toUpperCase();
}

function commonName(subject: string): string {
  const cn = subject.split('\n').find((part) => part.startsWith('CN='));
  return cn !== undefined ? cn.slice(3) : (subject.split('\n').at(-1) ?? subject);
}

let index: Map<string, PublicRoot> | undefined;

/** Every public root, keyed by the SHA-256 of its public key. */
export function publicRoots(): ReadonlyMap<string, PublicRoot> {
  if (index !== undefined) return index;
  const map = new Map<string, PublicRoot>();
  const add = (pem: string, program: string): void => {
    const certificate = new X509Certificate(pem);
    const key = spkiSha256(certificate);
    if (!map.has(key))
      map.set(key, { name: commonName(certificate.subject), program, spkiSha256: key, certificate });
  };
  for (const pem of rootCertificates) add(pem, 'Mozilla (Node.js bundle)');
  for (const root of publishedRoots().roots) add(root.pem, root.program);
  index = map;
  return map;
}

/**
 * The public root a chain (leaf first, DER) anchors in, or null. Matched by key: a certificate
 * of the chain with a root's public key, or a top certificate whose signature a root's key
 * verifies. Each link below the anchor must be signed by the certificate above it, so a
 * genuine root appended to a forged chain does not anchor it.
 */
export function anchorOf(
  chain: readonly Buffer[],
  roots: ReadonlyMap<string, PublicRoot> = publicRoots(),
): PublicRoot | null {
  let certs: X509Certificate[];
  try {
    certs = chain.map((der) => new X509Certificate(der));
  } catch {
    return null;
  }
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    const root = roots.get(spkiSha256(cert));
    if (root !== undefined) return linked(certs, i) ? root : null;
  }
  const top = certs.at(-1);
  if (top === undefined || !linked(certs, certs.length - 1)) return null;
  for (const root of roots.values()) {
    if (top.issuer !== root.certificate.subject) continue;
    try {
      if (top.verify(root.certificate.publicKey)) return root;
    } catch {
      // a key type the signature does not fit: not this root
    }
  }
  return null;
}

/** Whether certs[0..upTo] each carry a signature of the next one's key. */
function linked(certs: readonly X509Certificate[], upTo: number): boolean {
  for (let i = 0; i < upTo; i++) {
    try {
      if (!certs[i]!.verify(certs[i + 1]!.publicKey)) return false;
    } catch {
      return false;
    }
  }
  return true;
}
