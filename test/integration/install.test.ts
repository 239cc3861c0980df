import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { install, uninstall, type InstallOptions } from '../../src/cli/commands/install.js';
import { renderUnit, sizing } from '../../src/install/index.js';
import { skipHere } from '../helpers/skip.js';

/**
 * `airlock install --root DIR` into a throwaway directory tree: the files and their modes, a
 * second run that changes nothing, a changed configuration, uninstall and purge. No command of
 * the system (systemctl, sysctl, ufw, nft) is ever run: the runner passed in fails the test if
 * it is called. The unit files are checked with `systemd-analyze verify` where it is installed.
 */
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(repo, 'deploy/examples/incident-response.yaml');

let dir: string;
let root: string;
const ran: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-install-'));
  root = join(dir, 'root');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(
  command: 'install' | 'uninstall',
  options: InstallOptions & { purge?: boolean },
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
  const runner = (argv: readonly string[]): Promise<void> => {
    ran.push(argv.join(' '));
    return Promise.reject(new Error(`a command ran under --root: ${argv.join(' ')}`));
  };
  const code =
    command === 'install'
      ? await install({ root, node: process.execPath, ...options }, io, runner)
      : await uninstall({ root, ...options }, io, runner);
  return { code, out: out.join(''), err: err.join('') };
}

async function modeOf(path: string): Promise<string | null> {
  try {
    return ((await stat(join(root, path))).mode & 0o7777).toString(8).padStart(4, '0');
  } catch {
    return null;
  }
}

const INSTALLED = {
  '/etc/airlock': '0755',
  '/etc/airlock/airlock.yaml': '0644',
  '/etc/airlock/firewall.nft': '0644',
  '/etc/systemd/system/airlock.service': '0644',
  '/etc/systemd/system/airlock-firewall.service': '0644',
  '/etc/sysctl.d/60-airlock.conf': '0644',
  '/etc/logrotate.d/airlock': '0644',
};

function systemdAnalyze(t: TestContext): boolean {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    skipHere(t, 'systemd-analyze is not installed (apt-get install systemd): unit files not verified');
    return false;
  }
  return true;
}

/** Copies a unit into a directory of its own with its executables pointed at a stub, and verifies it. */
async function verify(name: string, text: string): Promise<{ status: number | null; output: string }> {
  const where = join(dir, `verify-${name}`);
  await mkdir(where, { recursive: true });
  // systemd-analyze verify checks that every Exec*= program exists and is executable.
  const stub = join(where, 'nft-stub');
  await writeFile(stub, '#!/bin/sh\nexit 0\n');
  await chmod(stub, 0o755);
  const path = join(where, name);
  await writeFile(path, text.replaceAll('/usr/sbin/nft', stub));
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('airlock install --root', () => {
  test('a dry run writes nothing', async () => {
    const result = await run('install', { configFile: example, sshFrom: ['10.20.0.0/24'], dryRun: true });
    assert.equal(result.code, 0);
    assert.match(result.out, /^airlock install --dry-run: 13 changes/);
    assert.equal(await modeOf('/'), null, 'the root was not even created');
  });

  test('installs every file with its mode, and runs no command', async () => {
    const result = await run('install', { configFile: example, sshFrom: ['10.20.0.0/24'] });
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^airlock install: 13 changes\n/);
    for (const [path, mode] of Object.entries(INSTALLED)) assert.equal(await modeOf(path), mode, path);
    assert.equal(await modeOf('/etc/airlock/firewall.ufw'), null, 'no ufw on this root: nftables');
    assert.equal(
      await readFile(join(root, 'etc/airlock/airlock.yaml'), 'utf8'),
      await readFile(example, 'utf8'),
    );
    const unit = await readFile(join(root, 'etc/systemd/system/airlock.service'), 'utf8');
    assert.match(unit, /^LimitNOFILE=101376$/m, '2 x 50000 + 1024, rounded up to 1024');
    assert.match(
      unit,
      new RegExp(`^ExecStart=${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'),
    );
    assert.match(result.out, /defer {3}systemctl restart airlock\.service/);
    assert.deepEqual(ran, []);
  });

  test('a second run reports no change and changes nothing', async () => {
    const before = await stat(join(root, 'etc/systemd/system/airlock.service'));
    const result = await run('install', { sshFrom: ['10.20.0.0/24'] });
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^airlock install: no change, nothing to do \(13 items checked\)\n/);
    assert.doesNotMatch(result.out, /^(create|update|chmod|defer|run) /m);
    const after = await stat(join(root, 'etc/systemd/system/airlock.service'));
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.ino, before.ino);
    // Also with --config given again, and as a dry run.
    const again = await run('install', { configFile: example, sshFrom: ['10.20.0.0/24'], dryRun: true });
    assert.match(again.out, /^airlock install --dry-run: no change/);
    assert.deepEqual(ran, []);
  });

  test('a mode changed by hand is put back', async () => {
    await chmod(join(root, 'etc/logrotate.d/airlock'), 0o600);
    const result = await run('install', { sshFrom: ['10.20.0.0/24'] });
    assert.match(result.out, /^airlock install: 1 change\n/);
    assert.match(result.out, /^chmod {3}file \/etc\/logrotate\.d\/airlock \(mode 0644\)/m);
    assert.equal(await modeOf('/etc/logrotate.d/airlock'), '0644');
  });

  test('a changed configuration updates the unit and restarts the service (on a real install)', async () => {
    const changed = join(dir, 'changed.yaml');
    const text = (await readFile(example, 'utf8')).replace('maxConnections: 50000', 'maxConnections: 80000');
    await writeFile(changed, text);
    const result = await run('install', { configFile: changed, sshFrom: ['10.20.0.0/24'] });
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^update {2}file \/etc\/airlock\/airlock\.yaml/m);
    assert.match(
      result.out,
      /^update {2}file \/etc\/systemd\/system\/airlock\.service \(mode 0644\): systemd unit, LimitNOFILE=161792/m,
    );
    assert.match(result.out, /^ok {6}file \/etc\/logrotate\.d\/airlock/m);
    assert.match(result.out, /^defer {3}systemctl restart airlock\.service/m);
    assert.match(
      result.out,
      /^skip {4}systemctl reload-or-restart airlock-firewall\.service/m,
      'the firewall did not change',
    );
    assert.deepEqual(ran, []);
  });

  test('systemd-analyze verify accepts the installed units', async (t) => {
    if (!systemdAnalyze(t)) return;
    for (const name of ['airlock.service', 'airlock-firewall.service']) {
      const text = await readFile(join(root, 'etc/systemd/system', name), 'utf8');
      const result = await verify(name, text);
      assert.equal(result.status, 0, `${name}:\n${result.output}`);
      assert.equal(result.output.trim(), '', `${name}: ${result.output}`);
    }
  });

  test('systemd-analyze verify accepts the unit for a listener below 1024 (one capability)', async (t) => {
    if (!systemdAnalyze(t)) return;
    const parsed = parseConfig('listeners: ["0.0.0.0:80"]\n', 'low.yaml');
    assert.ok(parsed.ok);
    const file = parsed.config.file;
    const unit = renderUnit(file, sizing(file), {
      node: process.execPath,
      main: '/opt/airlock/main.js',
      afterFirewall: false,
    });
    const result = await verify('airlock.service', unit);
    assert.equal(result.status, 0, result.output);
  });

  test('systemd-analyze security rates the unit "OK" or better', async (t) => {
    if (!systemdAnalyze(t)) return;
    const path = join(dir, 'security', 'airlock.service');
    await mkdir(join(dir, 'security'), { recursive: true });
    await writeFile(path, await readFile(join(root, 'etc/systemd/system/airlock.service'), 'utf8'));
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', path], { encoding: 'utf8' });
    const match = /Overall exposure level for airlock\.service: ([0-9.]+) (\S+)/.exec(result.stdout);
    if (match === null) {
      skipHere(t, `this systemd-analyze has no offline security review: ${result.stderr.trim()}`);
      return;
    }
    assert.ok(Number(match[1]) <= 2.0, `exposure ${match[1]} ${match[2]}:\n${result.stdout}`);
  });

  test('uninstall removes what install wrote and keeps the configuration; a second uninstall changes nothing', async () => {
    const result = await run('uninstall', {});
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^defer {3}systemctl disable --now airlock\.service/m);
    for (const path of Object.keys(INSTALLED)) {
      const kept = path === '/etc/airlock' || path === '/etc/airlock/airlock.yaml';
      assert.equal((await modeOf(path)) !== null, kept, path);
    }
    const again = await run('uninstall', {});
    assert.match(again.out, /^airlock uninstall: no change/);
    const purge = await run('uninstall', { purge: true });
    assert.match(
      purge.out,
      /^remove {2}directory tree \/etc\/airlock: configuration and allowlists \(--purge\)/m,
    );
    assert.equal(await modeOf('/etc/airlock'), null);
    assert.deepEqual(ran, []);
  });

  test('allowlist files named relative to the configuration are installed beside it', async () => {
    const source = join(dir, 'with-allowlist');
    await mkdir(join(source, 'lists'), { recursive: true });
    await writeFile(join(source, 'airlock.yaml'), 'policy:\n  allowlistFiles: [lists/mdemdi.conf]\n');
    const list = await readFile(join(repo, 'test/fixtures/mdemdi.conf'), 'utf8');
    await writeFile(join(source, 'lists/mdemdi.conf'), list);
    const other = join(dir, 'root-with-allowlist');
    const out: string[] = [];
    const code = await install(
      { root: other, configFile: join(source, 'airlock.yaml'), sshFrom: ['10.20.0.0/24'], firewall: false },
      { out: (t) => void out.push(t), err: (t) => void out.push(t) },
      () => Promise.reject(new Error('no command may run under --root')),
    );
    assert.equal(code, 0, out.join(''));
    assert.equal(await readFile(join(other, 'etc/airlock/lists/mdemdi.conf'), 'utf8'), list);
    assert.equal(
      ((await stat(join(other, 'etc/airlock/lists/mdemdi.conf'))).mode & 0o777).toString(8),
      '644',
    );
    assert.equal(((await stat(join(other, 'etc/airlock/lists'))).mode & 0o777).toString(8), '755');
    assert.match(out.join(''), /note: no firewall rules were written \(--no-firewall\)/);
    // The installed copy is a complete configuration: the service loads it as it is.
    const second: string[] = [];
    await install(
      { root: other, sshFrom: ['10.20.0.0/24'], firewall: false },
      { out: (t) => void second.push(t), err: (t) => void second.push(t) },
      () => Promise.reject(new Error('no command may run under --root')),
    );
    assert.match(second.join(''), /^airlock install: no change/);
  });

  test('a real install refuses to run without root', async (t) => {
    if (process.getuid?.() === 0) {
      t.skip('running as root: a real install would change this machine, so it is not attempted');
      return;
    }
    await assert.rejects(install({ configFile: example }), /must run as root/);
    await assert.rejects(uninstall({}), /must run as root/);
  });

  test('a dry run on this machine reads it and changes nothing', async () => {
    const out: string[] = [];
    const code = await install(
      {
        dryRun: true,
        configFile: example,
        sshFrom: ['0.0.0.0/0', '::/0'],
        node: '/usr/bin/node',
        prefix: '/usr/local/lib/node_modules/airlock',
      },
      { out: (t) => void out.push(t), err: (t) => void out.push(t) },
      (argv) => Promise.reject(new Error(`a dry run ran ${argv.join(' ')}`)),
    );
    assert.equal(code, 0, out.join(''));
    assert.match(out.join(''), /^airlock install --dry-run: .*\ntarget: this machine\n/);
  });
});
