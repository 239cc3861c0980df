import { parseHostPattern } from './host-pattern.js';
import type { DestinationSpec } from './policy.js';

export interface DstdomainResult {
  readonly destinations: DestinationSpec[];
  readonly errors: string[];
  /** Lines that are valid Squid but probably not what was meant (several names on one line). */
  readonly warnings: string[];
}

/**
 * Reads a Squid dstdomain file (e.g. squidmdemdi's mdemdi.conf): one name per line
 * (whitespace-separated names are accepted too, as Squid does, with a warning: `bad host name`
 * is more likely a typo than three rules), a leading dot for the domain and all its
 * subdomains, `#` starting a comment. Entries are checked by the policy compiler; here we
 * only record where each came from.
 */
export function parseDstdomain(text: string, fileName: string): DstdomainResult {
  const destinations: DestinationSpec[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  if (text.includes('\u0000')) {
    errors.push(`${fileName}: is a binary file, not a list of domain names`);
    return { destinations, errors, warnings };
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const hash = raw.indexOf('#');
    const content = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (content.length === 0) return;
    const where = `${fileName}:${index + 1}`;
    const entries = content.split(/\s+/);
    if (entries.length > 1) {
      warnings.push(
        `${where}: ${entries.length} names on one line (${entries.map((e) => `"${e}"`).join(', ')}): each becomes a rule of its own; write one name per line, or remove the spaces if it is one name`,
      );
    }
    for (const entry of entries) destinations.push({ host: entry, origin: { source: 'allowlist', where } });
  });
  return { destinations, errors, warnings };
}

/**
 * A rule for a name without a dot (`bad`, `.com`): it matches only a host of that one label, or
 * a whole top-level domain. Defender endpoints are fully qualified, so it is most likely a
 * mistake (a word of a line with spaces, a missing domain).
 */
export function singleLabelWarning(spec: DestinationSpec): string | null {
  if (spec.host === undefined) return null;
  const pattern = parseHostPattern(spec.host);
  if ('error' in pattern || pattern.name.includes('.')) return null;
  return pattern.kind === 'exact'
    ? `${spec.origin.where}: "${spec.host}" is a single-label name: it matches only a host named exactly "${pattern.name}", never a name on the internet; write the full name`
    : `${spec.origin.where}: "${spec.host}" admits the whole top-level domain ${pattern.name}`;
}
