import { z } from 'zod';
import { formatIssuePath } from '../text/issue-path.js';
import {
  formatHostPattern,
  parseHostPattern,
  patternCovers,
  type DestinationSpec,
  type HostPattern,
  type RuleCatalogRef,
} from '../policy/index.js';
import {
  CLOUDS,
  GEOS,
  OPT_IN_SERVICES,
  OS_CODES,
  PRODUCTS,
  SERVICES,
  TEMPLATE_PARAMS,
  fillTemplate,
  type Catalog,
  type CatalogEntry,
  type Geo,
  type Service,
  type TemplateField,
} from './schema.js';

/** Products opened when the configuration names none: Defender for Endpoint (both connectivity types) and Defender Antivirus. */
/**
 * Products opened when the configuration names none. Defender for Identity is opt-in: its
 * sensor API is per tenant (`<workspace>sensorapi.atp.azure.com`), and without the workspace
 * name only a wildcard every MDI tenant can create names under would be possible.
 */
export const DEFAULT_PRODUCTS = ['mde', 'mde-streamlined', 'mdav'] as const;
/** Geographies opened when the configuration names none: every commercial data location with rows in Microsoft's list. */
export const DEFAULT_GEOS: readonly Geo[] = ['US', 'EU', 'UK', 'AU', 'AEC', 'AEN'];

/** A tenant value that fills a template; a full host name under the template's suffix is accepted too. */
function tenantValue(what: string, pattern: RegExp, stripSuffix: string, example: string) {
  return z.string().transform((text, ctx) => {
    const lower = text.trim().toLowerCase();
    const value =
      stripSuffix !== '' && lower.endsWith(stripSuffix) ? lower.slice(0, -stripSuffix.length) : lower;
    if (pattern.test(value)) return value;
    ctx.addIssue({ code: 'custom', message: `"${text}" is not ${what} (e.g. ${example})` });
    return z.NEVER;
  });
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The `catalog:` section of the configuration: which Defender products, geographies and
 * cloud the gateway opens, and tenant values that replace documented wildcards with names.
 */
export const catalogSelectionSchema = z.strictObject({
  products: z
    .array(z.enum(PRODUCTS))
    .min(1)
    .default([...DEFAULT_PRODUCTS]),
  /** Regional geographies of the tenant; WW is always included. */
  geographies: z.array(z.enum(GEOS)).default([...DEFAULT_GEOS]),
  cloud: z.enum(CLOUDS).default('commercial'),
  /** Only these services (default: every service except the opt-in ones, portal and network-scanner). */
  services: z.array(z.enum(SERVICES)).min(1).optional(),
  excludeServices: z.array(z.enum(SERVICES)).default([]),
  /** Only entries for these OS columns (default: every OS). */
  os: z.array(z.enum(OS_CODES)).min(1).optional(),
  /** Include entries Microsoft marks Optional (Live Response push, Security Management, old Windows builds, …). */
  includeOptional: z.boolean().default(true),
  /** Catalog entry ids to leave out. */
  exclude: z.array(z.string().min(1)).default([]),
  /** Ids of opt-in catalog entries to open (entries with `optIn`; see `airlock catalog list`). */
  include: z.array(z.string().min(1)).default([]),
  /** Defender for Identity workspace names: `<name>sensorapi.atp.azure.com`. */
  mdiWorkspaces: z
    .array(
      tenantValue(
        'a Defender for Identity workspace name',
        /^[a-z0-9](?:[a-z0-9-]{0,52}[a-z0-9])?$/,
        'sensorapi.atp.azure.com',
        'contoso-corp',
      ),
    )
    .default([]),
  /** Log Analytics workspace IDs: `<id>.ods.opinsights.azure.com`, `<id>.oms…`, `<id>.agentsvc.azure-automation.net`. */
  logAnalyticsWorkspaces: z
    .array(
      tenantValue(
        'a Log Analytics workspace ID',
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        '.ods.opinsights.azure.com',
        '8b1a0c2e-53f1-4a7e-9f0e-2d7c3b4a5e6f',
      ),
    )
    .default([]),
  /** Storage account names (MMA accounts from TestCloudConnection, Arc extension accounts). */
  storageAccounts: z
    .array(
      tenantValue('a storage account name', /^[a-z0-9]{3,24}$/, '.blob.core.windows.net', 'contosologs01'),
    )
    .default([]),
  /** Azure regions of AMA and Arc machines (`<region>.handler.control.monitor.azure.com`, …). */
  azureRegions: z
    .array(tenantValue('an Azure region name', /^[a-z][a-z0-9]{1,39}$/, '', 'westeurope'))
    .default([]),
  /** AMA data collection endpoints as `<name>.<region>`. */
  dataCollectionEndpoints: z
    .array(
      tenantValue(
        'a data collection endpoint (<name>.<region>)',
        /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.[a-z][a-z0-9]{1,39}$/,
        '.ingest.monitor.azure.com',
        'contoso-dce-a1b2.westeurope',
      ),
    )
    .default([]),
  /** Azure Relay namespaces (first label) from the Arc notification allowlist API. */
  relayNamespaces: z
    .array(
      tenantValue('a relay namespace label', LABEL, '.servicebus.windows.net', 'azgnrelay-westeurope-l1'),
    )
    .default([]),
  /** Arc gateway names: `<name>.gw.arc.azure.com`. */
  arcGateways: z
    .array(tenantValue('an Arc gateway name', LABEL, '.gw.arc.azure.com', 'contoso-gw'))
    .default([]),
});

export type CatalogSelection = z.output<typeof catalogSelectionSchema>;
export type CatalogSelectionInput = z.input<typeof catalogSelectionSchema>;

export type SelectionResultParse =
  | { readonly ok: true; readonly selection: CatalogSelection }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Validates a selection given as data (configuration section, command-line flags). */
export function parseCatalogSelection(raw: unknown, where: string): SelectionResultParse {
  const parsed = catalogSelectionSchema.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, selection: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((issue) => {
      return `${where}${issue.path.length === 0 ? '' : `.${formatIssuePath(issue.path)}`}: ${issue.message}`;
    }),
  };
}

/** The part of a rule one catalog entry contributed. */
export interface RuleContribution {
  readonly entryId: string;
  /** The host the entry contributed (its template filled), when known. */
  readonly host?: string;
  /** Set when the entry's template could not be filled and its documented wildcard was used. */
  readonly fallbackField?: TemplateField;
}

/** One effective host rule compiled from the catalog. */
export interface SelectedRule {
  /** The rule as the policy shows it (`name`, `.suffix`, `*.suffix`). */
  readonly host: string;
  readonly pattern: HostPattern;
  readonly ports: readonly number[];
  /** Entries behind the rule, the rule's own first, then entries whose names it covers. */
  readonly contributions: readonly RuleContribution[];
}

export type SelectionNoteCode = 'FALLBACK' | 'UNFILLED' | 'GAP' | 'OPT_IN' | 'UNKNOWN_ID' | 'NO_ENTRIES';

export interface SelectionNote {
  readonly level: 'warning' | 'info';
  readonly code: SelectionNoteCode;
  readonly message: string;
  readonly entryIds?: readonly string[];
}

export interface CatalogSelectionResult {
  readonly rules: readonly SelectedRule[];
  /** The rules as policy destinations, origin naming the catalog entries. */
  readonly destinations: readonly DestinationSpec[];
  /** The catalog entries that matched the selection (before templates were filled). */
  readonly entries: readonly CatalogEntry[];
  readonly notes: readonly SelectionNote[];
}

const WHERE_PREFIX = 'catalog: ';
const FALLBACK_RE = /^(.+) \(fallback: catalog\.([A-Za-z]+) is empty\)$/;

/** `catalog: <id>; <id> (fallback: catalog.<field> is empty)`: the origin text of a catalog rule. */
export function formatCatalogWhere(contributions: readonly RuleContribution[]): string {
  return (
    WHERE_PREFIX +
    contributions
      .map((c) =>
        c.fallbackField === undefined
          ? c.entryId
          : `${c.entryId} (fallback: catalog.${c.fallbackField} is empty)`,
      )
      .join('; ')
  );
}

/** Reads back a rule origin written by formatCatalogWhere; null when the rule did not come from the catalog. */
export function parseCatalogWhere(where: string): RuleContribution[] | null {
  if (!where.startsWith(WHERE_PREFIX)) return null;
  const fields = new Set<string>(Object.values(TEMPLATE_PARAMS));
  return where
    .slice(WHERE_PREFIX.length)
    .split('; ')
    .map((part): RuleContribution => {
      const m = FALLBACK_RE.exec(part);
      if (m !== null && fields.has(m[2]!)) return { entryId: m[1]!, fallbackField: m[2] as TemplateField };
      return { entryId: part };
    });
}

/** The selected geographies: WW, the tenant's, and the US Government label for government clouds. */
export function selectedGeos(selection: CatalogSelection): Set<Geo> {
  const geos = new Set<Geo>(['WW', ...selection.geographies]);
  if (selection.cloud !== 'commercial') geos.add('USGov');
  return geos;
}

function serviceSelected(selection: CatalogSelection, service: Service): boolean {
  if (selection.excludeServices.includes(service)) return false;
  return selection.services === undefined
    ? !OPT_IN_SERVICES.includes(service)
    : selection.services.includes(service);
}

/** Whether the entry belongs to the tenant's products, cloud and geographies (service, OS and optional filters apart). */
function inScope(entry: CatalogEntry, selection: CatalogSelection, geos: ReadonlySet<Geo>): boolean {
  return (
    entry.products.some((p) => selection.products.includes(p)) &&
    entry.clouds.includes(selection.cloud) &&
    (geos.has(entry.geo) || (entry.alsoGeos ?? []).some((g) => geos.has(g)))
  );
}

interface RuleBuilder {
  host: string;
  pattern: HostPattern;
  ports: Set<number>;
  contributions: RuleContribution[];
}

/**
 * Selection → host rules. Templates are filled from the tenant values; an entry whose
 * template cannot be filled falls back to its documented wildcard (and says so) or, without
 * one, is reported and left out. Entries that yield the same host are merged (ports united);
 * a rule wholly covered by a broader selected rule is folded into it, so the policy compiler
 * has nothing to warn about.
 */
export function selectDestinations(catalog: Catalog, selection: CatalogSelection): CatalogSelectionResult {
  const geos = selectedGeos(selection);
  const notes: SelectionNote[] = [];
  const entries: CatalogEntry[] = [];
  const byHost = new Map<string, RuleBuilder>();
  const order: RuleBuilder[] = [];
  const optInSkipped = new Map<Service, string[]>();
  const known = new Set(catalog.entries.map((e) => e.id));

  for (const field of ['exclude', 'include'] as const) {
    for (const id of selection[field]) {
      if (!known.has(id))
        notes.push({
          level: 'warning',
          code: 'UNKNOWN_ID',
          message: `catalog.${field}: no catalog entry "${id}"`,
        });
    }
  }
  for (const id of selection.include) {
    const entry = catalog.entries.find((e) => e.id === id);
    if (entry !== undefined && entry.optIn === undefined)
      notes.push({
        level: 'info',
        code: 'UNKNOWN_ID',
        message: `catalog.include: "${id}" is not an opt-in entry; the selection decides it like any other`,
        entryIds: [id],
      });
  }

  const add = (host: string, entry: CatalogEntry, contribution: RuleContribution): void => {
    const pattern = parseHostPattern(host);
    if ('error' in pattern) {
      // Schema checks make this unreachable for valid catalogs; say so rather than drop it.
      notes.push({
        level: 'warning',
        code: 'UNFILLED',
        message: `${entry.id}: ${pattern.error}`,
        entryIds: [entry.id],
      });
      return;
    }
    const text = formatHostPattern(pattern);
    let rule = byHost.get(text);
    if (rule === undefined) {
      rule = { host: text, pattern, ports: new Set(), contributions: [] };
      byHost.set(text, rule);
      order.push(rule);
    }
    for (const port of entry.ports) rule.ports.add(port);
    if (!rule.contributions.some((c) => c.entryId === contribution.entryId))
      rule.contributions.push({ ...contribution, host: text });
  };

  for (const entry of catalog.entries) {
    if (!inScope(entry, selection, geos)) continue;
    if (!serviceSelected(selection, entry.service)) {
      if (OPT_IN_SERVICES.includes(entry.service) && !selection.excludeServices.includes(entry.service)) {
        const list = optInSkipped.get(entry.service) ?? [];
        list.push(entry.id);
        optInSkipped.set(entry.service, list);
      }
      continue;
    }
    if (!selection.includeOptional && !entry.required) continue;
    if (selection.os !== undefined && entry.os.length > 0 && !entry.os.some((o) => selection.os!.includes(o)))
      continue;
    if (selection.exclude.includes(entry.id)) continue;
    if (entry.optIn !== undefined && !selection.include.includes(entry.id)) {
      notes.push({
        level: 'info',
        code: 'OPT_IN',
        message: `${entry.id} not opened: ${entry.optIn}. Add it to catalog.include to open it`,
        entryIds: [entry.id],
      });
      continue;
    }
    entries.push(entry);

    if (entry.template === undefined) {
      add(entry.host, entry, { entryId: entry.id });
      continue;
    }
    const { param, fallback } = entry.template;
    const field = TEMPLATE_PARAMS[param];
    const values = selection[field];
    if (values.length > 0) {
      for (const value of values) add(fillTemplate(entry.host, param, value), entry, { entryId: entry.id });
    } else if (fallback !== undefined) {
      add(fallback, entry, { entryId: entry.id, fallbackField: field });
      notes.push({
        level: 'warning',
        code: 'FALLBACK',
        message: `${entry.id}: catalog.${field} is empty, so the documented wildcard ${fallback} is used; list your values in catalog.${field} to narrow it`,
        entryIds: [entry.id],
      });
    } else {
      notes.push({
        level: entry.required ? 'warning' : 'info',
        code: 'UNFILLED',
        message: `${entry.id}: left out because catalog.${field} is empty and the sources give no wildcard for ${entry.host}`,
        entryIds: [entry.id],
      });
    }
  }

  for (const [service, ids] of optInSkipped) {
    notes.push({
      level: 'info',
      code: 'OPT_IN',
      message: `${ids.length} ${service} entr${ids.length === 1 ? 'y' : 'ies'} not opened: add "${service}" to catalog.services to open ${ids.length === 1 ? 'it' : 'them'}`,
      entryIds: ids,
    });
  }

  const rules = foldCovered(order);
  const selectedIds = new Set(entries.map((e) => e.id));
  for (const gap of catalog.gaps) {
    const scoped = gap.products !== undefined || gap.geos !== undefined || gap.clouds !== undefined;
    if (!scoped && gap.entries === undefined) continue;
    if (gap.products !== undefined && !gap.products.some((p) => selection.products.includes(p))) continue;
    if (gap.geos !== undefined && !gap.geos.some((g) => g !== 'WW' && geos.has(g))) continue;
    if (gap.clouds !== undefined && !gap.clouds.includes(selection.cloud)) continue;
    if (gap.entries !== undefined && !gap.entries.some((id) => selectedIds.has(id))) continue;
    notes.push({
      level: gap.geos !== undefined || gap.clouds !== undefined ? 'warning' : 'info',
      code: 'GAP',
      message: `catalog gap "${gap.id}": ${gap.text}`,
      ...(gap.entries === undefined ? {} : { entryIds: gap.entries }),
    });
  }
  if (rules.length === 0) {
    notes.push({
      level: 'warning',
      code: 'NO_ENTRIES',
      message: 'the catalog selection opens no destination',
    });
  }

  const byId = new Map(entries.map((e) => [e.id, e]));
  const destinations = rules.map((rule): DestinationSpec => ({
    host: rule.host,
    ports: rule.ports,
    origin: {
      source: 'catalog',
      where: formatCatalogWhere(rule.contributions),
      catalog: rule.contributions.flatMap((c): RuleCatalogRef[] => {
        const entry = byId.get(c.entryId);
        if (entry === undefined) return [];
        const product = entry.products.find((p) => selection.products.includes(p)) ?? entry.products[0]!;
        return [{ id: entry.id, product, service: entry.service, host: c.host ?? rule.host }];
      }),
    },
  }));
  return { rules, destinations, entries, notes };
}

function isSubset(inner: ReadonlySet<number>, outer: ReadonlySet<number>): boolean {
  for (const p of inner) if (!outer.has(p)) return false;
  return true;
}

/**
 * Folds every rule covered by a broader rule with at least its ports into that rule, then
 * widens the ports of nested rules that remain to include their parents' ports: the policy
 * matches the most specific rule only, and a nested rule must not take away what a broader
 * one allows.
 */
function foldCovered(order: readonly RuleBuilder[]): SelectedRule[] {
  const live = [...order];
  let changed = true;
  while (changed) {
    changed = false;
    for (const rule of live) {
      const outer = live.find(
        (o) =>
          o !== rule &&
          o.pattern.kind !== 'exact' &&
          patternCovers(o.pattern, rule.pattern) &&
          isSubset(rule.ports, o.ports),
      );
      if (outer === undefined) continue;
      for (const c of rule.contributions) {
        if (!outer.contributions.some((x) => x.entryId === c.entryId)) outer.contributions.push(c);
      }
      live.splice(live.indexOf(rule), 1);
      changed = true;
      break;
    }
  }
  return live.map((rule) => {
    const ports = new Set(rule.ports);
    for (const o of live) {
      if (o !== rule && o.pattern.kind !== 'exact' && patternCovers(o.pattern, rule.pattern)) {
        for (const p of o.ports) ports.add(p);
      }
    }
    return {
      host: rule.host,
      pattern: rule.pattern,
      ports: [...ports].sort((a, b) => a - b),
      contributions: rule.contributions,
    };
  });
}
