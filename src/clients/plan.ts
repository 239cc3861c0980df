import {
  DEFAULT_PRODUCTS,
  PRODUCTS,
  PRODUCT_LABELS,
  SHARED_NAMESPACES,
  TEMPLATE_PARAMS,
  parseCatalogSelection,
  selectDestinations,
  type Catalog,
  type CatalogSelectionResult,
  type Product,
} from '../catalog/index.js';
import { AirlockError } from '../errors/index.js';
import { Citations, type SourceKey } from '../sources/index.js';
import {
  amaPolicyParameters,
  amaSettings,
  jsonFile,
  mmaLinuxProtectedSettings,
  mmaPolicyParameters,
  mmaWindowsSettings,
  renderMmaWindowsPowerShell,
  renderOmsagentScript,
} from './ama-mma.js';
import { renderArcLinux, renderArcWindows } from './arc.js';
import {
  CLIENT_OSES,
  lf,
  type ClientFile,
  type ClientNote,
  type ClientOs,
  type ClientTarget,
} from './client-file.js';
import { preferStaticProxyValue, renderRevocationNote } from './crl.js';
import {
  parseArcBypass,
  parseBypassEntry,
  parseGatewayAddress,
  parsePacUrl,
  type ArcBypassGroup,
  type GatewayAddress,
} from './gateway-address.js';
import {
  renderAptProxyConf,
  renderMdatpManagedJson,
  renderMdatpProxyScript,
  renderYumDnfProxyScript,
} from './linux-mdatp.js';
import { renderMacosPreferences } from './macos.js';
import { renderMdiInstallCmd, renderMdiProxyPowerShell } from './mdi.js';
import { renderWinHttpReset, renderWinHttpSet } from './netsh.js';
import { pacOptionErrors, renderPac, type PacRule } from './pac.js';
import { renderWalinuxagentDropIn, renderWalinuxagentScript } from './systemd.js';
import {
  defenderRegistryValues,
  renderGpoTable,
  renderRegFile,
  renderRegistryPowerShell,
} from './windows-registry.js';

/** What `airlock clients` was asked for, as typed (lists may also hold comma-separated values). */
export interface ClientPlanInput {
  readonly gateways: readonly string[];
  readonly products: readonly string[];
  readonly os: readonly string[];
  /** Hosts Windows clients reach without the gateway (netsh bypass list, Defender Antivirus ProxyBypass). */
  readonly bypass?: readonly string[] | undefined;
  /** Defender Antivirus ProxyPacUrl. */
  readonly pacUrl?: string | undefined;
  /**
   * Where a gateway serves its PAC file, when the gateway configuration says (used for
   * ProxyPacUrl when --pac-url is not given).
   */
  readonly servedPacUrl?: string | undefined;
  /** Azure Arc proxy.bypass groups. */
  readonly arcBypass?: readonly string[] | undefined;
  /** PAC answer for hosts off the allowlist (default DIRECT). */
  readonly otherwise?: string | undefined;
  /** Host rules for proxy.pac (a gateway's effective policy); default: the products' catalog rules. */
  readonly pacRules?: readonly PacRule[] | undefined;
}

export interface ClientPlan {
  readonly gateways: readonly GatewayAddress[];
  readonly products: readonly Product[];
  readonly os: readonly ClientOs[];
  /** Every file, README.md last. */
  readonly files: readonly ClientFile[];
  readonly notes: readonly ClientNote[];
}

/** Which OSes each product has client settings for, and why not where it has none. */
const CLIENT_SUPPORT: Readonly<Record<Product, { readonly os: readonly ClientOs[]; readonly why?: string }>> =
  {
    mde: { os: ['windows', 'linux', 'macos'] },
    'mde-streamlined': { os: ['windows', 'linux', 'macos'] },
    mdav: {
      os: ['windows'],
      why: 'its proxy settings are Windows policies; on Linux and macOS the antivirus is part of Defender for Endpoint and follows its proxy (use --product mde)',
    },
    mdi: { os: ['windows'], why: 'the Defender for Identity sensor runs on Windows servers only' },
    ama: { os: ['windows', 'linux'] },
    mma: { os: ['windows', 'linux'] },
    arc: { os: ['windows', 'linux'] },
    'arc-gateway': {
      os: [],
      why: 'machines reach the Arc gateway through the Arc agent: use --product arc',
    },
    'arc-sql': {
      os: [],
      why: 'Airlock writes no settings of its own for it; the Arc agent proxy is --product arc',
    },
    'arc-wac': {
      os: [],
      why: 'Airlock writes no settings of its own for it; the Arc agent proxy is --product arc',
    },
    automation: { os: [], why: 'Airlock writes no client settings for Azure Automation' },
  };

/** `["mde,mdi", "ama"]` → `["mde", "mdi", "ama"]` */
function splitList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

interface ValidatedInput {
  readonly gateways: GatewayAddress[];
  readonly products: Product[];
  readonly os: ClientOs[];
  readonly bypass: string[];
  readonly pacUrl: string | undefined;
  /** Where the PAC URL came from: --pac-url, or the gateway configuration. */
  readonly pacUrlFrom: 'flag' | 'config' | null;
  readonly arcBypass: ArcBypassGroup[];
  readonly otherwise: string | undefined;
  readonly skipped: { product: Product; os: ClientOs }[];
}

function parseGateways(values: readonly string[], errors: string[]): GatewayAddress[] {
  const gateways: GatewayAddress[] = [];
  for (const text of values) {
    const parsed = parseGatewayAddress(text);
    if (parsed.ok) gateways.push(parsed.value);
    else errors.push(parsed.error);
  }
  return gateways.filter((g, i) => gateways.findIndex((o) => o.authority === g.authority) === i);
}

function parseProducts(values: readonly string[], errors: string[]): Product[] {
  const products: Product[] = [];
  for (const text of splitList(values)) {
    const id = text.toLowerCase();
    if ((PRODUCTS as readonly string[]).includes(id)) products.push(id as Product);
    else
      errors.push(
        `--product ${JSON.stringify(text)}: not a product in the catalog (one of ${PRODUCTS.join(', ')})`,
      );
  }
  return unique(products);
}

function validateInput(input: ClientPlanInput): ValidatedInput {
  const errors: string[] = [];
  if (input.gateways.length === 0) errors.push('--gateway: give at least one gateway as host:port');
  const gateways = parseGateways(input.gateways, errors);

  const productTexts = splitList(input.products);
  if (productTexts.length === 0) errors.push(`--product: give at least one of ${PRODUCTS.join(', ')}`);
  const products = parseProducts(input.products, errors);

  const os: ClientOs[] = [];
  const osTexts = splitList(input.os);
  if (osTexts.length === 0) errors.push(`--os: give at least one of ${CLIENT_OSES.join(', ')}`);
  for (const text of osTexts) {
    const id = text.toLowerCase();
    if ((CLIENT_OSES as readonly string[]).includes(id)) os.push(id as ClientOs);
    else errors.push(`--os ${JSON.stringify(text)}: not one of ${CLIENT_OSES.join(', ')}`);
  }

  const skipped: { product: Product; os: ClientOs }[] = [];
  for (const product of products) {
    const support = CLIENT_SUPPORT[product];
    if (support.os.length === 0) {
      errors.push(
        `--product ${product}: no client configuration for ${PRODUCT_LABELS[product]}: ${support.why ?? ''}`,
      );
      continue;
    }
    const wanted = unique(os);
    const usable = wanted.filter((o) => support.os.includes(o));
    if (wanted.length > 0 && usable.length === 0) {
      errors.push(
        `--product ${product} does not run on ${wanted.join(' or ')} (it has settings for ${support.os.join(', ')})${support.why === undefined ? '' : `: ${support.why}`}`,
      );
      continue;
    }
    for (const o of wanted) if (!support.os.includes(o)) skipped.push({ product, os: o });
  }

  const bypass: string[] = [];
  for (const text of splitList(input.bypass ?? [])) {
    const parsed = parseBypassEntry(text);
    if (parsed.ok) bypass.push(parsed.value);
    else errors.push(parsed.error);
  }
  let pacUrl: string | undefined;
  let pacUrlFrom: ValidatedInput['pacUrlFrom'] = null;
  if (input.pacUrl !== undefined) {
    const parsed = parsePacUrl(input.pacUrl);
    if (parsed.ok) {
      pacUrl = parsed.value;
      pacUrlFrom = 'flag';
    } else errors.push(parsed.error);
  } else if (input.servedPacUrl !== undefined) {
    const parsed = parsePacUrl(input.servedPacUrl);
    if (parsed.ok) {
      pacUrl = parsed.value;
      pacUrlFrom = 'config';
    } else errors.push(`the PAC address the gateway configuration gives: ${parsed.error}`);
  }
  const arcBypass: ArcBypassGroup[] = [];
  for (const text of splitList(input.arcBypass ?? [])) {
    const parsed = parseArcBypass(text);
    if (parsed.ok) arcBypass.push(parsed.value);
    else errors.push(parsed.error);
  }
  if (input.otherwise !== undefined) {
    errors.push(
      ...pacOptionErrors({ proxies: gateways.map((g) => g.authority), otherwise: input.otherwise }).map(
        (e) => `--otherwise: ${e}`,
      ),
    );
  }
  if (errors.length > 0) throw new AirlockError('USAGE', errors.join('\n'));
  return {
    gateways,
    products,
    os: unique(os),
    bypass: unique(bypass),
    pacUrl,
    pacUrlFrom,
    arcBypass: unique(arcBypass),
    otherwise: input.otherwise,
    skipped,
  };
}

/** The catalog rules for the products (default geographies and services), for the PAC file and the revocation hosts. */
export function catalogRulesFor(catalog: Catalog, products: readonly Product[]): CatalogSelectionResult {
  const parsed = parseCatalogSelection({ products: [...products] }, 'catalog');
  if (!parsed.ok) throw new AirlockError('USAGE', parsed.errors.join('\n'));
  return selectDestinations(catalog, parsed.selection);
}

export interface PacPlanInput {
  readonly gateways: readonly string[];
  /** Products whose catalog hosts go to the gateway (default: the catalog's default products). */
  readonly products?: readonly string[] | undefined;
  readonly otherwise?: string | undefined;
  /** Host rules to use instead of the products' catalog rules (a gateway's effective policy). */
  readonly rules?: readonly PacRule[] | undefined;
}

/** `airlock clients --format pac`: the PAC file for the products' catalog hosts. */
export function planPac(input: PacPlanInput, catalog: Catalog): string {
  const errors: string[] = [];
  if (input.gateways.length === 0) errors.push('--gateway: give at least one gateway as host:port');
  const gateways = parseGateways(input.gateways, errors);
  const products =
    input.products === undefined || splitList(input.products).length === 0
      ? [...DEFAULT_PRODUCTS]
      : parseProducts(input.products, errors);
  if (errors.length > 0) throw new AirlockError('USAGE', errors.join('\n'));
  return renderPac(input.rules ?? catalogRulesFor(catalog, products).rules, {
    proxies: gateways.map((g) => g.authority),
    otherwise: input.otherwise,
    generatedBy: '"airlock clients --format pac"',
  });
}

interface Builder {
  readonly files: ClientFile[];
  readonly notes: ClientNote[];
  add(file: ClientFile): void;
  note(
    level: ClientNote['level'],
    code: ClientNote['code'],
    message: string,
    source: readonly SourceKey[],
  ): void;
}

function builder(): Builder {
  const files: ClientFile[] = [];
  const notes: ClientNote[] = [];
  return {
    files,
    notes,
    add: (file) => void files.push(file),
    note: (level, code, message, source) => void notes.push({ level, code, message, source }),
  };
}

function on(v: ValidatedInput, os: ClientOs, ...products: Product[]): Product[] {
  if (!v.os.includes(os)) return [];
  return v.products.filter((p) => products.includes(p) && CLIENT_SUPPORT[p].os.includes(os));
}

function windowsFiles(
  v: ValidatedInput,
  gw: GatewayAddress,
  b: Builder,
  revocationHosts: readonly string[],
): void {
  const defender = on(v, 'windows', 'mde', 'mde-streamlined', 'mdav');
  const sensor = defender.filter((p) => p !== 'mdav');
  if (defender.length > 0) {
    const values = defenderRegistryValues(gw, {
      edr: sensor.length > 0,
      antivirus: true,
      products: defender,
      pacUrl: v.pacUrl,
      bypass: v.bypass,
    });
    if (sensor.length > 0) values.push(preferStaticProxyValue(sensor));
    const fallback =
      sensor.length > 0
        ? [
            "If the gateway cannot be reached, Microsoft's Defender for Endpoint pages say the EDR sensor falls",
            'back to direct access, while the Windows policy reference says the default proxy configuration is used.',
          ]
        : [];
    const regHeader = [
      `Defender proxy settings for the Airlock gateway ${gw.authority} (${defender.join(', ')}).`,
      'Generated by "airlock clients". Import elevated: reg import defender-proxy.reg',
      'Same values as Set-DefenderProxy.ps1 and defender-proxy-gpo.md: use one of the three.',
      "Group Policy location only: Microsoft's proxy page advises against pushing TelemetryProxyServer through MDM.",
      ...fallback,
    ];
    b.add({
      path: 'windows/defender-proxy.reg',
      contents: renderRegFile(values, regHeader, [
        'mde-proxy',
        ...(sensor.length > 0
          ? (['mde-proxy-2020', 'mde-verify-connectivity', 'policy-csp-telemetry-proxy'] as const)
          : []),
      ]),
      description:
        'Defender policy registry values as a .reg file (UTF-16LE); import with regedit or reg import',
      runWhere: 'each Windows endpoint, elevated (or push the file with your software distribution)',
      order: 10,
      target: 'windows',
      products: defender,
      source: ['mde-proxy-2024', 'mde-proxy', 'set-mppreference', 'mde-proxy-2020'],
    });
    b.add({
      path: 'windows/Set-DefenderProxy.ps1',
      contents: renderRegistryPowerShell(values, {
        synopsis: `Defender proxy settings for the Airlock gateway ${gw.authority} (${defender.join(', ')}).`,
        notes: [
          'The same values as defender-proxy.reg and defender-proxy-gpo.md: use one of the three.',
          ...fallback,
          'Defender Antivirus caches the last proxy that worked.',
        ],
        sources: ['mde-proxy-2024', 'mde-proxy', 'mde-verify-connectivity', 'policy-csp-telemetry-proxy'],
      }),
      description: 'the same values, set by an idempotent PowerShell script (-WhatIf, reads back)',
      runWhere: 'each Windows endpoint, elevated PowerShell',
      order: 10,
      target: 'windows',
      products: defender,
      source: ['mde-proxy-2024', 'mde-proxy', 'set-mppreference'],
    });
    b.add({
      path: 'windows/defender-proxy-gpo.md',
      contents: renderGpoTable(
        values,
        `Group Policy for the Airlock gateway ${gw.authority}`,
        [
          'The EDR settings (Data Collection and Preview Builds) and the Defender Antivirus settings are',
          'separate: both are needed for Defender for Endpoint.',
          ...fallback,
        ],
        ['mde-proxy-2024', 'mde-proxy-2020', 'mde-verify-connectivity', 'policy-csp-telemetry-proxy'],
      ),
      description: 'the same values as Group Policy settings (ADMX, path, setting, value)',
      runWhere: "Group Policy Management, linked to the endpoints' OU",
      order: 10,
      target: 'windows',
      products: defender,
      source: ['mde-proxy-2024', 'mde-proxy', 'policy-csp-telemetry-proxy'],
    });
    b.add({
      path: 'windows/certificate-revocation.md',
      contents: renderRevocationNote({
        gateway: gw,
        sensor: sensor.length > 0,
        antivirus: true,
        revocationHosts,
      }),
      description: 'why revocation checks fail behind the gateway, and the fixes with their costs',
      runWhere: 'read it before choosing winhttp-proxy.cmd',
      order: 20,
      target: 'windows',
      products: defender,
      source: ['mdav-network', 'mde-proxy', 'mde-proxy-2024', 'mde-network-environment'],
    });
    b.add({
      path: 'windows/winhttp-proxy.cmd',
      contents: renderWinHttpSet(gw, v.bypass),
      description:
        'machine-wide WinHTTP proxy with a bypass list (servers and fixed desktops only, never roaming laptops)',
      runWhere:
        'Windows servers and fixed desktops that must fetch revocation lists through the gateway, elevated',
      order: 20,
      target: 'windows',
      products: defender,
      source: ['mde-proxy-2024', 'mde-proxy-2020', 'netsh-winhttp', 'mdav-network'],
      optional: true,
    });
    b.add({
      path: 'windows/winhttp-reset.cmd',
      contents: renderWinHttpReset(gw),
      description: 'removes the WinHTTP proxy again (netsh winhttp reset proxy)',
      runWhere: 'where winhttp-proxy.cmd was run, elevated, to undo it',
      order: 20,
      target: 'windows',
      products: defender,
      source: ['mde-proxy-2024', 'netsh-winhttp'],
      optional: true,
    });
    if (sensor.length > 0) {
      b.note(
        'warning',
        'SOURCES_DISAGREE',
        "EDR sensor fallback when the gateway is unreachable: Microsoft's Defender for Endpoint pages say direct access, the Windows policy reference says the default proxy configuration. Behind an allowlist gateway either way means no connection, so run more than one gateway behind one name.",
        ['mde-proxy-2020', 'mde-verify-connectivity', 'policy-csp-telemetry-proxy'],
      );
      b.note(
        'info',
        'CAUTION',
        "TelemetryProxyServer is written to the Group Policy location; Microsoft's proxy page advises against setting it through MDM, and no source documents the non-policy DataCollection key.",
        ['mde-proxy', 'policy-csp-telemetry-proxy'],
      );
    }
    b.note(
      'warning',
      'SOURCES_DISAGREE',
      "SSLOptions for devices that cannot reach revocation lists: Microsoft's proxy page suggests 2, the streamlined URL list says 0. Airlock emits neither; certificate-revocation.md gives the fixes that keep revocation checking on.",
      ['mde-proxy', 'mde-urls-streamlined', 'mdav-network'],
    );
    if (v.bypass.length > 0) {
      b.note(
        'warning',
        'OPEN_QUESTION',
        `ProxyBypass (${v.bypass.join(';')}): no source documents the list separator in the registry value; ";" is written. Check the result with Get-MpPreference.`,
        ['set-mppreference'],
      );
    }
    if (v.pacUrl !== undefined) {
      b.note(
        'warning',
        'OPEN_QUESTION',
        'Defender Antivirus gets both ProxyServer and ProxyPacUrl; no source says which one wins when both are set.',
        ['mde-proxy-2024', 'mde-proxy'],
      );
    }
  }

  const mdi = on(v, 'windows', 'mdi');
  if (mdi.length > 0) {
    b.add({
      path: 'windows/mdi-install-sensor.cmd',
      contents: renderMdiInstallCmd(gw),
      description: 'installs the Defender for Identity sensor with ProxyUrl (new sensors)',
      runWhere:
        'each server that gets the sensor (domain controllers and the other servers MDI protects), elevated, next to the installer',
      order: 30,
      target: 'windows',
      products: mdi,
      source: ['mdi-install-sensor', 'mdi-proxy'],
    });
    b.add({
      path: 'windows/Set-MDISensorProxy.ps1',
      contents: renderMdiProxyPowerShell(gw),
      description:
        'sets the proxy of an installed sensor with Set-MDISensorProxyConfiguration and tests the API',
      runWhere: 'each server with an installed sensor, elevated PowerShell',
      order: 30,
      target: 'windows',
      products: mdi,
      source: ['mdi-proxy', 'mdi-test-connectivity'],
    });
    b.note(
      'info',
      'OPEN_QUESTION',
      'Defender for Identity capabilities activated through the Defender for Endpoint sensor use the MDE settings; whether that sensor needs MDI-specific hosts is not documented.',
      ['mdi-proxy'],
    );
  }

  const mma = on(v, 'windows', 'mma');
  if (mma.length > 0) {
    b.add({
      path: 'windows/Set-MmaProxy.ps1',
      contents: renderMmaWindowsPowerShell(gw),
      description: 'sets the Log Analytics agent (MMA) proxy on a machine through its COM object',
      runWhere:
        'each Windows machine with the MMA, elevated PowerShell (or use the extension settings in azure/)',
      order: 40,
      target: 'windows',
      products: mma,
      source: ['mma-overview'],
    });
  }

  const arc = on(v, 'windows', 'arc');
  if (arc.length > 0) {
    b.add({
      path: 'windows/arc-proxy.cmd',
      contents: renderArcWindows(gw, v.arcBypass),
      description: 'azcmagent config set proxy.url (and proxy.bypass), then azcmagent show and check',
      runWhere: 'each Arc-enabled Windows server, elevated',
      order: 50,
      target: 'windows',
      products: arc,
      source: ['arc-proxy', 'arc-azcmagent-config', 'arc-gateway'],
    });
  }
}

function linuxFiles(v: ValidatedInput, gw: GatewayAddress, b: Builder): void {
  const mde = on(v, 'linux', 'mde', 'mde-streamlined');
  if (mde.length > 0) {
    b.add({
      path: 'linux/walinuxagent-proxy.sh',
      contents: renderWalinuxagentScript(gw),
      description:
        'installs 13-Proxy.conf for the Azure Linux Agent, daemon-reload, restart (before the MDE.Linux extension)',
      runWhere: 'Azure VMs onboarded by Defender for Servers, as root',
      order: 10,
      target: 'linux',
      products: mde,
      source: ['blog-defender-for-servers', 'azure-linux-agent'],
    });
    b.add({
      path: 'linux/13-Proxy.conf',
      contents: renderWalinuxagentDropIn(gw),
      description: 'the systemd drop-in walinuxagent-proxy.sh installs, for configuration management',
      runWhere: '/lib/systemd/system/walinuxagent.service.d/ on Azure VMs',
      order: 10,
      target: 'linux',
      products: mde,
      source: ['blog-defender-for-servers'],
    });
    b.add({
      path: 'linux/apt-microsoft-proxy.conf',
      contents: renderAptProxyConf(gw),
      description: 'install-time proxy for apt, packages.microsoft.com only',
      runWhere:
        '/etc/apt/apt.conf.d/90airlock-microsoft-proxy.conf on Debian and Ubuntu, before installing mdatp',
      order: 20,
      target: 'linux',
      products: mde,
      source: ['mde-linux-static-proxy', 'apt-transport-http'],
    });
    b.add({
      path: 'linux/yum-dnf-microsoft-proxy.sh',
      contents: renderYumDnfProxyScript(gw),
      description: 'install-time proxy for yum/dnf, the packages.microsoft.com repositories only',
      runWhere:
        'RHEL-family machines, as root, after adding the Microsoft repository and before installing mdatp',
      order: 20,
      target: 'linux',
      products: mde,
      source: ['mde-linux-static-proxy', 'mdatp-xplat', 'dnf-conf'],
    });
    b.add({
      path: 'linux/mdatp-proxy.sh',
      contents: renderMdatpProxyScript(gw),
      description: 'mdatp config proxy set, then mdatp connectivity test',
      runWhere: 'each Linux endpoint after mdatp is installed, as root',
      order: 30,
      target: 'linux',
      products: mde,
      source: ['mde-linux-static-proxy', 'mde-linux-connectivity'],
    });
    b.add({
      path: 'linux/mdatp_managed.json',
      contents: renderMdatpManagedJson(gw),
      description: 'the same proxy as a managed-configuration fragment (instead of mdatp-proxy.sh)',
      runWhere: 'merged into /etc/opt/microsoft/mdatp/managed/mdatp_managed.json by configuration management',
      order: 30,
      target: 'linux',
      products: mde,
      source: ['mde-linux-static-proxy', 'mdatp-xplat'],
    });
    b.note(
      'info',
      'CAUTION',
      'Linux Defender for Endpoint takes a static or transparent proxy only: no PAC, WPAD or proxy authentication.',
      ['mde-linux-connectivity', 'blog-defender-for-servers'],
    );
  }
  const mma = on(v, 'linux', 'mma');
  if (mma.length > 0) {
    b.add({
      path: 'linux/omsagent-proxy.sh',
      contents: renderOmsagentScript(gw),
      description: 'writes proxy.conf for the Log Analytics agent for Linux and restarts it',
      runWhere: 'each Linux machine with omsagent, as root (or use the extension settings in azure/)',
      order: 40,
      target: 'linux',
      products: mma,
      source: ['mma-overview'],
    });
  }
  const arc = on(v, 'linux', 'arc');
  if (arc.length > 0) {
    b.add({
      path: 'linux/arc-proxy.sh',
      contents: renderArcLinux(gw, v.arcBypass),
      description: 'azcmagent config set proxy.url (and proxy.bypass), then azcmagent show and check',
      runWhere: 'each Arc-enabled Linux server, as root',
      order: 50,
      target: 'linux',
      products: arc,
      source: ['arc-proxy', 'arc-azcmagent-config', 'arc-gateway'],
    });
  }
}

function macosFiles(v: ValidatedInput, gw: GatewayAddress, b: Builder): void {
  const mde = on(v, 'macos', 'mde', 'mde-streamlined');
  if (mde.length === 0) return;
  b.add({
    path: 'macos/com.microsoft.wdav.plist',
    contents: renderMacosPreferences(gw),
    description:
      'cloudService.proxy for the com.microsoft.wdav managed preferences (or use proxy.pac system-wide)',
    runWhere: 'your MDM configuration profile for Defender for Endpoint on macOS',
    order: 10,
    target: 'macos',
    products: mde,
    source: ['mde-macos-preferences', 'mdatp-xplat'],
  });
}

function azureFiles(v: ValidatedInput, gw: GatewayAddress, b: Builder): void {
  const amaOs = (['windows', 'linux'] as const).filter((o) => on(v, o, 'ama').length > 0);
  for (const os of amaOs) {
    const extension = os === 'windows' ? 'AzureMonitorWindowsAgent' : 'AzureMonitorLinuxAgent';
    b.add({
      path: `azure/ama-${os}-settings.json`,
      contents: jsonFile(amaSettings(gw)),
      description: `${extension} extension "settings" (no protectedSettings: the gateway takes no credentials)`,
      runWhere: `Set-AzVMExtension -ExtensionName ${extension} -Publisher Microsoft.Azure.Monitor -SettingString (Azure VMs), or New-AzConnectedMachineExtension -Setting (Arc)`,
      order: 10,
      target: 'azure',
      products: ['ama'],
      source: ['ama-network'],
    });
  }
  if (amaOs.length > 0) {
    b.add({
      path: 'azure/ama-policy-parameters.json',
      contents: jsonFile(amaPolicyParameters(gw)),
      description:
        'Azure Policy parameter for a custom AMA deployment definition carrying the proxy settings',
      runWhere: '"parameters" of your custom policy definition',
      order: 20,
      target: 'azure',
      products: ['ama'],
      source: ['ama-network', 'blog-defender-for-servers'],
    });
    b.note(
      'warning',
      'SOURCES_DISAGREE',
      'AMA "auth": the AMA network configuration page writes the string "false", older examples a JSON boolean. The files follow the network configuration page.',
      ['ama-network', 'ama-manage'],
    );
    b.note(
      'info',
      'CAUTION',
      'AMA sends custom metrics directly, ignoring the proxy; Linux AMA 1.24.2 and later also honours http_proxy/https_proxy.',
      ['ama-network'],
    );
    if (v.products.includes('arc')) {
      b.note(
        'warning',
        'OPEN_QUESTION',
        'AMA on Arc-enabled servers: whether AMA inherits the Arc agent proxy is not documented (the Arc proxy page says some extensions do not); the AMA extension settings are written anyway.',
        ['arc-proxy', 'ama-network'],
      );
    }
  }
  const mmaWindows = on(v, 'windows', 'mma').length > 0;
  const mmaLinux = on(v, 'linux', 'mma').length > 0;
  if (mmaWindows) {
    b.add({
      path: 'azure/mma-windows-settings.json',
      contents: jsonFile(mmaWindowsSettings(gw)),
      description:
        'MicrosoftMonitoringAgent extension "settings" fragment (proxyUri), merged with the workspace settings',
      runWhere: 'the extension resource or deployment template',
      order: 10,
      target: 'azure',
      products: ['mma'],
      source: ['blog-defender-for-servers'],
    });
  }
  if (mmaLinux) {
    b.add({
      path: 'azure/mma-linux-protected-settings.json',
      contents: jsonFile(mmaLinuxProtectedSettings(gw)),
      description:
        'OmsAgentForLinux extension "protectedSettings" fragment (proxy), merged with the workspace key',
      runWhere: 'the extension resource or deployment template',
      order: 10,
      target: 'azure',
      products: ['mma'],
      source: ['blog-defender-for-servers'],
    });
  }
  if (mmaWindows || mmaLinux) {
    b.add({
      path: 'azure/mma-policy-parameters.json',
      contents: jsonFile(mmaPolicyParameters(gw)),
      description:
        'Azure Policy parameters for a custom MMA deployment definition carrying the proxy settings',
      runWhere: '"parameters" of your custom policy definition',
      order: 20,
      target: 'azure',
      products: ['mma'],
      source: ['blog-defender-for-servers'],
    });
    b.note(
      'info',
      'CAUTION',
      'The Log Analytics agent (MMA) is being retired in favour of AMA; its settings are here for machines that still run it.',
      ['blog-defender-for-servers'],
    );
  }
}

const TARGET_TITLES: Readonly<Record<ClientTarget, string>> = {
  windows: 'Windows endpoints',
  linux: 'Linux endpoints',
  macos: 'macOS endpoints',
  azure: 'Azure: extension settings and Azure Policy',
  any: 'PAC file',
};

/** A tenant value the gateway's catalog selection needs, and the wide name it avoids. */
interface TenantValue {
  readonly key: string;
  readonly example: string;
  readonly products: Product[];
  /** The documented wildcards opened when the value is not given. */
  readonly fallbacks: string[];
  /** Hosts left closed when the value is not given (no documented wildcard). */
  readonly closed: string[];
}

/** Per catalog.* tenant key: which selected products need it and what its absence opens. */
function tenantValues(catalog: Catalog, products: readonly Product[]): TenantValue[] {
  const byKey = new Map<string, TenantValue>();
  for (const entry of catalog.entries) {
    const template = entry.template;
    if (template === undefined) continue;
    const wanted = entry.products.filter((p) => products.includes(p));
    if (wanted.length === 0) continue;
    const key = TEMPLATE_PARAMS[template.param];
    let value = byKey.get(key);
    if (value === undefined) {
      value = {
        key,
        example: `<${template.param}>`,
        products: [],
        fallbacks: [],
        closed: [],
      };
      byKey.set(key, value);
    }
    for (const p of wanted) if (!value.products.includes(p)) value.products.push(p);
    if (template.fallback !== undefined) {
      if (!value.fallbacks.includes(template.fallback)) value.fallbacks.push(template.fallback);
    } else if (!value.closed.includes(entry.host)) value.closed.push(entry.host);
  }
  return [...byKey.values()];
}

function customerCreatable(wildcard: string): boolean {
  const name = wildcard.replace(/^\*\./, '');
  return SHARED_NAMESPACES.some((ns) => name === ns.suffix || name.endsWith(`.${ns.suffix}`));
}

/** Every setting that takes one proxy: which gateway it got and how the component fails over. */
function singleProxySettings(v: ValidatedInput, gw: GatewayAddress, c: Citations): string[][] {
  const rows: string[][] = [];
  const dns =
    'none of its own: publish the gateways under one DNS name and generate the files with that name';
  const defender = on(v, 'windows', 'mde', 'mde-streamlined', 'mdav');
  if (defender.some((p) => p !== 'mdav')) {
    rows.push([
      'EDR sensor: TelemetryProxyServer',
      gw.authority,
      `${dns}. When the proxy cannot be reached the sensor goes direct, or to the default proxy configuration (the sources disagree) ${c.ref(['mde-proxy-2020', 'mde-verify-connectivity', 'policy-csp-telemetry-proxy'])}`,
    ]);
  }
  if (defender.length > 0) {
    rows.push([
      'Defender Antivirus: ProxyServer',
      gw.authority,
      v.pacUrl !== undefined
        ? `through ProxyPacUrl ${v.pacUrl}: its PAC file lists every gateway in order, so cloud protection moves to the next one; Defender Antivirus caches the last proxy that worked ${c.ref(['mde-proxy', 'mde-proxy-2024'])}`
        : `only through a PAC file (ProxyPacUrl), whose address Airlock does not know here: pass --pac-url with the address a gateway serves /proxy.pac at (its admin listener, or the proxy port with admin.servePacOnProxyPort), or --config with a configuration that names it ${c.ref(['mde-proxy', 'mde-proxy-2024'])}`,
    ]);
    rows.push(['WinHTTP (winhttp-proxy.cmd)', gw.authority, dns]);
  }
  if (on(v, 'windows', 'mdi').length > 0) {
    rows.push([
      'Defender for Identity sensor: ProxyUrl',
      gw.authority,
      `${dns} (Microsoft advises a dedicated DNS record for the proxy ${c.ref(['mdi-install-sensor'])})`,
    ]);
  }
  if (on(v, 'linux', 'mde', 'mde-streamlined').length > 0) {
    rows.push([
      'Linux mdatp, apt/dnf, walinuxagent',
      gw.authority,
      `${dns}; Defender on Linux takes no PAC file ${c.ref(['mde-linux-connectivity'])}`,
    ]);
  }
  if (on(v, 'macos', 'mde', 'mde-streamlined').length > 0) {
    rows.push([
      'macOS: cloudService.proxy',
      gw.authority,
      `leave cloudService.proxy unset and give the Macs proxy.pac as their system proxy configuration instead: macOS follows PAC files ${c.ref(['mde-macos-prerequisites'])}`,
    ]);
  }
  for (const [product, label] of [
    ['ama', 'Azure Monitor Agent extension settings'],
    ['mma', 'Log Analytics agent (MMA)'],
    ['arc', 'Azure Arc agent: proxy.url'],
  ] as const) {
    if (v.products.includes(product)) rows.push([label, gw.authority, dns]);
  }
  return rows;
}

function renderReadme(
  v: ValidatedInput,
  files: readonly ClientFile[],
  notes: readonly ClientNote[],
  catalog: Catalog,
): string {
  const gw = v.gateways[0]!;
  const c = new Citations();
  const tenant = tenantValues(catalog, v.products);
  const lines = [
    '# Airlock client configuration',
    '',
    `Generated by \`airlock clients\` for the gateway${v.gateways.length > 1 ? 's' : ''} ${v.gateways.map((g) => g.authority).join(', ')};`,
    `products: ${v.products.map((p) => `${p} = ${PRODUCT_LABELS[p]}`).join('; ')}.`,
    `Systems: ${v.os.join(', ')}.`,
    '',
    '## Before anything else: the gateway',
    '',
    '- The gateway admits only its allowlist. Select these products there, in airlock.yaml:',
    '',
    '  ```yaml',
    '  catalog:',
    `    products: [${v.products.join(', ')}]`,
    ...tenant.map((t) => `    ${t.key}: [${t.example}]   # ${t.products.join(', ')}: your values`),
    '  ```',
    '',
    '  and check with `airlock policy show`.',
  ];
  if (tenant.length > 0) {
    lines.push(
      '- The tenant values under `catalog:` turn documented wildcards into your own names. Without them the',
      '  gateway opens the wildcard instead (or leaves the host closed):',
      '',
      '  | Key | Needed for | Without it |',
      '  |---|---|---|',
      ...tenant.map((t) => {
        const open = t.fallbacks.map((f) =>
          customerCreatable(f) ? `\`${f}\` (any Azure customer can create names under it)` : `\`${f}\``,
        );
        const without = [
          ...(open.length > 0 ? [`opens ${open.join(', ')}`] : []),
          ...(t.closed.length > 0 ? [`leaves ${t.closed.map((h) => `\`${h}\``).join(', ')} closed`] : []),
        ].join('; ');
        return `  | \`${t.key}\` | ${t.products.join(', ')} | ${without} |`;
      }),
      '',
      `  \`airlock catalog lint\` reports every rule any cloud customer can create names under.`,
    );
  }
  lines.push(
    '- The gateway does not authenticate clients. Defender for Endpoint connects as LocalSystem and needs',
    `  anonymous access to its hosts anyway ${c.ref(['mde-network-environment', 'mde-proxy-2024'])}.`,
    "- Do not inspect TLS between the endpoints and Microsoft: Defender's hosts must be excluded from",
    `  HTTPS scanning ${c.ref(['mde-network-environment', 'mde-proxy-2024'])}; on Linux, inspection shows as curl error 35 or 60 in the connectivity test ${c.ref(['mde-linux-connectivity'])}.`,
    '- proxy.pac is also served by the gateway: `/proxy.pac` and `/wpad.dat` on its admin listener',
    '  (and on the proxy port with `admin.servePacOnProxyPort`).',
    '',
  );
  if (v.gateways.length > 1) {
    lines.push(
      `## ${v.gateways.length} gateways: which one each setting uses`,
      '',
      `proxy.pac lists ${v.gateways.map((g) => g.authority).join(', ')} in that order (\`PROXY a; PROXY b\`): a PAC client`,
      'takes the next one when one does not answer. Settings that take a single proxy got the first gateway:',
      '',
      '| Setting | Gateway | Failover |',
      '|---|---|---|',
      ...singleProxySettings(v, gw, c).map((row) => `| ${row.join(' | ')} |`),
      '',
    );
  }
  const targets: ClientTarget[] = ['windows', 'linux', 'macos', 'azure', 'any'];
  for (const target of targets) {
    const list = files.filter((f) => f.target === target).sort((a, b) => a.order - b.order);
    if (list.length === 0) continue;
    lines.push(`## ${TARGET_TITLES[target]}`, '');
    const orders = [...new Set(list.map((f) => f.order))];
    lines.push('| Step | File | Where | What | Sources |', '|---|---|---|---|---|');
    for (const file of list) {
      const step = orders.indexOf(file.order) + 1;
      const what = `${file.optional === true ? '(optional) ' : ''}${file.description}`;
      lines.push(`| ${step} | \`${file.path}\` | ${file.runWhere} | ${what} | ${c.ref(file.source)} |`);
    }
    lines.push('', 'Files with the same step number are alternatives or independent of each other.', '');
  }
  const disagree = notes.filter((n) => n.code === 'SOURCES_DISAGREE' || n.code === 'OPEN_QUESTION');
  if (disagree.length > 0) {
    lines.push('## Where the sources disagree or say nothing', '');
    for (const n of disagree) lines.push(`- ${n.message} ${c.ref(n.source)}`);
    lines.push('');
  }
  const other = notes.filter((n) => n.code !== 'SOURCES_DISAGREE' && n.code !== 'OPEN_QUESTION');
  if (other.length > 0) {
    lines.push('## Also note', '');
    for (const n of other) lines.push(`- ${n.message}${n.source.length > 0 ? ` ${c.ref(n.source)}` : ''}`);
    lines.push('');
  }
  lines.push('## Sources', '', ...c.lines().map((line) => `- ${line}`));
  return lf(lines);
}

/**
 * Inputs → every file an endpoint needs, and a README saying what to run where and in which
 * order. Throws AirlockError (USAGE) listing every bad input; nothing is produced then.
 */
export function buildClientPlan(input: ClientPlanInput, catalog: Catalog): ClientPlan {
  const v = validateInput(input);
  const gw = v.gateways[0]!;
  const b = builder();
  for (const { product, os } of v.skipped) {
    b.note(
      'info',
      'SKIPPED',
      `${product} has no settings for ${os} (only for ${CLIENT_SUPPORT[product].os.join(', ')})${CLIENT_SUPPORT[product].why === undefined ? '' : `: ${CLIENT_SUPPORT[product].why}`}; nothing written for that pair.`,
      [],
    );
  }
  if (v.gateways.length > 1) {
    b.note(
      'info',
      'SINGLE_PROXY',
      `Settings that take a single proxy use ${gw.authority}; ${v.gateways
        .slice(1)
        .map((g) => g.authority)
        .join(
          ', ',
        )} appear in proxy.pac (and so behind ProxyPacUrl) only. The README says how each component fails over.`,
      [],
    );
    const defender = on(v, 'windows', 'mde', 'mde-streamlined', 'mdav');
    if (defender.length > 0 && v.pacUrl === undefined) {
      b.note(
        'warning',
        'SINGLE_PROXY',
        `Defender Antivirus can fail over between gateways only through ProxyPacUrl, and the address of the served PAC file is not known: pass --pac-url (the gateway serves /proxy.pac on its admin listener, or on the proxy port with admin.servePacOnProxyPort) or --config; until then ProxyServer names ${gw.authority} alone.`,
        ['mde-proxy', 'mde-proxy-2024'],
      );
    }
  }
  if (v.pacUrlFrom === 'config' && v.pacUrl !== undefined) {
    b.note(
      'info',
      'CAUTION',
      `ProxyPacUrl is ${v.pacUrl}, where the gateway configuration serves its PAC file.`,
      ['mde-proxy'],
    );
  }
  const selection = catalogRulesFor(catalog, v.products);
  const revocationHosts = [
    ...new Set(selection.entries.filter((e) => e.service === 'crl-ocsp').map((e) => e.host)),
  ];
  windowsFiles(v, gw, b, revocationHosts);
  linuxFiles(v, gw, b);
  macosFiles(v, gw, b);
  azureFiles(v, gw, b);
  b.add({
    path: 'proxy.pac',
    contents: renderPac(input.pacRules ?? selection.rules, {
      proxies: v.gateways.map((g) => g.authority),
      otherwise: v.otherwise,
      generatedBy: '"airlock clients"',
    }),
    description:
      "proxy auto-config: the products' hosts to the gateways in order, the rest DIRECT; for Defender Antivirus ProxyPacUrl, macOS and browsers (not Linux MDE)",
    runWhere: 'served by the gateway at /proxy.pac; or host this copy on a web server',
    order: 10,
    target: 'any',
    products: v.products,
    source: ['mde-proxy', 'mde-macos-prerequisites', 'mde-linux-connectivity'],
  });
  const readme = renderReadme(v, b.files, b.notes, catalog);
  const files: ClientFile[] = [
    ...b.files,
    {
      path: 'README.md',
      contents: readme,
      description: 'what to run where, and in which order',
      runWhere: 'read first',
      order: 0,
      target: 'any',
      products: v.products,
      source: [],
    },
  ];
  return { gateways: v.gateways, products: v.products, os: v.os, files, notes: b.notes };
}
