import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { dirname, extname } from 'node:path';
import { rootCertificates } from 'node:tls';
import {
  builtinIssuerData,
  createPacEvaluator,
  destinationsFromCatalog,
  destinationsFromPolicy,
  loadPacScript,
  mergeIssuerData,
  pacNameResolver,
  parseIssuerData,
  parseProxySpec,
  planTargets,
  proxyVariable,
  runCheck,
  systemLookup,
  targetsFromUrls,
  unavailablePac,
  type CheckReport,
  type CheckTarget,
  type Environment,
  type IssuerData,
  type Lookup,
  type MethodConfig,
  type NotTestable,
  type PacEvaluator,
  type Route,
} from '../../analyzer/index.js';
import {
  REPORT_FORMATS,
  renderHtml,
  renderJson,
  renderJunit,
  renderMde,
  renderProgress,
  renderTable,
  renderText,
  type ReportFormat,
} from '../../analyzer/report/index.js';
import {
  builtinCatalog,
  parseCatalogSelection,
  selectedGeos,
  type CatalogSelection,
} from '../../catalog/index.js';
import { AirlockError, fileErrorWords } from '../../errors/index.js';
import { buildResolver, loadConfig } from '../../supervisor/index.js';
import { parseAddress } from '../../policy/index.js';
import { DEFAULT_WIDTH, stdoutWidth } from '../terminal.js';
import { PROCESS_IO, type CommandIo } from './catalog.js';

/**
 * `airlock check`: tests every selected Defender URL (or `--url` given by hand) through each
 * proxy method this machine has (environment, PAC, none, a named proxy, an Airlock gateway),
 * stage by stage, and reports what fails and why, failures grouped by cause. `--on-gateway`
 * runs on the gateway box and tests the upstream reachability of the whole compiled policy
 * with the gateway's own DNS.
 * Exit code: 0 when every required URL is reachable by some method, 1 otherwise; bad input
 * throws a USAGE error (exit 2).
 */

export interface CheckOptions {
  /** --url, repeatable: test these URLs instead of the catalog selection. */
  readonly urls?: readonly string[] | undefined;
  readonly products?: readonly string[] | undefined;
  readonly geos?: readonly string[] | undefined;
  readonly cloud?: string | undefined;
  readonly services?: readonly string[] | undefined;
  /** --required-only: leave out entries Microsoft marks optional. */
  readonly requiredOnly?: boolean | undefined;
  /** -c/--config: the catalog selection (client mode) or the whole gateway configuration (--on-gateway). */
  readonly configFile?: string | undefined;
  /** --on-gateway: test this gateway box's upstream reachability of its compiled policy. */
  readonly onGateway?: boolean | undefined;
  /**
   * --gateway HOST:PORT: an Airlock gateway to test through (as in `airlock clients`). `true`
   * is the flag given without an address, its meaning before --on-gateway: refused, naming it.
   */
  readonly gateway?: string | boolean | undefined;
  /** --proxy URL: a named proxy. */
  readonly proxy?: string | undefined;
  /** --airlock HOST:PORT: the older name of --gateway HOST:PORT. */
  readonly airlock?: string | undefined;
  /** --pac URL|FILE. */
  readonly pac?: string | undefined;
  /** --no-env-proxy: ignore HTTPS_PROXY and friends. */
  readonly envProxy?: boolean | undefined;
  /** --no-direct: do not test without a proxy. */
  readonly direct?: boolean | undefined;
  readonly timeout?: string | undefined;
  readonly deadline?: string | undefined;
  readonly concurrency?: string | undefined;
  readonly format?: string | undefined;
  /** --verbose: the text report lists every URL with each method's stages. */
  readonly verbose?: boolean | undefined;
  /** --wide: tables at full width instead of the terminal's. */
  readonly wide?: boolean | undefined;
  readonly output?: string | undefined;
  /** --ca-file, repeatable: CAs to trust besides the system store. */
  readonly caFiles?: readonly string[] | undefined;
  /** --issuers FILE: expected-issuer classes tried before the built-in ones. */
  readonly issuers?: string | undefined;
  /** --resolve HOST:ADDRESS, repeatable: answer for HOST without DNS. */
  readonly resolve?: readonly string[] | undefined;
}

export interface CheckIo extends CommandIo {
  /** stdout is a terminal: the default format is the table. */
  readonly terminal: boolean;
  /** stderr is a terminal: a progress bar is drawn there. */
  readonly progressTerminal: boolean;
  /** The width of stderr, for the progress bar. */
  readonly columns: number;
  readonly env: Environment;
  /** Test hooks for a fixed clock. */
  readonly clock?: () => Date;
}

export const PROCESS_CHECK_IO: CheckIo = {
  ...PROCESS_IO,
  get terminal() {
    return process.stdout.isTTY;
  },
  get progressTerminal() {
    return process.stderr.isTTY;
  },
  get columns() {
    return process.stderr.columns ?? DEFAULT_WIDTH;
  },
  get width() {
    return stdoutWidth();
  },
  get env() {
    return process.env;
  },
};

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_DEADLINE_MS = 120_000;
const DEFAULT_CONCURRENCY = 8;

function usage(message: string): AirlockError {
  return new AirlockError('USAGE', message);
}

function integer(text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) throw usage(`${flag}: "${text}" is not a whole number`);
  const value = Number(text);
  if (value < min || value > max) throw usage(`${flag}: ${value} is outside ${min}–${max}`);
  return value;
}

function pickFormat(options: CheckOptions, io: CheckIo): ReportFormat {
  if (options.format !== undefined) {
    if (!(REPORT_FORMATS as readonly string[]).includes(options.format))
      throw usage(`--format: "${options.format}" is not one of ${REPORT_FORMATS.join(', ')}`);
    return options.format as ReportFormat;
  }
  if (options.output !== undefined) {
    const ext = extname(options.output).toLowerCase();
    if (ext === '.html' || ext === '.htm') return 'html';
    if (ext === '.json') return 'json';
    if (ext === '.xml') return 'junit';
    return 'text';
  }
  return io.terminal ? 'table' : 'text';
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw usage(`${flag}: cannot read ${path}: ${fileErrorWords(error)}`);
  }
}

/** `HOST:ADDRESS` (`HOST:[v6]` for IPv6) → a static answer. */
function parseResolve(entries: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const host = entry.slice(0, colon).trim().toLowerCase();
    const address = entry
      .slice(colon + 1)
      .trim()
      .replace(/^\[(.*)\]$/, '$1');
    if (colon <= 0 || parseAddress(address) === null)
      throw usage(`--resolve: "${entry}" is not HOST:ADDRESS (an IPv6 address in brackets)`);
    map.set(host, [...(map.get(host) ?? []), address]);
  }
  return map;
}

function withOverrides(overrides: ReadonlyMap<string, readonly string[]>, lookup: Lookup): Lookup {
  if (overrides.size === 0) return lookup;
  return (host) => {
    const fixed = overrides.get(host.toLowerCase());
    return fixed === undefined ? lookup(host) : Promise.resolve(fixed);
  };
}

function gatewayRoute(text: string, flag: string): Route {
  const route = parseProxySpec(text);
  if ('error' in route) throw usage(`${flag}: ${route.error}`);
  if (route.kind !== 'http-proxy')
    throw usage(`${flag}: "${text}": an Airlock gateway is an HTTP proxy (host:port)`);
  return route;
}

/** --gateway HOST:PORT, or --airlock HOST:PORT (its older name); --gateway alone is the old --on-gateway. */
function gatewayAddress(options: CheckOptions): { text: string; flag: string } | undefined {
  if (options.gateway === true) {
    throw usage(
      '--gateway without an address no longer means "test from the gateway box": use --on-gateway for that; --gateway HOST:PORT tests through a gateway, as in `airlock clients`',
    );
  }
  if (typeof options.gateway === 'string') {
    if (options.airlock !== undefined && options.airlock !== options.gateway)
      throw usage('--gateway and --airlock name the same thing: give one');
    return { text: options.gateway, flag: '--gateway' };
  }
  return options.airlock === undefined ? undefined : { text: options.airlock, flag: '--airlock' };
}

function myAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) if (nic.family === 'IPv4' && !nic.internal) return nic.address;
  }
  return '127.0.0.1';
}

async function issuerData(path: string | undefined): Promise<IssuerData> {
  const builtin = builtinIssuerData();
  if (path === undefined) return builtin;
  const parsed = parseIssuerData(await readText(path, '--issuers'), path);
  if ('errors' in parsed) throw usage(parsed.errors.join('\n'));
  return mergeIssuerData(parsed, builtin);
}

async function trustStore(files: readonly string[] | undefined): Promise<string[] | undefined> {
  if (files === undefined || files.length === 0) return undefined;
  const extra: string[] = [];
  for (const file of files) {
    const text = await readText(file, '--ca-file');
    if (!text.includes('-----BEGIN CERTIFICATE-----'))
      throw usage(`--ca-file: ${file} holds no PEM certificate`);
    extra.push(text);
  }
  return [...rootCertificates, ...extra];
}

function clientSelection(options: CheckOptions, base: unknown): CatalogSelection {
  const raw: Record<string, unknown> = { ...(base as Record<string, unknown> | undefined) };
  if (options.products !== undefined && options.products.length > 0) raw.products = options.products;
  if (options.geos !== undefined && options.geos.length > 0) raw.geographies = options.geos;
  if (options.cloud !== undefined) raw.cloud = options.cloud;
  if (options.services !== undefined && options.services.length > 0) raw.services = options.services;
  if (options.requiredOnly === true) raw.includeOptional = false;
  const parsed = parseCatalogSelection(raw, 'selection');
  if (!parsed.ok) throw usage(parsed.errors.join('\n'));
  return parsed.selection;
}

interface Plan {
  readonly mode: 'client' | 'gateway';
  readonly targets: readonly CheckTarget[];
  readonly notTestable: readonly NotTestable[];
  readonly lookup: Lookup;
}

async function gatewayPlan(options: CheckOptions, overrides: Map<string, string[]>): Promise<Plan> {
  const given = (list: readonly string[] | undefined): boolean => list !== undefined && list.length > 0;
  const conflicting: [string, boolean][] = [
    ['--proxy', options.proxy !== undefined],
    ['--pac', options.pac !== undefined],
    ['--gateway', options.gateway !== undefined],
    ['--airlock', options.airlock !== undefined],
    ['--url', given(options.urls)],
    ['--product', given(options.products)],
    ['--geo', given(options.geos)],
    ['--service', given(options.services)],
    ['--cloud', options.cloud !== undefined],
  ];
  const flag = conflicting.find(([, present]) => present)?.[0];
  if (flag !== undefined) {
    throw usage(
      `${flag} does not apply with --on-gateway: it tests the policy the configuration compiles, connecting as the gateway does`,
    );
  }
  const loaded = await loadConfig({ configFile: options.configFile });
  const file = loaded.config.file;
  const resolver = buildResolver(loaded);
  const { destinations, notTestable } = destinationsFromPolicy(
    loaded.policy.rules,
    builtinCatalog(),
    file.catalog,
    {
      connect: loaded.policy.connectPorts,
      http: loaded.policy.httpPorts,
      tls: new Set(file.tls.ports),
    },
  );
  const plan = planTargets(destinations, selectedGeos(file.catalog));
  return {
    mode: 'gateway',
    targets: plan.targets,
    notTestable: [...notTestable, ...plan.notTestable],
    lookup: withOverrides(overrides, async (host) => (await resolver.resolve(host)).map((a) => a.address)),
  };
}

async function clientPlan(options: CheckOptions, overrides: Map<string, string[]>): Promise<Plan> {
  const lookup = withOverrides(overrides, systemLookup);
  if (options.urls !== undefined && options.urls.length > 0) {
    const selecting = [options.products, options.geos, options.services].some(
      (l) => l !== undefined && l.length > 0,
    );
    if (selecting || options.cloud !== undefined || options.configFile !== undefined)
      throw usage(
        '--url tests the URLs given; it cannot be combined with a catalog selection (--product, --geo, --service, --cloud, --config)',
      );
    const targets = targetsFromUrls(options.urls, builtinCatalog());
    if ('error' in targets) throw usage(targets.error);
    return { mode: 'client', targets, notTestable: [], lookup };
  }
  const base =
    options.configFile === undefined
      ? undefined
      : (await loadConfig({ configFile: options.configFile })).config.file.catalog;
  const selection = clientSelection(options, base);
  const plan = planTargets(destinationsFromCatalog(builtinCatalog(), selection), selectedGeos(selection));
  return { mode: 'client', targets: plan.targets, notTestable: plan.notTestable, lookup };
}

async function pacMethod(
  ref: string,
  timeoutMs: number,
  lookup: Lookup,
): Promise<{ evaluator: PacEvaluator; source: string }> {
  const loaded = await loadPacScript(ref, timeoutMs);
  if (!loaded.ok) {
    if (loaded.input) throw usage(loaded.error);
    return { evaluator: unavailablePac(loaded.error), source: loaded.source };
  }
  try {
    const evaluator = await createPacEvaluator(loaded.text, {
      resolveName: pacNameResolver(lookup, timeoutMs),
      myIpAddress: myAddress(),
    });
    return { evaluator, source: loaded.source };
  } catch (error) {
    const message = (error as Error).message;
    if (/^https?:/i.test(ref)) return { evaluator: unavailablePac(message), source: loaded.source };
    throw usage(`--pac: ${message}`);
  }
}

function render(report: CheckReport, format: ReportFormat, width: number, verbose: boolean): string {
  switch (format) {
    case 'text':
      return renderText(report, { width, verbose });
    case 'mde':
      return renderMde(report);
    case 'table':
      return renderTable(report, width);
    case 'json':
      return renderJson(report);
    case 'junit':
      return renderJunit(report);
    case 'html':
      return renderHtml(report);
  }
}

export async function check(options: CheckOptions, io: CheckIo = PROCESS_CHECK_IO): Promise<number> {
  const timeoutMs = integer(options.timeout, '--timeout', DEFAULT_TIMEOUT_MS, 1, 600_000);
  const deadlineMs = integer(
    options.deadline,
    '--deadline',
    Math.max(DEFAULT_DEADLINE_MS, timeoutMs),
    1,
    86_400_000,
  );
  if (deadlineMs < timeoutMs)
    throw usage(`--deadline (${deadlineMs} ms) is shorter than --timeout (${timeoutMs} ms)`);
  const concurrency = integer(options.concurrency, '--concurrency', DEFAULT_CONCURRENCY, 1, 256);
  const format = pickFormat(options, io);
  const overrides = parseResolve(options.resolve ?? []);
  const issuers = await issuerData(options.issuers);
  const ca = await trustStore(options.caFiles);

  const gateway = gatewayAddress(options);
  const plan =
    options.onGateway === true ? await gatewayPlan(options, overrides) : await clientPlan(options, overrides);
  if (plan.targets.length === 0) {
    throw usage(
      `nothing to test: ${plan.notTestable.length} destination${plan.notTestable.length === 1 ? ' is' : 's are'} not testable` +
        (plan.notTestable.length > 0
          ? ` (${plan.notTestable[0]!.host}: ${plan.notTestable[0]!.reason})`
          : ''),
    );
  }

  const methods: {
    env?: Environment;
    pac?: { evaluator: PacEvaluator; source: string };
    proxy?: { route: Route; text: string };
    gateway?: { route: Route; text: string };
    direct: boolean;
  } = { direct: options.direct !== false };
  if (plan.mode === 'client') {
    if (options.envProxy !== false) methods.env = io.env;
    if (options.proxy !== undefined) {
      const route = parseProxySpec(options.proxy);
      if ('error' in route) throw usage(`--proxy: ${route.error}`);
      methods.proxy = { route, text: options.proxy };
    }
    if (gateway !== undefined)
      methods.gateway = { route: gatewayRoute(gateway.text, gateway.flag), text: gateway.text };
    if (options.pac !== undefined) methods.pac = await pacMethod(options.pac, timeoutMs, plan.lookup);
  } else {
    methods.direct = true;
  }
  const configured: MethodConfig = methods;
  const envSet =
    methods.env !== undefined &&
    (proxyVariable(methods.env, 'https') !== null || proxyVariable(methods.env, 'http') !== null);
  if (
    !methods.direct &&
    !envSet &&
    methods.proxy === undefined &&
    methods.pac === undefined &&
    methods.gateway === undefined
  ) {
    throw usage(
      'no method to test with: --no-direct leaves nothing (give --proxy, --pac or --gateway, or set HTTPS_PROXY)',
    );
  }

  const showProgress = io.progressTerminal && (format === 'table' || options.output !== undefined);
  let report: CheckReport;
  try {
    report = await runCheck({
      mode: plan.mode,
      targets: plan.targets,
      notTestable: plan.notTestable,
      methods: configured,
      timeoutMs,
      deadlineMs,
      concurrency,
      issuers,
      lookup: plan.lookup,
      ...(ca === undefined ? {} : { ca }),
      ...(io.clock === undefined ? {} : { clock: io.clock }),
      userAgent: 'airlock-check/0.1.0',
      ...(showProgress
        ? {
            onProgress: (done: number, total: number, url: string) =>
              io.err(`\r${renderProgress(done, total, url, Math.max(40, io.columns - 1))}\u001b[K`),
          }
        : {}),
    });
  } finally {
    methods.pac?.evaluator.dispose();
    if (showProgress) io.err('\r\u001b[K');
  }

  const width = options.wide === true ? Infinity : (io.width ?? DEFAULT_WIDTH);
  const text = render(report, format, width, options.verbose === true);
  if (options.output !== undefined) {
    try {
      await mkdir(dirname(options.output), { recursive: true });
      await writeFile(options.output, text);
    } catch (error) {
      throw new AirlockError(
        'FILE_UNREADABLE',
        `cannot write ${options.output}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    io.err(
      `airlock check: ${report.exitCode === 0 ? 'passed' : 'FAILED'}; ${format} report written to ${options.output}\n`,
    );
  } else {
    io.out(text);
  }
  return report.exitCode;
}
