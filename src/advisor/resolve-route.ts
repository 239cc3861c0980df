import { chainFor, type ComponentDefinition } from './components.js';
import type { DisagreementId } from './disagreements.js';
import type { Route } from './explanation.js';
import { proxyFacts, type Machine } from './machine.js';
import { quoted } from './parse-result.js';
import {
  bypassEntryFor,
  formatProxyAddress,
  parseProxyAddress,
  selectHttpsProxy,
  type ProxyAddress,
} from './proxy-address.js';
import { ROUTE_SOURCES, type RouteSourceId } from './route-sources.js';

/** Reads a disagreement's assumed reading and records that the verdict depends on it. */
export type ReadingLookup = (id: DisagreementId) => string;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Walks the component's chain of proxy settings in order and returns the first that yields a
 * route. A static TelemetryProxyServer that is unreachable is the one documented fallback; which
 * way it falls is a disagreement between the sources (see disagreements.ts).
 */
export function resolveRoute(
  component: ComponentDefinition,
  machine: Machine,
  reading: ReadingLookup,
): Route {
  const trace: string[] = [];
  const skipped: { source: RouteSourceId; why: string }[] = [];
  let fallback: string | null = null;
  const base = (source: RouteSourceId): Mutable<Route> => ({
    kind: 'none',
    source,
    via: ROUTE_SOURCES[source].label,
    proxy: null,
    fallback,
    bypassed: [],
    skipped,
    problem: null,
    trace,
  });
  const hosts = component.endpoints(machine).map((e) => e.host);

  for (const id of chainFor(component, machine)) {
    const source = ROUTE_SOURCES[id];
    const candidate = source.read(machine);
    if (candidate === null) {
      trace.push(`${source.label}: not set`);
      continue;
    }
    if (
      id === 'user-wininet' &&
      component.wininetReading !== undefined &&
      candidate.kind !== 'unavailable' &&
      reading(component.wininetReading) === 'system-path-only'
    ) {
      trace.push(`${source.label}: not used for this traffic (reading "system-path-only")`);
      continue;
    }
    switch (candidate.kind) {
      case 'unavailable':
        trace.push(`${source.label}: ${candidate.why}`);
        skipped.push({ source: id, why: candidate.why });
        continue;
      case 'local':
        trace.push(`${source.label}: no network needed`);
        return { ...base(id), kind: 'local' };
      case 'internal-source':
        trace.push(`${source.label}: used`);
        return { ...base(id), kind: 'internal-source' };
      case 'pac':
        trace.push(`${source.label}: ${candidate.url}`);
        return { ...base(id), kind: 'pac', via: `${source.label} ${candidate.url}` };
      case 'direct':
        trace.push(`${source.label}: direct`);
        return { ...base(id), kind: 'direct', via: fallback ? 'direct connection' : source.label };
      case 'proxy':
        break;
    }

    let address: ProxyAddress | null;
    if (candidate.list) {
      const parsed = selectHttpsProxy(candidate.text);
      if (!parsed.ok) {
        trace.push(`${source.label}: ${quoted(candidate.text)} does not parse`);
        return { ...base(id), problem: `${source.setting} is ${quoted(candidate.text)}: ${parsed.message}` };
      }
      address = parsed.value;
      if (address === null) {
        trace.push(`${source.label}: ${parsed.note ?? 'no proxy for HTTPS'}`);
        return { ...base(id), kind: 'direct', via: `${source.label} (no https= entry, so direct)` };
      }
    } else {
      const parsed = parseProxyAddress(candidate.text);
      if (!parsed.ok) {
        trace.push(`${source.label}: ${quoted(candidate.text)} does not parse`);
        return { ...base(id), problem: `${source.setting} is ${quoted(candidate.text)}: ${parsed.message}` };
      }
      address = parsed.value;
    }
    const key = formatProxyAddress(address);
    const bypassed = hosts
      .map((host) => ({ host, entry: bypassEntryFor(host, candidate.bypass) }))
      .filter((b): b is { host: string; entry: string } => b.entry !== null);

    if (id === 'telemetry-static' && !proxyFacts(machine, key).reachable) {
      const how = reading('static-proxy-unreachable');
      fallback = `TelemetryProxyServer ${key} is unreachable`;
      if (how === 'direct') {
        trace.push(`${source.label}: ${key} unreachable, so the sensor falls back to a direct connection`);
        return { ...base('direct'), kind: 'direct', via: 'direct connection', fallback };
      }
      trace.push(
        `${source.label}: ${key} unreachable, so the sensor falls back to the default proxy configuration`,
      );
      continue;
    }
    if (hosts.length > 0 && bypassed.length === hosts.length) {
      trace.push(`${source.label}: ${key}, but every destination matches its bypass list`);
      return { ...base(id), kind: 'direct', via: `${source.label} bypass list`, bypassed };
    }
    trace.push(`${source.label}: ${key}`);
    return { ...base(id), kind: 'proxy', proxy: key, bypassed };
  }
  return { ...base('direct'), source: null, via: 'no route' };
}

/** `static proxy (TelemetryProxyServer) 10.0.0.6:8080`, `direct connection`, … */
export function describeRoute(route: Route): string {
  if (route.problem !== null) return `${route.via} (invalid value)`;
  if (route.kind === 'proxy' && route.proxy !== null) return `${route.via} ${route.proxy}`;
  if (route.kind === 'direct' && route.fallback !== null) return `direct connection (fallback)`;
  return route.via;
}
