import type { HostPattern } from '../policy/index.js';
import type { HttpMethod } from './model.js';

/**
 * The URLs Microsoft's analyzers test and the statuses the services answer them with: the
 * Windows client analyzer's URL groups (sources table: mde-client-analyzer; any of 200, 400 and
 * 404 counts) and the macOS/Linux analyzer's cases (xmde-client-analyzer, with the status each
 * expects). Hosts without a documented probe are tested at their root (or the path the
 * catalog names) and any answer a web service gives to an anonymous request counts.
 */

export interface Probe {
  readonly url: string;
  readonly method: HttpMethod;
  readonly expect: readonly number[];
  /** Which analyzer test this reproduces. */
  readonly origin: string;
}

/** What the Windows analyzer counts as reachable. */
export const ANALYZER_STATUSES: readonly number[] = [200, 400, 404];

/** Answers from a web service to an anonymous request that prove it was reached. */
export const SERVICE_ANSWER_STATUSES: readonly number[] = [
  200, 201, 202, 204, 301, 302, 303, 307, 308, 400, 404, 405,
];

const withAnalyzer = (expected: number): number[] => [...new Set([expected, ...ANALYZER_STATUSES])];

interface ExactProbe {
  readonly host: RegExp;
  /** Only for catalog entries with this path glob (pki paths share www.microsoft.com). */
  readonly entryPath?: string;
  readonly build: (
    host: string,
  ) => Omit<Probe, 'url'> & { readonly path: string; readonly scheme?: 'http' | 'https' };
}

const EXACT: readonly ExactProbe[] = [
  {
    host: /^winatp-gw-[a-z0-9]+\.microsoft\.com$/,
    build: () => ({
      path: '/commands/test',
      method: 'GET',
      expect: withAnalyzer(200),
      origin: 'command-and-control test URL (Windows and Linux analyzers)',
    }),
  },
  {
    host: /^([a-z]+\.)?vortex-win\.data\.microsoft\.com$/,
    build: () => ({
      path: '/ping',
      method: 'GET',
      expect: ANALYZER_STATUSES,
      origin: 'cyber data test URL (Windows analyzer)',
    }),
  },
  {
    host: /^([a-z0-9]+-)?v20\.events\.data\.microsoft\.com$/,
    build: () => ({
      path: '/ping',
      method: 'GET',
      expect: ANALYZER_STATUSES,
      origin: 'cyber data test URL (Windows and Linux analyzers)',
    }),
  },
  {
    host: /^events\.data\.microsoft\.com$/,
    build: () => ({
      path: '/ping',
      method: 'GET',
      expect: ANALYZER_STATUSES,
      origin: 'telemetry test URL (Windows analyzer)',
    }),
  },
  {
    host: /^settings-win\.data\.microsoft\.com$/,
    build: () => ({
      path: '/qos',
      method: 'GET',
      expect: ANALYZER_STATUSES,
      origin: 'settings test URL (Windows analyzer)',
    }),
  },
  {
    host: /^ctldl\.windowsupdate\.com$/,
    build: () => ({
      scheme: 'http',
      path: '/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab',
      method: 'GET',
      expect: ANALYZER_STATUSES,
      origin: 'certificate trust list download (Windows analyzer)',
    }),
  },
  {
    host: /^crl\.microsoft\.com$/,
    build: () => ({
      scheme: 'http',
      path: '/pki/crl/products',
      method: 'GET',
      expect: SERVICE_ANSWER_STATUSES,
      origin: 'CRL path Defender Antivirus names',
    }),
  },
  {
    host: /^www\.microsoft\.com$/,
    entryPath: '/pkiops/*',
    build: () => ({
      scheme: 'http',
      path: '/pkiops/crl/',
      method: 'GET',
      expect: SERVICE_ANSWER_STATUSES,
      origin: 'CRL path Defender Antivirus names',
    }),
  },
  {
    host: /^www\.microsoft\.com$/,
    entryPath: '/pki/*',
    build: () => ({
      scheme: 'http',
      path: '/pki/certs',
      method: 'GET',
      expect: SERVICE_ANSWER_STATUSES,
      origin: 'certificate path Defender Antivirus names',
    }),
  },
  {
    host: /^[a-z0-9]{3,24}\.blob\.core\.windows\.net$/,
    build: () => ({
      path: '/',
      method: 'GET',
      expect: withAnalyzer(400),
      origin: 'storage account root (analyzers; answers 400)',
    }),
  },
  {
    host: /^cdn\.x\.cp\.wd\.microsoft\.com$/,
    build: () => ({
      path: '/ping',
      method: 'GET',
      expect: withAnalyzer(200),
      origin: 'update CDN test URL (mdatp connectivity test)',
    }),
  },
  {
    host: /^([a-z]+\.)?x\.cp\.wd\.microsoft\.com$/,
    build: () => ({
      path: '/api/report',
      method: 'GET',
      expect: withAnalyzer(200),
      origin: 'cloud protection report URL (Linux analyzer)',
    }),
  },
  {
    host: /^go\.microsoft\.com$/,
    build: () => ({
      path: '/fwlink/?linkid=2120136',
      method: 'HEAD',
      expect: withAnalyzer(200),
      origin: 'update link (Linux analyzer)',
    }),
  },
  {
    host: /^[a-z0-9-]+sensorapi\.atp\.azure\.com$/,
    build: () => ({
      path: '/tri/sensor/api/ping',
      method: 'GET',
      expect: SERVICE_ANSWER_STATUSES,
      origin: 'sensor API ping (MDI connectivity test)',
    }),
  },
];

/** The probe for an exact host (and the catalog path it came with), if an analyzer documents one. */
export function probeForHost(host: string, scheme: 'http' | 'https', entryPath?: string): Probe | null {
  const name = host.toLowerCase();
  for (const p of EXACT) {
    if (!p.host.test(name)) continue;
    if (p.entryPath !== undefined && p.entryPath !== entryPath) continue;
    const built = p.build(name);
    const probeScheme = built.scheme ?? 'https';
    if (probeScheme !== scheme) continue;
    return {
      url: `${probeScheme}://${name}${built.path}`,
      method: built.method,
      expect: built.expect,
      origin: built.origin,
    };
  }
  return null;
}

/** Geography → the streamlined gateway's geo label and its EDR datacentres (as the macOS/Linux analyzer names them). */
const STREAMLINED_GEOS: Readonly<Record<string, { label: string; dcs: readonly string[] }>> = {
  US: { label: 'us', dcs: ['cus', 'eus', 'cus3', 'eus3'] },
  EU: { label: 'eu', dcs: ['weu', 'neu', 'weu3', 'neu3'] },
  UK: { label: 'uk', dcs: ['uks', 'ukw'] },
  AU: { label: 'au', dcs: ['aus', 'aue'] },
};

/** Geography → the cloud protection host label (`<label>.cp.wd.microsoft.com`). */
const CLOUD_PROTECTION_GEOS: Readonly<Record<string, string>> = {
  US: 'unitedstates',
  EU: 'europe',
  UK: 'unitedkingdom',
  AU: 'australia',
  CH: 'switzerland',
  IN: 'india',
};

/**
 * Probes for names the sources document under a wildcard, for the selected geographies. A
 * wildcard with none cannot be tested: the second value says why.
 */
export function probesUnderWildcard(
  pattern: HostPattern,
  geos: ReadonlySet<string>,
): { probes: Probe[]; why: string | null } {
  const probes: Probe[] = [];
  if (pattern.name === 'endpoint.security.microsoft.com') {
    for (const [geo, { label, dcs }] of Object.entries(STREAMLINED_GEOS)) {
      if (!geos.has(geo)) continue;
      for (const dc of dcs) {
        probes.push({
          url: `https://edr-${dc}.${label}.endpoint.security.microsoft.com/edr/commands/test`,
          method: 'GET',
          expect: withAnalyzer(200),
          origin: 'streamlined command-and-control test URL (Linux analyzer)',
        });
      }
      probes.push({
        url: `https://mdav.${label}.endpoint.security.microsoft.com/mdav/test`,
        method: 'GET',
        expect: withAnalyzer(404),
        origin: 'streamlined antivirus test URL (Linux analyzer)',
      });
    }
  }
  if (pattern.name === 'wd.microsoft.com' || pattern.name === 'cp.wd.microsoft.com') {
    for (const [geo, label] of Object.entries(CLOUD_PROTECTION_GEOS)) {
      if (!geos.has(geo)) continue;
      probes.push({
        url: `https://${label}.cp.wd.microsoft.com/wdcp.svc/bond/submitReport/test`,
        method: 'GET',
        expect: withAnalyzer(404),
        origin: 'cloud protection test URL (Linux analyzer)',
      });
    }
  }
  if (pattern.name === 'dm.microsoft.com') {
    for (const name of ['discovery', 'enrollment', 'checkin']) {
      probes.push({
        url: `https://${name}.dm.microsoft.com/`,
        method: 'GET',
        expect: SERVICE_ANSWER_STATUSES,
        origin: 'security management host (Windows analyzer)',
      });
    }
  }
  if (pattern.name === 'smartscreen.microsoft.com') {
    probes.push({
      url: 'https://nf.smartscreen.microsoft.com/api/network/mac',
      method: 'POST',
      expect: withAnalyzer(400),
      origin: 'SmartScreen self-test (engine; answers 400)',
    });
  }
  if (probes.length > 0) return { probes, why: null };
  if (pattern.name === 'wns.windows.com') {
    return {
      probes,
      why: 'WNS push is raw TCP that cannot use a proxy; test client.wns.windows.com:443 directly from the endpoint',
    };
  }
  return {
    probes,
    why:
      pattern.name === 'endpoint.security.microsoft.com' || pattern.name === 'wd.microsoft.com'
        ? `a wildcard: the sources name hosts under ${pattern.name} only for other geographies`
        : `a wildcard: the sources name no host under ${pattern.name} to test`,
  };
}
