import type { DestinationSpec } from './policy.js';

export interface DstdomainResult {
  readonly destinations: DestinationSpec[];
  readonly errors: string[];
}

/**
 * Reads a Squid dstdomain file (e.g. squidmdemdi's mdemdi.conf): one name per line
 * (whitespace-separated names are accepted too), a leading dot for the domain and all its
 * subdomains, `#` starting a comment. Entries are checked by the policy compiler; here we
 * only record where each came from.
 */
export function parseDstdomain(text: string, fileName: string): DstdomainResult {
  const destinations: DestinationSpec[] = [];
  const errors: string[] = [];
  if (text.includes('\u0000')) {
    errors.push(`${fileName}: is a binary file, not a list of domain names`);
    return { destinations, errors };
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const hash = raw.indexOf('#');
    const content = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (content.length === 0) return;
    for (const entry of content.split(/\s+/)) {
      destinations.push({ host: entry, origin: { source: 'allowlist', where: `${fileName}:${index + 1}` } });
    }
  });
  return { destinations, errors };
}
