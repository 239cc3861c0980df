/**
 * The public documents Airlock's facts come from: one table, cited by key everywhere (catalog
 * entries, client files, the advisor's rules, the analyzer's expected issuers). Output never
 * prints a bare key: it prints the title and the address (see citations.ts).
 *
 * `read` is the day the copy Airlock's facts were taken from was read; `version` says which
 * revision that was when the publisher dates its pages. A source without a public address has
 * `url: null` and a `note` saying where it was seen.
 */
export interface Source {
  readonly title: string;
  readonly publisher: string;
  /** Named when the publisher names one (blog posts). */
  readonly author?: string;
  readonly url: string | null;
  /** YYYY-MM-DD. */
  readonly read: string;
  readonly version?: string;
  /** Set when the facts come from an earlier revision than the one the address now shows. */
  readonly revision?: string;
  readonly note?: string;
}

const LEARN = 'Microsoft Learn';
const MDE = 'https://learn.microsoft.com/en-us/defender-endpoint';
const MDI = 'https://learn.microsoft.com/en-us/defender-for-identity';
const AZURE = 'https://learn.microsoft.com/en-us/azure';
const TECH_COMMUNITY = 'Microsoft Tech Community';
const FIRST_READING = '2026-11-23';
const SECOND_READING = '2026-12-04';

export const SOURCES = {
  'mde-urls-standard': {
    title: 'Microsoft Defender for Endpoint standard connectivity URLs - commercial',
    publisher: LEARN,
    url: `${MDE}/standard-device-connectivity-urls-commercial`,
    read: FIRST_READING,
    version: 'page last modified 2026-07-03',
  },
  'mde-urls-streamlined': {
    title: 'Microsoft Defender for Endpoint streamlined connectivity URLs - commercial',
    publisher: LEARN,
    url: `${MDE}/streamlined-device-connectivity-urls-commercial`,
    read: FIRST_READING,
    version: 'ms.date 2025-10-16',
  },
  'mde-urls-streamlined-gov': {
    title: 'Microsoft Defender for Endpoint streamlined connectivity URLs - US government environments',
    publisher: LEARN,
    url: `${MDE}/streamlined-device-connectivity-urls-gov`,
    read: FIRST_READING,
    version: 'ms.date 2025-10-05',
  },
  'mde-streamlined-onboarding': {
    title: 'Onboarding devices using streamlined connectivity for Microsoft Defender for Endpoint',
    publisher: LEARN,
    url: `${MDE}/configure-device-connectivity`,
    read: FIRST_READING,
    version: 'ms.date 2025-09-29',
  },
  'mde-network-environment': {
    title: 'Configure your network environment to ensure connectivity with Defender for Endpoint service',
    publisher: LEARN,
    url: `${MDE}/configure-environment`,
    read: FIRST_READING,
    version: 'ms.date 2024-02-01',
  },
  'mde-proxy': {
    title: 'Configure proxy connectivity for Microsoft Defender for Endpoint on Windows',
    publisher: LEARN,
    url: `${MDE}/configure-proxy-internet`,
    read: FIRST_READING,
    version: 'page last modified 2026-09-23',
  },
  'mde-proxy-2024': {
    title: 'Configure your devices to connect to the Defender for Endpoint service using a proxy',
    publisher: LEARN,
    url: `${MDE}/configure-proxy-internet`,
    read: FIRST_READING,
    version: 'ms.date 2024-07-01',
    revision: 'revision of 2024-07-01',
  },
  'mde-proxy-2020': {
    title: 'Configure device proxy and Internet connectivity settings',
    publisher: LEARN,
    url: 'https://learn.microsoft.com/en-us/microsoft-365/security/defender-endpoint/configure-proxy-internet',
    read: FIRST_READING,
    version: 'ms.date 2020-12-18',
    revision: 'revision of 2020-12-18; the address now leads to the current page',
  },
  'mdav-network': {
    title: 'Configure and validate Microsoft Defender Antivirus network connections',
    publisher: LEARN,
    url: `${MDE}/configure-network-connections-microsoft-defender-antivirus`,
    read: FIRST_READING,
    version: 'ms.date 2023-06-26',
  },
  'mde-verify-connectivity': {
    title: 'Verify client connectivity to Microsoft Defender for Endpoint service URLs',
    publisher: LEARN,
    url: `${MDE}/verify-connectivity`,
    read: FIRST_READING,
    version: 'ms.date 2024-09-21',
  },
  'mde-analyzer-linux': {
    title: 'Run the client analyzer on macOS or Linux',
    publisher: LEARN,
    url: `${MDE}/run-analyzer-macos-linux`,
    read: FIRST_READING,
  },
  'mde-linux-static-proxy': {
    title: 'Configure Microsoft Defender for Endpoint on Linux for static proxy discovery',
    publisher: LEARN,
    url: `${MDE}/linux-static-proxy-configuration`,
    read: FIRST_READING,
  },
  'mde-linux-connectivity': {
    title: 'Troubleshoot cloud connectivity issues for Microsoft Defender for Endpoint on Linux',
    publisher: LEARN,
    url: `${MDE}/linux-support-connectivity`,
    read: FIRST_READING,
  },
  'mde-macos-prerequisites': {
    title: 'Microsoft Defender for Endpoint on Mac: prerequisites',
    publisher: LEARN,
    url: `${MDE}/microsoft-defender-endpoint-mac-prerequisites`,
    read: FIRST_READING,
  },
  'mde-macos-preferences': {
    title: 'Set preferences for Microsoft Defender for Endpoint on macOS',
    publisher: LEARN,
    url: `${MDE}/mac-preferences`,
    read: FIRST_READING,
  },
  'mde-data-storage': {
    title: 'Microsoft Defender for Endpoint data storage and privacy',
    publisher: LEARN,
    url: `${MDE}/data-storage-privacy`,
    read: FIRST_READING,
  },
  'mdatp-xplat': {
    title:
      'mdatp-xplat: configuration samples, schema and installer for Defender for Endpoint on Linux and macOS',
    publisher: 'GitHub (microsoft/mdatp-xplat)',
    url: 'https://github.com/microsoft/mdatp-xplat',
    read: FIRST_READING,
  },
  'mde-client-analyzer': {
    title: 'Microsoft Defender for Endpoint Client Analyzer (MDEClientAnalyzer) for Windows',
    publisher: 'Microsoft',
    url: 'https://aka.ms/MDEAnalyzer',
    read: FIRST_READING,
    version: 'script version 28042022',
  },
  'xmde-client-analyzer': {
    title: 'XMDE Client Analyzer for macOS and Linux (connectivity test)',
    publisher: 'Microsoft',
    url: 'https://aka.ms/XMDEClientAnalyzerBinary',
    read: FIRST_READING,
  },
  'defender-engine-names': {
    title: 'Host names in the Defender Antivirus engine definitions (unofficial)',
    publisher: 'none',
    url: null,
    read: FIRST_READING,
    note: 'not a public document; names seen in the engine files, used only to corroborate',
  },
  'streamlined-onboarding-data': {
    title: 'Fields of streamlined onboarding packages (geoLocationUrl, vortexServerUrl)',
    publisher: 'none',
    url: null,
    read: FIRST_READING,
    note: 'not a public document; values seen in onboarding packages',
  },
  'mdi-proxy': {
    title: 'Configure endpoint proxy and internet connectivity settings for Microsoft Defender for Identity',
    publisher: LEARN,
    url: `${MDI}/deploy/configure-proxy`,
    read: FIRST_READING,
    version: 'ms.date 2025-02-12',
  },
  'mdi-install-sensor': {
    title: 'Install the Microsoft Defender for Identity sensor',
    publisher: LEARN,
    url: `${MDI}/deploy/install-sensor`,
    read: FIRST_READING,
  },
  'mdi-test-connectivity': {
    title: 'Test Microsoft Defender for Identity connectivity',
    publisher: LEARN,
    url: `${MDI}/deploy/test-connectivity`,
    read: FIRST_READING,
  },
  'mdi-known-issues': {
    title: 'Troubleshooting Microsoft Defender for Identity known issues',
    publisher: LEARN,
    url: `${MDI}/troubleshooting-known-issues`,
    read: FIRST_READING,
  },
  'mdi-prerequisites': {
    title: 'Microsoft Defender for Identity prerequisites',
    publisher: LEARN,
    url: `${MDI}/deploy/prerequisites`,
    read: FIRST_READING,
  },
  'ama-network': {
    title: 'Azure Monitor agent network configuration',
    publisher: LEARN,
    url: `${AZURE}/azure-monitor/agents/azure-monitor-agent-network-configuration`,
    read: FIRST_READING,
  },
  'ama-manage': {
    title: 'Manage Azure Monitor Agent',
    publisher: LEARN,
    url: `${AZURE}/azure-monitor/agents/agent-manage`,
    read: FIRST_READING,
  },
  'mma-overview': {
    title: 'Log Analytics agent overview',
    publisher: LEARN,
    url: `${AZURE}/azure-monitor/agents/log-analytics-agent`,
    read: FIRST_READING,
  },
  'arc-network': {
    title: 'Connected Machine agent network requirements',
    publisher: LEARN,
    url: `${AZURE}/azure-arc/servers/network-requirements`,
    read: FIRST_READING,
  },
  'arc-proxy': {
    title: 'Manage and maintain Azure Connected Machine agent proxy settings',
    publisher: LEARN,
    url: `${AZURE}/azure-arc/servers/manage-agent-proxy-settings`,
    read: FIRST_READING,
    version: 'ms.date 2026-09-23',
  },
  'arc-azcmagent-config': {
    title: 'azcmagent config CLI reference',
    publisher: LEARN,
    url: `${AZURE}/azure-arc/servers/azcmagent-config`,
    read: FIRST_READING,
  },
  'arc-gateway': {
    title: 'Simplify network configuration requirements with Azure Arc gateway',
    publisher: LEARN,
    url: `${AZURE}/azure-arc/servers/arc-gateway`,
    read: FIRST_READING,
    version: 'ms.date 2025-08-20',
  },
  'azure-relay-ports': {
    title: 'Azure Relay port settings',
    publisher: LEARN,
    url: `${AZURE}/azure-relay/relay-port-settings`,
    read: FIRST_READING,
  },
  'netsh-winhttp': {
    title: 'Netsh.exe commands (WinHTTP)',
    publisher: LEARN,
    url: 'https://learn.microsoft.com/en-us/windows/win32/winhttp/netsh-exe-commands',
    read: SECOND_READING,
    version: 'ms.date 2023-12-11',
  },
  'policy-csp-telemetry-proxy': {
    title: 'Policy CSP - System: TelemetryProxy',
    publisher: LEARN,
    url: 'https://learn.microsoft.com/en-us/windows/client-management/mdm/policy-csp-system#telemetryproxy',
    read: FIRST_READING,
  },
  'set-mppreference': {
    title: 'Set-MpPreference (Defender module)',
    publisher: LEARN,
    url: 'https://learn.microsoft.com/en-us/powershell/module/defender/set-mppreference',
    read: FIRST_READING,
  },
  'azure-tls-changes': {
    title: 'Azure TLS certificate changes',
    publisher: LEARN,
    url: `${AZURE}/security/fundamentals/tls-certificate-changes`,
    read: FIRST_READING,
  },
  'azure-ca-details': {
    title: 'Azure Certificate Authority details',
    publisher: LEARN,
    url: `${AZURE}/security/fundamentals/azure-ca-details`,
    read: SECOND_READING,
    version: 'ms.date 2023-11-27 (root list); Baltimore CyberTrust Root expiry from the 2022 revision',
  },
  'azure-postgres-tls': {
    title: 'Transport Layer Security (TLS) in Azure Database for PostgreSQL',
    publisher: LEARN,
    url: `${AZURE}/postgresql/flexible-server/security-tls`,
    read: SECOND_READING,
    version: 'ms.date 2025-12-02 (the 2026 intermediate change under DigiCert Global Root G2)',
  },
  'microsoft-pki-repository': {
    title: 'Microsoft PKI Repository',
    publisher: 'Microsoft',
    url: 'https://www.microsoft.com/pkiops/docs/repository.htm',
    read: SECOND_READING,
  },
  'node-tls-root-certificates': {
    title: 'Node.js TLS: tls.rootCertificates (the bundled Mozilla CA store)',
    publisher: 'Node.js',
    url: 'https://nodejs.org/api/tls.html#tlsrootcertificates',
    read: SECOND_READING,
  },
  'azure-linux-agent': {
    title: 'Azure Linux VM Agent overview',
    publisher: LEARN,
    url: `${AZURE}/virtual-machines/extensions/agent-linux`,
    read: FIRST_READING,
  },
  'azure-wire-server': {
    title: 'What is IP address 168.63.129.16?',
    publisher: LEARN,
    url: `${AZURE}/virtual-network/what-is-ip-address-168-63-129-16`,
    read: SECOND_READING,
  },
  'azure-imds': {
    title: 'Azure Instance Metadata Service',
    publisher: LEARN,
    url: `${AZURE}/virtual-machines/instance-metadata-service`,
    read: SECOND_READING,
  },
  squidmdemdi: {
    title: 'squidmdemdi: a locked-down Squid proxy for Defender for Endpoint and Defender for Identity',
    publisher: 'GitHub (mswillsykes/squidmdemdi)',
    author: 'Will Sykes',
    url: 'https://github.com/mswillsykes/squidmdemdi',
    read: FIRST_READING,
  },
  'apt-transport-http': {
    title: 'apt-transport-http(1): per-host proxies with Acquire::http(s)::Proxy::<host>',
    publisher: 'Debian manual pages',
    url: 'https://manpages.debian.org/stable/apt/apt-transport-http.1.en.html',
    read: FIRST_READING,
  },
  'dnf-conf': {
    title: 'DNF configuration reference: the per-repository "proxy" option',
    publisher: 'DNF documentation',
    url: 'https://dnf.readthedocs.io/en/latest/conf_ref.html',
    read: FIRST_READING,
  },
  'blog-disconnected-proxies': {
    title: 'Disconnected environments, proxies and Microsoft Defender for Endpoint',
    publisher: `${TECH_COMMUNITY}, Microsoft Defender for Endpoint Blog`,
    author: 'Brian Baldock',
    url: 'https://techcommunity.microsoft.com/t5/microsoft-defender-for-endpoint/disconnected-environments-proxies-and-microsoft-defender-for/ba-p/3710502',
    read: SECOND_READING,
    version: 'published 2023-01-06',
  },
  'blog-which-proxy-wins': {
    title: 'Defender for Endpoint and disconnected environments. Which proxy configuration wins?',
    publisher: `${TECH_COMMUNITY}, Microsoft Defender for Endpoint Blog`,
    author: 'Brian Baldock',
    url: 'https://techcommunity.microsoft.com/t5/microsoft-defender-for-endpoint/defender-for-endpoint-and-disconnected-environments-which-proxy/ba-p/3738899',
    read: SECOND_READING,
    version: 'published 2023-02-21; a lab test on Windows 11 with three proxies',
  },
  'blog-defender-for-servers': {
    title: 'Deploying Microsoft Defender for Servers in Network-Restricted Environments',
    publisher: `${TECH_COMMUNITY}, Core Infrastructure and Security Blog`,
    url: 'https://techcommunity.microsoft.com/t5/core-infrastructure-and-security/deploying-microsoft-defender-for-servers-in-network-restricted/ba-p/3886437',
    read: SECOND_READING,
    version: 'published 2023-07-31',
  },
} as const satisfies Record<string, Source>;

export type SourceKey = keyof typeof SOURCES;

export const SOURCE_KEYS = Object.keys(SOURCES) as SourceKey[];

export function isSourceKey(key: string): key is SourceKey {
  return Object.hasOwn(SOURCES, key);
}

export function source(key: SourceKey): Source {
  return SOURCES[key];
}
