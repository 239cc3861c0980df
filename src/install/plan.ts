import { posix } from 'node:path';
import type { ConfigFile } from '../config/index.js';
import { parseCidr } from '../policy/index.js';
import {
  openings,
  parseUfwRules,
  renderNftables,
  renderUfwRules,
  sshLockout,
  ufwRuleLines,
  UFW_SSH_TAG,
  type SshAccess,
} from './firewall.js';
import { LOGROTATE_SPECIAL, renderLogrotate } from './logrotate.js';
import { FIREWALL_UNIT_NAME, PATHS, UNIT_NAME, formatMode, hiddenFromService, isInside } from './paths.js';
import { MAX_NR_OPEN, sizing } from './sizing.js';
import { renderSysctl, type KernelFacts } from './sysctl.js';
import type { Action, DirAction, FileAction, FirewallKind, Plan } from './types.js';
import { renderFirewallUnit, renderUnit } from './unit.js';
import { shown } from '../text/printable.js';
import { characterProblem, normalPath, pathProblem } from './values.js';

export interface InstallInput {
  /** The configuration text to install as /etc/airlock/airlock.yaml, and what it validated to. */
  readonly configText: string;
  readonly config: ConfigFile;
  /** Allowlist files the configuration names with a relative path, as read: copied beside it. */
  readonly allowlists: readonly { readonly path: string; readonly content: string }[];
  /** The node binary and the airlock CLI script (…/dist/src/cli/main.js) on the target. */
  readonly program: { readonly node: string; readonly main: string };
  /** `system`: this machine; `root`: a directory tree for packaging or tests (--root), where nothing runs. */
  readonly target: 'system' | 'root';
  readonly firewall: FirewallKind;
  /** SSH port and the management networks (--ssh-port, --ssh-from); the networks default to policy.sources. */
  readonly ssh?: { readonly port?: number; readonly from?: readonly string[] };
  /** The client address of the SSH session running the install (SSH_CONNECTION), if any. */
  readonly sshClient?: string;
  /** Kernel values now and the sysctl file of an earlier install (a real install only). */
  readonly kernel?: KernelFacts;
  /** The ufw rules file of an earlier install, to delete rules that are no longer wanted. */
  readonly previousUfwRules?: string | null;
}

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/**
 * The configuration installed when none is given and none is there yet: the built-in policy, on
 * port 3128, for the private networks (not loopback: the box itself has no business using it),
 * with the access log in the place the service may write.
 */
export function defaultConfigText(): string {
  return [
    '# Airlock configuration: written by "airlock install" because no --config FILE was given.',
    '# Every key and its default: docs/configuration.md. After editing, "systemctl reload airlock"',
    '# applies the policy; listeners, limits and log settings need "systemctl restart airlock".',
    'version: 1',
    'listeners:',
    '  - 0.0.0.0:3128',
    'policy:',
    '  # Client networks allowed to use the gateway (the firewall opens port 3128 to these only).',
    '  sources: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7]',
    'admin:',
    '  # /healthz, /readyz, /metrics and /api/status, for this machine only.',
    '  listen: 127.0.0.1:9090',
    'log:',
    '  format: json',
    `  file: ${PATHS.logDir}/access.log`,
    '',
  ].join('\n');
}

function hiddenProblem(what: string, path: string, target: 'system' | 'root'): string | undefined {
  const dir = hiddenFromService(path);
  if (dir === undefined) return undefined;
  return `${what} ${shown(path)} is under ${dir}, which the service cannot see (ProtectHome=, PrivateTmp=)${
    target === 'system'
      ? ': install airlock system-wide from a packed tarball (npm pack, then npm install --global with the .tgz; docs/deployment.md), or give --node and --prefix'
      : '; on the target it must be elsewhere'
  }`;
}

/**
 * Why the service may not write to `path` (given as `option`): it must be an absolute path in
 * normal form inside `dir`, judged after resolving "." and "..". Undefined when it may; `fix`
 * says what to do when it is outside.
 */
function placeProblem(option: string, path: string, dir: string, fix: string): string | undefined {
  const normal = normalPath(path);
  if (!isInside(path, dir)) {
    const means = posix.isAbsolute(path) && normal !== path ? ` (that is ${shown(normal)})` : '';
    return `${option} ${shown(path)}${means}: the service may write only under ${dir}/; ${fix}`;
  }
  if (normal !== path) return `${option} ${shown(path)}: write it as ${shown(normal)}`;
  return undefined;
}

/** The plan for `airlock install`. Pure: everything it needs about the target comes in `input`. */
export function planInstall(input: InstallInput): Plan {
  const file = input.config;
  const errors: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const problem = (message: string | undefined): void => {
    if (message === undefined) return;
    if (input.target === 'system') errors.push(message);
    else warnings.push(message);
  };

  if (file.pidFile !== null) {
    const where = placeProblem(
      'pidFile',
      file.pidFile,
      PATHS.runDir,
      `set pidFile: ${PATHS.runDir}/airlock.pid or remove it (systemd knows the process id)`,
    );
    if (where !== undefined) errors.push(where);
  }
  // log.file is written into the logrotate file, which root reads and whose scripts root runs.
  let logrotateSafe = true;
  if (file.log.file !== null) {
    const characters = characterProblem('log.file', file.log.file, {
      extra: LOGROTATE_SPECIAL,
      extraWhy: 'logrotate reads braces as a block, "#" as a comment and "*?[]" as a pattern',
      writtenTo: `the logrotate file (${PATHS.logrotate})`,
    });
    logrotateSafe = characters === undefined;
    const where =
      characters ??
      placeProblem(
        'log.file',
        file.log.file,
        PATHS.logDir,
        `set log.file: ${PATHS.logDir}/access.log, or remove it to log to the journal`,
      );
    if (where !== undefined) errors.push(where);
  }
  if (file.listeners.some((l) => l.port === 0) || file.admin.listen?.port === 0) {
    errors.push('a listener on port 0 gets a random port: give every listener and admin.listen a fixed port');
  }
  // The program paths are written into the unit's ExecStart=, which systemd runs as the service.
  const unitFile = { writtenTo: `the systemd unit (${PATHS.unit})` };
  const programProblems = [
    pathProblem('the node binary (--node)', input.program.node, unitFile),
    pathProblem('the airlock program (--prefix)', input.program.main, unitFile),
  ].filter((p): p is string => p !== undefined);
  errors.push(...programProblems);
  if (programProblems.length === 0) {
    problem(hiddenProblem('the node binary', input.program.node, input.target));
    problem(hiddenProblem('the airlock program', input.program.main, input.target));
  }

  const allowlistActions: (DirAction | FileAction)[] = [];
  const copied = new Map(input.allowlists.map((a) => [a.path, a.content]));
  (file.policy.allowlistFiles ?? []).forEach((path, i) => {
    if (posix.isAbsolute(path)) {
      problem(hiddenProblem(`policy.allowlistFiles[${i}]`, path, input.target));
      return;
    }
    const characters = characterProblem(`policy.allowlistFiles[${i}]`, path, {
      writtenTo: `a file name under ${PATHS.configDir}/`,
    });
    if (characters !== undefined) {
      errors.push(characters);
      return;
    }
    const target = posix.join(PATHS.configDir, path);
    if (!isInside(target, PATHS.configDir)) {
      errors.push(
        `policy.allowlistFiles[${i}] ${path} is outside the configuration's directory: put it beside the configuration or give an absolute path`,
      );
      return;
    }
    const content = copied.get(path);
    if (content === undefined) {
      errors.push(`policy.allowlistFiles[${i}] ${path}: the file was not read`);
      return;
    }
    for (let dir = posix.dirname(target); dir !== PATHS.configDir; dir = posix.dirname(dir)) {
      if (!allowlistActions.some((a) => a.path === dir)) {
        allowlistActions.unshift({ kind: 'dir', path: dir, mode: DIR_MODE, why: 'allowlist directory' });
      }
    }
    allowlistActions.push({
      kind: 'file',
      path: target,
      mode: FILE_MODE,
      content,
      why: `allowlist (policy.allowlistFiles[${i}])`,
    });
  });

  const size = sizing(file);
  if (size.nofile > MAX_NR_OPEN) {
    errors.push(
      `limits.maxConnections ${size.maxConnections} needs ${size.nofile} open files in one process, more than Linux allows (${MAX_NR_OPEN}): run several gateways (docs/deployment.md)`,
    );
  }

  // --ssh-from networks go into the firewall rules (as parsed, canonical text); a value with
  // anything a network cannot hold is refused and left out.
  const sshFrom = (input.ssh?.from ?? []).filter((text) => {
    const problem =
      characterProblem('--ssh-from', text, { writtenTo: 'the firewall rules' }) ??
      (parseCidr(text) === null ? `--ssh-from ${shown(text)}: not a CIDR` : undefined);
    if (problem !== undefined) errors.push(problem);
    return problem === undefined;
  });
  const ssh: SshAccess = {
    port: input.ssh?.port ?? 22,
    from: input.ssh?.from !== undefined && input.ssh.from.length > 0 ? sshFrom : file.policy.sources,
  };
  const list = openings(file, ssh);
  if (input.firewall !== 'none') {
    if (input.ssh?.from === undefined || input.ssh.from.length === 0) {
      warnings.push(
        `SSH (port ${ssh.port}) is allowed from policy.sources, the client networks; pass --ssh-from CIDR to allow it from the management network only`,
      );
    }
    const open = list.flatMap((o) =>
      o.sources
        .filter((c) => c.prefix === 0)
        .map((c) => `port ${o.port} (${o.what.join(', ')}) from ${c.text}`),
    );
    for (const o of open) warnings.push(`the firewall opens ${o}: every address`);
    if (input.target === 'system') {
      const client = sshLockout(input.sshClient, ssh);
      if (client !== undefined) {
        errors.push(
          `this SSH session comes from ${client}, which the firewall would shut out (SSH is allowed from ${ssh.from.join(', ')}): add --ssh-from ${client}/${client.includes(':') ? 128 : 32} or a network that holds it`,
        );
      }
    }
  } else {
    notes.push(
      `no firewall rules were written (--no-firewall): allow ${list
        .map((o) => `port ${o.port} (${o.what.join(', ')})`)
        .join(', ')} from the intended networks only`,
    );
  }
  if (file.mode === 'audit') {
    warnings.push(
      'mode: audit: destinations the policy would refuse are let through and logged as would_deny',
    );
  }
  // The configuration is installed readable by every local user (the service runs as a dynamic
  // user, which must read it), so a secret does not belong in it or in a file beside it.
  const credential = `${PATHS.credentials}/admin-token`;
  const handOver =
    `keep the token root-only (sudo install -m 0600 /dev/stdin ${PATHS.configDir}/admin.token), hand it to the ` +
    `service as a systemd credential (sudo systemctl edit airlock: [Service] LoadCredential=admin-token:${PATHS.configDir}/admin.token) ` +
    `and set admin.tokenFile: ${credential}`;
  if (file.admin.token !== null) {
    problem(
      `admin.token: ${PATHS.config} is readable by every local user (mode ${formatMode(FILE_MODE)}), and so would the admin token be: remove it; ${handOver}`,
    );
  }
  if (
    file.admin.tokenFile !== null &&
    !posix.normalize(file.admin.tokenFile).startsWith(`${PATHS.credentials}/`)
  ) {
    warnings.push(
      `admin.tokenFile ${shown(file.admin.tokenFile)}: the service's dynamic user can read it only if every local user can; ${handOver}`,
    );
  }

  // The plan goes on with errors too: a dry run prints all of it, the errors first. A file whose
  // inputs were refused for their characters is left out (rendering it would write them).
  const configured: Action[] = [
    { kind: 'dir', path: PATHS.configDir, mode: DIR_MODE, why: 'configuration directory' },
    {
      kind: 'file',
      path: PATHS.config,
      mode: FILE_MODE,
      content: input.configText,
      why: 'the gateway configuration (readable by the service user)',
    },
    ...allowlistActions,
  ];
  const unit: Action[] =
    programProblems.length > 0
      ? []
      : [
          {
            kind: 'file',
            path: PATHS.unit,
            mode: FILE_MODE,
            content: renderUnit(file, size, {
              ...input.program,
              afterFirewall: input.firewall === 'nftables',
            }),
            why: `systemd unit, LimitNOFILE=${size.nofile}`,
          },
        ];
  const firewallFiles: Action[] = [];
  const firewallRuns: Action[] = [];
  if (input.firewall === 'nftables') {
    firewallFiles.push(
      {
        kind: 'file',
        path: PATHS.nftables,
        mode: FILE_MODE,
        content: renderNftables(list),
        why: 'nftables rules: SSH and the proxy only from the configured networks',
      },
      {
        kind: 'file',
        path: PATHS.firewallUnit,
        mode: FILE_MODE,
        content: renderFirewallUnit(),
        why: 'loads the nftables rules at boot',
      },
    );
    firewallRuns.push(
      {
        kind: 'run',
        argv: ['systemctl', 'enable', FIREWALL_UNIT_NAME],
        why: 'load the firewall rules at every boot',
        onChange: [PATHS.firewallUnit],
      },
      {
        kind: 'run',
        argv: ['systemctl', 'reload-or-restart', FIREWALL_UNIT_NAME],
        why: 'load the firewall rules now',
        onChange: [PATHS.nftables, PATHS.firewallUnit],
      },
    );
  } else if (input.firewall === 'ufw') {
    firewallFiles.push({
      kind: 'file',
      path: PATHS.ufwRules,
      mode: FILE_MODE,
      content: renderUfwRules(list),
      why: 'ufw rules: SSH and the proxy only from the configured networks',
    });
    const wanted = ufwRuleLines(list);
    const stale = parseUfwRules(input.previousUfwRules ?? null).filter((l) => !wanted.includes(l));
    const onChange = [PATHS.ufwRules];
    firewallRuns.push(
      ...wanted.map((line): Action => ({
        kind: 'run',
        argv: ['ufw', ...line.split(' ')],
        why: 'open the port to that network',
        onChange,
      })),
      ...stale.map((line): Action => ({
        kind: 'run',
        argv: ['ufw', 'delete', ...line.split(' ')],
        why: 'a rule an earlier install added',
        onChange,
      })),
      {
        kind: 'run',
        argv: ['ufw', 'default', 'deny', 'incoming'],
        why: 'refuse every other inbound connection',
        onChange,
      },
      { kind: 'run', argv: ['ufw', '--force', 'enable'], why: 'turn the firewall on', onChange },
    );
  }
  const tuning: Action[] = [
    {
      kind: 'file',
      path: PATHS.sysctl,
      mode: FILE_MODE,
      content: renderSysctl(file, size, input.kernel),
      why: 'kernel settings for the connection target',
    },
  ];
  if (logrotateSafe) {
    tuning.push({
      kind: 'file',
      path: PATHS.logrotate,
      mode: FILE_MODE,
      content: renderLogrotate(file),
      why: 'access-log rotation (SIGUSR1 reopens the log)',
    });
  }
  const serviceInputs = [
    PATHS.unit,
    PATHS.config,
    ...allowlistActions.filter((a) => a.kind === 'file').map((a) => a.path),
  ];
  const runs: Action[] = [
    {
      kind: 'run',
      argv: ['systemctl', 'daemon-reload'],
      why: 'read the new unit files',
      onChange: input.firewall === 'nftables' ? [PATHS.unit, PATHS.firewallUnit] : [PATHS.unit],
    },
    {
      kind: 'run',
      argv: ['sysctl', '-p', PATHS.sysctl],
      why: 'apply the kernel settings now',
      onChange: [PATHS.sysctl],
    },
    ...firewallRuns,
    {
      kind: 'run',
      argv: ['systemctl', 'enable', UNIT_NAME],
      why: 'start the gateway at every boot',
      onChange: [PATHS.unit],
    },
    {
      kind: 'run',
      argv: ['systemctl', 'restart', UNIT_NAME],
      why: 'start the gateway with the new files (open tunnels drain first)',
      onChange: serviceInputs,
    },
  ];
  notes.push(
    `the configuration is ${PATHS.config}; "systemctl reload airlock" applies policy changes, "systemctl restart airlock" the rest`,
  );
  return { actions: [...configured, ...unit, ...firewallFiles, ...tuning, ...runs], warnings, errors, notes };
}

export interface UninstallInput {
  readonly target: 'system' | 'root';
  /** Also remove /etc/airlock (the configuration and allowlists). */
  readonly purge: boolean;
  /** The ufw rules file an earlier install wrote, if there is one. */
  readonly ufwRules: string | null;
}

/** The plan for `airlock uninstall`: the reverse of an install, whatever firewall it used. */
export function planUninstall(input: UninstallInput): Plan {
  const ufw = parseUfwRules(input.ufwRules);
  const kept = ufw.filter((l) => l.endsWith(`comment ${UFW_SSH_TAG}`));
  const removed = ufw.filter((l) => !kept.includes(l));
  const actions: Action[] = [
    {
      kind: 'run',
      argv: ['systemctl', 'disable', '--now', UNIT_NAME],
      why: 'stop the gateway (open tunnels drain first)',
      onChange: [PATHS.unit],
    },
    {
      kind: 'run',
      argv: ['systemctl', 'disable', '--now', FIREWALL_UNIT_NAME],
      why: 'remove the nftables table',
      onChange: [PATHS.firewallUnit],
    },
    ...removed.map((line): Action => ({
      kind: 'run',
      argv: ['ufw', 'delete', ...line.split(' ')],
      why: 'remove the rule',
      onChange: [PATHS.ufwRules],
    })),
    { kind: 'remove', path: PATHS.unit, why: 'systemd unit' },
    { kind: 'remove', path: PATHS.firewallUnit, why: 'firewall unit' },
    { kind: 'remove', path: PATHS.nftables, why: 'nftables rules' },
    { kind: 'remove', path: PATHS.ufwRules, why: 'ufw rules list' },
    { kind: 'remove', path: PATHS.sysctl, why: 'kernel settings' },
    { kind: 'remove', path: PATHS.logrotate, why: 'log rotation' },
    { kind: 'remove', path: PATHS.pending, why: 'commands an interrupted install left to do' },
    {
      kind: 'run',
      argv: ['systemctl', 'daemon-reload'],
      why: 'forget the removed units',
      onChange: [PATHS.unit, PATHS.firewallUnit],
    },
  ];
  if (input.purge) {
    actions.push({
      kind: 'remove',
      path: PATHS.configDir,
      recursive: true,
      why: 'configuration and allowlists (--purge)',
    });
  }
  const notes = [
    'kernel settings stay in effect until the next boot',
    `access logs are kept in ${PATHS.logDir}/`,
  ];
  if (!input.purge) notes.push(`the configuration is kept in ${PATHS.configDir}/ (--purge removes it)`);
  if (kept.length > 0) {
    notes.push(
      `ufw stays enabled and keeps the SSH rules (${kept.length}) so that this machine stays reachable: ${kept
        .map((l) => `"ufw delete ${l}"`)
        .join(', ')} removes them`,
    );
  }
  return { actions, warnings: [], errors: [], notes };
}
