import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import {
  PATHS,
  defaultConfigText,
  planInstall,
  planUninstall,
  renderPlan,
  withCommandStatuses,
  type ActionStatus,
  type InstallInput,
  type Plan,
} from '../../../src/install/index.js';

const program = { node: '/usr/bin/node', main: '/usr/local/lib/node_modules/airlock/dist/src/cli/main.js' };

function input(text: string, extra: Partial<InstallInput> = {}): InstallInput {
  const result = parseConfig(text, '/srv/airlock.yaml');
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return {
    configText: text,
    config: result.config.file,
    allowlists: [],
    program,
    target: 'root',
    firewall: 'nftables',
    ssh: { from: ['10.20.0.0/24'] },
    ...extra,
  };
}

function paths(plan: Plan, kind: 'dir' | 'file' | 'remove'): string[] {
  return plan.actions.flatMap((a) => (a.kind === kind ? [a.path] : []));
}

function commands(plan: Plan): string[] {
  return plan.actions.flatMap((a) => (a.kind === 'run' ? [a.argv.join(' ')] : []));
}

/** Statuses as a fresh target would give them: every file created. */
function fresh(plan: Plan, underRoot: boolean): ActionStatus[] {
  return withCommandStatuses(
    plan,
    plan.actions.map((a) => (a.kind === 'remove' ? 'remove' : a.kind === 'run' ? 'skip' : 'create')),
    underRoot,
  );
}

describe('planInstall()', () => {
  test('an admin token written in the configuration is refused on the system, where every local user could read it', () => {
    const text = 'admin:\n  listen: 10.1.2.3:9090\n  token: 0123456789abcdef0123\n';
    const system = planInstall(input(text, { target: 'system' }));
    const refusal = system.errors.find((e) => e.startsWith('admin.token:'));
    assert.ok(refusal, system.errors.join('\n'));
    assert.match(refusal, /readable by every local user \(mode 0644\)/);
    assert.match(refusal, /LoadCredential=admin-token:\/etc\/airlock\/admin\.token/);
    assert.match(refusal, /admin\.tokenFile: \/run\/credentials\/airlock\.service\/admin-token/);
    assert.ok(!refusal.includes('0123456789abcdef0123'), 'the message repeats the secret');
    // Staged under --root it is a warning: the files are not the ones the service will read yet.
    const staged = planInstall(input(text));
    assert.ok(!staged.errors.some((e) => e.startsWith('admin.token:')));
    assert.ok(staged.warnings.some((w) => w.startsWith('admin.token:')));
  });

  test('a token file the dynamic user can read is a warning; a systemd credential is not', () => {
    const at = (file: string) =>
      planInstall(input(`admin:\n  listen: 10.1.2.3:9090\n  tokenFile: ${file}\n`, { target: 'system' }));
    const beside = at('/etc/airlock/admin.token');
    assert.ok(beside.warnings.some((w) => w.startsWith('admin.tokenFile /etc/airlock/admin.token:')));
    assert.ok(!beside.errors.some((e) => e.startsWith('admin.')));
    const credential = at('/run/credentials/airlock.service/admin-token');
    assert.ok(!credential.warnings.some((w) => w.startsWith('admin.')), credential.warnings.join('\n'));
  });

  test('the default configuration parses and installs', () => {
    const plan = planInstall(input(defaultConfigText()));
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(paths(plan, 'file'), [
      PATHS.config,
      PATHS.unit,
      PATHS.nftables,
      PATHS.firewallUnit,
      PATHS.sysctl,
      PATHS.logrotate,
    ]);
    assert.deepEqual(paths(plan, 'dir'), [PATHS.configDir]);
    for (const action of plan.actions) {
      if (action.kind === 'file') assert.equal(action.mode, 0o644, action.path);
      if (action.kind === 'dir') assert.equal(action.mode, 0o755, action.path);
    }
  });

  test('commands: units reloaded, sysctl applied, firewall loaded, gateway enabled and restarted', () => {
    assert.deepEqual(commands(planInstall(input(defaultConfigText()))), [
      'systemctl daemon-reload',
      'sysctl -p /etc/sysctl.d/60-airlock.conf',
      'systemctl enable airlock-firewall.service',
      'systemctl reload-or-restart airlock-firewall.service',
      'systemctl enable airlock.service',
      'systemctl restart airlock.service',
    ]);
  });

  test('a command runs only when a file it depends on changes; under --root it is deferred', () => {
    const plan = planInstall(input(defaultConfigText()));
    assert.ok(fresh(plan, true).every((s, i) => plan.actions[i]!.kind !== 'run' || s === 'deferred'));
    assert.ok(fresh(plan, false).every((s, i) => plan.actions[i]!.kind !== 'run' || s === 'run'));
    // Only the sysctl file changed: only "sysctl -p" runs.
    const statuses = withCommandStatuses(
      plan,
      plan.actions.map((a) => (a.kind !== 'run' && a.path === PATHS.sysctl ? 'update' : 'ok')),
      false,
    );
    const ran = plan.actions
      .filter((_, i) => statuses[i] === 'run')
      .map((a) => (a.kind === 'run' ? a.argv.join(' ') : ''));
    assert.deepEqual(ran, ['sysctl -p /etc/sysctl.d/60-airlock.conf']);
    // Nothing changed: nothing runs, and the renderer says so.
    const none = withCommandStatuses(
      plan,
      plan.actions.map(() => 'ok'),
      false,
    );
    assert.ok(none.every((s) => s === 'ok' || s === 'skip'));
    assert.match(
      renderPlan(plan, none, { command: 'install', dryRun: false, root: null }),
      /^airlock install: no change/,
    );
  });

  test('a command an earlier run did not finish runs again although its files are in place', () => {
    const plan = planInstall(input(defaultConfigText()));
    const statuses = withCommandStatuses(
      plan,
      plan.actions.map(() => 'ok'),
      false,
      ['systemctl restart airlock.service'],
    );
    const ran = plan.actions
      .filter((_, i) => statuses[i] === 'run')
      .map((a) => (a.kind === 'run' ? a.argv.join(' ') : ''));
    assert.deepEqual(ran, ['systemctl restart airlock.service']);
    assert.match(
      renderPlan(plan, statuses, { command: 'install', dryRun: false, root: null }),
      /^run {5}systemctl restart airlock\.service: .* \(an earlier run did not get to it\)$/m,
    );
  });

  test('the service may write only under /var/log/airlock and /run/airlock', () => {
    const plan = planInstall(input('pidFile: /var/run/airlock.pid\nlog: { file: /srv/logs/access.log }\n'));
    assert.equal(plan.errors.length, 2);
    assert.ok(plan.actions.length > 0, 'the plan is still made, for a dry run to print');
    assert.match(
      plan.errors[0]!,
      /^pidFile \/var\/run\/airlock\.pid: the service may write only under \/run\/airlock\//,
    );
    assert.match(plan.errors[1]!, /^log\.file \/srv\/logs\/access\.log/);
    assert.deepEqual(planInstall(input('pidFile: /run/airlock/airlock.pid\n')).errors, []);
  });

  test('a program the service cannot see: refused on this machine, a warning under --root', () => {
    const hidden = { node: '/root/.nvm/versions/node/v20.20.2/bin/node', main: program.main };
    const system = planInstall(input('', { program: hidden, target: 'system' }));
    assert.match(
      system.errors.join('\n'),
      /the node binary \/root\/\.nvm\/.* is under \/root\/, which the service cannot see/,
    );
    const root = planInstall(input('', { program: hidden }));
    assert.deepEqual(root.errors, []);
    assert.match(root.warnings.join('\n'), /the node binary/);
  });

  test('refuses to shut out the SSH session it runs in', () => {
    const plan = planInstall(input('', { target: 'system', sshClient: '198.51.100.7' }));
    assert.match(
      plan.errors.join('\n'),
      /this SSH session comes from 198\.51\.100\.7.*add --ssh-from 198\.51\.100\.7\/32/,
    );
    assert.deepEqual(planInstall(input('', { target: 'system', sshClient: '10.20.0.9' })).errors, []);
    assert.deepEqual(
      planInstall(input('', { target: 'system', sshClient: '198.51.100.7', firewall: 'none' })).errors,
      [],
    );
  });

  test('SSH defaults to the client networks, with a warning', () => {
    const plan = planInstall(input('', { ssh: {} }));
    assert.match(plan.warnings.join('\n'), /SSH \(port 22\) is allowed from policy\.sources/);
    assert.deepEqual(planInstall(input('')).warnings, []);
  });

  test('an open proxy is named', () => {
    const plan = planInstall(input('policy: { sources: [0.0.0.0/0] }\n'));
    assert.match(
      plan.warnings.join('\n'),
      /the firewall opens port 3128 \(proxy\) from 0\.0\.0\.0\/0: every address/,
    );
  });

  test('relative allowlist files are copied beside the configuration', () => {
    const text = 'policy: { allowlistFiles: [mdemdi.conf, lists/extra.conf, /srv/shared/more.conf] }\n';
    const plan = planInstall(
      input(text, {
        allowlists: [
          { path: 'mdemdi.conf', content: '.atp.azure.com\n' },
          { path: 'lists/extra.conf', content: 'crl.microsoft.com\n' },
        ],
      }),
    );
    assert.deepEqual(plan.errors, []);
    assert.ok(paths(plan, 'file').includes('/etc/airlock/mdemdi.conf'));
    assert.ok(paths(plan, 'file').includes('/etc/airlock/lists/extra.conf'));
    assert.ok(paths(plan, 'dir').includes('/etc/airlock/lists'));
    const restart = plan.actions.find(
      (a) => a.kind === 'run' && a.argv.join(' ') === 'systemctl restart airlock.service',
    );
    assert.ok(restart?.kind === 'run' && restart.onChange.includes('/etc/airlock/lists/extra.conf'));
  });

  test('an allowlist outside the configuration directory is refused', () => {
    const plan = planInstall(
      input('policy: { allowlistFiles: [../mdemdi.conf] }\n', {
        allowlists: [{ path: '../mdemdi.conf', content: '' }],
      }),
    );
    assert.match(plan.errors.join('\n'), /policy\.allowlistFiles\[0\] \.\.\/mdemdi\.conf is outside/);
  });

  test('ufw: rules added, rules an earlier install added and no longer wanted deleted, then enabled', () => {
    const previous = [
      'allow proto tcp from 10.20.0.0/24 to any port 22 comment airlock-ssh',
      'allow proto tcp from 172.16.0.0/12 to any port 3128 comment airlock-proxy',
    ].join('\n');
    const plan = planInstall(
      input('policy: { sources: [10.0.0.0/8] }\n', { firewall: 'ufw', previousUfwRules: previous }),
    );
    assert.deepEqual(paths(plan, 'file').includes(PATHS.ufwRules), true);
    assert.equal(paths(plan, 'file').includes(PATHS.nftables), false);
    assert.deepEqual(
      commands(plan).filter((c) => c.startsWith('ufw')),
      [
        'ufw allow proto tcp from 10.20.0.0/24 to any port 22 comment airlock-ssh',
        'ufw allow proto tcp from 10.0.0.0/8 to any port 3128 comment airlock-proxy',
        'ufw delete allow proto tcp from 172.16.0.0/12 to any port 3128 comment airlock-proxy',
        'ufw default deny incoming',
        'ufw --force enable',
      ],
    );
  });

  test('--no-firewall: no firewall files or commands, and a note of what to open', () => {
    const plan = planInstall(input('', { firewall: 'none' }));
    assert.equal(
      paths(plan, 'file').some((p) => p.includes('firewall')),
      false,
    );
    assert.equal(
      commands(plan).some((c) => c.includes('firewall') || c.startsWith('ufw')),
      false,
    );
    assert.match(
      plan.notes.join('\n'),
      /no firewall rules were written \(--no-firewall\): allow port 22 \(SSH\), port 3128 \(proxy\)/,
    );
  });

  test('a connection target no single process can hold is refused', () => {
    const plan = planInstall(input('limits: { maxConnections: 2000000000 }\n'));
    assert.match(plan.errors.join('\n'), /more than Linux allows/);
  });
});

describe('planUninstall()', () => {
  test('stops the service, removes every file the install wrote, keeps the configuration', () => {
    const plan = planUninstall({ target: 'root', purge: false, ufwRules: null });
    assert.deepEqual(paths(plan, 'remove'), [
      PATHS.unit,
      PATHS.firewallUnit,
      PATHS.nftables,
      PATHS.ufwRules,
      PATHS.sysctl,
      PATHS.logrotate,
      PATHS.pending,
    ]);
    assert.deepEqual(commands(plan), [
      'systemctl disable --now airlock.service',
      'systemctl disable --now airlock-firewall.service',
      'systemctl daemon-reload',
    ]);
    assert.match(plan.notes.join('\n'), /the configuration is kept in \/etc\/airlock\//);
    const purge = planUninstall({ target: 'root', purge: true, ufwRules: null });
    const last = purge.actions.at(-1);
    assert.ok(last?.kind === 'remove' && last.path === PATHS.configDir && last.recursive === true);
  });

  test('ufw: deletes the proxy rules, keeps SSH open and says how to close it', () => {
    const rules = [
      '# comment',
      'allow proto tcp from 10.20.0.0/24 to any port 22 comment airlock-ssh',
      'allow proto tcp from 10.0.0.0/8 to any port 3128 comment airlock-proxy',
    ].join('\n');
    const plan = planUninstall({ target: 'system', purge: false, ufwRules: rules });
    assert.deepEqual(
      commands(plan).filter((c) => c.startsWith('ufw')),
      ['ufw delete allow proto tcp from 10.0.0.0/8 to any port 3128 comment airlock-proxy'],
    );
    assert.match(
      plan.notes.join('\n'),
      /keeps the SSH rules \(1\).*"ufw delete allow proto tcp from 10\.20\.0\.0\/24 to any port 22 comment airlock-ssh"/,
    );
  });

  test('commands run only for what is there', () => {
    const plan = planUninstall({ target: 'system', purge: false, ufwRules: null });
    const statuses = withCommandStatuses(
      plan,
      plan.actions.map((a) =>
        a.kind === 'remove' && a.path === PATHS.unit ? 'remove' : a.kind === 'remove' ? 'absent' : 'skip',
      ),
      false,
    );
    const ran = plan.actions
      .filter((_, i) => statuses[i] === 'run')
      .map((a) => (a.kind === 'run' ? a.argv.join(' ') : ''));
    assert.deepEqual(ran, ['systemctl disable --now airlock.service', 'systemctl daemon-reload']);
    const text = renderPlan(plan, statuses, { command: 'uninstall', dryRun: true, root: null });
    assert.match(
      text,
      /run {5}systemctl daemon-reload: forget the removed units \(\/etc\/systemd\/system\/airlock\.service removed\)/,
    );
  });
});
