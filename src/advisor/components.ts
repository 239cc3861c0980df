import type { DisagreementId } from './disagreements.js';
import type { Machine } from './machine.js';
import type { Geography, Product } from './machine-schema.js';
import type { RouteSourceId } from './route-sources.js';
import type { SourceId } from './sources.js';

export type ComponentId =
  | 'edr-telemetry'
  | 'live-response'
  | 'av-cloud-protection'
  | 'sample-submission'
  | 'user-context-services'
  | 'updates'
  | 'certificate-revocation'
  | 'antivirus-engine'
  | 'linux-cloud'
  | 'linux-install'
  | 'mdi-sensor'
  | 'ama'
  | 'mma'
  | 'arc';

/** How a component reacts to TLS inspection on its path. */
export type TlsSensitivity =
  /** certificate-pinned: inspection breaks it */
  | 'pinned'
  /** mutual TLS with a client certificate: inspection breaks it */
  | 'mutual-tls'
  /** the product declares inspection unsupported */
  | 'inspection-unsupported'
  /** not pinned, but Microsoft asks for the hosts to be excluded */
  | 'unpinned'
  /** our sources say nothing */
  | 'undocumented';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ComponentDefinition {
  readonly id: ComponentId;
  readonly name: string;
  readonly product: Product;
  readonly platform: 'windows' | 'linux' | 'any';
  /** The account or session the traffic leaves from. */
  readonly context: string;
  /** The account that meets a proxy's credential challenge when the route is not a user session. */
  readonly account: string;
  /** Proxy settings in the order the component consults them (Windows, modern OS). */
  readonly chain: readonly RouteSourceId[];
  readonly tls: TlsSensitivity;
  /** Whether a credential setting exists for this component, and whether the machine uses it. */
  readonly hasCredentials: (machine: Machine) => boolean;
  /** Why a proxy that demands credentials stops it. */
  readonly authSources: readonly SourceId[];
  /** Representative destinations, for the allowlist check. */
  readonly endpoints: (machine: Machine) => readonly Endpoint[];
  /** Service names of the endpoint catalog this component's traffic belongs to. */
  readonly catalogServices: readonly string[];
  readonly sources: readonly SourceId[];
  readonly disagreements: readonly DisagreementId[];
  /** When set, whether the user's WinINET proxy carries this traffic is that disagreement's reading. */
  readonly wininetReading?: DisagreementId;
}

const GEO: Record<Geography, { dcs: readonly [string, string]; long: string; sample: string }> = {
  us: { dcs: ['cus', 'eus'], long: 'unitedstates', sample: 'ussus1eastprod' },
  eu: { dcs: ['weu', 'neu'], long: 'europe', sample: 'usseu1northprod' },
  uk: { dcs: ['uks', 'ukw'], long: 'unitedkingdom', sample: 'ussuk1southprod' },
  au: { dcs: ['aue', 'aus'], long: 'australia', sample: 'ussau1southeastprod' },
};

const https = (host: string): Endpoint => ({ host, port: 443 });
const http = (host: string): Endpoint => ({ host, port: 80 });
const streamlined = (m: Machine): boolean => m.connectivity === 'streamlined';
const geo = (m: Machine) => GEO[m.geography];
const SES = 'endpoint.security.microsoft.com';

/** Legacy Windows onboarded through the Log Analytics agent (MMA) (mde-urls-streamlined, mde-proxy). */
export function isMmaEra(machine: Machine): boolean {
  return ['7', '8.1', 'server-2008-r2'].includes(machine.windowsVersion ?? '');
}

const never = (): boolean => false;
const SENSE_CHAIN: readonly RouteSourceId[] = [
  'telemetry-static',
  'winhttp',
  'wpad',
  'user-wininet',
  'direct',
];

export const COMPONENTS: readonly ComponentDefinition[] = [
  {
    id: 'edr-telemetry',
    name: 'EDR sensor (cyber data)',
    product: 'mde',
    platform: 'windows',
    context: 'LocalSystem',
    account: 'LocalSystem',
    chain: SENSE_CHAIN,
    tls: 'pinned',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies', 'mde-network-environment', 'mde-proxy-2024'],
    endpoints: (m) =>
      streamlined(m)
        ? [https(`${m.geography}-v20.events.${SES}`), https('events.data.microsoft.com')]
        : [https(`${m.geography}-v20.events.data.microsoft.com`), https('events.data.microsoft.com')],
    catalogServices: ['cyber'],
    sources: ['mde-proxy-2024', 'mde-proxy', 'blog-which-proxy-wins'],
    disagreements: ['static-proxy-unreachable'],
  },
  {
    id: 'live-response',
    name: 'Live Response and command & control',
    product: 'mde',
    platform: 'windows',
    context: 'LocalSystem',
    account: 'LocalSystem',
    chain: SENSE_CHAIN,
    tls: 'pinned',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies', 'mde-network-environment', 'mde-proxy-2024'],
    endpoints: (m) =>
      streamlined(m)
        ? geo(m).dcs.map((dc) => https(`edr-${dc}.${m.geography}.${SES}`))
        : geo(m).dcs.map((dc) => https(`winatp-gw-${dc}.microsoft.com`)),
    catalogServices: ['cnc', 'autoir'],
    sources: ['blog-which-proxy-wins', 'blog-disconnected-proxies', 'mde-proxy-2024'],
    disagreements: ['static-proxy-unreachable', 'live-response-over-wininet'],
  },
  {
    id: 'av-cloud-protection',
    name: 'Defender Antivirus cloud protection',
    product: 'mde',
    platform: 'windows',
    context: 'LocalSystem',
    account: 'LocalSystem',
    chain: ['av-pac', 'av-static', 'winhttp', 'wpad', 'user-wininet', 'direct'],
    tls: 'pinned',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies', 'mde-network-environment'],
    endpoints: (m) =>
      streamlined(m) ? [https(`mdav.${m.geography}.${SES}`)] : [https(`${geo(m).long}.cp.wd.microsoft.com`)],
    catalogServices: ['maps'],
    sources: ['mde-proxy-2024', 'mde-proxy', 'mde-proxy-2020'],
    disagreements: ['revocation-for-cloud-protection'],
  },
  {
    id: 'sample-submission',
    name: 'Sample submission',
    product: 'mde',
    platform: 'windows',
    context: 'LocalSystem',
    account: 'LocalSystem',
    chain: ['av-pac', 'av-static', 'winhttp', 'wpad', 'user-wininet', 'direct'],
    tls: 'unpinned',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies', 'mde-network-environment'],
    endpoints: (m) =>
      streamlined(m)
        ? [https(`mdav.${m.geography}.${SES}`)]
        : [https(`${geo(m).sample}.blob.core.windows.net`)],
    catalogServices: ['sample'],
    sources: ['mde-proxy-2024', 'blog-which-proxy-wins'],
    disagreements: [],
  },
  {
    id: 'user-context-services',
    name: 'User-context services (configuration management)',
    product: 'mde',
    platform: 'windows',
    context: 'logged-on user, else LocalSystem',
    account: 'LocalSystem',
    chain: ['user-wininet', 'telemetry-static', 'winhttp', 'wpad', 'direct'],
    tls: 'unpinned',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies', 'mde-network-environment'],
    endpoints: () => [https('enterpriseregistration.windows.net'), https('checkin.dm.microsoft.com')],
    catalogServices: ['mgmt'],
    sources: ['blog-which-proxy-wins'],
    disagreements: ['static-proxy-unreachable'],
  },
  {
    id: 'updates',
    name: 'Security intelligence and product updates',
    product: 'mde',
    platform: 'windows',
    context: 'LocalSystem (Windows Update)',
    account: 'LocalSystem (Windows Update)',
    chain: ['internal-update-source', 'winhttp', 'wpad', 'user-wininet', 'direct'],
    tls: 'undocumented',
    hasCredentials: never,
    authSources: ['blog-disconnected-proxies'],
    endpoints: () => [https('definitionupdates.microsoft.com'), https('go.microsoft.com')],
    catalogServices: ['updates'],
    sources: ['mde-proxy-2020', 'mde-proxy-2024', 'blog-disconnected-proxies'],
    disagreements: ['system-services-over-wininet'],
    wininetReading: 'system-services-over-wininet',
  },
  {
    id: 'certificate-revocation',
    name: 'Certificate revocation (CRL/CTL)',
    product: 'mde',
    platform: 'windows',
    context: 'the OS (WinHTTP default)',
    account: 'the OS (LocalSystem)',
    chain: ['winhttp', 'wpad', 'user-wininet', 'direct'],
    tls: 'undocumented',
    hasCredentials: never,
    authSources: ['mde-network-environment'],
    endpoints: () => [http('crl.microsoft.com'), http('www.microsoft.com'), http('ctldl.windowsupdate.com')],
    catalogServices: ['crl'],
    sources: ['mdav-network', 'mde-proxy'],
    disagreements: ['system-services-over-wininet'],
    wininetReading: 'system-services-over-wininet',
  },
  {
    id: 'antivirus-engine',
    name: 'Defender Antivirus on-device protection',
    product: 'mde',
    platform: 'windows',
    context: 'on the device',
    account: 'LocalSystem',
    chain: ['local'],
    tls: 'undocumented',
    hasCredentials: never,
    authSources: [],
    endpoints: () => [],
    catalogServices: [],
    sources: ['blog-disconnected-proxies'],
    disagreements: [],
  },
  {
    id: 'linux-cloud',
    name: 'mdatp daemon (EDR and cloud protection)',
    product: 'mde',
    platform: 'linux',
    context: 'the mdatp service',
    account: 'the mdatp service',
    chain: ['mdatp-static', 'mdatp-service-environment', 'direct'],
    tls: 'inspection-unsupported',
    hasCredentials: never,
    authSources: ['mde-linux-connectivity'],
    endpoints: (m) =>
      streamlined(m)
        ? [https(`mdav.${m.geography}.${SES}`), https(`edr-${geo(m).dcs[0]}.${m.geography}.${SES}`)]
        : [
            https(`${geo(m).long}.x.cp.wd.microsoft.com`),
            https('cdn.x.cp.wd.microsoft.com'),
            https(`winatp-gw-${geo(m).dcs[0]}.microsoft.com`),
            https(`${m.geography}-v20.events.data.microsoft.com`),
          ],
    catalogServices: ['maps', 'cnc', 'cyber', 'updates'],
    sources: ['mde-linux-static-proxy', 'mde-linux-connectivity'],
    disagreements: [],
  },
  {
    id: 'linux-install',
    name: 'mdatp package install and upgrade',
    product: 'mde',
    platform: 'linux',
    context: 'the package manager',
    account: 'the package manager',
    chain: ['linux-extension-agent', 'linux-install-environment', 'direct'],
    tls: 'undocumented',
    hasCredentials: never,
    authSources: ['mde-linux-connectivity'],
    endpoints: () => [https('packages.microsoft.com')],
    catalogServices: ['updates'],
    sources: ['mde-linux-static-proxy', 'blog-defender-for-servers'],
    disagreements: [],
  },
  {
    id: 'mdi-sensor',
    name: 'Defender for Identity sensor',
    product: 'mdi',
    platform: 'windows',
    context: 'LocalService (sensor), LocalSystem (updater)',
    account: 'LocalService',
    chain: ['mdi-proxy-url', 'mdi-service-wininet', 'wpad', 'direct'],
    tls: 'mutual-tls',
    hasCredentials: (m) => m.mdi.proxyCredentials,
    authSources: ['mdi-known-issues'],
    endpoints: (m) => (m.mdi.workspace ? [https(`${m.mdi.workspace}sensorapi.atp.azure.com`)] : []),
    catalogServices: ['mdi'],
    sources: ['mdi-proxy', 'mdi-known-issues'],
    disagreements: [],
  },
  {
    id: 'ama',
    name: 'Azure Monitor Agent',
    product: 'ama',
    platform: 'any',
    context: 'the agent extension',
    account: 'the agent',
    chain: ['ama-extension', 'ama-environment', 'direct'],
    tls: 'undocumented',
    hasCredentials: (m) => m.ama.auth,
    authSources: ['ama-network'],
    endpoints: (m) => [
      https('global.handler.control.monitor.azure.com'),
      ...(m.ama.region ? [https(`${m.ama.region}.handler.control.monitor.azure.com`)] : []),
      ...(m.ama.workspaceId ? [https(`${m.ama.workspaceId}.ods.opinsights.azure.com`)] : []),
    ],
    catalogServices: ['ama'],
    sources: ['ama-network'],
    disagreements: [],
  },
  {
    id: 'mma',
    name: 'Log Analytics agent (MMA)',
    product: 'mma',
    platform: 'any',
    context: 'the agent service',
    account: 'the agent',
    chain: ['mma-proxy', 'direct'],
    tls: 'undocumented',
    hasCredentials: (m) => m.mma.credentials,
    authSources: ['mma-overview'],
    endpoints: (m) =>
      m.mma.workspaceId
        ? [
            https(`${m.mma.workspaceId}.ods.opinsights.azure.com`),
            https(`${m.mma.workspaceId}.oms.opinsights.azure.com`),
            https(`${m.mma.workspaceId}.agentsvc.azure-automation.net`),
          ]
        : [],
    catalogServices: ['mma'],
    sources: ['mma-overview', 'blog-defender-for-servers'],
    disagreements: [],
  },
  {
    id: 'arc',
    name: 'Azure Arc Connected Machine agent',
    product: 'arc',
    platform: 'any',
    context: 'the himds service',
    account: 'the himds service',
    chain: ['arc-proxy-url', 'arc-environment', 'direct'],
    tls: 'undocumented',
    hasCredentials: never,
    authSources: ['inference'],
    endpoints: () => [
      https('login.microsoftonline.com'),
      https('gbl.his.arc.azure.com'),
      https('guestnotificationservice.azure.com'),
    ],
    catalogServices: ['arc'],
    sources: ['arc-proxy'],
    disagreements: [],
  },
];

/** The chain a component follows on this machine: down-level Windows sends EDR through the MMA. */
export function chainFor(component: ComponentDefinition, machine: Machine): readonly RouteSourceId[] {
  if (machine.platform === 'windows' && isMmaEra(machine) && component.chain.includes('telemetry-static')) {
    return ['mma-proxy', 'direct'];
  }
  return component.chain;
}

/** The components present on a machine, in table order. */
export function componentsFor(machine: Machine): ComponentDefinition[] {
  return COMPONENTS.filter(
    (c) =>
      machine.products.includes(c.product) &&
      (c.platform === 'any' || c.platform === machine.platform) &&
      !(c.id === 'user-context-services' && isMmaEra(machine)),
  );
}

export function componentDefinition(id: ComponentId): ComponentDefinition {
  const found = COMPONENTS.find((c) => c.id === id);
  if (!found) throw new Error(`unknown component ${id}`);
  return found;
}
