import {
  formatHostPattern,
  parseHostPattern,
  patternCovers,
  type HostPattern,
  type RuleOrigin,
} from '../policy/index.js';
import { parseCatalogWhere } from './select.js';
import type { Catalog, CatalogEntry, TemplateField } from './schema.js';

/** A destination rule as written, wherever it came from (policy, dstdomain file, catalog). */
export interface LintRule {
  readonly text: string;
  readonly origin: RuleOrigin;
}

export type LintSeverity = 'high' | 'medium' | 'low';

export type LintCode =
  /** The rule admits names any cloud customer can create. */
  | 'CUSTOMER_CREATABLE'
  /** The rule admits a whole registrable domain. */
  | 'BROAD_DOMAIN'
  /** The rule is for something no Defender agent needs. */
  | 'NOT_AGENT_TRAFFIC'
  /** The rule is not a valid host rule. */
  | 'INVALID_RULE';

export interface LintFinding {
  readonly rule: string;
  readonly where: string;
  readonly severity: LintSeverity;
  readonly code: LintCode;
  /** The namespaces concerned, e.g. ["blob.core.windows.net"]. */
  readonly namespaces: readonly string[];
  readonly why: string;
  readonly narrow: string;
  /** For rules compiled from the catalog: the entries behind it and why it is still wide. */
  readonly catalog?: {
    readonly entryIds: readonly string[];
    /** The sources give no narrower name: their explanation. */
    readonly noNarrowerName?: string;
    /** The tenant value that would narrow it. */
    readonly fallbackField?: TemplateField;
  };
}

interface SharedNamespace {
  readonly suffix: string;
  readonly who: string;
  readonly narrow: string;
}

/**
 * Namespaces where anyone with a subscription to the provider can create a host name. A rule
 * admitting one lets a device (or an attacker on the network) reach infrastructure the
 * attacker controls: the gateway becomes an exfiltration and command-and-control path.
 */
export const SHARED_NAMESPACES: readonly SharedNamespace[] = [
  {
    suffix: 'blob.core.windows.net',
    who: 'any Azure customer can create a storage account, and with it <account>.blob.core.windows.net',
    narrow:
      'list storage accounts by name: the catalog names the Defender accounts per geography; for the Log Analytics agent use the accounts TestCloudConnection.exe prints (catalog.storageAccounts)',
  },
  {
    suffix: 'core.windows.net',
    who: 'any Azure customer can create storage accounts (blob, file, queue, table, static website) under it',
    narrow: 'list the storage accounts the agents use by name',
  },
  {
    suffix: 'blob.core.usgovcloudapi.net',
    who: 'any Azure Government customer can create a storage account under it',
    narrow: 'list the storage accounts by name',
  },
  {
    suffix: 'azurewebsites.net',
    who: 'any Azure customer can publish an App Service app as <app>.azurewebsites.net',
    narrow:
      'no Defender agent needs it; SQL Server enabled by Arc needs only san-af-<region>-prod.azurewebsites.net (catalog product arc-sql with catalog.azureRegions)',
  },
  {
    suffix: 'cloudapp.azure.com',
    who: 'any Azure customer can give a virtual machine or load balancer a public DNS label under it',
    narrow: 'no Defender endpoint is documented under it; remove the rule',
  },
  {
    suffix: 'cloudapp.net',
    who: 'any Azure customer could create a classic cloud service under it',
    narrow: 'no Defender endpoint is documented under it; remove the rule',
  },
  {
    suffix: 'trafficmanager.net',
    who: 'any Azure customer can create a Traffic Manager profile under it',
    narrow:
      'Defender names resolve through Traffic Manager aliases, but the gateway checks the name the client asked for: allow the documented names, not the alias domain',
  },
  {
    suffix: 'servicebus.windows.net',
    who: 'any Azure customer can create a Service Bus, Event Hubs or Relay namespace under it',
    narrow:
      'Arc notifications need only their relay namespaces: get them from the guestnotificationservice allowlist API for your region and list them in catalog.relayNamespaces',
  },
  {
    suffix: 'azureedge.net',
    who: 'any Azure customer can create a CDN endpoint under it',
    narrow: 'no Defender endpoint is documented under it; remove the rule',
  },
  {
    suffix: 'azurefd.net',
    who: 'any Azure customer can create a Front Door endpoint under it',
    narrow: 'no Defender endpoint is documented under it; remove the rule',
  },
  {
    suffix: 'azure-api.net',
    who: 'any Azure customer can create an API Management service under it',
    narrow: 'no Defender endpoint is documented under it; remove the rule',
  },
  {
    suffix: 'ods.opinsights.azure.com',
    who: 'any Azure customer can create a Log Analytics workspace, so data can be sent to a workspace an attacker reads',
    narrow: 'list your workspace IDs in catalog.logAnalyticsWorkspaces (<id>.ods.opinsights.azure.com)',
  },
  {
    suffix: 'oms.opinsights.azure.com',
    who: 'any Azure customer can create a Log Analytics workspace',
    narrow: 'list your workspace IDs in catalog.logAnalyticsWorkspaces (<id>.oms.opinsights.azure.com)',
  },
  {
    suffix: 'ods.opinsights.azure.us',
    who: 'any Azure Government customer can create a Log Analytics workspace',
    narrow: 'allow <workspace-id>.ods.opinsights.azure.us for your workspaces only',
  },
  {
    suffix: 'oms.opinsights.azure.us',
    who: 'any Azure Government customer can create a Log Analytics workspace',
    narrow: 'allow <workspace-id>.oms.opinsights.azure.us for your workspaces only',
  },
  {
    suffix: 'azure-automation.net',
    who: 'any Azure customer can create a Log Analytics workspace or Automation account with a name under it',
    narrow:
      'list your workspace IDs in catalog.logAnalyticsWorkspaces (<id>.agentsvc.azure-automation.net); Automation account endpoints must be added by name',
  },
  {
    suffix: 'atp.azure.com',
    who: 'every Defender for Identity tenant has a workspace sensor API under it',
    narrow: 'list your workspace name in catalog.mdiWorkspaces (<name>sensorapi.atp.azure.com)',
  },
  {
    suffix: 'ingest.monitor.azure.com',
    who: 'any Azure customer can create a data collection endpoint under it',
    narrow: 'list your endpoints in catalog.dataCollectionEndpoints',
  },
  {
    suffix: 'gw.arc.azure.com',
    who: 'any Azure customer can create an Arc gateway under it',
    narrow: 'list your gateway in catalog.arcGateways',
  },
  {
    suffix: 'akamaized.net',
    who: 'every Akamai customer publishes content under it',
    narrow: 'the agents need only officecdn-microsoft-com.akamaized.net (older macOS builds)',
  },
];

/** Whole Microsoft domains: too many services to review, so a rule for one is never narrow. */
const BROAD_FIRST_PARTY = new Set([
  'microsoft.com',
  'windows.com',
  'windows.net',
  'azure.com',
  'azure.net',
  'office.com',
  'live.com',
  'microsoft.us',
  'azure.us',
  'usgovcloudapi.net',
]);

/** Names seen on Defender allowlists that no agent needs. */
const NOT_AGENT_TRAFFIC: readonly { readonly name: string; readonly why: string }[] = [
  { name: 'ssllabs.com', why: 'a third-party TLS test site, not a Defender service' },
  {
    name: 'sharepointonline.com',
    why: "Defender portal content for administrators' browsers, not agent traffic",
  },
  { name: 'microsoftonline-p.com', why: "portal sign-in for administrators' browsers, not agent traffic" },
  { name: 'archive.ubuntu.com', why: "the appliance's own operating-system updates, not agent traffic" },
];

function covers(outer: HostPattern, suffix: string): boolean {
  return patternCovers(outer, { kind: 'subdomains', name: suffix });
}

function labelCount(name: string): number {
  return name.split('.').length;
}

function catalogContext(
  where: string,
  byId: ReadonlyMap<string, CatalogEntry>,
): LintFinding['catalog'] | undefined {
  const contributions = parseCatalogWhere(where);
  if (contributions === null) return undefined;
  const entries = contributions.map((c) => byId.get(c.entryId)).filter((e) => e !== undefined);
  const noNarrowerName = entries.find((e) => e.noNarrowerName !== undefined)?.noNarrowerName;
  const fallbackField = contributions.find((c) => c.fallbackField !== undefined)?.fallbackField;
  return {
    entryIds: contributions.map((c) => c.entryId),
    ...(noNarrowerName === undefined ? {} : { noNarrowerName }),
    ...(fallbackField === undefined ? {} : { fallbackField }),
  };
}

/** A hand-written rule that is exactly a catalog wildcard the sources give nothing narrower for. */
function documentedWildcard(text: string, catalog: Catalog | undefined): LintFinding['catalog'] | undefined {
  const entries = (catalog?.entries ?? []).filter(
    (e) => e.template === undefined && e.host === text && e.noNarrowerName !== undefined,
  );
  const first = entries[0];
  if (first?.noNarrowerName === undefined) return undefined;
  return { entryIds: entries.map((e) => e.id), noNarrowerName: first.noNarrowerName };
}

/**
 * Rules → findings: rules that admit names any cloud customer can create, whole registrable
 * domains, and names no agent needs. Rules compiled from the catalog are explained with the
 * entries behind them: whether a tenant value would narrow them or the sources give nothing
 * narrower. Pure; the same findings feed `airlock catalog lint` and the startup warnings.
 */
export function lintRules(rules: readonly LintRule[], catalog?: Catalog): LintFinding[] {
  const byId = new Map((catalog?.entries ?? []).map((e) => [e.id, e] as const));
  const findings: LintFinding[] = [];
  for (const rule of rules) {
    const where = rule.origin.where;
    const parsed = parseHostPattern(rule.text);
    if ('error' in parsed) {
      findings.push({
        rule: rule.text,
        where,
        severity: 'medium',
        code: 'INVALID_RULE',
        namespaces: [],
        why: parsed.error,
        narrow: 'fix or remove the entry',
      });
      continue;
    }
    const text = formatHostPattern(parsed);
    const context = catalogContext(where, byId) ?? documentedWildcard(text, catalog);
    const withContext = (finding: Omit<LintFinding, 'catalog'>): LintFinding => {
      if (context === undefined) return finding;
      let narrow = finding.narrow;
      if (context.fallbackField !== undefined) {
        narrow = `catalog.${context.fallbackField} is empty, so the documented wildcard is used: ${finding.narrow}`;
      } else if (context.noNarrowerName !== undefined) {
        narrow = `the sources give no narrower name: ${context.noNarrowerName}`;
      }
      return { ...finding, narrow, catalog: context };
    };

    if (parsed.kind !== 'exact') {
      const shared = SHARED_NAMESPACES.filter((ns) => covers(parsed, ns.suffix));
      const first = shared[0];
      if (first !== undefined) {
        const others = shared.slice(1).map((ns) => ns.suffix);
        findings.push(
          withContext({
            rule: text,
            where,
            severity: 'high',
            code: 'CUSTOMER_CREATABLE',
            namespaces: shared.map((ns) => ns.suffix),
            why:
              `admits ${first.suffix} names: ${first.who}; a device or an attacker on the network can use the gateway to reach infrastructure an outsider controls (exfiltration, command and control)` +
              (others.length > 0 ? `; it also admits ${others.join(', ')}` : ''),
            narrow: first.narrow,
          }),
        );
      }
      const unneededHere = NOT_AGENT_TRAFFIC.some((n) => n.name === parsed.name);
      const sharedHere = shared.some((ns) => ns.suffix === parsed.name);
      if (labelCount(parsed.name) <= 2 && !unneededHere && !sharedHere) {
        const firstParty = BROAD_FIRST_PARTY.has(parsed.name);
        findings.push(
          withContext({
            rule: text,
            where,
            severity: firstParty ? 'high' : 'medium',
            code: 'BROAD_DOMAIN',
            namespaces: [parsed.name],
            why: firstParty
              ? `admits every present and future host of ${parsed.name}: thousands of services, not the few dozen names the agents use, so what passes cannot be reviewed`
              : `admits every host of the registrable domain ${parsed.name}, not just the names the agents use`,
            narrow: narrowFromCatalog(parsed, catalog),
          }),
        );
      }
    }

    const unneeded = NOT_AGENT_TRAFFIC.find(
      (n) =>
        patternCovers(parsed, { kind: 'exact', name: n.name }) ||
        patternCovers({ kind: 'domain', name: n.name }, parsed),
    );
    if (unneeded !== undefined) {
      findings.push(
        withContext({
          rule: text,
          where,
          severity: 'low',
          code: 'NOT_AGENT_TRAFFIC',
          namespaces: [unneeded.name],
          why: unneeded.why,
          narrow: 'remove the rule from the agents’ gateway',
        }),
      );
    }
  }
  return findings;
}

/** What the catalog has under a broad rule, as a narrowing hint. */
function narrowFromCatalog(pattern: HostPattern, catalog: Catalog | undefined): string {
  const names = new Set<string>();
  for (const entry of catalog?.entries ?? []) {
    if (entry.template !== undefined) continue;
    const inner = parseHostPattern(entry.host);
    if ('error' in inner || !patternCovers(pattern, inner)) continue;
    if (inner.kind === pattern.kind && inner.name === pattern.name) continue;
    if (inner.kind !== 'exact' && inner.name === pattern.name) continue;
    names.add(formatHostPattern(inner));
  }
  if (names.size === 0) return 'replace it with the names the agents use (airlock catalog list)';
  const list = [...names];
  const shown = list.slice(0, 6).join(', ');
  return `replace it with the catalog's names under it (${list.length}: ${shown}${list.length > 6 ? ', …' : ''}); select them with the catalog: section`;
}

const SEVERITY_RANK: Readonly<Record<LintSeverity, number>> = { high: 0, medium: 1, low: 2 };

/** One line per finding of medium or high severity, for the startup log. */
export function lintWarnings(findings: readonly LintFinding[]): string[] {
  return findings
    .filter((f) => SEVERITY_RANK[f.severity] <= SEVERITY_RANK.medium)
    .map((f) => `${f.where}: "${f.rule}" ${f.why}. To narrow: ${f.narrow}`);
}

/** Findings as text for people: one block per finding, most severe first. */
export function renderLintText(findings: readonly LintFinding[]): string {
  if (findings.length === 0) return 'no findings\n';
  const sorted = [...findings].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  const blocks = sorted.map(
    (f) =>
      `${f.severity.toUpperCase()} ${f.code} "${f.rule}" (${f.where})\n  why: ${f.why}\n  narrow: ${f.narrow}\n`,
  );
  const counts = (['high', 'medium', 'low'] as const)
    .map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`)
    .join(', ');
  return `${blocks.join('')}${findings.length} finding${findings.length === 1 ? '' : 's'} (${counts})\n`;
}
