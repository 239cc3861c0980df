import { readFile } from 'node:fs/promises';
import {
  builtinCatalog,
  lintRules,
  lintWarnings,
  parseCatalogWhere,
  selectDestinations,
  type LintFinding,
} from '../catalog/index.js';
import { AirlockError, fileErrorWords } from '../errors/index.js';
import {
  listenersOverlap,
  parseConfig,
  parseListenAddress,
  type Config,
  type ListenAddress,
} from '../config/index.js';
import {
  compilePolicy,
  parseDstdomain,
  singleLabelWarning,
  type DestinationRule,
  type DestinationSpec,
  type Policy,
} from '../policy/index.js';
import { parseHostsFile } from '../gateway/index.js';

export interface LoadOptions {
  readonly configFile?: string | undefined;
  /** --listen, repeatable: replaces the configured listeners. */
  readonly listen?: readonly string[] | undefined;
  /** --allowlist, repeatable: replaces the configured destination rules. */
  readonly allowlist?: readonly string[] | undefined;
}

/**
 * A file a configuration was read from and its text (null: it was missing, which only the hosts
 * file may be). The supervisor hands these to its workers, so that every worker runs what the
 * supervisor validated, whatever the files on disk say by the time the worker reads them.
 */
export interface FileText {
  readonly path: string;
  readonly text: string | null;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly listeners: readonly ListenAddress[];
  readonly policy: Policy;
  /** The configuration's `hosts:` section. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** The system hosts file (dns.hostsFile). */
  readonly systemHosts: ReadonlyMap<string, readonly string[]>;
  readonly warnings: readonly string[];
  /** The destinations are the catalog selection (no allowlist file or configured destination replaces it). */
  readonly catalogInForce: boolean;
  /** Where hand-written destinations of this configuration live: its allowlist files, or policy.destinations. */
  readonly ruleFiles: readonly string[];
  /** Lint findings of the effective rules (also among the warnings, as sentences), those acknowledged in lint.acknowledge left out. */
  readonly lint: readonly LintFinding[];
  /** How many findings lint.acknowledge left out. */
  readonly acknowledged: number;
  /** Every file this configuration was loaded from, as it was read. */
  readonly texts: readonly FileText[];
}

async function readText(path: string, what: string, namedAt?: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const why = fileErrorWords(error);
    const at =
      namedAt === undefined
        ? ''
        : namedAt.startsWith('--')
          ? `; given by ${namedAt}`
          : `; named at ${namedAt}`;
    throw new AirlockError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${why}${at}`, { cause: error });
  }
}

/** The proxy listeners and the admin listener must not fight over a port. */
function checkAdminListener(config: Config, listeners: readonly ListenAddress[], fromCli: boolean): void {
  const admin = config.file.admin.listen;
  if (admin === null) return;
  const clash = listeners.findIndex((l) => listenersOverlap(admin, l));
  if (clash < 0) return;
  const listener = listeners[clash]!;
  const where = fromCli ? 'given by --listen' : `at ${config.listenerWhere[clash]}`;
  throw new AirlockError(
    'CONFIG_INVALID',
    `admin.listen: ${admin.text} ${admin.host === listener.host ? 'is' : 'overlaps'} the proxy listener ${listener.text} ${where}: both would bind port ${admin.port}; give the admin listener another port, at ${config.adminWhere}`,
  );
}

/** Which rules a port of policy.ports can serve: rules without ports of their own, and rules that list it. */
export function rulesForPort(policy: Policy, port: number): DestinationRule[] {
  return policy.rules.filter((r) => r.ports === null || r.ports.has(port));
}

/** A port of policy.ports that no rule can use: every rule lists its own ports, and none lists it. */
function unusedPortWarnings(policy: Policy): string[] {
  const warnings: string[] = [];
  if (policy.rules.length === 0) return warnings;
  for (const [key, ports] of [
    ['connect', policy.connectPorts],
    ['http', policy.httpPorts],
  ] as const) {
    for (const port of ports) {
      if (rulesForPort(policy, port).length > 0) continue;
      warnings.push(
        `policy.ports.${key}: port ${port} is allowed by no destination rule: every rule lists its own ports (catalog rules carry the ports Microsoft documents) and none lists ${port}; give the rules that need it \`ports: [${port}]\` in policy.destinations`,
      );
    }
  }
  return warnings;
}

/** How a lint finding can be named in lint.acknowledge: the rule, CODE:rule, its catalog entries (the last is the one to suggest). */
function findingIds(f: LintFinding): string[] {
  const entries = parseCatalogWhere(f.where)?.map((c) => c.entryId) ?? [];
  return [f.rule, `${f.code}:${f.rule}`, ...entries];
}

/**
 * Reads the configuration and every file it names, applies command-line overrides and
 * compiles the policy. All-or-nothing: any error throws, so a reload keeps the old policy.
 * `from`: the texts of files read before (`LoadedConfig.texts`), used instead of the files on
 * disk.
 */
export async function loadConfig(options: LoadOptions, from?: readonly FileText[]): Promise<LoadedConfig> {
  const texts: FileText[] = [];
  const given = (path: string): FileText | undefined => from?.find((f) => f.path === path);
  const read = async (path: string, what: string, namedAt?: string): Promise<string> => {
    const text = given(path)?.text ?? (await readText(path, what, namedAt));
    texts.push({ path, text });
    return text;
  };
  const fileName = options.configFile ?? '<defaults>';
  const text = options.configFile === undefined ? '' : await read(options.configFile, 'configuration file');
  const parsed = parseConfig(text, fileName);
  if (!parsed.ok) throw new AirlockError('CONFIG_INVALID', parsed.errors.join('\n'));
  const config = withObservationOverride(parsed.config, process.env.AIRLOCK_OBSERVATION);

  let listeners: readonly ListenAddress[] = config.file.listeners;
  const listenFromCli = options.listen !== undefined && options.listen.length > 0;
  if (listenFromCli) {
    listeners = options.listen.map((text) => {
      const l = parseListenAddress(text);
      if ('error' in l) throw new AirlockError('USAGE', `--listen: ${l.error}`);
      return l;
    });
  }
  checkAdminListener(config, listeners, listenFromCli);

  const errors: string[] = [];
  const listWarnings: string[] = [];
  const destinations: DestinationSpec[] = [];
  const allowlistFiles =
    options.allowlist !== undefined && options.allowlist.length > 0
      ? options.allowlist.map((path) => ({ path, where: '--allowlist' }))
      : config.allowlistFiles;
  for (const file of allowlistFiles) {
    const result = parseDstdomain(await read(file.path, 'allowlist', file.where), file.path);
    errors.push(...result.errors);
    listWarnings.push(...result.warnings);
    destinations.push(...result.destinations);
  }
  const fromCli = options.allowlist !== undefined && options.allowlist.length > 0;
  if (!fromCli && config.destinations !== undefined) destinations.push(...config.destinations);
  for (const d of destinations) {
    const warning = singleLabelWarning(d);
    if (warning !== null) listWarnings.push(warning);
  }
  const useDefault =
    config.file.policy.defaultAllowlist ??
    (!fromCli && config.destinations === undefined && config.allowlistFiles.length === 0);
  const catalogWarnings: string[] = [];
  if (useDefault) {
    const selection = selectDestinations(builtinCatalog(), config.file.catalog);
    destinations.push(...selection.destinations);
    for (const note of selection.notes) {
      // Documented gaps are for `catalog list` and `policy show`; startup warns about what the operator can act on.
      if (note.level === 'warning' && note.code !== 'GAP') catalogWarnings.push(`catalog: ${note.message}`);
    }
  }
  if (errors.length > 0) throw new AirlockError('CONFIG_INVALID', errors.join('\n'));

  const compiled = compilePolicy({
    sources: config.sources,
    destinations,
    ports: config.file.policy.ports,
    methods: config.file.policy.methods,
    internalNetworks: config.internalNetworks,
  });
  if (!compiled.ok) throw new AirlockError('CONFIG_INVALID', compiled.errors.join('\n'));

  let systemHosts = new Map<string, string[]>();
  const hostsFile = config.file.dns.hostsFile;
  if (hostsFile !== null) {
    let hostsText = given(hostsFile)?.text;
    if (hostsText === undefined) {
      try {
        hostsText = await readFile(hostsFile, 'utf8');
      } catch {
        // A missing hosts file is normal in containers; DNS still works.
        hostsText = null;
      }
    }
    texts.push({ path: hostsFile, text: hostsText });
    if (hostsText !== null) systemHosts = parseHostsFile(hostsText);
  }
  const findings = lintRules(
    compiled.policy.rules.filter((r) => r.pattern !== null).map((r) => ({ text: r.text, origin: r.origin })),
    builtinCatalog(),
  );
  const acknowledge = config.file.lint.acknowledge;
  const isAcknowledged = (f: LintFinding): boolean => findingIds(f).some((id) => acknowledge.includes(id));
  const lint = findings.filter((f) => !isAcknowledged(f));
  const unmatched = acknowledge
    .filter((id) => !findings.some((f) => findingIds(f).includes(id)))
    .map((id) => `lint.acknowledge: "${id}" matches no lint finding of the effective rules`);
  const warnings = [
    ...listWarnings,
    ...compiled.warnings,
    ...unusedPortWarnings(compiled.policy),
    ...catalogWarnings,
    ...lint.flatMap((f) =>
      lintWarnings([f]).map(
        (w) => `${w} (reviewed and accepted? lint.acknowledge: ["${findingIds(f).at(-1)!}"])`,
      ),
    ),
    ...unmatched,
  ];
  if (config.file.mode === 'audit') {
    warnings.push(
      'mode: audit — destinations the policy would refuse are ALLOWED and logged as would_deny; sources are still enforced',
    );
  }
  const ruleFiles = allowlistFiles.map((f) => f.path);
  if (!fromCli && config.destinations !== undefined) ruleFiles.push('policy.destinations');
  return {
    config,
    listeners,
    policy: compiled.policy,
    hosts: config.hosts,
    systemHosts,
    warnings,
    catalogInForce: useDefault,
    ruleFiles,
    lint,
    acknowledged: findings.length - lint.length,
    texts,
  };
}

/**
 * AIRLOCK_OBSERVATION=off (or on) overrides observe.state for one run without editing the
 * configuration: the benchmark measures what the observed state costs this way.
 */
function withObservationOverride(config: Config, value: string | undefined): Config {
  if (value !== 'off' && value !== 'on') return config;
  const file = config.file;
  return { ...config, file: { ...file, observe: { ...file.observe, state: value === 'on' } } };
}
