import { cidrContains, parseAddress, parseCidr } from '../policy/index.js';
import type { Route } from './model.js';
import { parseProxySpec } from './proxy-spec.js';

/**
 * The environment's proxy, read the way curl reads it (and so the way MDE for Linux, the Arc
 * agent and most command-line tools behave):
 * - https URLs: `https_proxy`, then `HTTPS_PROXY`; http URLs: `http_proxy` only (curl ignores
 *   the upper-case form there); then `all_proxy`, then `ALL_PROXY`. A variable that is set
 *   hides the ones after it even when empty, and an empty value means no proxy.
 * - `no_proxy`, then `NO_PROXY`: `*` alone turns the proxy off for every host. Otherwise a
 *   list separated by commas (blanks around them are skipped; a blank without a comma ends the
 *   list). A name matches itself and every name under it, with a leading and a trailing dot
 *   ignored. IP entries, optionally with /bits, match IP-literal URLs only: names are never
 *   resolved. An entry with a port never matches, because curl compares it as a name.
 */

export type Environment = Readonly<Record<string, string | undefined>>;

export interface EnvProxyDecision {
  /** The variable that named the proxy, or null when none is set. */
  readonly variable: string | null;
  readonly route: Route;
  /** Why the route is direct although a proxy is set. */
  readonly bypass: string | null;
}

function firstSet(env: Environment, names: readonly string[]): { name: string; value: string } | null {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) return { name, value };
  }
  return null;
}

/** The proxy variable curl consults for a scheme, if any is set. */
export function proxyVariable(
  env: Environment,
  scheme: 'http' | 'https',
): { name: string; value: string } | null {
  const specific = scheme === 'https' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy'];
  return firstSet(env, specific) ?? firstSet(env, ['all_proxy', 'ALL_PROXY']);
}

export function noProxyVariable(env: Environment): { name: string; value: string } | null {
  return firstSet(env, ['no_proxy', 'NO_PROXY']);
}

/** The entries of a no_proxy value, split as curl splits it. */
export function splitNoProxy(value: string): string[] {
  const entries: string[] = [];
  let i = 0;
  const blank = (c: string | undefined): boolean => c === ' ' || c === '\t';
  while (i < value.length) {
    while (i < value.length && blank(value[i])) i++;
    let token = '';
    while (i < value.length && !blank(value[i]) && value[i] !== ',') token += value[i++];
    if (token !== '') entries.push(token);
    while (i < value.length && blank(value[i])) i++;
    if (value[i] !== ',') break;
    while (value[i] === ',') i++;
  }
  return entries;
}

/** curl's CIDR comparison: no bits (or /0) compares the whole address. */
function ipEntryMatches(address: string, entry: string): boolean {
  const slash = entry.indexOf('/');
  const network = slash < 0 ? entry : entry.slice(0, slash);
  const bits = slash < 0 ? 0 : parseInt(entry.slice(slash + 1), 10) || 0;
  const parsed = parseAddress(address);
  const cidr = parseCidr(bits === 0 ? network : `${network}/${bits}`);
  return parsed !== null && cidr !== null && cidr.family === parsed.family && cidrContains(cidr, parsed);
}

/**
 * The no_proxy entry that matches `host` (a URL's hostname, IPv6 with or without brackets),
 * `*` for the match-all value, or null.
 */
export function matchNoProxy(host: string, noProxy: string): string | null {
  if (host === '' || noProxy === '') return null;
  if (noProxy === '*') return '*';
  let name = host;
  let type: 'host' | 4 | 6 = 'host';
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0) return null;
    name = name.slice(1, end);
    type = 6;
  } else {
    const literal = parseAddress(name);
    if (literal !== null) type = literal.family;
    else if (name.endsWith('.')) name = name.slice(0, -1);
  }
  const lower = name.toLowerCase();

  for (const entry of splitNoProxy(noProxy)) {
    if (type === 'host') {
      let token = entry;
      if (token.endsWith('.')) token = token.slice(0, -1);
      if (token.startsWith('.')) token = token.slice(1);
      const t = token.toLowerCase();
      if (t === '') continue;
      if (t === lower || (lower.length > t.length && lower.endsWith(`.${t}`))) return entry;
      continue;
    }
    if (ipEntryMatches(name, entry)) return entry;
  }
  return null;
}

/** Entries curl reads but can never match, worth a warning in the report. */
export function noProxyWarnings(noProxy: string): string[] {
  if (noProxy === '*') return [];
  const warnings: string[] = [];
  for (const entry of splitNoProxy(noProxy)) {
    if (entry === '*') {
      warnings.push('NO_PROXY entry "*" only works as the whole value; in a list it matches nothing');
    } else if (entry.startsWith('[')) {
      warnings.push(`NO_PROXY entry "${entry}": curl wants IPv6 addresses without brackets`);
    } else if (/^[^/]*:\d+$/.test(entry) && parseAddress(entry) === null) {
      warnings.push(`NO_PROXY entry "${entry}" has a port: curl compares it as a name and it never matches`);
    } else if (entry.includes('*')) {
      warnings.push(
        `NO_PROXY entry "${entry}" has a wildcard: curl only knows a leading dot (".example.com")`,
      );
    }
  }
  if (/[^\s,][ \t]+[^\s,]/.test(noProxy)) {
    warnings.push('NO_PROXY separates names with blanks only: curl stops reading at the first such blank');
  }
  return warnings;
}

/** The route curl would take for `url` with this environment. */
export function envProxyFor(url: URL, env: Environment): EnvProxyDecision {
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  const variable = proxyVariable(env, scheme);
  if (variable === null) {
    const why =
      scheme === 'http'
        ? 'no http_proxy or all_proxy (curl ignores HTTP_PROXY)'
        : 'no https_proxy or all_proxy';
    return { variable: null, route: { kind: 'direct' }, bypass: why };
  }
  if (variable.value.trim() === '')
    return { variable: variable.name, route: { kind: 'direct' }, bypass: `${variable.name} is empty` };
  const noProxy = noProxyVariable(env);
  if (noProxy !== null) {
    const match = matchNoProxy(url.hostname, noProxy.value);
    if (match !== null) {
      return {
        variable: variable.name,
        route: { kind: 'direct' },
        bypass: match === '*' ? `${noProxy.name}=*` : `${noProxy.name} entry "${match}"`,
      };
    }
  }
  const parsed = parseProxySpec(variable.value);
  if ('error' in parsed) {
    return {
      variable: variable.name,
      route: { kind: 'unsupported', text: variable.value, why: `${variable.name}: ${parsed.error}` },
      bypass: null,
    };
  }
  return { variable: variable.name, route: parsed, bypass: null };
}

/** One line saying which proxy variables are set, for the report header. */
export function describeEnvironment(env: Environment): string | null {
  const names = [
    'https_proxy',
    'HTTPS_PROXY',
    'http_proxy',
    'all_proxy',
    'ALL_PROXY',
    'no_proxy',
    'NO_PROXY',
  ];
  const parts = names.filter((n) => env[n] !== undefined).map((n) => `${n}=${redactCredentials(env[n]!)}`);
  return parts.length === 0 ? null : parts.join('; ');
}

/** Hides a password in a proxy URL. */
export function redactCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]+):[^@/]*@/i, '$1:***@');
}
