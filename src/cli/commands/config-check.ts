import { loadConfig, rulesForPort, type LoadedConfig, type LoadOptions } from '../../supervisor/index.js';
import { PROCESS_IO, type CommandIo } from './catalog.js';

export interface ConfigCheckOptions extends LoadOptions {
  /** Fail (exit 3) on any warning and on high-severity lint findings, as a pipeline gate. */
  readonly strict?: boolean | undefined;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Which rules each port of policy.ports serves: a port serves rules without ports of their own and rules that list it. */
function portLines(loaded: LoadedConfig): string[] {
  const { policy } = loaded;
  const total = policy.rules.length;
  const lines: string[] = [];
  for (const [method, ports] of [
    ['CONNECT', policy.connectPorts],
    ['HTTP', policy.httpPorts],
  ] as const) {
    for (const port of ports) {
      const rules = rulesForPort(policy, port);
      const which =
        rules.length === 0
          ? 'no rule (every rule lists its own ports, and none lists this one)'
          : rules.length === total
            ? `every rule (${total})`
            : rules.length <= 3
              ? `${plural(rules.length, 'rule')}: ${rules.map((r) => r.text).join(', ')}`
              : `${rules.length} of ${total} rules (those without ports of their own, and those listing ${port})`;
      lines.push(`    ${method} ${port}: ${which}`);
    }
  }
  return lines;
}

/**
 * `airlock config-check [--config FILE] [--allowlist FILE…] [--strict]`: validates the
 * configuration and the files it names, prints the warnings and a summary of the effective
 * policy. Exit 0 when valid; with --strict, 3 when there is any warning or high lint finding.
 */
export async function configCheck(options: ConfigCheckOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const loaded = await loadConfig(options);
  for (const warning of loaded.warnings) io.err(`warning: ${warning}\n`);
  const high = loaded.lint.filter((f) => f.severity === 'high').length;
  const medium = loaded.lint.filter((f) => f.severity === 'medium').length;
  const failing = options.strict === true && (loaded.warnings.length > 0 || high > 0);
  const problems = [
    ...(loaded.warnings.length > 0 ? [plural(loaded.warnings.length, 'warning')] : []),
    ...(high > 0 ? [plural(high, 'high lint finding')] : []),
  ];
  const verdict = failing
    ? `valid, but --strict fails on ${problems.join(' and ')}`
    : problems.length > 0
      ? `OK, with ${problems.join(' and ')} (--strict fails on them)`
      : 'OK';
  const admin = loaded.config.file.admin.listen;
  io.out(
    [
      `${loaded.config.fileName}: ${verdict}`,
      `  listeners: ${loaded.listeners.map((l) => l.text).join(', ')}`,
      ...(admin === null ? [] : [`  admin: ${admin.text}`]),
      `  sources: ${loaded.policy.sources
        .list()
        .map((s) => s.cidr.text)
        .join(', ')}`,
      '  ports (the rules each one serves):',
      ...portLines(loaded),
      `  destination rules: ${loaded.policy.rules.length}`,
      `  lint: ${high} high, ${medium} medium${loaded.acknowledged > 0 ? `, ${loaded.acknowledged} acknowledged (lint.acknowledge)` : ''}; airlock policy show and airlock catalog lint explain them`,
      '',
    ].join('\n'),
  );
  return failing ? 3 : 0;
}
