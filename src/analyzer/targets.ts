import {
  SERVICE_LABELS,
  TEMPLATE_PARAMS,
  fillTemplate,
  parseCatalogWhere,
  selectDestinations,
  type Catalog,
  type CatalogEntry,
  type CatalogSelection,
  type Service,
} from '../catalog/index.js';
import { parseHostPattern, patternMatches, type DestinationRule } from '../policy/index.js';
import type { CheckTarget, HttpMethod, NotTestable } from './model.js';
import { SERVICE_ANSWER_STATUSES, probeForHost, probesUnderWildcard } from './probes.js';

/**
 * What to test: catalog entries (or the gateway's compiled rules, or URLs given by hand)
 * turned into URLs. Exact hosts get the analyzers' probe URL where one is documented, else
 * their root or catalog path; wildcards get the names the sources document under them for the
 * selected geographies; everything else is listed as not testable, with the reason.
 */

export interface Endpoint {
  readonly scheme: 'http' | 'https';
  readonly port: number;
}

/** A destination to test: one host (or pattern) and what it stands for. */
export interface Destination {
  readonly host: string;
  /** The catalog's path glob for the host (`/pkiops/*`), if any. */
  readonly path?: string;
  readonly endpoints: readonly Endpoint[];
  readonly services: readonly string[];
  readonly products: readonly string[];
  readonly required: boolean;
  readonly noInspect: boolean;
  readonly entryIds: readonly string[];
  /** Set when the host cannot be known (an unfilled template): why. */
  readonly unknown?: string;
}

export interface TargetPlan {
  readonly targets: readonly CheckTarget[];
  readonly notTestable: readonly NotTestable[];
}

/** Labels for the services the report groups URLs by. */
export function serviceLabel(service: string): string {
  if (service === 'custom') return 'URLs given by hand';
  if (service === 'policy') return 'Policy destinations';
  return Object.hasOwn(SERVICE_LABELS, service) ? SERVICE_LABELS[service as Service] : service;
}

function entryEndpoints(entry: CatalogEntry): Endpoint[] {
  return entry.schemes.map((scheme) => {
    const standard = scheme === 'https' ? 443 : 80;
    return { scheme, port: entry.ports.includes(standard) ? standard : (entry.ports[0] ?? standard) };
  });
}

function fromEntry(entry: CatalogEntry, host: string, unknown?: string): Destination {
  return {
    host,
    ...(entry.path === undefined ? {} : { path: entry.path }),
    endpoints: entryEndpoints(entry),
    services: [entry.service],
    products: entry.products,
    required: entry.required,
    noInspect: entry.noInspect,
    entryIds: [entry.id],
    ...(unknown === undefined ? {} : { unknown }),
  };
}

/** The hosts of one selected entry, its template filled from the selection. */
function entryDestinations(entry: CatalogEntry, selection: CatalogSelection): Destination[] {
  if (entry.template === undefined) return [fromEntry(entry, entry.host)];
  const field = TEMPLATE_PARAMS[entry.template.param];
  const values = selection[field];
  if (values.length > 0)
    return values.map((v) => fromEntry(entry, fillTemplate(entry.host, entry.template!.param, v)));
  const fallback = entry.template.fallback;
  return [
    fromEntry(
      entry,
      entry.host,
      fallback === undefined
        ? `catalog.${field} is empty, so the host is unknown`
        : `catalog.${field} is empty: only the documented wildcard ${fallback} is known, and a wildcard cannot be tested`,
    ),
  ];
}

/** Destinations for a catalog selection (products, geographies, services, tenant values). */
export function destinationsFromCatalog(catalog: Catalog, selection: CatalogSelection): Destination[] {
  return selectDestinations(catalog, selection).entries.flatMap((entry) =>
    entryDestinations(entry, selection),
  );
}

export interface PolicyPorts {
  readonly connect: ReadonlySet<number>;
  readonly http: ReadonlySet<number>;
  /** CONNECT ports that carry TLS (the gateway's tls.ports). */
  readonly tls: ReadonlySet<number>;
}

/**
 * Destinations for a gateway's compiled rules: catalog rules are traced back to their entries
 * (so names folded into a wildcard are still tested); rules written by hand are tested on
 * every port they allow, https where the port carries TLS, http on HTTP ports.
 */
export function destinationsFromPolicy(
  rules: readonly DestinationRule[],
  catalog: Catalog,
  selection: CatalogSelection,
  ports: PolicyPorts,
): { destinations: Destination[]; notTestable: NotTestable[] } {
  const byId = new Map(catalog.entries.map((e) => [e.id, e]));
  const destinations: Destination[] = [];
  const notTestable: NotTestable[] = [];
  for (const rule of rules) {
    if (rule.pattern === null) {
      notTestable.push({
        host: rule.text,
        services: ['policy'],
        required: true,
        entryIds: [],
        reason: 'an address range: no name to test',
      });
      continue;
    }
    const contributions = parseCatalogWhere(rule.origin.where);
    if (contributions !== null) {
      contributions.forEach((c, i) => {
        const entry = byId.get(c.entryId);
        if (entry === undefined) return;
        if (entry.template === undefined) destinations.push(fromEntry(entry, entry.host));
        else if (c.fallbackField !== undefined || i > 0 || rule.pattern!.kind !== 'exact')
          destinations.push(...entryDestinations(entry, selection));
        else destinations.push(fromEntry(entry, rule.text));
      });
      continue;
    }
    const allowed = rule.ports ?? new Set([...ports.connect, ...ports.http]);
    const endpoints: Endpoint[] = [];
    for (const port of [...allowed].sort((a, b) => a - b)) {
      if (ports.connect.has(port) && ports.tls.has(port)) endpoints.push({ scheme: 'https', port });
      else if (ports.http.has(port)) endpoints.push({ scheme: 'http', port });
    }
    destinations.push({
      host: rule.text,
      endpoints,
      services: ['policy'],
      products: [],
      required: true,
      noInspect: false,
      entryIds: [],
      ...(endpoints.length === 0 ? { unknown: 'its ports carry neither TLS nor plain HTTP' } : {}),
    });
  }
  return { destinations, notTestable };
}

function concretePath(glob: string | undefined): string {
  if (glob === undefined) return '/';
  const star = glob.indexOf('*');
  return star < 0 ? glob : glob.slice(0, star);
}

function authority(host: string, endpoint: Endpoint): string {
  const standard = endpoint.scheme === 'https' ? 443 : 80;
  return endpoint.port === standard ? host : `${host}:${endpoint.port}`;
}

/** Turns destinations into URLs, merging destinations that share one. */
export function planTargets(destinations: readonly Destination[], geos: ReadonlySet<string>): TargetPlan {
  const targets = new Map<string, CheckTarget>();
  const untestable = new Map<string, NotTestable>();

  const addTarget = (
    dest: Destination,
    url: string,
    method: HttpMethod,
    expect: readonly number[],
    origin: string,
  ): void => {
    const known = targets.get(url);
    if (known === undefined) {
      targets.set(url, {
        url,
        method,
        expect,
        services: dest.services,
        products: dest.products,
        required: dest.required,
        noInspect: dest.noInspect,
        entryIds: dest.entryIds,
        origin,
      });
      return;
    }
    const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])];
    targets.set(url, {
      ...known,
      services: union(known.services, dest.services),
      products: union(known.products, dest.products),
      required: known.required || dest.required,
      noInspect: known.noInspect || dest.noInspect,
      entryIds: union(known.entryIds, dest.entryIds),
    });
  };

  const addUntestable = (dest: Destination, reason: string): void => {
    const key = `${dest.host}|${reason}`;
    const known = untestable.get(key);
    untestable.set(key, {
      host: dest.host,
      services: [...new Set([...(known?.services ?? []), ...dest.services])],
      required: (known?.required ?? false) || dest.required,
      entryIds: [...new Set([...(known?.entryIds ?? []), ...dest.entryIds])],
      reason,
    });
  };

  for (const dest of destinations) {
    if (dest.unknown !== undefined) {
      addUntestable(dest, dest.unknown);
      continue;
    }
    const pattern = parseHostPattern(dest.host);
    if ('error' in pattern) {
      addUntestable(dest, pattern.error);
      continue;
    }
    if (pattern.kind !== 'exact') {
      const { probes, why } = probesUnderWildcard(pattern, geos);
      for (const probe of probes) addTarget(dest, probe.url, probe.method, probe.expect, probe.origin);
      if (why !== null) addUntestable(dest, why);
      continue;
    }
    for (const endpoint of dest.endpoints) {
      const standard = endpoint.port === (endpoint.scheme === 'https' ? 443 : 80);
      const probe = standard ? probeForHost(pattern.name, endpoint.scheme, dest.path) : null;
      if (probe !== null) {
        addTarget(dest, probe.url, probe.method, probe.expect, probe.origin);
        continue;
      }
      const path = concretePath(dest.path);
      addTarget(
        dest,
        `${endpoint.scheme}://${authority(pattern.name, endpoint)}${path}`,
        'GET',
        SERVICE_ANSWER_STATUSES,
        dest.path === undefined ? 'host root' : 'catalog path',
      );
    }
  }
  return { targets: [...targets.values()], notTestable: [...untestable.values()] };
}

/**
 * Targets for URLs given by hand. Each is tied to the catalog entries whose host pattern
 * covers it, for its service and products; a URL the analyzers document keeps their method
 * and expected statuses. Returns an error sentence for a URL that cannot be tested.
 */
export function targetsFromUrls(
  urls: readonly string[],
  catalog: Catalog,
): CheckTarget[] | { error: string } {
  const targets: CheckTarget[] = [];
  for (const text of urls) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { error: `--url: "${text}" is not a URL` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return { error: `--url: "${text}": only http:// and https:// URLs can be tested` };
    }
    if (url.username !== '' || url.password !== '')
      return { error: `--url: "${text}": credentials in a URL are not sent` };
    const host = url.hostname.toLowerCase();
    const entries = catalog.entries.filter((e) => {
      if (e.template !== undefined) return false;
      const pattern = parseHostPattern(e.host);
      return !('error' in pattern) && patternMatches(pattern, host);
    });
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const probe = url.port === '' ? probeForHost(host, scheme) : null;
    const documented = probe !== null && probe.url === url.href ? probe : null;
    targets.push({
      url: url.href,
      method: documented?.method ?? 'GET',
      expect: documented?.expect ?? SERVICE_ANSWER_STATUSES,
      services: entries.length === 0 ? ['custom'] : [...new Set(entries.map((e) => e.service))],
      products: [...new Set(entries.flatMap((e) => e.products))],
      required: true,
      noInspect: entries.some((e) => e.noInspect),
      entryIds: entries.map((e) => e.id),
      origin: documented === null ? 'given with --url' : `given with --url (${documented.origin})`,
    });
  }
  return targets;
}
