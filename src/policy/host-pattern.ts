import { normalizeHost } from './host.js';

/**
 * How a host rule matches, in Squid dstdomain terms:
 * - `exact`      `host.example.com`   that name only
 * - `domain`     `.example.com`       example.com and every name under it
 * - `subdomains` `*.example.com`      every name under example.com, not example.com itself
 */
export type HostPatternKind = 'exact' | 'domain' | 'subdomains';

export interface HostPattern {
  readonly kind: HostPatternKind;
  /** Normalised name the pattern is anchored on (no leading dot or star). */
  readonly name: string;
}

export function formatHostPattern(pattern: HostPattern): string {
  switch (pattern.kind) {
    case 'exact':
      return pattern.name;
    case 'domain':
      return `.${pattern.name}`;
    case 'subdomains':
      return `*.${pattern.name}`;
  }
}

/** Parses one host rule as written. Returns the pattern or a sentence saying what is wrong. */
export function parseHostPattern(text: string): HostPattern | { error: string } {
  const trimmed = text.trim();
  let kind: HostPatternKind = 'exact';
  let rest = trimmed;
  if (rest.startsWith('*.')) {
    kind = 'subdomains';
    rest = rest.slice(2);
  } else if (rest.startsWith('.')) {
    kind = 'domain';
    rest = rest.slice(1);
  }
  if (rest.length === 0 || rest === '.') return { error: `"${trimmed}" would match every host` };
  if (rest.includes('*')) {
    return { error: `"${trimmed}": a wildcard is only allowed as a leading "*." label` };
  }
  if (rest.includes('/')) {
    return { error: `"${trimmed}": host rules take a host name, not a URL or path` };
  }
  const host = normalizeHost(rest);
  if (host.kind === 'invalid') return { error: `"${trimmed}" is not a valid host name (${host.why})` };
  if (host.kind === 'ip') {
    return {
      error: `"${trimmed}" is an IP address; write IP destinations as a CIDR rule (cidr: ${host.address}/${host.family === 4 ? 32 : 128})`,
    };
  }
  return { kind, name: host.name };
}

/** True if `pattern` admits the normalised `name`. The reference semantics the trie must agree with. */
export function patternMatches(pattern: HostPattern, name: string): boolean {
  if (name === pattern.name) return pattern.kind !== 'subdomains';
  if (pattern.kind === 'exact') return false;
  return (
    name.length > pattern.name.length + 1 &&
    name.endsWith(pattern.name) &&
    name.charCodeAt(name.length - pattern.name.length - 1) === 0x2e
  );
}

/** True if every name `inner` admits is also admitted by `outer`. */
export function patternCovers(outer: HostPattern, inner: HostPattern): boolean {
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.name === outer.name;
  if (inner.name === outer.name) {
    return outer.kind === 'domain' || inner.kind === 'subdomains';
  }
  return patternMatches({ kind: 'subdomains', name: outer.name }, inner.name);
}
