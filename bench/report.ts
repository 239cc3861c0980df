/**
 * Turns measurements into the Markdown report: medians over rounds with min–max, ratios to
 * Squid (workers 1 and 2) and to the direct baseline, where the CPU went (proxy, generator,
 * everything else), the targets the gateway is held to, and where each proxy ran into the
 * open-files cap.
 */
import type { Measurement, ScenarioId } from './scenarios.js';
import type { LibraryLoad } from './serving-libraries.js';
import {
  addCounts,
  formatCounts,
  formatNumber,
  formatRatio,
  formatSummary,
  GENERATOR_BOUND_SHARE,
  markdownTable,
  median,
  ratio,
  summarize,
  verdict,
  type Align,
  type Summary,
  straddles,
  type TargetCheck,
} from './stats.js';

/** The load average when a scenario started. */
export interface LoadPoint {
  readonly what: string;
  readonly one: number;
  readonly five: number;
}

export interface ReportInput {
  readonly title: string;
  /** Lines describing the machine, versions and settings. */
  readonly preamble: readonly string[];
  /** Target ids in display order with their labels. */
  readonly targets: readonly { readonly id: string; readonly label: string }[];
  readonly measurements: readonly Measurement[];
  readonly notes: readonly string[];
  readonly loads?: readonly LoadPoint[];
  /**
   * Whether the gateway confirmed that AIRLOCK_OBSERVATION=off took effect: null when the
   * observation-off target was not run.
   */
  readonly observationSupported?: boolean | null;
  /** What the libraries' idle-memory reference loaded (see serving-libraries.ts). */
  readonly servingLibraries?: readonly LibraryLoad[];
}

const SQUID_W1 = 'squid-w1';
const SQUID_W2 = 'squid-w2';
const DIRECT = 'direct';
/** The idle-memory reference: an empty Node.js script with the gateway's binary, flags and environment. */
export const NODE_REFERENCE = 'node-empty';
export const NODE_REFERENCE_LABEL = 'Node.js, empty script (reference)';
/**
 * The second reference: the same, loading only the libraries a serving gateway loads at start-up,
 * the way it loads them, and none of its own code.
 */
export const NODE_LIBRARIES_REFERENCE = 'node-libraries';
export const NODE_LIBRARIES_REFERENCE_LABEL = "Node.js, serve's libraries only (reference)";
/** Other work on the machine above this many cores (median over rounds) weakens a figure. */
export const BUSY_OTHER_CORES = 0.25;

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

  /**
   * `combine(a, b)` for every round in which both targets measured `metric` (interleaved with
   * the other targets in it), in round order; a round only one of them measured is left out.
   */
  perRound(
    scenario: ScenarioId,
    param: string,
    a: string,
    b: string,
    metric: string,
    combine: (a: number, b: number) => number | null = ratio,
  ): number[] {
    const theirs = new Map(this.of(scenario, param, b).map((m) => [m.round, m.values[metric]]));
    const out: number[] = [];
    for (const mine of this.of(scenario, param, a).sort((x, y) => x.round - y.round)) {
      const v = combine(mine.values[metric] ?? Number.NaN, theirs.get(mine.round) ?? Number.NaN);
      if (v !== null && Number.isFinite(v)) out.push(v);
    }
    return out;
  }

  errors(scenario: ScenarioId, param: string, target: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.of(scenario, param, target)) addCounts(out, m.errors);
    return out;
  }

  /** Rounds of a target in which the load generator reached GENERATOR_BOUND_SHARE of a core. */
  generatorBoundRounds(scenario: ScenarioId, param: string, target: string): number {
    return this.of(scenario, param, target).filter((m) => (m.values.generatorBound ?? 0) > 0).length;
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
const pct = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '–' : `${Math.round(v * 100)} %`;

/**
 * Rows of one throughput-like metric with ratios to Squid (workers 1 and 2) and to direct; a
 * cell whose generator set the pace in some round is marked †.
 */
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
    const w1 = results.median(scenario, param, SQUID_W1, metric);
    const w2 = results.median(scenario, param, SQUID_W2, metric);
    const direct = results.median(scenario, param, DIRECT, metric);
    for (const t of input.targets) {
      const s = results.summary(scenario, param, t.id, metric);
      if (s.n === 0) continue;
      const bound = results.generatorBoundRounds(scenario, param, t.id) > 0;
      rows.push([
        paramLabel(param),
        labelsFor(results, scenario, param, t.id, t.label),
        `${formatSummary(s)}${bound ? ' †' : ''}`,
        t.id === SQUID_W1 ? '1.00×' : formatRatio(ratio(s.median, w1)),
        t.id === SQUID_W2 ? '1.00×' : formatRatio(ratio(s.median, w2)),
        t.id === DIRECT ? '1.00×' : formatRatio(ratio(s.median, direct)),
        ...extra(param, t.id),
      ]);
    }
  }
  return rows;
}

/** A ratio table: parameter, target, the metric and its ratios, right-aligned extras, failures. */
function ratioTable(
  param: readonly [string, Align],
  metric: string,
  extras: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  return markdownTable(
    [param[0], 'target', metric, '× Squid w1', '× Squid w2', '× direct', ...extras, 'failures (all rounds)'],
    rows,
    [param[1], 'left', ...Array<Align>(4 + extras.length).fill('right'), 'left'],
  );
}

/** Proxy cores, the busiest generator thread and everything else, medians over rounds. */
function shareCells(results: Results, scenario: ScenarioId, param: string, target: string): string[] {
  return [
    target === DIRECT ? '–' : f(results.median(scenario, param, target, 'proxyCores'), 2),
    pct(results.median(scenario, param, target, 'generatorThread')),
    f(results.median(scenario, param, target, 'otherCores'), 2),
  ];
}

const SHARE_HEADERS = ['proxy cores', 'generator thread', 'other cores'];
const SHARE_TEXT =
  '"proxy cores": CPU-seconds of all proxy processes per second of window; "generator thread": the busiest load-generator thread as a share of one core; ' +
  '"other cores": what the rest of the machine used in the window (other jobs; the origins are not in it). All medians over rounds.';

function sectionA(results: Results, input: ReportInput): string[] {
  if (results.params('a').length === 0) return [];
  const rows = ratioRows(results, input, 'a', 'rate', (param, target) => [
    f(results.median('a', param, target, 'p50'), 2),
    formatSummary(results.summary('a', param, target, 'p99'), 2),
    target === DIRECT ? '–' : formatSummary(results.summary('a', param, target, 'cpuPerOpUs'), 3),
    ...shareCells(results, 'a', param, target),
    formatCounts(results.errors('a', param, target), 3),
  ]);
  return [
    '## a. CONNECT setup rate and latency',
    '',
    'Each connection slot loops: TCP connect, `CONNECT name:port`, 200, the recorded TLS ClientHello out and echoed back, the origin closes, the next tunnel. ' +
      'Setup latency: CONNECT written → 200 read (direct: TCP connect → connected). CPU per tunnel: proxy CPU over the window / tunnels completed in it. ' +
      SHARE_TEXT,
    '',
    ratioTable(
      ['concurrency', 'right'],
      'tunnels/s',
      ['p50 ms', 'p99 ms', 'proxy CPU µs / tunnel', ...SHARE_HEADERS],
      rows,
    ),
    '',
    ...tunnelPhases(results, input),
  ];
}

const PHASES = ['connectUs', 'setupUs', 'echoUs', 'closeUs'] as const;

/**
 * Where one tunnel's time goes at the lowest concurrency, where a slot waits on every step: the
 * generator's phases (means per tunnel, medians over rounds) beside the loop's period.
 */
function tunnelPhases(results: Results, input: ReportInput): string[] {
  // `params` lists numeric parameters in ascending order.
  const param = results.params('a')[0];
  if (param === undefined) return [];
  const rows: string[][] = [];
  for (const t of input.targets) {
    const phases = PHASES.map((k) => results.median('a', param, t.id, k) ?? Number.NaN);
    // Not measured here, or by a generator without phases.
    if (!phases.every(Number.isFinite)) continue;
    const rate = results.median('a', param, t.id, 'rate');
    const ipis = results.median('a', param, t.id, 'wakeIpis');
    const sum = phases.reduce((n, v) => n + v, 0);
    rows.push([
      labelsFor(results, 'a', param, t.id, t.label),
      ...phases.map((v) => f(v, 3)),
      f(sum, 3),
      rate === undefined || rate <= 0 ? '–' : f((1e6 * Number(param)) / rate, 3),
      ipis === undefined || !Number.isFinite(ipis) ? '–' : f(ipis, 2),
    ]);
  }
  if (rows.length === 0) return [];
  return [
    `Where a tunnel's time goes at concurrency ${param}, in µs (the generator's clock; means per tunnel, medians over rounds): ` +
      'TCP connect → connected; `CONNECT` written → 200 read; ClientHello written → its echo read; echo read → the close read. ' +
      '"period": the window over the tunnels each slot completed in it; what it has beyond the phases is the generator between two tunnels. ' +
      '"wake-up IPIs": interrupts one core sent another to wake a thread there (/proc/interrupts RES and CAL, the whole machine: generator, origins and proxy), per tunnel; ' +
      "a wake-up that stays on the waker's core sends none, and where idle cores halt (a virtual machine) each one costs a trip through the hypervisor on both sides.",
    '',
    markdownTable(
      [
        'target',
        'connect',
        'CONNECT → 200',
        'ClientHello → echo',
        'echo → close',
        'sum',
        'period',
        'wake-up IPIs',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
  ];
}

function sectionMemory(results: Results, input: ReportInput): string[] {
  const rows: string[][] = [];
  for (const phase of MEMORY_PHASES)
    for (const t of [
      ...input.targets,
      { id: NODE_REFERENCE, label: NODE_REFERENCE_LABEL },
      { id: NODE_LIBRARIES_REFERENCE, label: NODE_LIBRARIES_REFERENCE_LABEL },
    ]) {
      if (results.of('mem', phase, t.id).length === 0) continue;
      const m = (metric: string): string => f(results.median('mem', phase, t.id, metric), 3);
      rows.push([
        labelsFor(results, 'mem', phase, t.id, t.label),
        phase,
        m('processes'),
        m('totalMiB'),
        m('rootMiB'),
        m('largestChildMiB'),
        m('largestMiB'),
        m('largestAnonMiB'),
        formatCounts(results.errors('mem', phase, t.id), 3),
      ]);
    }
  if (rows.length === 0) return [];
  // What Airlock's largest process holds beyond any Node.js process of the same binary.
  const phase = judgedMemoryPhase(results);
  const at = (target: string, metric: string): number | undefined =>
    phase === undefined ? undefined : results.median('mem', phase, target, metric);
  const above = (metric: string, reference: string): number | undefined => {
    const airlock = at('airlock', metric);
    const node = at(reference, metric);
    return airlock === undefined || node === undefined ? undefined : airlock - node;
  };
  const added: string[] = [];
  const rss = above('largestMiB', NODE_REFERENCE);
  const anon = above('largestAnonMiB', NODE_REFERENCE);
  if (rss !== undefined && anon !== undefined)
    added.push(
      `Above the reference (${phase}): Airlock's largest process holds ${formatNumber(rss, 3)} MiB more RSS than an empty Node.js script, ${formatNumber(anon, 3)} MiB more of its own (anonymous).`,
      '',
    );
  const libraries = at(NODE_LIBRARIES_REFERENCE, 'largestMiB');
  const librariesAnon = at(NODE_LIBRARIES_REFERENCE, 'largestAnonMiB');
  const overLibraries = above('largestMiB', NODE_LIBRARIES_REFERENCE);
  if (libraries !== undefined && librariesAnon !== undefined && overLibraries !== undefined) {
    const loaded = (input.servingLibraries ?? []).map((l) => `${l.specifier} (${l.via})`).join(', ');
    added.push(
      `The libraries alone (${phase}): a Node.js script that loads the third-party packages \`airlock serve\` loads at start-up, as it loads them (found by following its static imports: ${loaded === '' ? 'none found' : loaded}), and none of its code, holds ${formatNumber(libraries, 3)} MiB (${formatNumber(librariesAnon, 3)} MiB of its own); Airlock's largest process holds ${formatNumber(overLibraries, 3)} MiB more.`,
      '',
    );
  }
  return [
    '## Memory at idle',
    '',
    'VmRSS after the proxy started and passed its functional checks, before any load: "start" soon after the checks, "settled" at least 45 s after the checks and once no process of the tree has fallen by more than 1 MiB over 20 s (at most 90 s): a Node.js process gives back about 10 MiB of start-up memory once, when V8\'s memory reducer runs, 12–25 s after start on an idle machine and later while other proxies start beside it (Squid and tinyproxy do not change); the tree can hold still for 20 s before that, and a process read then shows it as about 8 MiB more anonymous memory than the same build read after. The targets use "settled". The first process is the one started (Airlock\'s supervisor, Squid\'s master); the others are its workers and helpers. "anonymous" is the largest RssAnon among the processes: memory of their own, without the file pages of the binary and libraries, which every process of the same binary shares (an empty Node.js script already has about 34 MiB of those). The rows "Node.js, empty script (reference)" are such a script, run beside the proxies with the gateway\'s binary, Node.js flags and environment: what any Node.js process of that binary holds at idle. The rows "Node.js, serve\'s libraries only (reference)" are the same with the third-party packages a serving gateway loads at start-up loaded into it, and nothing else.',
    '',
    markdownTable(
      [
        'target',
        'when',
        'processes',
        'total MiB',
        'first process MiB',
        'largest other process MiB',
        'largest process MiB',
        'largest anonymous MiB',
        'failures',
      ],
      rows,
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
    ...added,
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
        m('rssStepPerTunnelKiB', 3),
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
      'RSS per tunnel = (sum of VmRSS over the proxy and all its child processes at the end of the hold − before the first tunnel) / alive tunnels; "since the last size" = (that sum − the same at the end of the previous hold) / tunnels added. ' +
      baselineNote(results, input) +
      '"max open files" is the largest count in one proxy process right after the ramp (the cap is 20,000 per process).',
    '',
    markdownTable(
      [
        'tunnels',
        'target',
        'established',
        'alive after hold',
        'RSS KiB / tunnel',
        'since the last size',
        'proxy RSS MiB',
        'ramp s',
        'max open files',
        'failures (all rounds)',
      ],
      rows,
      ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
    '',
  ];
}

/**
 * How the baseline "before the first tunnel" was read: once the tree's RSS stopped falling (a
 * Node.js process gives back start-up memory some seconds after start, a tree of several up to a
 * minute later), with how long each target took and which were still falling at the limit.
 */
function baselineNote(results: Results, input: ReportInput): string {
  const first = results.params('b')[0];
  if (first === undefined) return '';
  const waits: string[] = [];
  const falling: string[] = [];
  for (const t of input.targets) {
    const rows = results.of('b', first, t.id);
    if (rows.length === 0) continue;
    const waited = rows.map((r) => r.values.baseWaitS).filter((v): v is number => Number.isFinite(v));
    // The label the measurement carries (what the run started: "Airlock (8 workers)").
    const label = rows[0]!.label;
    if (waited.length > 0) waits.push(`${label} ${Math.max(...waited).toFixed(0)} s`);
    if (rows.some((r) => r.values.baseSettled === 0)) falling.push(label);
  }
  if (waits.length === 0) return '';
  return (
    "The baseline is read once the tree's RSS has not fallen by more than 1 MiB over 20 s (a Node.js process gives back start-up memory some seconds after start, a tree of several processes up to a minute later; a baseline read before that is high, and the figures computed from it low); " +
    `waited: ${waits.join(', ')}. ` +
    (falling.length > 0
      ? `**Still falling at the limit, so its figures are low by what it had yet to give back: ${falling.join(', ')}.** `
      : '')
  );
}

function sectionC(results: Results, input: ReportInput): string[] {
  if (results.params('c').length === 0) return [];
  const rows = ratioRows(results, input, 'c', 'mbps', (param, target) => [
    f(results.median('c', param, target, 'cpuPerGB'), 3),
    f(results.median('c', param, target, 'endpointCpuPerGB'), 3),
    f(results.median('c', param, target, 'clientKiBPerRead'), 3),
    ...shareCells(results, 'c', param, target),
    formatCounts(results.errors('c', param, target), 3),
  ]);
  return [
    '## c. Bulk tunnel throughput',
    '',
    'Each tunnel sends the ClientHello, then the origin streams without end; bytes received by the clients inside the window. ' +
      'MB = 10⁶ bytes, GB = 10⁹ bytes; proxy CPU = utime + stime of all proxy processes over the window. ' +
      '"clients + origins CPU-s / GB": what the Node generators and the origins used over the window per GB moved (they share the machine with the proxy: where it is full, what they spend per byte with a proxy between them limits its throughput too). ' +
      '"client KiB / read": the bytes the generator processes read over the window per read call (/proc/PID/io), in what pieces the proxy handed the bytes on. ' +
      SHARE_TEXT +
      " (The Node generators' CPU is read from /proc at the window's edges, as the proxy's is.)",
    '',
    ratioTable(
      ['tunnels', 'right'],
      'MB/s',
      ['proxy CPU-s / GB', 'clients + origins CPU-s / GB', 'client KiB / read', ...SHARE_HEADERS],
      rows,
    ),
    '',
  ];
}

const objectLabel = (p: string): string => (p === '/1k' ? '1 KiB' : p === '/1m' ? '1 MiB' : p);

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
      target === DIRECT ? '–' : formatSummary(results.summary('d', param, target, 'cpuPerOpUs'), 3),
      ...shareCells(results, 'd', param, target),
      formatCounts(results.errors('d', param, target), 3),
    ],
    objectLabel,
  );
  return [
    '## d. Plain-HTTP forwarding (keep-alive)',
    '',
    `${connections} client connections, one GET at a time each; a connection the proxy closes is reopened. ` +
      'Latency: request written → last body byte. CPU per request: proxy CPU over the window / responses completed in it. ' +
      SHARE_TEXT,
    '',
    ratioTable(
      ['object', 'left'],
      'requests/s',
      ['p50 ms', 'p99 ms', 'proxy CPU µs / request', ...SHARE_HEADERS],
      rows,
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

/**
 * What weakens a comparison: rounds in which the generator set the pace, and other work on the
 * machine above BUSY_OTHER_CORES (medians over rounds), for the targets compared.
 */
export function caveatFor(
  results: Results,
  scenario: ScenarioId,
  param: string,
  targets: readonly string[],
): string | undefined {
  const parts: string[] = [];
  for (const t of targets) {
    const bound = results.generatorBoundRounds(scenario, param, t);
    if (bound > 0) parts.push(`generator-bound in ${bound} round${bound === 1 ? '' : 's'} of ${t}`);
    const other = results.median(scenario, param, t, 'otherCores');
    if (other !== undefined && other > BUSY_OTHER_CORES)
      parts.push(`other work used ${formatNumber(other, 2)} cores during ${t}`);
  }
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** When idle memory is read: soon after the proxy's checks, and once start-up memory is gone. */
const MEMORY_PHASES = ['start', 'settled'] as const;

/**
 * The reading of Airlock's idle memory the report judges: the settled one where there is one
 * (start-up memory is not what an idle gateway holds).
 */
function judgedMemoryPhase(results: Results): (typeof MEMORY_PHASES)[number] | undefined {
  return MEMORY_PHASES.findLast((p) => results.of('mem', p, 'airlock').length > 0);
}

/** The lower of Squid's two medians (workers 1, workers 2): the cheaper Squid. */
/** The Squid (workers 1 or 2) with the lower median of `metric`, or undefined when neither ran. */
function cheaperSquid(results: Results, s: ScenarioId, p: string, metric: string): string | undefined {
  let best: string | undefined;
  let lowest = Number.POSITIVE_INFINITY;
  for (const t of [SQUID_W1, SQUID_W2]) {
    const v = results.median(s, p, t, metric);
    if (v !== undefined && Number.isFinite(v) && v < lowest) {
      best = t;
      lowest = v;
    }
  }
  return best;
}

/** The lowest and highest of per-round values, or nothing when there were none. */
function spread(values: readonly number[]): Pick<TargetCheck, 'rounds'> {
  if (values.length === 0) return {};
  return { rounds: { min: Math.min(...values), max: Math.max(...values), n: values.length } };
}

/** Figures the gateway already reached, which the rebuilt request path must keep. */
export const KEEP = {
  /** Bulk throughput over 8 tunnels relative to direct. */
  bulkVsDirect: 0.55,
  /** Proxy CPU-seconds per GB of bulk tunnel traffic. */
  bulkCpuPerGB: 0.47,
  /** HTTP 1 MiB requests/s relative to Squid w2. */
  http1mVsSquidW2: 1.47,
  /** RSS per idle tunnel, KiB. */
  idleTunnelKiB: 2.5,
} as const;

/** The targets, computed from the medians of this run. */
export function targetChecks(results: Results, observationSupported: boolean | null = null): TargetCheck[] {
  const checks: TargetCheck[] = [];
  /** a / b on the medians of `metric`, and the same ratio round by round. */
  const r = (
    s: ScenarioId,
    p: string,
    a: string,
    b: string,
    metric: string,
  ): Pick<TargetCheck, 'actual' | 'rounds'> => ({
    actual: ratio(results.median(s, p, a, metric), results.median(s, p, b, metric)),
    ...spread(results.perRound(s, p, a, b, metric)),
  });
  /** Airlock's `metric` against the Squid with the lower median of it. */
  const againstCheaperSquid = (
    s: ScenarioId,
    p: string,
    metric: string,
  ): Pick<TargetCheck, 'actual' | 'rounds'> => {
    const squid = cheaperSquid(results, s, p, metric);
    return squid === undefined ? { actual: null } : r(s, p, 'airlock', squid, metric);
  };
  const a = results.params('a');
  for (const c of ['64', '512'].filter((x) => a.includes(x)))
    checks.push({
      name: `a: tunnels/s at concurrency ${c}, Airlock / Squid w2`,
      ...r('a', c, 'airlock', SQUID_W2, 'rate'),
      op: '>=',
      threshold: 1.3,
      caveat: caveatFor(results, 'a', c, ['airlock', SQUID_W2]),
    });
  if (a.includes('1'))
    checks.push({
      name: 'a: tunnels/s at concurrency 1, Airlock / tinyproxy',
      ...r('a', '1', 'airlock', 'tinyproxy', 'rate'),
      op: '>=',
      threshold: 1.0,
      caveat: caveatFor(results, 'a', '1', ['airlock', 'tinyproxy']),
    });
  if (a.includes('512'))
    checks.push({
      name: 'a: p99 setup at concurrency 512, Airlock / Squid w2',
      ...r('a', '512', 'airlock', SQUID_W2, 'p99'),
      op: '<=',
      threshold: 1.0,
      caveat: caveatFor(results, 'a', '512', ['airlock', SQUID_W2]),
    });
  for (const c of ['64', '512'].filter((x) => a.includes(x)))
    checks.push({
      name: `a: CPU per tunnel at concurrency ${c}, Airlock / the cheaper Squid`,
      ...againstCheaperSquid('a', c, 'cpuPerOpUs'),
      op: '<=',
      threshold: 0.75,
      caveat: caveatFor(results, 'a', c, ['airlock', SQUID_W1, SQUID_W2]),
    });
  for (const c of a.filter((x) => results.of('a', x, 'airlock-w1').length > 0))
    checks.push({
      name: `a: tunnels/s at concurrency ${c}, default workers / workers 1`,
      ...r('a', c, 'airlock', 'airlock-w1', 'rate'),
      op: '>=',
      threshold: 1.0,
      caveat: caveatFor(results, 'a', c, ['airlock', 'airlock-w1']),
    });
  if (a.includes('512') && results.of('a', '512', 'airlock-obs-off').length > 0) {
    const on = results.median('a', '512', 'airlock', 'rate');
    const off = results.median('a', '512', 'airlock-obs-off', 'rate');
    const cost = on !== undefined && off !== undefined && off > 0 ? 1 - on / off : null;
    checks.push({
      name: 'a: observation cost at concurrency 512, 1 − rate (on) / rate (off)',
      actual: cost,
      ...spread(
        results.perRound('a', '512', 'airlock', 'airlock-obs-off', 'rate', (x, y) =>
          y > 0 ? 1 - x / y : null,
        ),
      ),
      op: '<=',
      threshold: 0.05,
      ...(observationSupported === true
        ? {}
        : { pending: 'the gateway has no observation switch yet (both rows ran the same configuration)' }),
      caveat: caveatFor(results, 'a', '512', ['airlock', 'airlock-obs-off']),
    });
  }
  const d = results.params('d');
  if (d.includes('/1k')) {
    checks.push({
      name: 'd: requests/s for 1 KiB, Airlock / Squid w2',
      ...r('d', '/1k', 'airlock', SQUID_W2, 'rps'),
      op: '>=',
      threshold: 1.0,
      caveat: caveatFor(results, 'd', '/1k', ['airlock', SQUID_W2]),
    });
    checks.push({
      name: 'd: CPU per request for 1 KiB, Airlock / the cheaper Squid',
      ...againstCheaperSquid('d', '/1k', 'cpuPerOpUs'),
      op: '<=',
      threshold: 1.0,
      caveat: caveatFor(results, 'd', '/1k', ['airlock', SQUID_W1, SQUID_W2]),
    });
    if (results.of('d', '/1k', 'airlock-w1').length > 0)
      checks.push({
        name: 'd: requests/s for 1 KiB, default workers / workers 1',
        ...r('d', '/1k', 'airlock', 'airlock-w1', 'rps'),
        op: '>=',
        threshold: 1.0,
        caveat: caveatFor(results, 'd', '/1k', ['airlock', 'airlock-w1']),
      });
  }
  if (d.includes('/1m'))
    checks.push({
      name: 'd: requests/s for 1 MiB, Airlock / Squid w2 (keep)',
      ...r('d', '/1m', 'airlock', SQUID_W2, 'rps'),
      op: '>=',
      threshold: KEEP.http1mVsSquidW2,
      caveat: caveatFor(results, 'd', '/1m', ['airlock', SQUID_W2]),
    });
  const phase = judgedMemoryPhase(results);
  if (phase !== undefined) {
    checks.push({
      name: `idle: RSS of the largest Airlock process, MiB (${phase})`,
      actual: results.median('mem', phase, 'airlock', 'largestMiB') ?? null,
      op: '<=',
      threshold: 50,
    });
    const child = results.median('mem', phase, 'airlock', 'largestChildMiB');
    const root = results.median('mem', phase, 'airlock', 'rootMiB');
    if (child !== undefined && Number.isFinite(child))
      checks.push({
        name: `idle: Airlock supervisor RSS / largest worker RSS (${phase})`,
        actual: ratio(root, child),
        op: '<=',
        threshold: 1.0,
      });
  }
  const c = results.params('c');
  if (c.includes('8')) {
    checks.push({
      name: 'c: MB/s on 8 tunnels, Airlock / direct (keep)',
      ...r('c', '8', 'airlock', DIRECT, 'mbps'),
      op: '>=',
      threshold: KEEP.bulkVsDirect,
      caveat: caveatFor(results, 'c', '8', ['airlock', DIRECT]),
    });
    checks.push({
      name: 'c: proxy CPU-s per GB on 8 tunnels, Airlock (keep)',
      actual: results.median('c', '8', 'airlock', 'cpuPerGB') ?? null,
      op: '<=',
      threshold: KEEP.bulkCpuPerGB,
    });
  }
  for (const t of c)
    checks.push({
      name: `c: MB/s on ${t} tunnel${t === '1' ? '' : 's'}, Airlock / Squid w2 (keep)`,
      ...r('c', t, 'airlock', SQUID_W2, 'mbps'),
      op: '>=',
      threshold: 1.0,
      caveat: caveatFor(results, 'c', t, ['airlock', SQUID_W2]),
    });
  const sizes = idleSizes(results);
  const idle = sizes[0];
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
      name: `b: RSS KiB per tunnel at ${formatNumber(idle, 6)} (Airlock, keep)${rss !== undefined && rss < 0 ? ' — RSS fell during the hold' : ''}`,
      actual: rss === undefined || rss < 0 ? null : rss,
      op: '<=',
      threshold: KEEP.idleTunnelKiB,
    });
    // The same cost without the baseline: what each tunnel added between the two largest sizes
    // in the same processes (the baseline of a tree of Node.js processes may still fall after
    // the first tunnels, which makes the figure above low).
    const step = results.median('b', p, 'airlock', 'rssStepPerTunnelKiB');
    if (sizes.length > 1)
      checks.push({
        name: `b: RSS KiB per tunnel added from ${formatNumber(sizes[1]!, 6)} to ${formatNumber(idle, 6)} (Airlock, keep)`,
        actual: step === undefined || !Number.isFinite(step) ? null : step,
        op: '<=',
        threshold: KEEP.idleTunnelKiB,
      });
  }
  return checks;
}

function sectionTargets(results: Results, input: ReportInput): string[] {
  const checks = targetChecks(results, input.observationSupported ?? null);
  if (checks.length === 0) return [];
  return [
    '## Targets (medians of this run)',
    '',
    '"keep": a figure the gateway already reached, which must not fall back. "rounds": the same comparison in each round alone (every round runs all targets, interleaved), lowest and highest. A verdict with a caveat is not to be claimed from this run; where the rounds fall on both sides of the threshold, another run of the same code may well judge the other way.',
    '',
    markdownTable(
      ['target', 'measured', 'rounds (min–max)', 'required', 'verdict', 'caveat'],
      checks.map((c) => [
        c.name,
        c.actual === null ? '–' : formatNumber(c.actual, 3),
        c.rounds === undefined || c.rounds.n < 2
          ? ''
          : `${formatNumber(c.rounds.min, 3)}–${formatNumber(c.rounds.max, 3)}`,
        `${c.op === '>=' ? '≥' : '≤'} ${c.threshold}`,
        verdict(c),
        [c.pending, straddles(c) ? 'the rounds fall on both sides of the threshold' : undefined, c.caveat]
          .filter((x) => x !== undefined)
          .join('; '),
      ]),
      ['left', 'right', 'right', 'right', 'left', 'left'],
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
      let bestId = '';
      let bestLabel = '–';
      for (const m of results.targetsOf(scenario, param)) {
        if (m.id === DIRECT) continue;
        const v = results.median(scenario, param, m.id, metric);
        if (v !== undefined && (best === undefined || v > best)) {
          best = v;
          bestId = m.id;
          bestLabel = m.label;
        }
      }
      rows.push([
        `${scenario} ${param}`,
        `${f(direct)} ${unit}`,
        `${f(best)} (${bestLabel})`,
        formatRatio(ratio(direct, best)),
        pct(results.median(scenario, param, DIRECT, 'generatorThread')),
        bestId === '' ? '–' : pct(results.median(scenario, param, bestId, 'generatorThread')),
      ]);
    }
  }
  if (rows.length === 0) return [];
  return [
    '## Load generator headroom',
    '',
    'The generator and the origins run on the same machine as the proxy. The direct baseline is what they reach without a proxy; ' +
      'the further it is above the best proxy, the less the generator limits the proxy numbers. ' +
      `A generator thread at ≥ ${GENERATOR_BOUND_SHARE * 100} % of a core sets the pace (cells marked † above).`,
    '',
    markdownTable(
      [
        'scenario',
        'direct',
        'best proxy',
        'direct / best',
        'generator thread (direct)',
        'generator thread (best proxy)',
      ],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right'],
    ),
    '',
  ];
}

/** The idle-hold sizes of the run, largest first. */
function idleSizes(results: Results): number[] {
  return results
    .params('b')
    .map(Number)
    .sort((x, y) => y - x);
}

function sectionCaps(results: Results, input: ReportInput): string[] {
  const idle = idleSizes(results)[0];
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

function sectionLoad(loads: readonly LoadPoint[]): string[] {
  if (loads.length === 0) return [];
  return [
    '## How busy the machine was',
    '',
    'Load average when each scenario started (1 and 5 minutes). On a quiet machine both stay well under 1 between scenarios; the run itself adds to them.',
    '',
    markdownTable(
      ['scenario', 'load 1 min', 'load 5 min'],
      loads.map((l) => [l.what, l.one.toFixed(2), l.five.toFixed(2)]),
      ['left', 'right', 'right'],
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

/**
 * The median of "other cores" over every windowed measurement of the run, when it is above
 * BUSY_OTHER_CORES (the machine was shared with other work), else null.
 */
export function busyMachine(measurements: readonly Measurement[]): number | null {
  const other = median(
    measurements.filter((m) => m.values.otherCores !== undefined).map((m) => m.values.otherCores!),
  );
  return Number.isFinite(other) && other > BUSY_OTHER_CORES ? other : null;
}

export function renderReport(input: ReportInput, options: RenderOptions): string {
  const results = new Results(input.measurements);
  const busy = busyMachine(input.measurements);
  return [
    `# ${input.title}`,
    '',
    ...(busy === null
      ? []
      : [
          `**Busy machine: other work used a median of ${formatNumber(busy, 3)} cores in the measurement windows (more than ${BUSY_OTHER_CORES}). These figures are not a result; repeat the run on a quiet machine.**`,
          '',
        ]),
    ...input.preamble,
    '',
    ...sectionTargets(results, input),
    ...sectionA(results, input),
    ...sectionD(results, input, options.httpConnections),
    ...sectionMemory(results, input),
    ...sectionC(results, input),
    ...sectionB(results, input, options.holdSeconds),
    ...sectionCaps(results, input),
    ...sectionStorm(results, input, options.stormSpreadMs, options.stormTimeoutMs),
    ...sectionHeadroom(results),
    ...sectionLoad(input.loads ?? []),
    ...(input.notes.length > 0 ? ['## Notes', '', ...input.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}
