import { REASONS, type ReasonCode } from '../errors/index.js';
import {
  decideDestination,
  formatWords,
  normalizeHost,
  parseAddress,
  parseHostPattern,
  patternMatches,
  type Policy,
} from '../policy/index.js';
import { SHARED_NAMESPACES } from './lint.js';
import {
  OPT_IN_SERVICES,
  TEMPLATE_PARAMS,
  type Catalog,
  type CatalogEntry,
  type Product,
  type TemplateField,
} from './schema.js';
import { selectedGeos, type CatalogSelection } from './select.js';

/** A refused request, as the access record has it. */
export interface DenialFacts {
  readonly reason: ReasonCode;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly client: string;
  /** The TLS ClientHello's server name, when one was read. */
  readonly sni: string | null;
}

/** What the explanation may look at: the policy in force and where its rules come from. */
export interface ExplainContext {
  readonly policy: Policy;
  readonly catalog: Catalog;
  readonly selection: CatalogSelection;
  /** True when the policy's destinations are the catalog selection (no allowlist files or destinations replace it). */
  readonly catalogInForce: boolean;
  /** Where a hand-written destination goes: the allowlist files, or `policy.destinations`. */
  readonly ruleFiles: readonly string[];
}

export type ExplanationCode =
  | 'CATALOG_OTHER_PRODUCT'
  | 'CATALOG_OTHER_GEOGRAPHY'
  | 'CATALOG_OTHER_CLOUD'
  | 'CATALOG_SERVICE_NOT_SELECTED'
  | 'CATALOG_OPTIONAL_OFF'
  | 'CATALOG_OS_FILTER'
  | 'CATALOG_EXCLUDED'
  | 'TENANT_VALUE_MISSING'
  | 'CATALOG_NOT_IN_LIST'
  | 'SHARED_NAMESPACE'
  | 'LOOKS_LIKE_DEFENDER'
  | 'NOT_DEFENDER'
  | 'PORT_NOT_ALLOWED'
  | 'SOURCE_NOT_ALLOWED'
  | 'SNI_MISMATCH'
  | 'SNI_MISSING'
  | 'NOT_TLS'
  | 'IP_LITERAL'
  | 'INTERNAL_ADDRESS'
  | 'LIMIT'
  | 'MALFORMED'
  | 'OTHER';

/** A change to the configuration that would let the request through: values to add to a key (or a file). */
export interface Suggestion {
  /** A configuration key (`catalog.geographies`) or an allowlist file name. */
  readonly key: string;
  readonly add: readonly string[];
  /** For a key that takes one value (`catalog.cloud`, `catalog.includeOptional`): the value to set instead. */
  readonly set?: string | boolean;
  /** For a key whose entries take something away (`catalog.exclude`): the values to remove. */
  readonly remove?: readonly string[];
}

export interface Explanation {
  readonly code: ExplanationCode;
  readonly reason: ReasonCode;
  /** What happened, in a sentence. */
  readonly summary: string;
  /** What to do about it, in a sentence; null when there is nothing to change (the refusal is right). */
  readonly next: string | null;
  readonly suggestions: readonly Suggestion[];
  /** The catalog entry the destination belongs to, when there is one. */
  readonly catalog: {
    readonly id: string;
    readonly products: readonly string[];
    readonly service: string;
    readonly geo: string;
  } | null;
}

interface EntryMatch {
  readonly entry: CatalogEntry;
  /** The tenant value a template placeholder took in the host, with its selection field. */
  readonly value: { readonly field: TemplateField; readonly value: string } | null;
  /** How narrowly the entry names the host: exactly, by a template with literal text in the placeholder's label, or by a wildcard (or a placeholder that is a whole label). */
  readonly fit: 'exact' | 'template' | 'wide';
}

const TEMPLATE_RE = /<([a-z-]+)>/;

/** The catalog entries whose host (or filled template) names `host`; exact names first. */
export function catalogEntriesFor(catalog: Catalog, host: string): EntryMatch[] {
  const exact: EntryMatch[] = [];
  const wide: EntryMatch[] = [];
  for (const entry of catalog.entries) {
    const template = entry.template;
    if (template !== undefined) {
      const m = TEMPLATE_RE.exec(entry.host);
      if (m === null) continue;
      const prefix = entry.host.slice(0, m.index);
      const suffix = entry.host.slice(m.index + m[0].length);
      if (host.length <= prefix.length + suffix.length || !host.startsWith(prefix) || !host.endsWith(suffix))
        continue;
      const value = host.slice(prefix.length, host.length - suffix.length);
      // A value that is a name of its own, not a subdomain chain (except data collection endpoints: name.region).
      const dots = template.param === 'dce' ? 1 : 0;
      if (value.split('.').length - 1 !== dots || !/^[a-z0-9.-]+$/.test(value)) continue;
      const wholeLabel = (prefix === '' || prefix.endsWith('.')) && suffix.startsWith('.');
      const match: EntryMatch = {
        entry,
        value: { field: TEMPLATE_PARAMS[template.param], value },
        fit: wholeLabel ? 'wide' : 'template',
      };
      (wholeLabel ? wide : exact).push(match);
      continue;
    }
    const pattern = parseHostPattern(entry.host);
    if ('error' in pattern || !patternMatches(pattern, host)) continue;
    if (pattern.kind === 'exact') exact.push({ entry, value: null, fit: 'exact' });
    else wide.push({ entry, value: null, fit: 'wide' });
  }
  return [...exact, ...wide];
}

interface Blocker {
  readonly code: ExplanationCode;
  readonly action: string;
  readonly suggestion: Suggestion;
}

/** What keeps a catalog entry (with the value its host carries) out of the selection; empty when nothing does. */
function blockers(match: EntryMatch, selection: CatalogSelection): Blocker[] {
  const { entry, value } = match;
  const out: Blocker[] = [];
  if (!entry.products.some((p) => selection.products.includes(p))) {
    const product: Product = entry.products[0]!;
    out.push({
      code: 'CATALOG_OTHER_PRODUCT',
      action: `add product ${product} to catalog.products`,
      suggestion: { key: 'catalog.products', add: [product] },
    });
  }
  if (!entry.clouds.includes(selection.cloud)) {
    const cloud = entry.clouds[0]!;
    out.push({
      code: 'CATALOG_OTHER_CLOUD',
      action: `it is for the ${entry.clouds.join('/')} cloud, not ${selection.cloud}: set catalog.cloud: ${cloud} if that is your tenant's`,
      suggestion: { key: 'catalog.cloud', add: [], set: cloud },
    });
  }
  const geos = selectedGeos(selection);
  if (!geos.has(entry.geo) && !(entry.alsoGeos ?? []).some((g) => geos.has(g))) {
    out.push({
      code: 'CATALOG_OTHER_GEOGRAPHY',
      action: `add geography ${entry.geo} to catalog.geographies`,
      suggestion: { key: 'catalog.geographies', add: [entry.geo] },
    });
  }
  const service = entry.service;
  if (selection.excludeServices.includes(service)) {
    out.push({
      code: 'CATALOG_SERVICE_NOT_SELECTED',
      action: `remove ${service} from catalog.excludeServices`,
      suggestion: { key: 'catalog.excludeServices', add: [], remove: [service] },
    });
  } else if (
    selection.services === undefined
      ? OPT_IN_SERVICES.includes(service)
      : !selection.services.includes(service)
  ) {
    out.push({
      code: 'CATALOG_SERVICE_NOT_SELECTED',
      action: `add service ${service} to catalog.services`,
      suggestion: { key: 'catalog.services', add: [service] },
    });
  }
  if (!selection.includeOptional && !entry.required) {
    out.push({
      code: 'CATALOG_OPTIONAL_OFF',
      action: 'set catalog.includeOptional: true (Microsoft marks the entry optional)',
      suggestion: { key: 'catalog.includeOptional', add: [], set: true },
    });
  }
  if (selection.os !== undefined && entry.os.length > 0 && !entry.os.some((o) => selection.os!.includes(o))) {
    out.push({
      code: 'CATALOG_OS_FILTER',
      action: `add ${entry.os[0]!} to catalog.os`,
      suggestion: { key: 'catalog.os', add: [entry.os[0]!] },
    });
  }
  if (selection.exclude.includes(entry.id)) {
    out.push({
      code: 'CATALOG_EXCLUDED',
      action: `remove ${entry.id} from catalog.exclude`,
      suggestion: { key: 'catalog.exclude', add: [], remove: [entry.id] },
    });
  }
  if (value !== null && !(selection[value.field] as readonly string[]).includes(value.value)) {
    out.push({
      code: 'TENANT_VALUE_MISSING',
      action: `set catalog.${value.field} to include "${value.value}" if it is your tenant's`,
      suggestion: { key: `catalog.${value.field}`, add: [value.value] },
    });
  }
  return out;
}

function catalogOf(entry: CatalogEntry): Explanation['catalog'] {
  return { id: entry.id, products: entry.products, service: entry.service, geo: entry.geo };
}

function destinationTarget(context: ExplainContext): string {
  return context.ruleFiles[0] ?? 'policy.destinations';
}

/** The registrable part of a name, roughly: the last two labels (three under a two-letter country code's second level). */
function siteOf(host: string): string {
  const labels = host.split('.');
  const n =
    labels.length >= 3 && labels[labels.length - 1]!.length === 2 && labels[labels.length - 2]!.length <= 3
      ? 3
      : 2;
  return labels.slice(-n).join('.');
}

/** Why a host the policy has no rule for is refused, and what would open it if it should be. */
function explainHost(host: string, reason: ReasonCode, context: ExplainContext): Explanation {
  const { catalog, selection } = context;
  const shared = SHARED_NAMESPACES.find((ns) => host === ns.suffix || host.endsWith(`.${ns.suffix}`));
  // In a namespace anyone can create names in, a wildcard (or a placeholder that is a whole
  // label) explains nothing: "exfil.blob.core.windows.net" is not an MMA storage account because
  // it fits the pattern. Only a named host, or a template with text of its own, does; or a
  // tenant value of a product the tenant runs.
  const matches = catalogEntriesFor(catalog, host).filter(
    (m) =>
      shared === undefined ||
      m.fit !== 'wide' ||
      (m.value !== null && m.entry.products.some((p) => selection.products.includes(p))),
  );
  if (matches.length > 0) {
    const ranked = matches
      .map((m) => ({ m, b: blockers(m, selection) }))
      .sort((a, b) => a.b.length - b.b.length);
    const best = ranked[0]!;
    const entry = best.m.entry;
    const what = `${host} is the catalog's ${entry.service} endpoint for ${entry.products.join(', ')}${entry.geo === 'WW' ? '' : ` (geography ${entry.geo})`}`;
    if (!context.catalogInForce) {
      const target = destinationTarget(context);
      return {
        code: 'CATALOG_NOT_IN_LIST',
        reason,
        summary: `${what}, but the policy is your own list, not the catalog`,
        next: `add ${host} to ${target}, or use the catalog selection (catalog: in the configuration, without allowlist files)`,
        suggestions: [{ key: target, add: [host] }],
        catalog: catalogOf(entry),
      };
    }
    if (best.b.length > 0) {
      return {
        code: best.b[0]!.code,
        reason,
        summary: `${what}, which the catalog selection leaves out`,
        next: best.b.map((b) => b.action).join(', and '),
        suggestions: best.b.map((b) => b.suggestion),
        catalog: catalogOf(entry),
      };
    }
    return {
      code: 'CATALOG_NOT_IN_LIST',
      reason,
      summary: `${what}; it is selected, but no rule of the policy in force admits it`,
      next: `add ${host} to ${destinationTarget(context)}`,
      suggestions: [{ key: destinationTarget(context), add: [host] }],
      catalog: catalogOf(entry),
    };
  }
  if (shared !== undefined) {
    return {
      code: 'SHARED_NAMESPACE',
      reason,
      summary: `${host} is under ${shared.suffix}, where ${shared.who}`,
      next: `never allow ${shared.suffix} as a whole; if a Defender agent needs this exact name, ${shared.narrow}`,
      suggestions: [],
      catalog: null,
    };
  }
  const site = siteOf(host);
  const sibling = catalog.entries.find((e) => {
    const name = e.host.replace(/^[*.]+/, '');
    return !name.includes('<') && siteOf(name) === site;
  });
  if (sibling !== undefined) {
    return {
      code: 'LOOKS_LIKE_DEFENDER',
      reason,
      summary: `${host} is under ${site}, like Defender endpoints in the catalog (${sibling.host}), but the catalog does not list it`,
      next: `if a Defender agent needs it (check the agent's documentation and the client's logs), add ${host} to ${destinationTarget(context)}; otherwise the refusal is right`,
      suggestions: [{ key: destinationTarget(context), add: [host] }],
      catalog: null,
    };
  }
  return {
    code: 'NOT_DEFENDER',
    reason,
    summary: `${host} is not a Defender endpoint the catalog knows`,
    next: null,
    suggestions: [],
    catalog: null,
  };
}

function ports(set: ReadonlySet<number> | null): string {
  return set === null ? 'any' : [...set].sort((a, b) => a - b).join(', ');
}

/** The network a client address sits in, as a policy.sources entry would name it (/24 for IPv4, /64 for IPv6). */
function networkOf(address: string): string | null {
  const parsed = parseAddress(address);
  if (parsed === null) return null;
  if (parsed.family === 4) {
    const parts = address.split('.');
    return `${parts.slice(0, 3).join('.')}.0/24`;
  }
  return `${formatWords(6, [parsed.words[0]!, parsed.words[1]!, 0, 0])}/64`;
}

/**
 * Why a request was refused and the next step, from the policy in force and the catalog: the
 * destination is a catalog endpoint for another product, geography or cloud (and which key
 * opens it), a tenant-specific name whose value is not configured, a name that only looks like
 * Defender's, a port the rule does not allow, a client outside the ACL, a ClientHello naming
 * another host. Pure.
 */
export function explainDenial(facts: DenialFacts, context: ExplainContext): Explanation {
  const { reason, host, port, method } = facts;
  const policy = context.policy;
  const base = { reason, suggestions: [] as Suggestion[], catalog: null };
  switch (reason) {
    case 'DENY_HOST_NOT_ALLOWED':
      return explainHost(host, reason, context);
    case 'DENY_PORT': {
      const decision = decideDestination(policy, method, host, port);
      const rule = decision.rule;
      const methodKey = method === 'CONNECT' ? 'policy.ports.connect' : 'policy.ports.http';
      const methodPorts = method === 'CONNECT' ? policy.connectPorts : policy.httpPorts;
      const inCatalog = catalogEntriesFor(context.catalog, host).find((m) => m.entry.ports.includes(port));
      const where =
        rule === null ? '' : ` (rule ${rule.text} from ${rule.origin.where} allows ${ports(rule.ports)})`;
      const summary = `port ${port} is not allowed for ${method} to ${host}${where}; ${methodKey} is ${ports(methodPorts)}`;
      if (inCatalog === undefined) {
        return {
          ...base,
          code: 'PORT_NOT_ALLOWED',
          summary,
          next: `the catalog lists no Defender endpoint on ${host}:${port}; the refusal is right unless an agent's documentation names this port`,
        };
      }
      const suggestions: Suggestion[] = [];
      if (!methodPorts.has(port)) suggestions.push({ key: methodKey, add: [String(port)] });
      return {
        ...base,
        code: 'PORT_NOT_ALLOWED',
        summary,
        next: `the catalog lists ${host} on port ${port} (${inCatalog.entry.id}): add ${port} to ${methodKey}${rule !== null && rule.ports !== null && !rule.ports.has(port) ? ` and to the ports of ${rule.text}` : ''}`,
        suggestions,
        catalog: catalogOf(inCatalog.entry),
      };
    }
    case 'DENY_SOURCE_NOT_ALLOWED': {
      const sources = policy.sources.list().map((s) => s.value.cidr);
      const network = networkOf(facts.client);
      return {
        ...base,
        code: 'SOURCE_NOT_ALLOWED',
        summary: `client ${facts.client} is outside policy.sources (${sources.slice(0, 6).join(', ')}${sources.length > 6 ? ', …' : ''})`,
        next: `if ${facts.client} should use the gateway, add it (or its network${network === null ? '' : ` ${network}`}) to policy.sources`,
        suggestions: [
          {
            key: 'policy.sources',
            add: [facts.client.includes(':') ? `${facts.client}/128` : `${facts.client}/32`],
          },
        ],
      };
    }
    case 'DENY_SNI_MISMATCH': {
      const sni = facts.sni;
      if (sni === null) {
        return {
          ...base,
          code: 'SNI_MISMATCH',
          summary: `the TLS ClientHello did not name ${host} or an allowed host`,
          next: null,
        };
      }
      const sniDecision = decideDestination(policy, 'CONNECT', sni, port);
      const summary = `the TLS ClientHello named ${sni}, the CONNECT named ${host}: refused as domain fronting`;
      if (sniDecision.verdict === 'allow') {
        return {
          ...base,
          code: 'SNI_MISMATCH',
          summary,
          next: `${sni} is allowed now (the policy changed since); the client's next attempt passes`,
        };
      }
      const inner = explainHost(normalized(sni), reason, context);
      return {
        ...inner,
        code: 'SNI_MISMATCH',
        summary: `${summary}; ${inner.summary}`,
        next:
          inner.next === null
            ? `nothing to allow: ${sni} is not a Defender endpoint; find what on the client sends it`
            : `only if the client really needs ${sni}: ${inner.next}`,
      };
    }
    case 'DENY_SNI_MISSING':
      return {
        ...base,
        code: 'SNI_MISSING',
        summary: `the TLS ClientHello to ${host} named no server, so it could not be checked`,
        next: 'Defender agents send a server name; set tls.missingSni: allow only for a client you know needs it',
      };
    case 'DENY_NOT_TLS':
      return {
        ...base,
        code: 'NOT_TLS',
        summary: `the tunnel to ${host}:${port} did not start with TLS`,
        next: 'Defender traffic on this port is TLS; set tls.nonTls: allow only for a client you know needs it',
      };
    case 'DENY_IP_LITERAL':
      return {
        ...base,
        code: 'IP_LITERAL',
        summary: `the client asked for the address ${host}, not a name`,
        next: 'Defender agents connect by name; if something must reach this address, add a cidr destination for it to policy.destinations',
        suggestions: [
          { key: 'policy.destinations', add: [`cidr: ${host.includes(':') ? `${host}/128` : `${host}/32`}`] },
        ],
      };
    case 'DENY_DESTINATION_ADDRESS':
      return {
        ...base,
        code: 'INTERNAL_ADDRESS',
        summary: `${host} resolved only to internal or special addresses (DNS rebinding guard)`,
        next: 'if this is split-horizon DNS on purpose, add the internal network to policy.internalNetworks',
      };
    case 'LIMIT_CONNECTIONS':
    case 'LIMIT_CLIENT_CONNECTIONS':
    case 'LIMIT_CONNECTION_RATE': {
      const key =
        reason === 'LIMIT_CONNECTIONS'
          ? 'limits.maxConnections'
          : reason === 'LIMIT_CLIENT_CONNECTIONS'
            ? 'limits.maxConnectionsPerClient'
            : 'limits.newConnectionsPerClientPerSecond';
      return {
        ...base,
        code: 'LIMIT',
        summary: REASONS[reason].summary,
        next: `if ${facts.client} is legitimate (a NAT or terminal server), raise ${key}`,
      };
    }
    default:
      if (reason.startsWith('BAD_') || reason.startsWith('HEAD_')) {
        return {
          ...base,
          code: 'MALFORMED',
          summary: REASONS[reason].summary,
          next: 'nothing to allow: the client is not a well-behaved proxy client (or not one at all)',
        };
      }
      return { ...base, code: 'OTHER', summary: REASONS[reason].summary, next: null };
  }
}

function normalized(host: string): string {
  const n = normalizeHost(host);
  return n.kind === 'name' ? n.name : n.kind === 'ip' ? n.address : host;
}
