import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { install, uninstall, type InstallOptions } from '../../../src/cli/commands/install.js';

/**
 * `airlock install --dry-run` output, compared with test/fixtures/install/*.txt. Regenerate after
 * an intended change with UPDATE_GOLDEN=1 and read the diff.
 */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const fixtures = join(repo, 'test/fixtures/install');
const fixed = { node: '/usr/bin/node', prefix: '/usr/local/lib/node_modules/airlock' };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-dry-run-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function dryRun(
  name: string,
  options: InstallOptions,
  prepare?: (root: string) => Promise<void>,
): Promise<{ code: number; out: string; root: string }> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  await prepare?.(root);
  const out: string[] = [];
  const err: string[] = [];
  const ran: string[] = [];
  const code = await install(
    { ...fixed, ...options, root, dryRun: true },
    { out: (t) => void out.push(t), err: (t) => void err.push(t) },
    (argv) => {
      ran.push(argv.join(' '));
      return Promise.resolve();
    },
  );
  assert.deepEqual(ran, [], 'a dry run runs no command');
  assert.equal(err.join(''), '');
  return { code, out: out.join('').replaceAll(root, '<ROOT>'), root };
}

async function golden(name: string, actual: string): Promise<void> {
  const path = join(fixtures, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    await mkdir(fixtures, { recursive: true });
    await writeFile(path, actual);
    return;
  }
  const expected = await readFile(path, 'utf8');
  assert.equal(actual, expected, `${name} differs: rerun with UPDATE_GOLDEN=1 and review the diff`);
}

/** Every file under a directory, relative. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length));
}

describe('airlock install --dry-run', () => {
  test('no configuration: the default one, nftables; every file printed in full, nothing written', async () => {
    const result = await dryRun('default', { sshFrom: ['10.20.0.0/24'] });
    assert.equal(result.code, 0);
    assert.match(
      result.out,
      /^airlock install --dry-run: 13 changes; nothing is written and no command is run\n/,
    );
    assert.match(result.out, /\| LimitNOFILE=65536\n/);
    assert.deepEqual(await filesUnder(result.root), []);
    await golden('dry-run-default.txt', result.out);
  });

  test('the incident-response example on a machine with ufw', async () => {
    const result = await dryRun(
      'incident-response',
      { configFile: join(repo, 'deploy/examples/incident-response.yaml'), sshFrom: ['10.20.0.0/24'] },
      async (root) => {
        await mkdir(join(root, 'usr/sbin'), { recursive: true });
        await writeFile(join(root, 'usr/sbin/ufw'), '');
      },
    );
    assert.equal(result.code, 0);
    assert.match(result.out, /\| LimitNOFILE=101376\n/);
    assert.match(result.out, /defer {3}ufw --force enable/);
    assert.deepEqual(await filesUnder(result.root), ['/usr/sbin/ufw']);
    await golden('dry-run-incident-response-ufw.txt', result.out);
  });

  test('the load-balanced example: PROXY-protocol port open to the load balancers only', async () => {
    const result = await dryRun('behind-haproxy', {
      configFile: join(repo, 'deploy/examples/behind-haproxy.yaml'),
      sshFrom: ['10.20.0.0/24'],
    });
    assert.equal(result.code, 0);
    assert.match(result.out, /\| {9}tcp dport 3129 ip saddr @tcp3129_v4 accept\n/);
    assert.match(result.out, /\| {9}elements = \{ 10\.20\.0\.11\/32, 10\.20\.0\.12\/32 \}\n/);
    await golden('dry-run-behind-haproxy.txt', result.out);
  });

  test('a plan a real install would refuse: the errors first, then the whole plan; nothing written', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'log: { file: /srv/access.log }\n');
    const result = await dryRun('refused', { configFile: config, sshFrom: ['10.20.0.0/24'] });
    assert.equal(result.code, 2);
    assert.match(
      result.out,
      /^airlock install --dry-run: a real install would be refused \(1 error below\); otherwise 13 changes; nothing is written and no command is run\nerror: log\.file \/srv\/access\.log: the service may write only under \/var\/log\/airlock\//,
    );
    assert.match(result.out, /^create {2}file \/etc\/systemd\/system\/airlock\.service /m);
    assert.match(result.out, /^create {2}file \/etc\/logrotate\.d\/airlock /m);
    assert.match(result.out, /\| \/srv\/access\.log \{\n/);
    assert.deepEqual(await filesUnder(result.root), []);
  });

  test('from a clone under /home, on this machine: what would stop it, then the whole plan', async () => {
    const out: string[] = [];
    const code = await install(
      {
        node: '/home/admin/.nvm/versions/node/v20.20.2/bin/node',
        prefix: '/home/admin/airlock',
        sshFrom: ['10.20.0.0/24'],
        dryRun: true,
      },
      { out: (t) => void out.push(t), err: (t) => assert.fail(`stderr: ${t}`) },
      () => Promise.reject(new Error('no command may run')),
    );
    assert.equal(code, 2);
    const text = out.join('');
    // (2 errors, or 3 where this test runs over SSH from outside 10.20.0.0/24)
    assert.match(text, /^airlock install --dry-run: a real install would be refused \([23] errors below\);/);
    assert.match(
      text,
      /^error: the node binary \/home\/admin\/\.nvm\/.* is under \/home\/, which the service cannot see .*npm pack/m,
    );
    assert.match(
      text,
      /^error: the airlock program \/home\/admin\/airlock\/dist\/src\/cli\/main\.js is under \/home\//m,
    );
    assert.match(text, /^target: this machine$/m);
    assert.match(text, /^[a-z]+ +file \/etc\/systemd\/system\/airlock\.service /m);
    assert.match(
      text,
      /ExecStart=\/home\/admin\/\.nvm\/versions\/node\/v20\.20\.2\/bin\/node --max-semi-space-size=4 --expose-gc \/home\/admin\/airlock\//,
    );
  });

  test('a real install of the same plan is refused with the errors only', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(config, 'log: { file: /srv/access.log }\n');
    const root = join(dir, 'refused-real');
    const err: string[] = [];
    const out: string[] = [];
    const code = await install(
      { ...fixed, configFile: config, root, sshFrom: ['10.20.0.0/24'] },
      { out: (t) => void out.push(t), err: (t) => void err.push(t) },
      () => Promise.reject(new Error('no command may run')),
    );
    assert.equal(code, 2);
    assert.equal(out.join(''), '');
    assert.equal(
      err.join(''),
      'airlock install: refused, nothing was changed:\n' +
        'error: log.file /srv/access.log: the service may write only under /var/log/airlock/; set log.file: /var/log/airlock/access.log, or remove it to log to the journal\n' +
        '("airlock install --dry-run" shows the whole plan)\n',
    );
    await assert.rejects(readdir(root));
  });

  test('an invalid configuration is refused before anything is planned', async () => {
    const config = join(dir, 'invalid.yaml');
    await writeFile(config, 'policy: { sources: [10.0.0.0/33] }\n');
    await assert.rejects(
      install({ ...fixed, configFile: config, root: join(dir, 'invalid'), dryRun: true }),
      (error: Error & { code?: string }) =>
        error.code === 'CONFIG_INVALID' && /is not a CIDR/.test(error.message),
    );
  });

  test('uninstall --dry-run on an empty tree: nothing to do', async () => {
    const root = join(dir, 'empty');
    const out: string[] = [];
    const code = await uninstall(
      { root, dryRun: true },
      { out: (t) => void out.push(t), err: () => undefined },
    );
    assert.equal(code, 0);
    assert.match(
      out.join(''),
      /^airlock uninstall --dry-run: no change, nothing to do \(10 items checked\)\n/,
    );
  });

  test('--root / is refused: that is this machine', async () => {
    await assert.rejects(install({ root: '/', dryRun: true }), /--root \/: that is this machine/);
  });
});
