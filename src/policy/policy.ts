import type { ReasonCode } from '../errors/index.js';
import { classifyAddress, embeddedIPv4s, type AddressClass } from './address-class.js';
import { CidrList, parseAddress, parseCidr, type Cidr, type ParsedAddress } from './cidr.js';
import { normalizeHost } from './host.js';
import {
  formatHostPattern,
  parseHostPattern,
  patternCovers,
  patternMatches,
  type HostPattern,
} from './host-pattern.js';
import { HostTrie } from './host-trie.js';

/** A catalog entry behind a rule: which Defender product and service it serves, and the host it contributed. */
export interface RuleCatalogRef {
  readonly id: string;
  readonly product: string;
  readonly service: string;
  /** The host pattern the entry contributed (templates filled), e.g. "winatp-gw-neu.microsoft.com". */
  readonly host: string;
}

/** Where a rule was written, for logs, `policy show` and error messages. */
export interface RuleOrigin {
  readonly source: 'default' | 'config' | 'allowlist' | 'cli' | 'catalog';
  /** Human location, e.g. "mdemdi.conf:8" or "airlock.yaml:14 (policy.destinations[3])". */
  readonly where: string;
  /** For rules compiled from the catalog: the entries behind the rule, the rule's own first. */
  readonly catalog?: readonly RuleCatalogRef[];
}

export interface SourceSpec {
  readonly cidr: string;
  readonly origin: RuleOrigin;
}

export interface DestinationSpec {
  /** A host pattern (`name`, `.suffix`, `*.suffix`) or a CIDR; exactly one. */
  readonly host?: string;
  readonly cidr?: string;
  /** Narrows the method's allowed ports for this rule; absent = the policy's ports. */
  readonly ports?: readonly number[];
  readonly origin: RuleOrigin;
}

export interface PolicySpec {
  readonly sources: readonly SourceSpec[];
  readonly destinations: readonly DestinationSpec[];
  readonly ports: { readonly connect: readonly number[]; readonly http: readonly number[] };
  /** Methods forwarded as plain HTTP (upper case); absent = GET, HEAD and POST. */
  readonly methods?: readonly string[];
  /** Internal networks a resolved name may point to (split-horizon); everything else internal is refused. */
  readonly internalNetworks?: readonly SourceSpec[];
}

export interface DestinationRule {
  /** The rule as shown to people: ".microsoft.com", "*.wd.microsoft.com", "203.0.113.0/24". */
  readonly text: string;
  readonly pattern: HostPattern | null;
  readonly cidr: Cidr | null;
  readonly ports: ReadonlySet<number> | null;
  readonly origin: RuleOrigin;
}

export interface Policy {
  readonly sources: CidrList<SourceSpec>;
  readonly hostRules: HostTrie<DestinationRule>;
  readonly ipRules: CidrList<DestinationRule>;
  readonly connectPorts: ReadonlySet<number>;
  readonly httpPorts: ReadonlySet<number>;
  /** Methods forwarded as plain HTTP. */
  readonly httpMethods: ReadonlySet<string>;
  readonly internalNetworks: CidrList<SourceSpec>;
  /** Every effective rule in the order written (duplicates removed). */
  readonly rules: readonly DestinationRule[];
}

export type CompileResult =
  | { readonly ok: true; readonly policy: Policy; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * What revocation (CRL, OCSP) and update downloads use. TRACE, CONNECT-less tunnelling
 * methods and WebDAV verbs are refused unless the configuration lists them.
 */
export const DEFAULT_HTTP_METHODS: readonly string[] = ['GET', 'HEAD', 'POST'];

const NOT_A_PORT = 'is not a port number (a whole number from 1 to 65535)';

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Builds the lookup structures once; every request afterwards is lookups only. */
export function compilePolicy(spec: PolicySpec): CompileResult {
  const errors: string[] = [];
  const warnings: string[] = [];

  const sources = new CidrList<SourceSpec>();
  for (const source of spec.sources) {
    const cidr = parseCidr(source.cidr);
    if (cidr === null) errors.push(`${source.origin.where}: "${source.cidr}" is not a CIDR`);
    else sources.add(cidr, source);
  }

  const internalNetworks = new CidrList<SourceSpec>();
  for (const net of spec.internalNetworks ?? []) {
    const cidr = parseCidr(net.cidr);
    if (cidr === null) errors.push(`${net.origin.where}: "${net.cidr}" is not a CIDR`);
    else internalNetworks.add(cidr, net);
  }

  const hostRules = new HostTrie<DestinationRule>();
  const ipRules = new CidrList<DestinationRule>();
  const rules: DestinationRule[] = [];
  for (const dest of spec.destinations) {
    const ports = dest.ports === undefined ? null : new Set(dest.ports);
    if (ports !== null) {
      for (const port of ports) {
        if (!isPort(port)) errors.push(`${dest.origin.where}: ports: ${port} ${NOT_A_PORT}`);
      }
    }
    if ((dest.host === undefined) === (dest.cidr === undefined)) {
      errors.push(`${dest.origin.where}: a destination rule needs exactly one of "host" or "cidr"`);
      continue;
    }
    if (dest.cidr !== undefined) {
      const cidr = parseCidr(dest.cidr);
      if (cidr === null) {
        errors.push(`${dest.origin.where}: "${dest.cidr}" is not a CIDR`);
        continue;
      }
      const rule: DestinationRule = { text: cidr.text, pattern: null, cidr, ports, origin: dest.origin };
      ipRules.add(cidr, rule);
      rules.push(rule);
      continue;
    }
    const pattern = parseHostPattern(dest.host!);
    if ('error' in pattern) {
      errors.push(`${dest.origin.where}: ${pattern.error}`);
      continue;
    }
    const rule: DestinationRule = {
      text: formatHostPattern(pattern),
      pattern,
      cidr: null,
      ports,
      origin: dest.origin,
    };
    const existing = hostRules.insert(pattern, rule);
    if (existing !== undefined) {
      warnings.push(
        `${dest.origin.where}: "${rule.text}" duplicates the rule at ${existing.origin.where}; ignored`,
      );
      continue;
    }
    rules.push(rule);
  }

  for (const kind of ['connect', 'http'] as const) {
    for (const port of spec.ports[kind]) {
      if (!isPort(port)) errors.push(`policy.ports.${kind}: ${port} ${NOT_A_PORT}`);
    }
  }

  if (errors.length > 0) return { ok: false, errors };

  warnings.push(...coverageWarnings(rules));
  if (sources.size === 0) warnings.push('policy.sources is empty: every client will be refused');
  if (rules.length === 0) warnings.push('no destination rules: every destination will be refused');

  return {
    ok: true,
    policy: {
      sources,
      hostRules,
      ipRules,
      connectPorts: new Set(spec.ports.connect),
      httpPorts: new Set(spec.ports.http),
      httpMethods: new Set(spec.methods ?? DEFAULT_HTTP_METHODS),
      internalNetworks,
      rules,
    },
    warnings,
  };
}

/** Squid warns about and drops entries already covered by a broader one; we keep them but say so. */
function coverageWarnings(rules: readonly DestinationRule[]): string[] {
  const warnings: string[] = [];
  // Exact rules cover nothing but their own name, and a second rule for a name is dropped as a duplicate.
  const broad = rules.filter(
    (r): r is DestinationRule & { readonly pattern: HostPattern } =>
      r.pattern !== null && r.pattern.kind !== 'exact',
  );
  for (const rule of rules) {
    if (rule.pattern === null) continue;
    for (const outer of broad) {
      if (outer === rule) continue;
      if (outer.ports !== null && (rule.ports === null || [...rule.ports].some((p) => !outer.ports!.has(p))))
        continue;
      if (patternCovers(outer.pattern, rule.pattern)) {
        warnings.push(
          `${rule.origin.where}: "${rule.text}" is already covered by "${outer.text}" (${outer.origin.where})`,
        );
        break;
      }
    }
  }
  return warnings;
}

/**
 * The catalog entry a request to `host` reached through `rule`: the only one, or, for a rule
 * several entries share (a wildcard that covers named hosts), the entry whose host matches
 * `host` most narrowly; the rule's own entry otherwise. Null for rules not from the catalog.
 */
export function catalogRefFor(rule: DestinationRule | null, host: string): RuleCatalogRef | null {
  const refs = rule?.origin.catalog;
  if (refs === undefined || refs.length === 0) return null;
  if (refs.length === 1) return refs[0]!;
  let best: RuleCatalogRef | null = null;
  let bestLength = -1;
  for (const ref of refs) {
    if (ref.host === host) return ref;
    const pattern = parseHostPattern(ref.host);
    if ('error' in pattern || !patternMatches(pattern, host)) continue;
    if (pattern.name.length > bestLength) {
      best = ref;
      bestLength = pattern.name.length;
    }
  }
  return best ?? refs[0]!;
}

export type Verdict = 'allow' | 'deny';

export interface Decision {
  readonly verdict: Verdict;
  readonly reason: ReasonCode;
  /** The rule that matched (for allows, and for port denials of a matched host). */
  readonly rule: DestinationRule | null;
  /** The destination as normalised (punycode name or canonical IP); the raw input when it was malformed. */
  readonly host: string;
  /** Audit mode: the policy refused, the gateway lets it through and logs this reason. */
  readonly wouldDeny: ReasonCode | null;
}

export type MethodKind = 'connect' | 'http';

export function methodKind(method: string): MethodKind {
  return method === 'CONNECT' ? 'connect' : 'http';
}

/** The source ACL, evaluated once per client connection. */
export function sourceAllowed(policy: Policy, address: string | ParsedAddress | null): boolean {
  const parsed = typeof address === 'string' ? parseAddress(address) : address;
  return parsed !== null && policy.sources.match(parsed) !== undefined;
}

function portAllowed(policy: Policy, kind: MethodKind, rule: DestinationRule, port: number): boolean {
  const methodPorts = kind === 'connect' ? policy.connectPorts : policy.httpPorts;
  return methodPorts.has(port) && (rule.ports === null || rule.ports.has(port));
}

function deny(reason: ReasonCode, rule: DestinationRule | null, host: string): Decision {
  return { verdict: 'deny', reason, rule, host, wouldDeny: null };
}

/** The destination part of a decision: host validity, host or CIDR rule, port. */
export function decideDestination(policy: Policy, method: string, rawHost: string, port: number): Decision {
  const host = normalizeHost(rawHost);
  const kind = methodKind(method);
  if (host.kind === 'invalid') return deny('BAD_HOST', null, rawHost);
  if (kind === 'http' && !policy.httpMethods.has(method)) {
    return deny('DENY_METHOD', null, host.kind === 'ip' ? host.address : host.name);
  }
  if (host.kind === 'ip') {
    const parsed = parseAddress(host.address);
    const hit = parsed === null ? undefined : policy.ipRules.match(parsed);
    if (hit === undefined) return deny('DENY_IP_LITERAL', null, host.address);
    if (!portAllowed(policy, kind, hit.value, port)) return deny('DENY_PORT', hit.value, host.address);
    return {
      verdict: 'allow',
      reason: 'ALLOWED_IP_RULE',
      rule: hit.value,
      host: host.address,
      wouldDeny: null,
    };
  }
  const rule = policy.hostRules.match(host.name);
  if (rule === undefined) return deny('DENY_HOST_NOT_ALLOWED', null, host.name);
  if (!portAllowed(policy, kind, rule, port)) return deny('DENY_PORT', rule, host.name);
  return { verdict: 'allow', reason: 'ALLOWED', rule, host: host.name, wouldDeny: null };
}

export interface DecisionRequest {
  /** The client's address; null when it could not be read (refused like an outside source). */
  readonly source: string | ParsedAddress | null;
  readonly method: string;
  readonly host: string;
  readonly port: number;
}

/**
 * The destination refusals audit mode lets through (logged as would_deny). Never the source
 * ACL, never malformed input, never the resolved-address guard.
 */
const AUDITABLE: ReadonlySet<ReasonCode> = new Set(['DENY_HOST_NOT_ALLOWED', 'DENY_PORT', 'DENY_IP_LITERAL']);

/**
 * (source address, method, host, port) → allow or deny, with the reason and the rule. Pure.
 * In audit mode a refusal of the destination becomes an allow that carries `wouldDeny`.
 */
export function decide(
  policy: Policy,
  request: DecisionRequest,
  mode: 'enforce' | 'audit' = 'enforce',
): Decision {
  if (!sourceAllowed(policy, request.source)) {
    const host = normalizeHost(request.host);
    const shown = host.kind === 'name' ? host.name : host.kind === 'ip' ? host.address : request.host;
    return deny('DENY_SOURCE_NOT_ALLOWED', null, shown);
  }
  const decision = decideDestination(policy, request.method, request.host, request.port);
  if (mode === 'audit' && decision.verdict === 'deny' && AUDITABLE.has(decision.reason)) {
    return { ...decision, verdict: 'allow', wouldDeny: decision.reason };
  }
  return decision;
}

/** What the gateway read at the start of a tunnel (the TLS ClientHello parser's verdict). */
export type HelloObservation =
  | { readonly status: 'incomplete' }
  | { readonly status: 'malformed' }
  | { readonly status: 'not_tls' }
  | { readonly status: 'ok'; readonly serverName: string | null };

/** The `tls` settings that judge a tunnel's first bytes. */
export interface TlsRules {
  readonly sniCheck: boolean;
  /** CONNECT ports whose tunnels must start with a TLS ClientHello. */
  readonly ports: readonly number[];
  readonly missingSni: 'deny' | 'allow';
  readonly nonTls: 'deny' | 'allow';
}

/** Whether a tunnel to `port` has its ClientHello read and judged. */
export function serverNameChecked(tls: TlsRules, port: number): boolean {
  return tls.sniCheck && tls.ports.includes(port);
}

export interface ServerNameJudgement {
  /** Set when the tunnel must be cut. */
  readonly refusal: ReasonCode | null;
  /** Audit mode: what would have cut it. */
  readonly wouldDeny: ReasonCode | null;
  /** The server name as normalised, when the ClientHello carried one. */
  readonly sni: string | null;
}

/**
 * Judges a tunnel's ClientHello against the CONNECT decision: the server name must be the
 * CONNECT host or itself allowed on that port (no domain fronting). Malformed or missing
 * hellos are refused even in audit mode; name mismatches become `wouldDeny` there.
 */
export function judgeServerName(
  policy: Policy,
  decision: Decision,
  port: number,
  hello: HelloObservation,
  tls: TlsRules,
  mode: 'enforce' | 'audit' = 'enforce',
): ServerNameJudgement {
  let reason: ReasonCode | null = null;
  let sni: string | null = null;
  switch (hello.status) {
    case 'incomplete':
      return { refusal: 'TLS_HELLO_TIMEOUT', wouldDeny: null, sni: null };
    case 'malformed':
      return { refusal: 'BAD_TLS_HELLO', wouldDeny: null, sni: null };
    case 'not_tls':
      reason = tls.nonTls === 'deny' ? 'DENY_NOT_TLS' : null;
      break;
    case 'ok': {
      if (hello.serverName === null) {
        reason = tls.missingSni === 'deny' ? 'DENY_SNI_MISSING' : null;
        break;
      }
      const name = normalizeHost(hello.serverName);
      sni = name.kind === 'name' ? name.name : name.kind === 'ip' ? name.address : hello.serverName;
      if (name.kind === 'invalid') reason = 'DENY_SNI_MISMATCH';
      else if (sni !== decision.host) {
        const other = decideDestination(policy, 'CONNECT', sni, port);
        if (other.verdict !== 'allow') reason = 'DENY_SNI_MISMATCH';
      }
      break;
    }
  }
  return mode === 'audit'
    ? { refusal: null, wouldDeny: reason, sni }
    : { refusal: reason, wouldDeny: null, sni };
}

export interface AddressVerdict {
  readonly allowed: boolean;
  readonly addressClass: AddressClass;
  /** The internal network that admitted it, or the IP rule, when one did. */
  readonly allowedBy: string | null;
}

/**
 * The resolved-address guard: may the gateway connect to this address? Public addresses
 * yes; internal, special-purpose and embedded-IPv4 forms of them only when an internal
 * network of the policy, or a CIDR destination rule, names them explicitly.
 */
export function checkResolvedAddress(policy: Policy, address: string | ParsedAddress): AddressVerdict {
  const parsed = typeof address === 'string' ? parseAddress(address) : address;
  if (parsed === null) return { allowed: false, addressClass: 'reserved', allowedBy: null };
  const addressClass = classifyAddress(parsed);
  if (addressClass === 'public') return { allowed: true, addressClass, allowedBy: null };
  const admittedBy = (candidate: ParsedAddress): string | null =>
    policy.internalNetworks.match(candidate)?.cidr.text ??
    policy.ipRules.match(candidate)?.value.text ??
    null;
  const direct = admittedBy(parsed);
  if (direct !== null) return { allowed: true, addressClass, allowedBy: direct };
  // An address that carries IPv4 addresses (mapped, NAT64, 6to4, Teredo's server and client):
  // each one that is not public must be admitted by the policy itself.
  const inner = embeddedIPv4s(parsed);
  let allowedBy: string | null = null;
  for (const candidate of inner) {
    if (classifyAddress(candidate) === 'public') continue;
    const by = admittedBy(candidate);
    if (by === null) return { allowed: false, addressClass, allowedBy: null };
    allowedBy ??= by;
  }
  return allowedBy === null
    ? { allowed: false, addressClass, allowedBy: null }
    : { allowed: true, addressClass, allowedBy };
}
