import { z } from 'zod';
import { parseHostPattern } from '../policy/index.js';
import { formatIssuePath } from '../text/issue-path.js';

/**
 * The endpoint catalog's vocabulary and file format (version 1). A catalog file is JSON:
 * `{ version, sources, entries, gaps, unmapped? }`. The shipped catalog lives in
 * `data/catalog.json`; `airlock catalog import` writes files of the same shape.
 */

export const PRODUCTS = [
  'mde',
  'mde-streamlined',
  'mdav',
  'mdi',
  'ama',
  'mma',
  'arc',
  'arc-gateway',
  'arc-sql',
  'arc-wac',
  'automation',
] as const;
export type Product = (typeof PRODUCTS)[number];

export const PRODUCT_LABELS: Readonly<Record<Product, string>> = {
  mde: 'Defender for Endpoint (standard connectivity)',
  'mde-streamlined': 'Defender for Endpoint (streamlined connectivity)',
  mdav: 'Defender Antivirus',
  mdi: 'Defender for Identity sensor',
  ama: 'Azure Monitor Agent',
  mma: 'Log Analytics agent (MMA)',
  arc: 'Azure Arc Connected Machine agent',
  'arc-gateway': 'Azure Arc gateway',
  'arc-sql': 'SQL Server enabled by Azure Arc',
  'arc-wac': 'Windows Admin Center and SSH through Azure Arc',
  automation: 'Azure Automation',
};

export const SERVICES = [
  'edr-cyber-data',
  'command-and-control',
  'live-response',
  'sample-upload',
  'autoir-storage',
  'cloud-protection',
  'security-intelligence-updates',
  'smartscreen',
  'crl-ocsp',
  'onboarding-configuration',
  'diagnostic-telemetry',
  'consolidated-services',
  'agent-updates',
  'network-scanner',
  'connectivity-probe',
  'sign-in',
  'mdi-sensor-api',
  'log-analytics-ingestion',
  'ama-configuration',
  'custom-metrics',
  'arc-management',
  'arc-notifications',
  'extension-downloads',
  'remote-management',
  'arc-sql',
  'arc-gateway',
  'automation',
  'portal',
] as const;
export type Service = (typeof SERVICES)[number];

export const SERVICE_LABELS: Readonly<Record<Service, string>> = {
  'edr-cyber-data': 'EDR cyber data',
  'command-and-control': 'Command and control',
  'live-response': 'Live Response',
  'sample-upload': 'Malware sample upload storage',
  'autoir-storage': 'Automated investigation sample storage',
  'cloud-protection': 'Cloud-delivered protection (MAPS)',
  'security-intelligence-updates': 'Security intelligence and product updates',
  smartscreen: 'SmartScreen and network protection',
  'crl-ocsp': 'Certificate revocation (CRL, CTL, OCSP)',
  'onboarding-configuration': 'Onboarding and configuration',
  'diagnostic-telemetry': 'Diagnostic telemetry',
  'consolidated-services': 'Consolidated Defender services (streamlined)',
  'agent-updates': 'Agent install and update',
  'network-scanner': 'Network device scanner',
  'connectivity-probe': 'Connectivity probe',
  'sign-in': 'Entra ID sign-in',
  'mdi-sensor-api': 'MDI sensor API',
  'log-analytics-ingestion': 'Log Analytics ingestion',
  'ama-configuration': 'AMA access control and data collection rules',
  'custom-metrics': 'Azure Monitor custom metrics',
  'arc-management': 'Arc resource management',
  'arc-notifications': 'Arc notifications (Azure Relay)',
  'extension-downloads': 'VM extension downloads',
  'remote-management': 'Remote management (Windows Admin Center, SSH)',
  'arc-sql': 'SQL Server enabled by Arc',
  'arc-gateway': 'Arc gateway',
  automation: 'Azure Automation',
  portal: "Defender portal (administrators' browsers)",
};

/** Services left out of a selection unless named: they are not agent traffic, or need wide names. */
export const OPT_IN_SERVICES: readonly Service[] = ['portal', 'network-scanner'];

/** Geography as Microsoft's lists label it. `WW` rows are always opened. */
export const GEOS = ['WW', 'US', 'EU', 'UK', 'AU', 'AEC', 'AEN', 'CH', 'IN', 'USGov'] as const;
export type Geo = (typeof GEOS)[number];
/** The commercial data locations a tenant can choose from (WW is implied). */
export const COMMERCIAL_GEOS: readonly Geo[] = ['US', 'EU', 'UK', 'AU', 'AEC', 'AEN', 'CH', 'IN'];

export const CLOUDS = ['commercial', 'gcc', 'gcc-high', 'dod'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** OS columns of Microsoft's list: W = Windows 10/11 and Server 2012 R2+ (unified agent), W7 = Windows 7/8.1, MMA = servers onboarded with the MMA, M = macOS, L = Linux. */
export const OS_CODES = ['W', 'W7', 'MMA', 'M', 'L'] as const;
export type Os = (typeof OS_CODES)[number];

export const SCHEMES = ['https', 'http'] as const;
export type Scheme = (typeof SCHEMES)[number];

/**
 * A template placeholder and the selection field that fills it. Templated hosts carry the
 * placeholder in angle brackets: `<workspace>sensorapi.atp.azure.com`.
 */
export const TEMPLATE_PARAMS = {
  workspace: 'mdiWorkspaces',
  'workspace-id': 'logAnalyticsWorkspaces',
  'storage-account': 'storageAccounts',
  region: 'azureRegions',
  dce: 'dataCollectionEndpoints',
  relay: 'relayNamespaces',
  gateway: 'arcGateways',
} as const;
export type TemplateParam = keyof typeof TEMPLATE_PARAMS;
export type TemplateField = (typeof TEMPLATE_PARAMS)[TemplateParam];
export const TEMPLATE_PARAM_NAMES = Object.keys(TEMPLATE_PARAMS) as TemplateParam[];

/** A sample value per placeholder, used only to check that a template yields a valid host. */
const TEMPLATE_SAMPLES: Readonly<Record<TemplateParam, string>> = {
  workspace: 'contoso-corp',
  'workspace-id': '00000000-0000-4000-8000-000000000000',
  'storage-account': 'contosostorage',
  region: 'westeurope',
  dce: 'contoso-dce-a1b2.westeurope',
  relay: 'azgnrelay-weu-l1',
  gateway: 'contoso-gw',
};

const TEMPLATE_RE = /<([a-z-]+)>/g;

/** The placeholders a host text contains, in order. */
export function templateParams(host: string): string[] {
  return [...host.matchAll(TEMPLATE_RE)].map((m) => m[1]!);
}

export function fillTemplate(host: string, param: TemplateParam, value: string): string {
  return host.replaceAll(`<${param}>`, value);
}

/** A key of the sources table (`mde-urls-standard`); catalogs of their own may also use `R1`-style keys. */
export const SOURCE_KEY_PATTERN = /^(?:[a-z0-9][a-z0-9-]*|[A-Z][A-Z0-9-]*)$/;
const sourceKey = z.string().regex(SOURCE_KEY_PATTERN, 'a source key is like "mde-urls-standard"');
const port = z.number().int().min(1).max(65535);

export const catalogEntrySchema = z.strictObject({
  /** Stable id: `<product>:<host><path>` plus `@<geo>` outside WW. */
  id: z.string().min(3).max(300),
  /** Host pattern as the gateway enforces it (`name`, `.suffix`, `*.suffix`), or a template. */
  host: z.string().min(1),
  /** URL path the source names (only enforceable on plain HTTP). */
  path: z.string().startsWith('/').optional(),
  /** The text the source writes when Airlock records it differently (a glob, a URL, a wildcard narrowed by the docs). */
  documentedAs: z.string().min(1).optional(),
  products: z.array(z.enum(PRODUCTS)).min(1),
  service: z.enum(SERVICES),
  geo: z.enum(GEOS),
  /** Further geographies whose tenants need the entry (the label alone would miss them). */
  alsoGeos: z.array(z.enum(GEOS)).min(1).optional(),
  clouds: z.array(z.enum(CLOUDS)).min(1),
  os: z.array(z.enum(OS_CODES)),
  ports: z.array(port).min(1),
  schemes: z.array(z.enum(SCHEMES)).min(1),
  required: z.boolean(),
  /** The destination must be excluded from TLS inspection. */
  noInspect: z.boolean(),
  description: z.string().min(1),
  comment: z.string().min(1).optional(),
  /** Microsoft's own Service and Category values for the row the entry comes from (the standard list). */
  sheet: z.strictObject({ service: z.string(), category: z.string() }).optional(),
  source: z.array(sourceKey).min(1),
  /** For templated hosts: the placeholder and the documented wildcard used when it cannot be filled. */
  template: z
    .strictObject({
      param: z.enum(TEMPLATE_PARAM_NAMES as [TemplateParam, ...TemplateParam[]]),
      fallback: z.string().min(1).optional(),
    })
    .optional(),
  /** Set when the sources give no name narrower than a wide host: why, and what an operator can do. */
  noNarrowerName: z.string().min(1).optional(),
  /**
   * The entry stays closed unless `catalog.include` names its id: why (a host that serves far more
   * than the agents need, for a feature most tenants do not use).
   */
  optIn: z.string().min(1).optional(),
});
export type CatalogEntry = z.output<typeof catalogEntrySchema>;

export const catalogGapSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  /** Accepted for catalog files written by earlier versions; not used. */
  question: z.number().int().min(1).optional(),
  /** What the gap concerns, so a selection can say which apply to it. */
  products: z.array(z.enum(PRODUCTS)).optional(),
  geos: z.array(z.enum(GEOS)).optional(),
  clouds: z.array(z.enum(CLOUDS)).optional(),
  entries: z.array(z.string()).optional(),
  text: z.string().min(1),
  source: z.array(sourceKey).min(1),
});
export type CatalogGap = z.output<typeof catalogGapSchema>;

/** A spreadsheet row the importer could not map, kept in the catalog so it is never lost. */
export const unmappedRowSchema = z.strictObject({
  sheet: z.string(),
  row: z.number().int().min(1),
  reason: z.string().min(1),
  text: z.string(),
});
export type UnmappedRow = z.output<typeof unmappedRowSchema>;

export const catalogSchema = z.strictObject({
  version: z.literal(1, { error: 'only catalog version 1 is supported' }),
  description: z.string().optional(),
  /** Key → title and address of each document the entries and gaps cite. */
  sources: z.record(sourceKey, z.string().min(1)),
  entries: z.array(catalogEntrySchema),
  gaps: z.array(catalogGapSchema).default([]),
  unmapped: z.array(unmappedRowSchema).optional(),
});
export type Catalog = z.output<typeof catalogSchema>;

export type CatalogResult =
  | { readonly ok: true; readonly catalog: Catalog }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Checks a host or template text; returns a sentence when it cannot become a host rule. */
export function checkEntryHost(host: string, param: TemplateParam | undefined): string | null {
  const params = templateParams(host);
  if (param === undefined && params.length > 0) {
    return `"${host}" has a placeholder <${params[0]}> but no "template"`;
  }
  if (param !== undefined && !params.includes(param)) {
    return `"${host}" does not contain the placeholder <${param}> its template names`;
  }
  const other = params.find((p) => p !== param);
  if (other !== undefined) return `"${host}" has the unknown or second placeholder <${other}>`;
  const sample = param === undefined ? host : fillTemplate(host, param, TEMPLATE_SAMPLES[param]);
  const pattern = parseHostPattern(sample);
  return 'error' in pattern ? pattern.error : null;
}

/** Cross-field checks the schema cannot express. Returns "entries[3].host: …" sentences. */
export function checkCatalog(catalog: Catalog): string[] {
  const errors: string[] = [];
  const ids = new Map<string, number>();
  catalog.entries.forEach((entry, i) => {
    const at = `entries[${i}] (${entry.id})`;
    const first = ids.get(entry.id);
    if (first !== undefined) errors.push(`${at}: id repeats entries[${first}]`);
    else ids.set(entry.id, i);
    const hostError = checkEntryHost(entry.host, entry.template?.param);
    if (hostError !== null) errors.push(`${at}.host: ${hostError}`);
    const fallback = entry.template?.fallback;
    if (fallback !== undefined) {
      const pattern = parseHostPattern(fallback);
      if ('error' in pattern) errors.push(`${at}.template.fallback: ${pattern.error}`);
    }
    for (const key of entry.source) {
      if (!Object.hasOwn(catalog.sources, key)) errors.push(`${at}.source: "${key}" is not in "sources"`);
    }
    if (new Set(entry.products).size !== entry.products.length)
      errors.push(`${at}.products: repeats a value`);
  });
  catalog.gaps.forEach((gap, i) => {
    for (const id of gap.entries ?? []) {
      if (!ids.has(id)) errors.push(`gaps[${i}] (${gap.id}).entries: no entry "${id}"`);
    }
    for (const key of gap.source) {
      if (!Object.hasOwn(catalog.sources, key))
        errors.push(`gaps[${i}] (${gap.id}).source: "${key}" is not in "sources"`);
    }
  });
  return errors;
}

/** Validates parsed JSON as a catalog: the schema, then the cross-field checks. */
export function validateCatalog(raw: unknown, fileName: string): CatalogResult {
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map(
        (issue) => `${fileName}: ${formatIssuePath(issue.path)}: ${issue.message}`,
      ),
    };
  }
  const errors = checkCatalog(parsed.data).map((e) => `${fileName}: ${e}`);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, catalog: parsed.data };
}

/** Parses catalog JSON text. Every error names the file. */
export function parseCatalog(text: string, fileName: string): CatalogResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    return {
      ok: false,
      errors: [`${fileName}: not a catalog file: invalid JSON (${(error as Error).message})`],
    };
  }
  return validateCatalog(raw, fileName);
}

/** Catalog JSON as written by `catalog import` and `catalog export --format json`. */
export function serializeCatalog(catalog: Catalog): string {
  return `${JSON.stringify(catalog, null, 2)}\n`;
}

/** The catalog id of an entry: `<first product>:<host><path>`, with `@<geo>` outside WW. */
export function entryId(product: Product, host: string, path: string | undefined, geo: Geo): string {
  return `${product}:${host}${path ?? ''}${geo === 'WW' ? '' : `@${geo}`}`;
}
