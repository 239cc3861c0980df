import { builtinCatalog, lintRules, parseCatalogWhere } from '../../catalog/index.js';
import { loadConfig } from '../../supervisor/index.js';
import { renderTable, wrapLine } from '../../text/table.js';
import { PROCESS_IO, type CommandIo } from './catalog.js';

export interface PolicyShowOptions {
  readonly configFile?: string | undefined;
  readonly allowlist?: string[] | undefined;
  readonly format: 'table' | 'json';
}

/**
 * `airlock policy show [--config FILE] [--allowlist FILE…] [--format table|json]`: the
 * effective destination rules, each with its ports, where it came from (catalog entries, or
 * the file and line it was written on) and any lint finding.
 */
export async function policyShow(options: PolicyShowOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const loaded = await loadConfig({ configFile: options.configFile, allowlist: options.allowlist });
  for (const warning of loaded.warnings) io.err(`warning: ${warning}\n`);
  const { policy } = loaded;
  const findings = lintRules(
    policy.rules.map((r) => ({ text: r.text, origin: r.origin })),
    builtinCatalog(),
  );
  const defaultPorts = `CONNECT ${[...policy.connectPorts].join(',')}; HTTP ${[...policy.httpPorts].join(',')}`;
  const rows = policy.rules.map((rule) => {
    const mine = findings.filter((f) => f.where === rule.origin.where && f.rule === rule.text);
    const catalogEntries = parseCatalogWhere(rule.origin.where)?.map((c) => c.entryId);
    return {
      rule: rule.text,
      ports: rule.ports === null ? null : [...rule.ports].sort((a, b) => a - b),
      source: catalogEntries === undefined ? rule.origin.source : 'catalog',
      where: rule.origin.where,
      ...(catalogEntries === undefined ? {} : { catalogEntries }),
      lint: mine.map((f) => ({ severity: f.severity, code: f.code, why: f.why, narrow: f.narrow })),
    };
  });
  if (options.format === 'json') {
    io.out(
      `${JSON.stringify({ ports: { connect: [...policy.connectPorts], http: [...policy.httpPorts] }, rules: rows }, null, 2)}\n`,
    );
    return 0;
  }
  const width = io.width ?? Infinity;
  const table = renderTable(
    [{ header: 'RULE', min: 24 }, 'PORTS', 'SOURCE', 'LINT', { header: 'WHERE', min: 16 }],
    rows.map((r) => [
      r.rule,
      r.ports === null ? 'default' : r.ports.join(','),
      r.source,
      r.lint.map((l) => `${l.severity}:${l.code}`).join(' ') || '-',
      r.where,
    ]),
    { width },
  );
  const footer = wrapLine(
    `${rows.length} rules; ${findings.length} lint finding${findings.length === 1 ? '' : 's'} (airlock catalog lint explains them); default ports: ${defaultPorts}`,
    width,
  );
  io.out(`${[...table, ...footer].join('\n')}\n`);
  return 0;
}
