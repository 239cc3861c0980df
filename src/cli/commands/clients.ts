import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { builtinCatalog } from '../../catalog/index.js';
import { buildClientPlan, planPac, type ClientFile, type PacRule } from '../../clients/index.js';
import { AirlockError } from '../../errors/index.js';
import { commitStaged, stageFile, type StagedFile } from '../../files/index.js';
import { loadConfig } from '../../supervisor/index.js';
import { PROCESS_IO, type CommandIo } from './catalog.js';
import { hostPort } from '../../text/host-port.js';

export const CLIENT_FORMATS = ['text', 'json', 'pac'] as const;

export interface ClientsOptions {
  /** --gateway host:port, repeatable, in failover order. */
  readonly gateway?: readonly string[] | undefined;
  /** --product, repeatable (comma lists accepted). */
  readonly product?: readonly string[] | undefined;
  /** --os windows|linux|macos, repeatable (comma lists accepted). */
  readonly os?: readonly string[] | undefined;
  /** --out DIR: write the files there instead of printing them. */
  readonly out?: string | undefined;
  /** --format text (default), json or pac. */
  readonly format?: string | undefined;
  /** --bypass: hosts Windows reaches without the gateway (netsh bypass list, Defender Antivirus ProxyBypass). */
  readonly bypass?: readonly string[] | undefined;
  /** --pac-url: Defender Antivirus ProxyPacUrl. */
  readonly pacUrl?: string | undefined;
  /** --arc-bypass: Azure Arc proxy.bypass groups. */
  readonly arcBypass?: readonly string[] | undefined;
  /** --otherwise: PAC answer for hosts off the allowlist (default DIRECT). */
  readonly otherwise?: string | undefined;
  /** --config: take the PAC's host rules (and, for --format pac, proxies and fallback) from a gateway configuration. */
  readonly configFile?: string | undefined;
}

interface OutputFile {
  readonly path: string;
  readonly contents: string | Buffer;
}

/**
 * Writes every file or none: each goes to a temporary name beside its final path first, and
 * only when all of them are on disk are they renamed into place.
 */
async function writeAll(dir: string, files: readonly OutputFile[]): Promise<void> {
  const root = resolve(dir);
  const staged: StagedFile[] = [];
  const created: string[] = [];
  try {
    for (const file of files) {
      const final = resolve(root, file.path);
      if (!final.startsWith(root + sep)) throw new Error(`${file.path} would leave ${dir}`);
      const made = await mkdir(dirname(final), { recursive: true });
      if (made !== undefined) created.push(made);
      staged.push(await stageFile(final, file.contents, file.path.endsWith('.sh') ? 0o755 : 0o644));
    }
    for (const file of staged) await commitStaged(file);
  } catch (error) {
    await Promise.all(staged.map((s) => rm(s.temporary, { force: true })));
    for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
    throw new AirlockError('FILE_UNREADABLE', `cannot write ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function isText(file: ClientFile): file is ClientFile & { contents: string } {
  return typeof file.contents === 'string';
}

/** What a file looks like on a terminal: the .reg file is UTF-16, shown decoded. */
function printable(file: ClientFile): { text: string; note: string } {
  if (isText(file)) return { text: file.contents, note: '' };
  const bytes = file.contents as Buffer;
  const bom = bytes[0] === 0xff && bytes[1] === 0xfe;
  return {
    text: bytes
      .subarray(bom ? 2 : 0)
      .toString('utf16le')
      .replace(/\r\n/g, '\n'),
    note: ' (written as UTF-16LE with BOM and CRLF; shown decoded)',
  };
}

/** Runs the pure planning step; with --out, a usage error also says that nothing was written. */
function planOrExplain<T>(out: string | undefined, plan: () => T): T {
  try {
    return plan();
  } catch (error) {
    if (out !== undefined && error instanceof AirlockError) {
      throw new AirlockError(error.code, `${error.message}\nnothing was written to ${out}`, { cause: error });
    }
    throw error;
  }
}

interface ConfigPac {
  readonly rules: PacRule[];
  readonly proxies: readonly string[];
  readonly otherwise: string;
  /** Where clients can fetch the served PAC file, when the configuration says; else undefined. */
  readonly servedAt: (gateway: string | undefined) => string | undefined;
}

async function policyPac(configFile: string): Promise<ConfigPac> {
  const loaded = await loadConfig({ configFile });
  const rules = loaded.policy.rules.flatMap((r) => (r.pattern === null ? [] : [{ pattern: r.pattern }]));
  const admin = loaded.config.file.admin;
  const pac = admin.pac;
  const listen = admin.listen;
  // An admin listener on a wildcard or loopback address names no address a client can use.
  const adminUrl =
    listen !== null && !['0.0.0.0', '::', '127.0.0.1', '::1'].includes(listen.host)
      ? `http://${hostPort(listen.host, listen.port)}/proxy.pac`
      : undefined;
  return {
    rules,
    proxies: pac.proxies,
    otherwise: pac.otherwise,
    servedAt: (gateway) =>
      admin.servePacOnProxyPort && gateway !== undefined ? `http://${gateway}/proxy.pac` : adminUrl,
  };
}

/**
 * `airlock clients --gateway HOST:PORT [--gateway …] --product P [--product …] --os windows|linux|macos
 * [--out DIR] [--format text|json|pac] [--bypass HOST …] [--pac-url URL] [--arc-bypass GROUP …]
 * [--otherwise "PROXY host:port"] [--config FILE]`
 *
 * The whole plan is computed first; a bad input is one error listing every problem, and
 * nothing is written.
 */
export async function clients(options: ClientsOptions, io: CommandIo = PROCESS_IO): Promise<number> {
  const format = options.format ?? 'text';
  if (!(CLIENT_FORMATS as readonly string[]).includes(format)) {
    throw new AirlockError('USAGE', `--format: "${format}" is not one of ${CLIENT_FORMATS.join(', ')}`);
  }
  const fromConfig = options.configFile === undefined ? undefined : await policyPac(options.configFile);
  const catalog = builtinCatalog();

  if (format === 'pac') {
    const gateways =
      options.gateway !== undefined && options.gateway.length > 0 ? options.gateway : fromConfig?.proxies;
    const pac = planOrExplain(options.out, () =>
      planPac(
        {
          gateways: gateways ?? [],
          products: options.product,
          otherwise: options.otherwise ?? fromConfig?.otherwise,
          rules: fromConfig?.rules,
        },
        catalog,
      ),
    );
    if (options.out === undefined) io.out(pac);
    else {
      await writeAll(options.out, [{ path: 'proxy.pac', contents: pac }]);
      io.out(`${join(options.out, 'proxy.pac')}: written\n`);
    }
    return 0;
  }

  const plan = planOrExplain(options.out, () =>
    buildClientPlan(
      {
        gateways: options.gateway ?? [],
        products: options.product ?? [],
        os: options.os ?? [],
        bypass: options.bypass,
        pacUrl: options.pacUrl,
        servedPacUrl: fromConfig?.servedAt(options.gateway?.[0]),
        arcBypass: options.arcBypass,
        otherwise: options.otherwise,
        pacRules: fromConfig?.rules,
      },
      catalog,
    ),
  );
  for (const note of plan.notes) if (note.level === 'warning') io.err(`warning: ${note.message}\n`);

  if (options.out !== undefined) {
    await writeAll(options.out, plan.files);
    if (format === 'json') {
      const files = plan.files.map(({ contents: _contents, ...rest }) => ({
        ...rest,
        written: join(options.out!, rest.path),
      }));
      io.out(`${JSON.stringify({ out: options.out, files, notes: plan.notes }, null, 2)}\n`);
    } else {
      for (const file of plan.files) io.out(`wrote ${join(options.out, file.path)}\n`);
      io.out(`${plan.files.length} files; read ${join(options.out, 'README.md')} first\n`);
    }
    return 0;
  }

  if (format === 'json') {
    const files = plan.files.map((file) => ({
      path: file.path,
      description: file.description,
      runWhere: file.runWhere,
      order: file.order,
      target: file.target,
      products: file.products,
      source: file.source,
      optional: file.optional === true,
      encoding: isText(file) ? 'utf8' : 'base64',
      contents: isText(file) ? file.contents : (file.contents as Buffer).toString('base64'),
    }));
    io.out(
      `${JSON.stringify({ gateways: plan.gateways.map((g) => g.authority), products: plan.products, os: plan.os, files, notes: plan.notes }, null, 2)}\n`,
    );
    return 0;
  }

  const readme = plan.files.find((f) => f.path === 'README.md');
  if (readme !== undefined) io.out(printable(readme).text);
  for (const file of plan.files) {
    if (file === readme) continue;
    const { text, note } = printable(file);
    io.out(`\n==> ${file.path}${note} <==\n${text}`);
  }
  return 0;
}
