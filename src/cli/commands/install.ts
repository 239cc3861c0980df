import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type ConfigFile } from '../../config/index.js';
import { AirlockError } from '../../errors/index.js';
import { writeFileWhole } from '../../files/index.js';
import {
  PATHS,
  RAISE_ONLY_KEYS,
  defaultConfigText,
  planInstall,
  planUninstall,
  renderPlan,
  withCommandStatuses,
  type Action,
  type ActionStatus,
  type FirewallKind,
  type KernelFacts,
  type Plan,
} from '../../install/index.js';
import { loadConfig } from '../../supervisor/index.js';

/** Where a command prints: the process's streams, or a test's buffers. */
export interface InstallIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const PROCESS_IO: InstallIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Runs one command of the target system; rejects when it fails. Tests pass one that records. */
export type CommandRunner = (argv: readonly string[]) => Promise<void>;

export interface InstallOptions {
  /** --config FILE: the configuration to install (default: keep the installed one, or write the default). */
  readonly configFile?: string | undefined;
  /** --dry-run: print every change, file contents included, and change nothing. */
  readonly dryRun?: boolean | undefined;
  /** --root DIR: install the files into this directory tree; no command is run. */
  readonly root?: string | undefined;
  /** --ssh-from CIDR (repeatable): networks SSH and a non-loopback admin listener are open to. */
  readonly sshFrom?: readonly string[] | undefined;
  /** --ssh-port N (default 22). */
  readonly sshPort?: string | number | undefined;
  /** false with --no-firewall. */
  readonly firewall?: boolean | undefined;
  /** --node PATH: the node binary on the target (default: the one running this command). */
  readonly node?: string | undefined;
  /** --prefix DIR: the airlock package directory on the target (default: this one). */
  readonly prefix?: string | undefined;
}

export interface UninstallOptions {
  readonly dryRun?: boolean | undefined;
  readonly root?: string | undefined;
  /** --purge: also remove /etc/airlock. */
  readonly purge?: boolean | undefined;
}

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const runCommand: CommandRunner = (argv) =>
  new Promise((resolvePromise, reject) => {
    const [command, ...args] = argv;
    if (command === undefined) {
      resolvePromise();
      return;
    }
    execFile(
      command,
      args,
      { env: { ...process.env, PATH: SYSTEM_PATH }, timeout: 120_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`${argv.join(' ')}: ${stderr.trim() || error.message}`));
        else resolvePromise();
      },
    );
  });

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function rootOf(option: string | undefined): string | null {
  if (option === undefined) return null;
  const root = resolve(option);
  if (root === '/') throw new AirlockError('USAGE', '--root /: that is this machine; leave --root out');
  return root;
}

function on(root: string | null, path: string): string {
  return root === null ? path : join(root, path);
}

/** A real install changes this machine: it must be root, on Debian or Ubuntu, under systemd. */
async function checkSystem(command: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new AirlockError(
      'USAGE',
      `${command} changes this machine and must run as root (sudo); --dry-run and --root DIR do not`,
    );
  }
  const release = (await readIfExists('/etc/os-release')) ?? '';
  const ids = [...release.matchAll(/^(?:ID|ID_LIKE)="?([^"\n]*)"?$/gm)].flatMap((m) =>
    (m[1] ?? '').split(' '),
  );
  if (!ids.includes('debian') && !ids.includes('ubuntu')) {
    throw new AirlockError(
      'USAGE',
      `${command} supports Debian and Ubuntu; use --root DIR to write the files only`,
    );
  }
  if (!(await exists('/run/systemd/system'))) {
    throw new AirlockError('USAGE', `${command} needs systemd running as the init system`);
  }
}

/** What is on the target for each file, directory and removal, before anything is applied. */
async function inspect(plan: Plan, root: string | null, pending: readonly string[]): Promise<ActionStatus[]> {
  const statuses: ActionStatus[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'run') {
      statuses.push('skip');
      continue;
    }
    const path = on(root, action.path);
    let stat;
    try {
      stat = await lstat(path);
    } catch {
      statuses.push(action.kind === 'remove' ? 'absent' : 'create');
      continue;
    }
    if (action.kind === 'remove') {
      statuses.push('remove');
    } else if (action.kind === 'dir') {
      if (!stat.isDirectory()) throw new AirlockError('USAGE', `${path} exists and is not a directory`);
      statuses.push((stat.mode & 0o7777) === action.mode ? 'ok' : 'chmod');
    } else if (!stat.isFile()) {
      statuses.push('update');
    } else {
      const content = await readFile(path, 'utf8');
      statuses.push(
        content !== action.content ? 'update' : (stat.mode & 0o7777) === action.mode ? 'ok' : 'chmod',
      );
    }
  }
  return withCommandStatuses(plan, statuses, root !== null, pending);
}

/**
 * Writes a file whole with exactly `mode` (see writeFileWhole): a link planted at the path is
 * replaced, never written through.
 */
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileWhole(path, content, mode);
}

async function applyOne(action: Action, status: ActionStatus, root: string | null, run: CommandRunner) {
  if (action.kind === 'run') {
    if (status === 'run') await run(action.argv);
    return;
  }
  const path = on(root, action.path);
  if (action.kind === 'remove') {
    if (status === 'remove') await rm(path, { recursive: action.recursive === true, force: true });
  } else if (action.kind === 'dir') {
    if (status === 'create') await mkdir(path, { recursive: true, mode: action.mode });
    if (status === 'create' || status === 'chmod') await chmod(path, action.mode);
  } else if (status === 'create' || status === 'update') {
    await writeAtomically(path, action.content, action.mode);
  } else if (status === 'chmod') {
    await chmod(path, action.mode);
  }
}

async function execute(
  plan: Plan,
  root: string | null,
  options: { command: 'install' | 'uninstall'; dryRun: boolean },
  io: InstallIo,
  run: CommandRunner,
): Promise<number> {
  const render = { command: options.command, dryRun: options.dryRun, root };
  if (plan.errors.length > 0 && !options.dryRun) {
    io.err(renderPlan(plan, [], render));
    return 2;
  }
  // Commands an earlier install wrote the files for but did not finish (a real install only:
  // under --root commands never run, so nothing is ever pending).
  const tracked = options.command === 'install' && root === null;
  const pendingFile = PATHS.pending;
  const pending = tracked
    ? ((await readIfExists(pendingFile)) ?? '').split('\n').filter((l) => l.trim() !== '')
    : [];
  const statuses = await inspect(plan, root, pending);
  if (!options.dryRun) {
    if (root !== null) await mkdir(root, { recursive: true });
    const left = plan.actions.flatMap((a, i) =>
      a.kind === 'run' && statuses[i] === 'run' ? [a.argv.join(' ')] : [],
    );
    for (let i = 0; i < plan.actions.length; i++) {
      const action = plan.actions[i]!;
      try {
        // Before the first command, record every command still to run, so that a failure (or an
        // interruption) leaves the next run something to retry although the files are in place.
        if (tracked && action.kind === 'run' && statuses[i] === 'run') {
          await writeAtomically(pendingFile, `${left.join('\n')}\n`, 0o600);
          await applyOne(action, 'run', root, run);
          left.splice(left.indexOf(action.argv.join(' ')), 1);
          if (left.length === 0) await rm(pendingFile, { force: true });
          continue;
        }
        await applyOne(action, statuses[i] ?? 'ok', root, run);
      } catch (error) {
        io.out(
          renderPlan({ ...plan, actions: plan.actions.slice(0, i), notes: [] }, statuses.slice(0, i), render),
        );
        io.err(
          `airlock ${options.command}: failed, the steps above were done${
            tracked ? '; run it again to retry the rest' : ''
          }: ${(error as Error).message}\n`,
        );
        return 1;
      }
    }
  }
  io.out(renderPlan(plan, statuses, render));
  // A dry run prints the whole plan even when a real run would be refused; the exit code says so.
  return plan.errors.length > 0 ? 2 : 0;
}

/** Reads kernel values a real install raises only (never under --root). */
async function kernelFacts(root: string | null): Promise<KernelFacts> {
  const current: Record<string, string> = {};
  if (root === null) {
    for (const key of RAISE_ONLY_KEYS) {
      const value = await readIfExists(`/proc/sys/${key.replace(/\./g, '/')}`).catch(() => null);
      if (value !== null) current[key] = value.trim();
    }
  }
  return { current, existingFile: await readIfExists(on(root, PATHS.sysctl)) };
}

/** The configuration to install, validated, with the relative allowlist files it names. */
async function configToInstall(
  configFile: string | undefined,
  root: string | null,
): Promise<{ text: string; file: ConfigFile; allowlists: { path: string; content: string }[] }> {
  const installed = on(root, PATHS.config);
  const source = configFile ?? ((await exists(installed)) ? installed : null);
  if (source === null) {
    const text = defaultConfigText();
    const parsed = parseConfig(text, '<default>');
    if (!parsed.ok) throw new AirlockError('CONFIG_INVALID', parsed.errors.join('\n'));
    return { text, file: parsed.config.file, allowlists: [] };
  }
  const loaded = await loadConfig({ configFile: source });
  const text = await readFile(source, 'utf8');
  const allowlists: { path: string; content: string }[] = [];
  for (const path of loaded.config.file.policy.allowlistFiles ?? []) {
    if (isAbsolute(path)) continue;
    const content = await readIfExists(join(dirname(source), path));
    if (content !== null) allowlists.push({ path, content });
  }
  return { text, file: loaded.config.file, allowlists };
}

function sshPort(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new AirlockError('USAGE', `--ssh-port: "${String(value)}" is not a port number`);
  }
  return n;
}

/**
 * `airlock install`: the configuration, a hardened systemd unit, log rotation, kernel settings
 * and firewall rules, applied idempotently. Returns the exit code: 0 done (or nothing to do),
 * 1 a step failed, 2 the plan was refused.
 */
export async function install(
  options: InstallOptions,
  io: InstallIo = PROCESS_IO,
  run: CommandRunner = runCommand,
): Promise<number> {
  const root = rootOf(options.root);
  const dryRun = options.dryRun === true;
  if (root === null && !dryRun) await checkSystem('airlock install');
  const config = await configToInstall(options.configFile, root);
  let firewall: FirewallKind = 'none';
  if (options.firewall !== false) {
    const ufw = (await exists(on(root, '/usr/sbin/ufw'))) || (await exists(on(root, '/usr/bin/ufw')));
    firewall = ufw ? 'ufw' : 'nftables';
    if (firewall === 'nftables' && root === null && !dryRun && !(await exists(PATHS.nft))) {
      throw new AirlockError(
        'USAGE',
        'neither ufw nor nft is installed: apt-get install nftables (or ufw), or pass --no-firewall',
      );
    }
  }
  const plan = planInstall({
    configText: config.text,
    config: config.file,
    allowlists: config.allowlists,
    program: {
      node: options.node ?? process.execPath,
      main:
        options.prefix !== undefined
          ? join(options.prefix, 'dist/src/cli/main.js')
          : fileURLToPath(new URL('../main.js', import.meta.url)),
    },
    target: root === null ? 'system' : 'root',
    firewall,
    ssh: { port: sshPort(options.sshPort), from: options.sshFrom },
    sshClient: root === null ? process.env.SSH_CONNECTION?.split(' ')[0] : undefined,
    kernel: await kernelFacts(root),
    previousUfwRules: await readIfExists(on(root, PATHS.ufwRules)),
  });
  return execute(plan, root, { command: 'install', dryRun }, io, run);
}

/** `airlock uninstall`: stops and removes what `install` added; --purge also removes /etc/airlock. */
export async function uninstall(
  options: UninstallOptions,
  io: InstallIo = PROCESS_IO,
  run: CommandRunner = runCommand,
): Promise<number> {
  const root = rootOf(options.root);
  const dryRun = options.dryRun === true;
  if (root === null && !dryRun) await checkSystem('airlock uninstall');
  const plan = planUninstall({
    target: root === null ? 'system' : 'root',
    purge: options.purge === true,
    ufwRules: await readIfExists(on(root, PATHS.ufwRules)),
  });
  return execute(plan, root, { command: 'uninstall', dryRun }, io, run);
}
