import { LineCounter, parseDocument } from '../deps/yaml.js';
import type { Geo, Product as CatalogProduct } from '../catalog/index.js';
import { formatIssuePath, yamlLineOf, type IssuePath } from '../text/issue-path.js';
import { printable, shown } from '../text/printable.js';
import { z } from 'zod';
import { parseProxyAddress, selectHttpsProxy } from './proxy-address.js';
import { READING_VALUES } from './disagreements.js';
import type { ParseResult } from './parse-result.js';

/**
 * The written description of a machine (YAML or JSON): what is configured on it and what the
 * network around it does. Every key is optional; parsers of pasted output produce the same
 * shape, so descriptions and pastes merge. `normalizeMachine()` fills what is missing and says
 * what it assumed.
 *
 * ```yaml
 * machine: { name: WS01, platform: windows, role: workstation, windowsVersion: '11', userLoggedOn: false }
 * windows:
 *   telemetryProxy: { server: 10.0.0.6:8080, disableEnterpriseAuthProxy: true }
 *   winhttp: { proxy: null }                 # null = "Direct access (no proxy server)"
 *   wininet: { proxy: 10.0.0.7:8080 }        # the logged-on user's Internet Options
 *   antivirus: { proxyServer: http://10.0.0.6:8080 }
 * network:
 *   directInternet: false
 *   proxies:
 *     - { address: 10.0.0.6:8080, authentication: none, tlsInspection: false }
 * assume: { static-proxy-unreachable: default-proxy }
 * ```
 */

function addressField(kind: 'host-port' | 'url' | 'list') {
  return z.string().superRefine((text, ctx) => {
    const result = kind === 'list' ? selectHttpsProxy(text) : parseProxyAddress(text);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message });
  });
}

const hostPort = addressField('host-port');
const proxyUrl = addressField('url');
const proxyList = addressField('list');
const stringList = z.array(z.string().min(1));

export const WINDOWS_VERSIONS = [
  '7',
  '8.1',
  '10',
  '11',
  'server-2008-r2',
  'server-2012-r2',
  'server-2016',
  'server-2019',
  'server-2022',
  'server-2025',
] as const;
export type WindowsVersion = (typeof WINDOWS_VERSIONS)[number];

/** The products a machine description names: the catalog's own ids, for the agents the advisor knows. */
export const PRODUCTS = ['mde', 'mdi', 'ama', 'mma', 'arc'] as const satisfies readonly CatalogProduct[];
export type Product = (typeof PRODUCTS)[number];

/** The catalog's geographies (lower case, as Microsoft's host names write them) the advisor has endpoints for. */
export const GEOGRAPHIES = ['us', 'eu', 'uk', 'au'] as const satisfies readonly Lowercase<Geo>[];
export type Geography = (typeof GEOGRAPHIES)[number];

export const PROXY_AUTHENTICATION = ['none', 'required', 'bypassed-for-agent-urls'] as const;
export type ProxyAuthentication = (typeof PROXY_AUTHENTICATION)[number];

const proxyFacts = z.strictObject({
  address: hostPort,
  reachable: z.boolean().optional(),
  authentication: z.enum(PROXY_AUTHENTICATION).optional(),
  tlsInspection: z.boolean().optional(),
  allowsAgentUrls: z.boolean().optional(),
  /** False to leave this proxy out of the Airlock policy check. */
  policyChecked: z.boolean().optional(),
});

export const machineDescriptionSchema = z.strictObject({
  machine: z
    .strictObject({
      name: z.string().min(1).optional(),
      platform: z.enum(['windows', 'linux']).optional(),
      role: z.enum(['workstation', 'server']).optional(),
      windowsVersion: z.enum(WINDOWS_VERSIONS).optional(),
      userLoggedOn: z.boolean().optional(),
      products: z.array(z.enum(PRODUCTS)).min(1).optional(),
      geography: z.enum(GEOGRAPHIES).optional(),
      connectivity: z.enum(['standard', 'streamlined']).optional(),
    })
    .optional(),
  windows: z
    .strictObject({
      telemetryProxy: z
        .strictObject({
          server: z.string().min(1).nullable().optional(),
          disableEnterpriseAuthProxy: z.boolean().optional(),
        })
        .optional(),
      preferStaticProxyForHttpRequest: z.boolean().optional(),
      winhttp: z
        .strictObject({ proxy: proxyList.nullable().optional(), bypass: stringList.optional() })
        .optional(),
      wininet: z
        .strictObject({
          proxy: proxyList.nullable().optional(),
          autoConfigUrl: z.string().min(1).nullable().optional(),
          bypass: stringList.optional(),
        })
        .optional(),
      antivirus: z
        .strictObject({
          proxyServer: z.string().min(1).nullable().optional(),
          proxyPacUrl: z.string().min(1).nullable().optional(),
          proxyBypass: stringList.optional(),
          sslOptions: z.number().int().min(0).max(3).optional(),
        })
        .optional(),
      /** An internal update source (WSUS, file share, ConfigMgr) serves updates. */
      internalUpdateSource: z.boolean().optional(),
    })
    .optional(),
  linux: z
    .strictObject({
      /** `mdatp config proxy set --value …` or managed `cloudService.proxy`. */
      mdatpProxy: proxyUrl.nullable().optional(),
      /** HTTPS_PROXY in the mdatp service's environment (older builds). */
      serviceEnvironmentProxy: proxyUrl.nullable().optional(),
      /** HTTPS_PROXY seen by the package manager at install time. */
      installProxy: proxyUrl.nullable().optional(),
      installedBy: z.enum(['package-manager', 'azure-extension']).optional(),
      /** http(s)_proxy in the walinuxagent systemd drop-in (Azure extension installs). */
      extensionAgentProxy: proxyUrl.nullable().optional(),
      cloudEnabled: z.boolean().optional(),
      licensed: z.boolean().optional(),
      healthIssues: z.array(z.string()).optional(),
    })
    .optional(),
  mdi: z
    .strictObject({
      proxyUrl: proxyUrl.nullable().optional(),
      proxyCredentials: z.boolean().optional(),
      /** Legacy method: WinINET settings copied into the LocalService/LocalSystem hives. */
      serviceAccountWininetProxy: proxyList.nullable().optional(),
      workspace: z.string().min(1).optional(),
    })
    .optional(),
  ama: z
    .strictObject({
      proxyMode: z.enum(['none', 'application']).optional(),
      address: proxyUrl.optional(),
      auth: z.boolean().optional(),
      environmentProxy: proxyUrl.nullable().optional(),
      region: z.string().min(1).optional(),
      workspaceId: z.string().min(1).optional(),
    })
    .optional(),
  mma: z
    .strictObject({
      proxy: proxyUrl.nullable().optional(),
      credentials: z.boolean().optional(),
      workspaceId: z.string().min(1).optional(),
    })
    .optional(),
  arc: z
    .strictObject({
      proxyUrl: proxyUrl.nullable().optional(),
      environmentProxy: proxyUrl.nullable().optional(),
    })
    .optional(),
  network: z
    .strictObject({
      directInternet: z.boolean().optional(),
      /** The proxy WPAD hands out, `DIRECT`, or null when WPAD finds nothing. */
      wpad: z.string().min(1).nullable().optional(),
      tlsInspectionOnDirectPath: z.boolean().optional(),
      proxies: z.array(proxyFacts).optional(),
    })
    .optional(),
  assume: z
    .strictObject({
      'static-proxy-unreachable': z.enum(READING_VALUES['static-proxy-unreachable']).optional(),
      'revocation-for-cloud-protection': z.enum(READING_VALUES['revocation-for-cloud-protection']).optional(),
      'live-response-over-wininet': z.enum(READING_VALUES['live-response-over-wininet']).optional(),
      'system-services-over-wininet': z.enum(READING_VALUES['system-services-over-wininet']).optional(),
    })
    .optional(),
});

/** An issue's path with each key as `shown` writes it: an unknown key is the file's own text. */
function shownPath(path: IssuePath): string {
  return formatIssuePath(path.map((key) => (typeof key === 'string' ? shown(key) : key)));
}

/** A validated description (every key optional). */
export type MachineDescription = z.output<typeof machineDescriptionSchema>;

/** Checks an already-parsed value (merged facts, tests) against the description schema. */
export function validateMachineDescription(value: unknown): ParseResult<MachineDescription> {
  const parsed = machineDescriptionSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data, warnings: [] };
  const issue = parsed.error.issues[0];
  const keys = issue?.code === 'unrecognized_keys' ? `: ${issue.keys.map(shown).join(', ')}` : '';
  return {
    ok: false,
    error: {
      line: 1,
      message: `${shownPath(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}${keys}`,
    },
  };
}

/**
 * Parses a YAML or JSON machine description. Errors name the line the offending key or value
 * is on.
 */
export function parseMachineDescription(text: string): ParseResult<MachineDescription> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    return {
      ok: false,
      error: {
        line: syntax.linePos?.[0]?.line ?? 1,
        message: `syntax error: ${printable(syntax.message.split('\n')[0] ?? '')}`,
      },
    };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      error: { line: 1, message: 'a machine description is a mapping (machine:, windows:, …)' },
    };
  }
  const parsed = machineDescriptionSchema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data, warnings: [] };
  const issue = parsed.error.issues[0];
  if (!issue) return { ok: false, error: { line: 1, message: 'invalid machine description' } };
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
  return {
    ok: false,
    error: { line: yamlLineOf(doc, counter, path) ?? 1, message: `${shownPath(path)}: ${message}` },
  };
}
