/**
 * The built-in destination list used when a configuration names no destinations: the hosts
 * Microsoft Defender for Endpoint (standard and streamlined connectivity), Defender Antivirus
 * and Defender for Identity need in a commercial tenant, every geography. Where Microsoft
 * publishes a narrower name than a wildcard, the narrow name is used: the MDE storage
 * accounts instead of `*.blob.core.windows.net`.
 *
 * Sources: Microsoft's "standard device connectivity URLs (commercial)" list, the streamlined
 * list, "Configure network connections for Defender Antivirus" and the Defender for Identity
 * proxy article. This list is data only; the endpoint catalog (products, services,
 * geographies) supersedes it.
 */
export interface DefaultAllowlistEntry {
  readonly host: string;
  readonly why: string;
}

const entry = (host: string, why: string): DefaultAllowlistEntry => ({ host, why });

const regionalStorage = (prefixes: readonly string[], why: string): DefaultAllowlistEntry[] =>
  prefixes.map((p) => entry(`${p}.blob.core.windows.net`, why));

export const DEFAULT_ALLOWLIST: readonly DefaultAllowlistEntry[] = [
  // Certificate revocation and trust lists (plain HTTP on port 80).
  entry('crl.microsoft.com', 'CRL for the TLS connection to MAPS'),
  entry('www.microsoft.com', 'CRL and certificate paths /pkiops/ and /pki/; AV definition page'),
  entry('oneocsp.microsoft.com', 'OCSP for Microsoft-issued certificates'),
  entry('ocsp.msocsp.com', 'OCSP for Microsoft-issued certificates'),
  entry('crl3.digicert.com', 'CRL for DigiCert-chained Azure services (Defender for Identity)'),
  entry('crl4.digicert.com', 'CRL for DigiCert-chained Azure services (Defender for Identity)'),
  entry('ocsp.digicert.com', 'OCSP for DigiCert-chained Azure services (Defender for Identity)'),

  // Common MDE endpoints (worldwide).
  entry('events.data.microsoft.com', 'Connected User Experiences and Telemetry'),
  entry('*.events.data.microsoft.com', 'EDR cyber data (<geo>-v20) and Defender Core telemetry'),
  entry('settings-win.data.microsoft.com', 'settings for Windows 10 1703 and older'),
  entry('vortex-win.data.microsoft.com', 'cyber data for Windows before 1803'),
  entry('us.vortex-win.data.microsoft.com', 'cyber data for Windows before 1803 (US)'),
  entry('eu.vortex-win.data.microsoft.com', 'cyber data for Windows before 1803 (EU)'),
  entry('uk.vortex-win.data.microsoft.com', 'cyber data for Windows before 1803 (UK)'),
  entry('au.vortex-win.data.microsoft.com', 'cyber data for Windows before 1803 (AU)'),
  entry('*.endpoint.security.microsoft.com', 'streamlined connectivity: consolidated Defender services'),
  entry('reflector.defender.microsoft.com', 'IPv6 connectivity probe'),
  entry('login.microsoftonline.com', 'Entra ID sign-in: Live Response, Security Management registration'),
  entry('login.live.com', 'Live Response (WNS)'),
  entry('login.windows.net', 'network scanner and Entra ID sign-in'),
  entry('enterpriseregistration.windows.net', 'Security Management: Entra registration'),
  entry('*.dm.microsoft.com', 'Security Management: enrollment, check-in, reporting'),
  entry('ecs.office.com', 'feature configuration for the Defender Core service (listed as *ecs.office.com)'),

  // Command and control, per geography.
  ...[
    'cus',
    'eus',
    'cus3',
    'eus3',
    'neu',
    'weu',
    'neu3',
    'weu3',
    'uks',
    'ukw',
    'aue',
    'aus',
    'aec0a',
    'aen0a',
  ].map((dc) => entry(`winatp-gw-${dc}.microsoft.com`, 'EDR command and control')),

  // Defender Antivirus: cloud protection, updates, SmartScreen.
  entry('*.wdcp.microsoft.com', 'cloud-delivered protection (MAPS)'),
  entry('*.wdcpalt.microsoft.com', 'cloud-delivered protection (MAPS), alternate'),
  entry(
    '*.wd.microsoft.com',
    'cloud-delivered protection and security intelligence (x.cp, <geo>.x.cp, cdn.x.cp)',
  ),
  entry('go.microsoft.com', 'security intelligence update redirector'),
  entry('definitionupdates.microsoft.com', 'security intelligence updates'),
  entry('*.update.microsoft.com', 'Microsoft Update / Windows Update'),
  entry('*.delivery.mp.microsoft.com', 'Microsoft Update delivery'),
  entry(
    '*.windowsupdate.com',
    'Windows Update, alternate download location, ctldl (certificate trust lists)',
  ),
  entry('*.download.microsoft.com', 'alternate download location'),
  entry('packages.microsoft.com', 'Linux agent install and update'),
  entry('*.smartscreen-prod.microsoft.com', 'SmartScreen and network protection'),
  entry('*.smartscreen.microsoft.com', 'SmartScreen and network protection'),
  entry('*.checkappexec.microsoft.com', 'SmartScreen app reputation'),
  entry('*.urs.microsoft.com', 'SmartScreen URL reputation'),

  // Automated investigation and sample submission storage accounts.
  ...regionalStorage(
    [
      'cus',
      'eus',
      'cus3',
      'eus3',
      'neu',
      'weu',
      'neu3',
      'weu3',
      'uks',
      'ukw',
      'aue',
      'aus',
      'aen0a',
      'aec0a',
    ].map((dc) => `automatedirstrprd${dc}`),
    'automated investigation sample storage',
  ),
  ...regionalStorage(
    [
      'ussus1eastprod',
      'ussus2eastprod',
      'ussus3eastprod',
      'ussus4eastprod',
      'ussus1westprod',
      'ussus2westprod',
      'ussus3westprod',
      'ussus4westprod',
      'wsus1eastprod',
      'wsus2eastprod',
      'wsus1westprod',
      'wsus2westprod',
      'usseu1northprod',
      'usseu1westprod',
      'wseu1northprod',
      'wseu1westprod',
      'ussuk1southprod',
      'ussuk1westprod',
      'wsuk1southprod',
      'wsuk1westprod',
      'ussau1southeastprod',
      'ussau1eastprod',
    ],
    'malware sample submission storage',
  ),

  // Defender for Identity: the sensor API is <workspace>sensorapi.atp.azure.com; without the
  // workspace name only the documented wildcard can be used.
  entry('*.atp.azure.com', 'Defender for Identity sensor API (<workspace>sensorapi.atp.azure.com)'),
];
