import { readFile } from 'node:fs/promises';
import {
  builtinCatalog,
  lintRules,
  lintWarnings,
  selectDestinations,
  type LintFinding,
} from '../catalog/index.js';
import { AirlockError } from '../errors/index.js';
import { parseConfig, parseListenAddress, type Config, type ListenAddress } from '../config/index.js';
import { compilePolicy, parseDstdomain, type DestinationSpec, type Policy } from '../policy/index.js';
import { parseHostsFile } from '../gateway/index.js';

export interface LoadOptions {
  readonly configFile?: string | undefined;
  /** --listen, repeatable: replaces the configured listeners. */
  readonly listen?: readonly string[] | undefined;
  /** --allowlist, repeatable: replaces the configured destination rules. */
  readonly allowlist?: readonly string[] | undefined;
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
  /** Lint findings of the policy's host rules (also among the warnings, as sentences). */
  readonly lint: readonly LintFinding[];
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String(code ?? error);
    throw new AirlockError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${why}`, { cause: error });
  }
}

/**
 * Reads the configuration and every file it names, applies command-line overrides and
 * compiles the policy. All-or-nothing: any error throws, so a reload keeps the old policy.
 */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const fileName = options.configFile ?? '<defaults>';
  const text =
    options.configFile === undefined ? '' : await readText(options.configFile, 'configuration file');
  const parsed = parseConfig(text, fileName);
  if (!parsed.ok) throw new AirlockError('CONFIG_INVALID', parsed.errors.join('\n'));
  const config = parsed.config;

  let listeners: readonly ListenAddress[] = config.file.listeners;
  if (options.listen !== undefined && options.listen.length > 0) {
    listeners = options.listen.map((text) => {
      const l = parseListenAddress(text);
      if ('error' in l) throw new AirlockError('USAGE', `--listen: ${l.error}`);
      return l;
    });
  }

  const errors: string[] = [];
  const destinations: DestinationSpec[] = [];
  const allowlistFiles =
    options.allowlist !== undefined && options.allowlist.length > 0
      ? options.allowlist.map((path) => ({ path, where: '--allowlist' }))
      : config.allowlistFiles;
  for (const file of allowlistFiles) {
    const result = parseDstdomain(await readText(file.path, 'allowlist'), file.path);
    errors.push(...result.errors);
    destinations.push(...result.destinations);
  }
  const fromCli = options.allowlist !== undefined && options.allowlist.length > 0;
  if (!fromCli && config.destinations !== undefined) destinations.push(...config.destinations);
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
  if (config.file.dns.hostsFile !== null) {
    try {
      systemHosts = parseHostsFile(await readFile(config.file.dns.hostsFile, 'utf8'));
    } catch {
      // A missing hosts file is normal in containers; DNS still works.
    }
  }
  const findings = lintRules(
    compiled.policy.rules.filter((r) => r.pattern !== null).map((r) => ({ text: r.text, origin: r.origin })),
    builtinCatalog(),
  );
  const warnings = [...compiled.warnings, ...catalogWarnings, ...lintWarnings(findings)];
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
    lint: findings,
  };
}
