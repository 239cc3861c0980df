import type { Machine } from './machine.js';
import type { SourceId } from './sources.js';

/** One place a component can take its proxy from. */
export type RouteSourceId =
  | 'telemetry-static'
  | 'winhttp'
  | 'wpad'
  | 'user-wininet'
  | 'av-pac'
  | 'av-static'
  | 'internal-update-source'
  | 'mdatp-static'
  | 'mdatp-service-environment'
  | 'linux-install-environment'
  | 'linux-extension-agent'
  | 'mdi-proxy-url'
  | 'mdi-service-wininet'
  | 'ama-extension'
  | 'ama-environment'
  | 'mma-proxy'
  | 'arc-proxy-url'
  | 'arc-environment'
  | 'local'
  | 'direct';

/** What a route source yields on a machine; null means the setting is absent. */
export type RouteCandidate =
  | {
      readonly kind: 'proxy';
      readonly text: string;
      /** A WinHTTP/WinINET list (`http=…;https=…`) rather than a single address. */
      readonly list: boolean;
      readonly bypass: readonly string[];
    }
  | { readonly kind: 'pac'; readonly url: string }
  | { readonly kind: 'direct' }
  | { readonly kind: 'internal-source' }
  | { readonly kind: 'local' }
  /** Configured, but not usable in this situation. */
  | { readonly kind: 'unavailable'; readonly why: string };

export interface RouteSourceDefinition {
  readonly id: RouteSourceId;
  /** How the output names the route. */
  readonly label: string;
  /** The exact setting an admin changes. */
  readonly setting: string;
  readonly sources: readonly SourceId[];
  readonly read: (machine: Machine) => RouteCandidate | null;
}

const proxy = (text: string | null, bypass: readonly string[] = [], list = false): RouteCandidate | null =>
  text === null ? null : { kind: 'proxy', text, list, bypass };

export const ROUTE_SOURCES: Record<RouteSourceId, RouteSourceDefinition> = {
  'telemetry-static': {
    id: 'telemetry-static',
    label: 'static proxy (TelemetryProxyServer)',
    setting: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection\\TelemetryProxyServer',
    sources: ['mde-proxy-2024', 'mde-proxy', 'blog-which-proxy-wins'],
    read: (m) => proxy(m.windows.telemetryProxy),
  },
  winhttp: {
    id: 'winhttp',
    label: 'WinHTTP proxy (netsh)',
    setting: 'WinHTTP default proxy (netsh winhttp set proxy)',
    sources: ['mde-proxy-2024', 'netsh-winhttp', 'blog-which-proxy-wins'],
    read: (m) => proxy(m.windows.winhttp.proxy, m.windows.winhttp.bypass, true),
  },
  wpad: {
    id: 'wpad',
    label: 'WPAD auto-discovery',
    setting: 'WPAD (wpad.dat served through DHCP or DNS)',
    sources: ['mde-proxy-2024'],
    read: (m) => {
      const wpad = m.network.wpad;
      if (wpad === null) return null;
      return wpad.toUpperCase() === 'DIRECT' ? { kind: 'direct' } : proxy(wpad);
    },
  },
  'user-wininet': {
    id: 'user-wininet',
    label: 'WinINET proxy of the logged-on user',
    setting: 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\ProxyServer',
    sources: ['blog-which-proxy-wins', 'blog-disconnected-proxies'],
    read: (m) => {
      const { proxy: text, autoConfigUrl, bypass } = m.windows.wininet;
      if (text === null && autoConfigUrl === null) return null;
      if (!m.userLoggedOn) {
        return { kind: 'unavailable', why: 'nobody is logged on, so no WinINET session exists' };
      }
      if (text === null && autoConfigUrl !== null) return { kind: 'pac', url: autoConfigUrl };
      return proxy(text, bypass, true);
    },
  },
  'av-pac': {
    id: 'av-pac',
    label: 'Defender Antivirus PAC file (ProxyPacUrl)',
    setting: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\ProxyPacUrl',
    sources: ['mde-proxy-2024', 'mde-proxy-2020'],
    read: (m) =>
      m.windows.antivirus.proxyPacUrl ? { kind: 'pac', url: m.windows.antivirus.proxyPacUrl } : null,
  },
  'av-static': {
    id: 'av-static',
    label: 'Defender Antivirus proxy (ProxyServer)',
    setting: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\ProxyServer',
    sources: ['mde-proxy-2024', 'mde-proxy-2020'],
    read: (m) => proxy(m.windows.antivirus.proxyServer, m.windows.antivirus.proxyBypass),
  },
  'internal-update-source': {
    id: 'internal-update-source',
    label: 'internal update source (WSUS, file share, ConfigMgr)',
    setting: 'Set-MpPreference -SignatureFallbackOrder (internal source first)',
    sources: ['mde-proxy-2020', 'blog-disconnected-proxies'],
    read: (m) => (m.windows.internalUpdateSource ? { kind: 'internal-source' } : null),
  },
  'mdatp-static': {
    id: 'mdatp-static',
    label: 'mdatp static proxy',
    setting: 'mdatp config proxy set --value (or managed cloudService.proxy)',
    sources: ['mde-linux-static-proxy'],
    read: (m) => proxy(m.linux.mdatpProxy),
  },
  'mdatp-service-environment': {
    id: 'mdatp-service-environment',
    label: 'HTTPS_PROXY in the mdatp service environment',
    setting: 'Environment="HTTPS_PROXY=…" in mdatp.service',
    sources: ['mde-linux-static-proxy'],
    read: (m) => proxy(m.linux.serviceEnvironmentProxy),
  },
  'linux-install-environment': {
    id: 'linux-install-environment',
    label: 'install-time HTTPS_PROXY',
    setting: 'HTTPS_PROXY in /etc/environment (or Acquire::https::Proxy for apt)',
    sources: ['mde-linux-static-proxy'],
    read: (m) => {
      if (m.linux.installedBy === 'azure-extension') {
        return m.linux.installProxy === null
          ? null
          : {
              kind: 'unavailable',
              why: 'the Azure Linux agent that installs the extension may not read /etc/environment',
            };
      }
      return proxy(m.linux.installProxy);
    },
  },
  'linux-extension-agent': {
    id: 'linux-extension-agent',
    label: 'walinuxagent proxy (systemd drop-in)',
    setting: '/lib/systemd/system/walinuxagent.service.d/13-Proxy.conf (Environment=https_proxy=…)',
    sources: ['blog-defender-for-servers'],
    read: (m) => (m.linux.installedBy === 'azure-extension' ? proxy(m.linux.extensionAgentProxy) : null),
  },
  'mdi-proxy-url': {
    id: 'mdi-proxy-url',
    label: 'Defender for Identity sensor proxy (ProxyUrl)',
    setting: 'Set-MDISensorProxyConfiguration -ProxyUrl',
    sources: ['mdi-proxy'],
    read: (m) => proxy(m.mdi.proxyUrl),
  },
  'mdi-service-wininet': {
    id: 'mdi-service-wininet',
    label: 'WinINET settings of the service accounts (legacy)',
    setting: 'HKU\\S-1-5-19 and HKU\\S-1-5-18 …\\Internet Settings\\Connections\\DefaultConnectionSettings',
    sources: ['mdi-proxy'],
    read: (m) => proxy(m.mdi.serviceAccountWininetProxy, [], true),
  },
  'ama-extension': {
    id: 'ama-extension',
    label: 'AMA extension proxy setting',
    setting: 'extension settings {"proxy":{"mode":"application","address":…}}',
    sources: ['ama-network'],
    read: (m) => (m.ama.proxyMode === 'application' ? proxy(m.ama.address) : null),
  },
  'ama-environment': {
    id: 'ama-environment',
    label: 'http(s)_proxy environment (Linux AMA 1.24.2 and later)',
    setting: 'https_proxy in the agent environment (DefaultEnvironment in /etc/systemd/system.conf)',
    sources: ['ama-network'],
    read: (m) => (m.platform === 'linux' ? proxy(m.ama.environmentProxy) : null),
  },
  'mma-proxy': {
    id: 'mma-proxy',
    label: 'Log Analytics agent proxy setting',
    setting: 'Microsoft Monitoring Agent proxy (AgentConfigManager.MgmtSvcCfg SetProxyInfo)',
    sources: ['mma-overview'],
    read: (m) => proxy(m.mma.proxy),
  },
  'arc-proxy-url': {
    id: 'arc-proxy-url',
    label: 'Arc agent proxy.url',
    setting: 'azcmagent config set proxy.url',
    sources: ['arc-proxy'],
    read: (m) => proxy(m.arc.proxyUrl),
  },
  'arc-environment': {
    id: 'arc-environment',
    label: 'HTTPS_PROXY environment variable',
    setting: 'HTTPS_PROXY machine environment variable',
    sources: ['arc-proxy'],
    read: (m) => proxy(m.arc.environmentProxy),
  },
  local: {
    id: 'local',
    label: 'on the device',
    setting: '(none)',
    sources: ['blog-disconnected-proxies'],
    read: () => ({ kind: 'local' }),
  },
  direct: {
    id: 'direct',
    label: 'direct connection',
    setting: '(none)',
    sources: ['mde-proxy-2024'],
    read: () => ({ kind: 'direct' }),
  },
};
