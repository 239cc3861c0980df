import { DEFAULT_READINGS, type Readings } from './disagreements.js';
import type {
  Geography,
  MachineDescription,
  Product,
  ProxyAuthentication,
  WindowsVersion,
} from './machine-schema.js';
import { proxyKey } from './proxy-address.js';

/** What the network knows about one proxy, keyed by `host:port`. */
export interface ProxyFacts {
  readonly address: string;
  readonly reachable: boolean;
  readonly authentication: ProxyAuthentication;
  readonly tlsInspection: boolean;
  readonly allowsAgentUrls: boolean;
  readonly policyChecked: boolean;
  /** False when the description said nothing about this proxy and defaults were used. */
  readonly described: boolean;
}

/** A description with every gap filled: the input of `explainMachine()`. */
export interface Machine {
  readonly name: string;
  readonly platform: 'windows' | 'linux';
  readonly role: 'workstation' | 'server';
  readonly windowsVersion: WindowsVersion | null;
  readonly userLoggedOn: boolean;
  readonly products: readonly Product[];
  readonly geography: Geography;
  readonly connectivity: 'standard' | 'streamlined';
  readonly windows: {
    /** TelemetryProxyServer as written (validated when the route is resolved). */
    readonly telemetryProxy: string | null;
    readonly disableEnterpriseAuthProxy: boolean | null;
    readonly preferStaticProxyForHttpRequest: boolean;
    readonly winhttp: { readonly proxy: string | null; readonly bypass: readonly string[] };
    readonly wininet: {
      readonly proxy: string | null;
      readonly autoConfigUrl: string | null;
      readonly bypass: readonly string[];
    };
    readonly antivirus: {
      readonly proxyServer: string | null;
      readonly proxyPacUrl: string | null;
      readonly proxyBypass: readonly string[];
      readonly sslOptions: number | null;
    };
    readonly internalUpdateSource: boolean;
  };
  readonly linux: {
    readonly mdatpProxy: string | null;
    readonly serviceEnvironmentProxy: string | null;
    readonly installProxy: string | null;
    readonly installedBy: 'package-manager' | 'azure-extension';
    readonly extensionAgentProxy: string | null;
    readonly cloudEnabled: boolean | null;
    readonly licensed: boolean | null;
    readonly healthIssues: readonly string[];
  };
  readonly mdi: {
    readonly proxyUrl: string | null;
    readonly proxyCredentials: boolean;
    readonly serviceAccountWininetProxy: string | null;
    readonly workspace: string | null;
  };
  readonly ama: {
    readonly proxyMode: 'none' | 'application';
    readonly address: string | null;
    readonly auth: boolean;
    readonly environmentProxy: string | null;
    readonly region: string | null;
    readonly workspaceId: string | null;
  };
  readonly mma: {
    readonly proxy: string | null;
    readonly credentials: boolean;
    readonly workspaceId: string | null;
  };
  readonly arc: { readonly proxyUrl: string | null; readonly environmentProxy: string | null };
  readonly network: {
    readonly directInternet: boolean;
    readonly wpad: string | null;
    readonly tlsInspectionOnDirectPath: boolean;
    readonly proxies: readonly ProxyFacts[];
  };
  readonly readings: Readings;
}

export interface NormalizedMachine {
  readonly machine: Machine;
  /** One sentence per gap that was filled with a default that can change a verdict. */
  readonly assumptions: readonly string[];
}

const SERVER_VERSIONS: readonly string[] = [
  'server-2008-r2',
  'server-2012-r2',
  'server-2016',
  'server-2019',
  'server-2022',
  'server-2025',
];

/** Fills the gaps of a description and records the assumptions that matter. */
export function normalizeMachine(
  description: MachineDescription,
  readings: Partial<Readings> = {},
): NormalizedMachine {
  const assumptions: string[] = [];
  const d = description;
  const m = d.machine ?? {};

  let platform = m.platform;
  if (platform === undefined) {
    platform = d.linux !== undefined && d.windows === undefined ? 'linux' : 'windows';
    assumptions.push(`machine.platform not given: assumed ${platform}.`);
  }
  const windowsVersion = m.windowsVersion ?? null;
  let role = m.role;
  if (role === undefined) {
    role = windowsVersion !== null && SERVER_VERSIONS.includes(windowsVersion) ? 'server' : 'workstation';
    assumptions.push(`machine.role not given: assumed ${role}.`);
  }
  let userLoggedOn = m.userLoggedOn;
  if (userLoggedOn === undefined) {
    userLoggedOn = false;
    assumptions.push(
      'machine.userLoggedOn not given: assumed nobody is logged on, the case Defender must survive, since its services connect from system context.',
    );
  }
  const products = new Set<Product>(m.products ?? ['mde']);
  if (m.products === undefined) {
    for (const product of ['mdi', 'ama', 'mma', 'arc'] as const)
      if (d[product] !== undefined) products.add(product);
  }
  const net = d.network ?? {};
  let directInternet = net.directInternet;
  if (directInternet === undefined) {
    directInternet = false;
    assumptions.push('network.directInternet not given: assumed no direct egress (a locked-down network).');
  }
  const w = d.windows ?? {};
  if (platform === 'windows' && products.has('mde') && w.winhttp?.proxy === undefined) {
    assumptions.push('windows.winhttp.proxy not given: assumed "Direct access (no proxy server)".');
  }

  const proxies: ProxyFacts[] = (net.proxies ?? []).map((p) => ({
    address: proxyKey(p.address) ?? p.address,
    reachable: p.reachable ?? true,
    authentication: p.authentication ?? 'none',
    tlsInspection: p.tlsInspection ?? false,
    allowsAgentUrls: p.allowsAgentUrls ?? true,
    policyChecked: p.policyChecked ?? true,
    described: true,
  }));

  const machine: Machine = {
    name: m.name ?? 'machine',
    platform,
    role,
    windowsVersion,
    userLoggedOn,
    products: [...products],
    geography: m.geography ?? 'us',
    connectivity: m.connectivity ?? 'standard',
    windows: {
      telemetryProxy: w.telemetryProxy?.server ?? null,
      disableEnterpriseAuthProxy: w.telemetryProxy?.disableEnterpriseAuthProxy ?? null,
      preferStaticProxyForHttpRequest: w.preferStaticProxyForHttpRequest ?? false,
      winhttp: { proxy: w.winhttp?.proxy ?? null, bypass: w.winhttp?.bypass ?? [] },
      wininet: {
        proxy: w.wininet?.proxy ?? null,
        autoConfigUrl: w.wininet?.autoConfigUrl ?? null,
        bypass: w.wininet?.bypass ?? [],
      },
      antivirus: {
        proxyServer: w.antivirus?.proxyServer ?? null,
        proxyPacUrl: w.antivirus?.proxyPacUrl ?? null,
        proxyBypass: w.antivirus?.proxyBypass ?? [],
        sslOptions: w.antivirus?.sslOptions ?? null,
      },
      internalUpdateSource: w.internalUpdateSource ?? false,
    },
    linux: {
      mdatpProxy: d.linux?.mdatpProxy ?? null,
      serviceEnvironmentProxy: d.linux?.serviceEnvironmentProxy ?? null,
      installProxy: d.linux?.installProxy ?? null,
      installedBy: d.linux?.installedBy ?? 'package-manager',
      extensionAgentProxy: d.linux?.extensionAgentProxy ?? null,
      cloudEnabled: d.linux?.cloudEnabled ?? null,
      licensed: d.linux?.licensed ?? null,
      healthIssues: d.linux?.healthIssues ?? [],
    },
    mdi: {
      proxyUrl: d.mdi?.proxyUrl ?? null,
      proxyCredentials: d.mdi?.proxyCredentials ?? false,
      serviceAccountWininetProxy: d.mdi?.serviceAccountWininetProxy ?? null,
      workspace: d.mdi?.workspace ?? null,
    },
    ama: {
      proxyMode: d.ama?.proxyMode ?? (d.ama?.address ? 'application' : 'none'),
      address: d.ama?.address ?? null,
      auth: d.ama?.auth ?? false,
      environmentProxy: d.ama?.environmentProxy ?? null,
      region: d.ama?.region ?? null,
      workspaceId: d.ama?.workspaceId ?? null,
    },
    mma: {
      proxy: d.mma?.proxy ?? null,
      credentials: d.mma?.credentials ?? false,
      workspaceId: d.mma?.workspaceId ?? null,
    },
    arc: { proxyUrl: d.arc?.proxyUrl ?? null, environmentProxy: d.arc?.environmentProxy ?? null },
    network: {
      directInternet,
      wpad: net.wpad ?? null,
      tlsInspectionOnDirectPath: net.tlsInspectionOnDirectPath ?? false,
      proxies,
    },
    readings: { ...DEFAULT_READINGS, ...d.assume, ...readings },
  };
  return { machine, assumptions };
}

/** Facts for a proxy; a proxy the description does not list gets the permissive defaults. */
export function proxyFacts(machine: Machine, address: string): ProxyFacts {
  const found = machine.network.proxies.find((p) => p.address === address);
  return (
    found ?? {
      address,
      reachable: true,
      authentication: 'none',
      tlsInspection: false,
      allowsAgentUrls: true,
      policyChecked: true,
      described: false,
    }
  );
}
