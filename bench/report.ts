/**
 * Turns measurements into the Markdown report: medians over rounds with min–max, ratios to
 * Squid (workers 1) and to the direct baseline, the targets, and where each proxy ran
 * into the open-files cap.
 */
import type { Measurement, ScenarioId } from './scenarios.js';
import {
  addCounts,
  formatCounts,
  formatNumber,
  formatRatio,
  formatSummary,
  markdownTable,
  ratio,
  summarize,
  verdict,
  type Summary,
  type TargetCheck,
} from './stats.js';

export interface ReportInput {
  readonly title: string;
  /** Lines describing the machine, versions and settings. */
  readonly preamble: readonly string[];
  /** Target ids in display order with their labels. */
  readonly targets: readonly { readonly id: string; readonly label: string }[];
  readonly measurements: readonly Measurement[];
  readonly notes: readonly string[];
}

const REFERENCE = 'squid-w1';
const DIRECT = 'direct';

export class Results {
  constructor(private readonly measurements: readonly Measurement[]) {}

  /** The parameters measured for a scenario: numerically ascending when numbers, else as run. */
  params(scenario: ScenarioId): string[] {
    const seen: string[] = [];
    for (const m of this.measurements)
      if (m.scenario === scenario && !seen.includes(m.param)) seen.push(m.param);
    return seen.every((p) => /^\d+$/.test(p)) ? seen.sort((a, b) => Number(a) - Number(b)) : seen;
  }

  of(scenario: ScenarioId, param: string, target: string): Measurement[] {
    return this.measurements.filter(
      (m) => m.scenario === scenario && m.param === param && m.target === target,
    );
  }

  summary(scenario: ScenarioId, param: string, target: string, metric: string): Summary {
    return summarize(this.of(scenario, param, target).map((m) => m.values[metric] ?? Number.NaN));
  }

  /** Median of `metric` for a target, undefined when it was not measured. */
  median(scenario: ScenarioId, param: string, target: string, metric: string): number | undefined {
    const s = this.summary(scenario, param, target, metric);
    return s.n === 0 ? undefined : s.median;
  }

  errors(scenario: ScenarioId, param: string, target: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.of(scenario, param, target)) addCounts(out, m.errors);
    return out;
  }

  /** The targets measured for a scenario and parameter, with their labels. */
  targetsOf(scenario: ScenarioId, param: string): { id: string; label: string }[] {
    const out: { id: string; label: string }[] = [];
    for (const m of this.measurements)
      if (m.scenario === scenario && m.param === param && !out.some((t) => t.id === m.target))
        out.push({ id: m.target, label: m.label });
    return out;
  }
}

function labelsFor(
  results: Results,
  scenario: ScenarioId,
  param: string,
  target: string,
  fallback: string,
): string {
  const labels = [...new Set(results.of(scenario, param, target).map((m) => m.label))];
  return labels.length === 0 ? fallback : labels.join(', ');
}

const f = (v: number | undefined, digits = 3): string => (v === undefined ? '–' : formatNumber(v, digits));

/** Rows of one throughput-like metric with ratios to the reference and to direct. */
function ratioRows(
  results: Results,
  input: ReportInput,
  scenario: ScenarioId,
  metric: string,
  extra: (param: string, target: string) => string[],
  paramLabel: (param: string) => string = (p) => p,
): string[][] {
  const rows: string[][] = [];
  for (const param of results.params(scenario)) {
    const ref = results.median(scenario, param, REFERENCE, metric);
    const direct = results.median(scenario, param, DIRECT, metric);
    for (const t of input.targets) {
      const s = results.summary(scenario, param, t.id, metric);
      if (s.n === 0) continue;
      rows.push([
        paramLabel(param),
        labelsFor(results, scenario, param, t.id, t.label),
        formatSummary(s),
        t.id === REFERENCE ? '1.00×' : formatRatio(ratio(s.median, ref)),
        t.id === DIRECT ? '1.00×' : formatRatio(ratio(s.median, direct)),
        ...extra(param, t.id),
      ]);
    }
  }
  return rows;
}

function sectionA(results: Results, input: ReportInput): string[] {
  if (results.params('a').length === 0) return [];
  const rows = ratioRows(results, input, 'a', 'rate', (param, target) => [
    f(results.median('a', param, target, 'p50'), 2),
    formatSummary(results.summary('a', param, target, 'p99'), 2),
    f(results.median('a', param, target, 'proxyCpuMsPer1k')),
    formatCounts(results.errors('a', param, target), 3),
  ]);
  return [
    '## a. CONNECT setup rate and latency',
    '',
    'Each tunnel: TCP connect, `CONNECT name:port`, 200, the recorded TLS ClientHello out and echoed back, the origin closes. ' +
      'Setup latency: CONNECT written → 200 read (direct: TCP connect → connected).',
    '',
    markdownTable(
      [
        'concurrency',
        'target',
        'tunnels/s',
        '× Squid w1',
        '× direct',
        'p50 ms',
        'p99 ms',
        'proxy CPU ms / 1k tunnels',
        'failures (all rounds)',
      ],
      rows,
      ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

function sectionB(results: Results, input: ReportInput, holdSeconds: number): string[] {
  if (results.params('b').length === 0) return [];
  const rows: string[][] = [];
  for (const param of results.params('b')) {
    for (const t of input.targets) {
      if (results.of('b', param, t.id).length === 0) continue;
      const m = (metric: string, digits = 3): string =>
        formatSummary(results.summary('b', param, t.id, metric), digits);
      rows.push([
        formatNumber(Number(param), 6),
        labelsFor(results, 'b', param, t.id, t.label),
        m('established', 6),
        m('alive', 6),
        m('rssPerTunnelKiB', 3),
        m('rssEndMiB', 4),
        m('rampS', 2),
        m('maxOpenFiles', 6),
        formatCounts(results.errors('b', param, t.id), 3),
      ]);
    }
  }
  return [
    `## b. Concurrent idle tunnels held ${holdSeconds} s`,
    '',
    'Every tunnel comes from a source address of its own, sends the ClientHello, gets it echoed, then stays idle. ' +
      `After ${holdSeconds} s every tunnel is pinged with one byte; "alive" counts the echoes. ` +
      'RSS per tunnel = (sum of VmRSS over the proxy and all its child processes at the end of the hold − before the first tunnel) / alive tunnels. ' +
      '"max open files" is the largest count in one proxy process right after the ramp (the cap is 20,000 per process).',
    '',
    markdownTable(
      [
        'tunnels',
        'target',
        'established',
        'alive after hold',
        'RSS KiB / tunnel',
        'proxy RSS MiB',
        'ramp s',
        'max open files',
        'failures (all rounds)',
      ],
      rows,
      ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

function sectionC(results: Results, input: ReportInput): string[] {
  if (results.params('c').length === 0) return [];
  const rows = ratioRows(results, input, 'c', 'mbps', (param, target) => [
    f(results.median('c', param, target, 'cpuPerGB'), 3),
    formatCounts(results.errors('c', param, target), 3),
  ]);
  return [
    '## c. Bulk tunnel throughput',
    '',
    'Each tunnel sends the ClientHello, then the origin streams without end; bytes received by the clients inside the window. ' +
      'MB = 10⁶ bytes, GB = 10⁹ bytes; proxy CPU = utime + stime of all proxy processes over the window.',
    '',
    markdownTable(
      ['tunnels', 'target', 'MB/s', '× Squid w1', '× direct', 'proxy CPU-s / GB', 'failures (all rounds)'],
      rows,
      ['right', 'left', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

function sectionD(results: Results, input: ReportInput, connections: number): string[] {
  if (results.params('d').length === 0) return [];
  const rows = ratioRows(
    results,
    input,
    'd',
    'rps',
    (param, target) => [
      f(results.median('d', param, target, 'p50'), 2),
      formatSummary(results.summary('d', param, target, 'p99'), 2),
      f(results.median('d', param, target, 'mbps')),
      formatCounts(results.errors('d', param, target), 3),
    ],
    (p) => (p === '/1k' ? '1 KiB' : p === '/1m' ? '1 MiB' : p),
  );
  return [
    '## d. Plain-HTTP forwarding (keep-alive)',
    '',
    `${connections} client connections, one GET at a time each; a connection the proxy closes is reopened. ` +
      'Latency: request written → last body byte.',
    '',
    markdownTable(
      [
        'object',
        'target',
        'requests/s',
        '× Squid w1',
        '× direct',
        'p50 ms',
        'p99 ms',
        'MB/s',
        'failures (all rounds)',
      ],
      rows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

function sectionStorm(results: Results, input: ReportInput, spreadMs: number, timeoutMs: number): string[] {
  if (results.params('storm').length === 0) return [];
  const rows: string[][] = [];
  for (const param of results.params('storm')) {
    for (const t of input.targets) {
      if (results.of('storm', param, t.id).length === 0) continue;
      const m = (metric: string, digits = 3): string =>
        formatSummary(results.summary('storm', param, t.id, metric), digits);
      rows.push([
        formatNumber(Number(param), 6),
        labelsFor(results, 'storm', param, t.id, t.label),
        m('established', 6),
        m('failed', 6),
        m('allEstablishedS', 3),
        m('lastEstablishedS', 3),
        f(results.median('storm', param, t.id, 'p50'), 3),
        m('p99', 3),
        formatCounts(results.errors('storm', param, t.id), 3),
      ]);
    }
  }
  return [
    '## Reconnect storm',
    '',
    `Clients start CONNECTs evenly within ${spreadMs / 1000} s, each from a source address of its own; a client counts as established once its ClientHello came back, and as failed when that takes over ${timeoutMs / 1000} s or the proxy refuses. ` +
      '"all established after" is the time from the first CONNECT to the last tunnel up, given only when none failed. Setup: TCP connect started → exchange done.',
    '',
    markdownTable(
      [
        'clients',
        'target',
        'established',
        'failed',
        'all established after s',
        'last established at s',
        'p50 setup ms',
        'p99 setup ms',
        'failures (all rounds)',
      ],
      rows,
      ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

/** The targets, computed from the medians of this run. */
export function targetChecks(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const r = (s: ScenarioId, p: string, a: string, b: string, metric: string): number | null =>
    ratio(results.median(s, p, a, metric), results.median(s, p, b, metric));
  for (const c of ['64', '512']) {
    if (!results.params('a').includes(c)) continue;
    checks.push({
      name: `a: tunnels/s at concurrency ${c}, Airlock / Squid w1`,
      actual: r('a', c, 'airlock', 'squid-w1', 'rate'),
      op: '>=',
      threshold: 1.5,
    });
    checks.push({
      name: `a: tunnels/s at concurrency ${c}, Airlock / Squid w2`,
      actual: r('a', c, 'airlock', 'squid-w2', 'rate'),
      op: '>=',
      threshold: 1.0,
    });
  }
  if (results.params('a').includes('512'))
    checks.push({
      name: 'a: p99 setup at concurrency 512, Airlock / Squid w2',
      actual: r('a', '512', 'airlock', 'squid-w2', 'p99'),
      op: '<=',
      threshold: 1.0,
    });
  const idle = results
    .params('b')
    .map(Number)
    .sort((x, y) => y - x)[0];
  if (idle !== undefined) {
    const p = String(idle);
    const alive = results.median('b', p, 'airlock', 'alive');
    checks.push({
      name: `b: ${formatNumber(idle, 6)} idle tunnels lost or never up (Airlock)`,
      actual: alive === undefined ? null : idle - alive,
      op: '<=',
      threshold: 0,
    });
    // Below zero the proxies' RSS fell during the hold (heaps returned to the system): the
    // per-tunnel cost is smaller than whole-process RSS resolves, not a measurement to judge by.
    const rss = results.median('b', p, 'airlock', 'rssPerTunnelKiB');
    checks.push({
      name: `b: RSS KiB per tunnel at ${formatNumber(idle, 6)} (Airlock)${rss !== undefined && rss < 0 ? ' — RSS fell during the hold' : ''}`,
      actual: rss === undefined || rss < 0 ? null : rss,
      op: '<=',
      threshold: 6,
    });
  }
  for (const t of results.params('c'))
    checks.push({
      name: `c: MB/s on ${t} tunnel${t === '1' ? '' : 's'}, Airlock / Squid w2`,
      actual: r('c', t, 'airlock', 'squid-w2', 'mbps'),
      op: '>=',
      threshold: 1.0,
    });
  if (results.params('c').includes('8'))
    checks.push({
      name: 'c: MB/s on 8 tunnels, Airlock / direct',
      actual: r('c', '8', 'airlock', 'direct', 'mbps'),
      op: '>=',
      threshold: 0.5,
    });
  for (const p of results.params('d'))
    checks.push({
      name: `d: requests/s for ${p === '/1k' ? '1 KiB' : p === '/1m' ? '1 MiB' : p}, Airlock / Squid w1`,
      actual: r('d', p, 'airlock', 'squid-w1', 'rps'),
      op: '>=',
      threshold: 1.0,
    });
  return checks;
}

function sectionTargets(results: Results): string[] {
  const checks = targetChecks(results);
  if (checks.length === 0) return [];
  return [
    '## Targets from the issue (medians of this run)',
    '',
    markdownTable(
      ['target', 'measured', 'required', 'verdict'],
      checks.map((c) => [
        c.name,
        c.actual === null ? '–' : formatNumber(c.actual, 3),
        `${c.op === '>=' ? '≥' : '≤'} ${c.threshold}`,
        verdict(c),
      ]),
      ['left', 'right', 'right', 'left'],
    ),
    '',
  ];
}

/** Generator headroom: direct against the best proxy, per throughput scenario and parameter. */
function sectionHeadroom(results: Results): string[] {
  const rows: string[][] = [];
  const metrics: [ScenarioId, string, string][] = [
    ['a', 'rate', 'tunnels/s'],
    ['c', 'mbps', 'MB/s'],
    ['d', 'rps', 'requests/s'],
  ];
  for (const [scenario, metric, unit] of metrics) {
    for (const param of results.params(scenario)) {
      const direct = results.median(scenario, param, DIRECT, metric);
      let best: number | undefined;
      let bestLabel = '–';
      for (const m of results.targetsOf(scenario, param)) {
        if (m.id === DIRECT) continue;
        const v = results.median(scenario, param, m.id, metric);
        if (v !== undefined && (best === undefined || v > best)) {
          best = v;
          bestLabel = m.label;
        }
      }
      const genCpu = results.median(scenario, param, DIRECT, 'generatorCpuS');
      rows.push([
        `${scenario} ${param}`,
        `${f(direct)} ${unit}`,
        `${f(best)} (${bestLabel})`,
        formatRatio(ratio(direct, best)),
        f(genCpu, 2),
      ]);
    }
  }
  if (rows.length === 0) return [];
  return [
    '## Load generator headroom',
    '',
    'The generator and the origins run on the same machine as the proxy. The direct baseline is what they reach without a proxy; ' +
      'the further it is above the best proxy, the less the generator limits the proxy numbers.',
    '',
    markdownTable(['scenario', 'direct', 'best proxy', 'direct / best', 'generator CPU-s (direct)'], rows, [
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
    '',
  ];
}

function sectionCaps(results: Results, input: ReportInput): string[] {
  const idle = results
    .params('b')
    .map(Number)
    .sort((x, y) => y - x)[0];
  if (idle === undefined) return [];
  const p = String(idle);
  const rows: string[][] = [];
  for (const t of input.targets) {
    if (t.id === DIRECT || results.of('b', p, t.id).length === 0) continue;
    const established = results.median('b', p, t.id, 'established');
    const files = results.median('b', p, t.id, 'maxOpenFiles');
    const capped = files !== undefined && files >= 19_900;
    rows.push([
      labelsFor(results, 'b', p, t.id, t.label),
      f(results.median('b', p, t.id, 'processes'), 3),
      f(established, 6),
      f(files, 6),
      capped ? 'at the cap' : established !== undefined && established >= idle ? 'no' : 'below the cap',
      formatCounts(results.errors('b', p, t.id), 4),
    ]);
  }
  return [
    `## Where each proxy meets the 20,000 open-files cap (${formatNumber(idle, 6)} idle tunnels asked)`,
    '',
    markdownTable(
      [
        'proxy',
        'processes',
        'tunnels established',
        'max open files in one process',
        'cap reached',
        'how new tunnels failed (all rounds)',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'left', 'left'],
    ),
    '',
  ];
}

export interface RenderOptions {
  readonly holdSeconds: number;
  readonly httpConnections: number;
  readonly stormSpreadMs: number;
  readonly stormTimeoutMs: number;
}

export function renderReport(input: ReportInput, options: RenderOptions): string {
  const results = new Results(input.measurements);
  return [
    `# ${input.title}`,
    '',
    ...input.preamble,
    '',
    ...sectionTargets(results),
    ...sectionA(results, input),
    ...sectionB(results, input, options.holdSeconds),
    ...sectionCaps(results, input),
    ...sectionC(results, input),
    ...sectionD(results, input, options.httpConnections),
    ...sectionStorm(results, input, options.stormSpreadMs, options.stormTimeoutMs),
    ...sectionHeadroom(results),
    ...(input.notes.length > 0 ? ['## Notes', '', ...input.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
