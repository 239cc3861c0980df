/**
 * The sources the client generators cite. Keys are the ones used across Airlock's research
 * notes (R-numbers, and the five seed articles); every generated file names the keys it follows,
 * and the README lists the ones it used with the document they stand for.
 */
export const CLIENT_SOURCES = {
  R2: 'MicrosoftDocs/defender-docs, defender-endpoint/streamlined-device-connectivity-urls-commercial.md',
  R4: 'MicrosoftDocs/defender-docs, defender-endpoint/configure-environment.md',
  R5: 'MicrosoftDocs/defender-docs, defender-endpoint/configure-proxy-internet.md (2024)',
  R6: 'learn.microsoft.com, "Configure proxy connectivity for Microsoft Defender for Endpoint on Windows" (newer rewrite of R5)',
  R7: 'MicrosoftDocs/microsoft-365-docs, security/defender-endpoint/configure-proxy-internet.md (older version)',
  R8: 'MicrosoftDocs/defender-docs, defender-endpoint/configure-network-connections-microsoft-defender-antivirus.md',
  R9: 'MicrosoftDocs/defender-docs, defender-endpoint/verify-connectivity.md',
  R13: 'MicrosoftDocs/defender-docs, defender-endpoint/linux-static-proxy-configuration.md',
  R14: 'MicrosoftDocs/defender-docs, defender-endpoint/linux-support-connectivity.md',
  R15: 'MicrosoftDocs/defender-docs, microsoft-defender-endpoint-mac-prerequisites.md and the macOS preferences page',
  R16: 'microsoft/mdatp-xplat: linux/configs/mdatp_managed.json, macos/schema/schema.json, linux/installation/mde_installer.sh',
  R20: 'MicrosoftDocs/ATADocs, ATPDocs/deploy/configure-proxy.md',
  R21: 'MicrosoftDocs/ATADocs, ATPDocs/deploy/install-sensor.md',
  R22: 'MicrosoftDocs/ATADocs, ATPDocs/deploy/test-connectivity.md',
  R23: 'MicrosoftDocs/ATADocs, ATPDocs/troubleshooting-known-issues.md',
  R25: 'MicrosoftDocs/azure-docs, azure-monitor/agents/azure-monitor-agent-network-configuration.md',
  R26: 'MicrosoftDocs/azure-docs, azure-monitor/agents/agent-manage.md (AMA networking table)',
  R27: 'MicrosoftDocs/azure-docs, azure-monitor/agents/log-analytics-agent.md and agent-manage "Update proxy settings"',
  R29: 'learn.microsoft.com, "Manage and maintain Azure Connected Machine agent proxy settings"',
  R30: 'MicrosoftDocs/azure-docs, azure-arc/servers/azcmagent-config.md',
  R31: 'MicrosoftDocs/azure-docs, azure-arc/servers/arc-gateway.md',
  R32: 'learn.microsoft.com, "Netsh.exe commands" (WinHTTP)',
  R33: 'Policy CSP reference, System/TelemetryProxy',
  R34: 'Set-MpPreference reference (windows-powershell-docs)',
  R44: 'Azure docs: Linux VM agent proxy settings; SAP-on-Azure guide (proxy exception for 168.63.129.16)',
  'seed 001': 'Lab article: which proxy configuration wins for Defender for Endpoint on Windows',
  'seed 003': 'Article: deploying Microsoft Defender for Servers in network-restricted environments',
  'seed 004': "Microsoft's reference article on MDE proxy configuration (registry, GPO, netsh)",
  'apt-transport-http(1)': 'APT manual page: per-host proxies with Acquire::http(s)::Proxy::<host>',
  'dnf.conf(5)': 'DNF manual page (and yum.conf(5)): the per-repository "proxy" option',
} as const;

export type SourceKey = keyof typeof CLIENT_SOURCES;

/** `[R5][R6]` */
export function cite(keys: readonly SourceKey[]): string {
  return keys.map((k) => `[${k}]`).join('');
}
