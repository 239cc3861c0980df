import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { clients } from '../../../src/cli/commands/clients.js';
import { isAirlockError } from '../../../src/errors/index.js';
import { parseRegFile } from './reg-parser.js';

let dir: string;
let out: string[] = [];
let err: string[] = [];
const io = {
  out: (text: string | Uint8Array) => void out.push(String(text)),
  err: (text: string) => void err.push(text),
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-clients-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  out = [];
  err = [];
});

const BASE = {
  gateway: ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'],
  product: ['mde', 'ama'],
  os: ['windows', 'linux'],
};

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

test('--out DIR writes every file and the README; the .reg stays binary, scripts are executable', async () => {
  const target = join(dir, 'out');
  assert.equal(await clients({ ...BASE, out: target }, io), 0);
  const files = await listFiles(target);
  assert.ok(files.includes('README.md'));
  assert.ok(files.includes('windows/defender-proxy.reg'));
  assert.ok(files.includes('linux/mdatp-proxy.sh'));
  assert.ok(files.includes('azure/ama-linux-settings.json'));
  assert.ok(!files.some((f) => f.endsWith('.tmp')), 'no temporary files left');
  const reg = await readFile(join(target, 'windows/defender-proxy.reg'));
  assert.ok(
    parseRegFile(reg).some((v) => v.name === 'TelemetryProxyServer' && v.data === 'gw1.contoso.test:3128'),
  );
  assert.notEqual((await stat(join(target, 'linux/mdatp-proxy.sh'))).mode & 0o100, 0, 'owner may execute');
  assert.match(out.join(''), /read .*README\.md first/);
  assert.match(err.join(''), /^warning: EDR sensor fallback/m);
});

test('a bad input writes nothing at all, and names the input', async () => {
  const target = join(dir, 'never');
  await assert.rejects(
    clients({ ...BASE, gateway: ['gw1.contoso.test:3128', 'gw"2:3128'], out: target }, io),
    (e: unknown) =>
      isAirlockError(e) &&
      e.code === 'USAGE' &&
      e.message.startsWith('--gateway "gw\\"2:3128"') &&
      e.message.endsWith(`nothing was written to ${target}`),
  );
  await assert.rejects(clients({ ...BASE, product: ['mde', 'nope'], out: target }, io), /--product "nope"/);
  await assert.rejects(
    clients({ ...BASE, product: ['mdi'], os: ['macos'], out: target }, io),
    /mdi does not run on macos/,
  );
  assert.equal(existsSync(target), false);
  assert.deepEqual(out, []);
});

test('a write that fails half-way leaves no file behind', async () => {
  const target = join(dir, 'blocked');
  // The Windows files come first; "linux" is a file here, so the linux/ directory cannot be
  // created after the Windows files were already staged.
  await mkdir(target);
  await writeFile(join(target, 'linux'), 'in the way');
  await assert.rejects(clients({ ...BASE, out: target }, io), /cannot write/);
  assert.deepEqual(await listFiles(target), ['linux']);
  assert.deepEqual(await readdir(target), ['linux'], 'the windows/ directory made on the way is gone too');
});

test('--format json: valid JSON, every file with its contents (the .reg as base64)', async () => {
  assert.equal(await clients({ ...BASE, format: 'json' }, io), 0);
  const doc = JSON.parse(out.join('')) as {
    gateways: string[];
    files: { path: string; encoding: string; contents: string; source: string[]; order: number }[];
    notes: { code: string }[];
  };
  assert.deepEqual(doc.gateways, ['gw1.contoso.test:3128', 'gw2.contoso.test:3128']);
  const reg = doc.files.find((f) => f.path === 'windows/defender-proxy.reg')!;
  assert.equal(reg.encoding, 'base64');
  assert.ok(parseRegFile(Buffer.from(reg.contents, 'base64')).length >= 3);
  const ama = doc.files.find((f) => f.path === 'azure/ama-windows-settings.json')!;
  assert.deepEqual(JSON.parse(ama.contents), {
    proxy: { mode: 'application', address: 'http://gw1.contoso.test:3128', auth: 'false' },
  });
  assert.ok(doc.notes.some((n) => n.code === 'SOURCES_DISAGREE'));
});

test('--format text prints the README, then each file under its path', async () => {
  assert.equal(await clients(BASE, io), 0);
  const text = out.join('');
  assert.ok(text.startsWith('# Airlock client configuration\n'));
  assert.match(
    text,
    /\n==> windows\/defender-proxy\.reg \(written as UTF-16LE with BOM and CRLF; shown decoded\) <==\nWindows Registry Editor Version 5\.00\n/,
  );
  assert.match(text, /\n==> linux\/13-Proxy\.conf <==\n/);
});

test('--format pac prints the PAC; with --out it writes proxy.pac only', async () => {
  assert.equal(await clients({ gateway: ['gw1.contoso.test:3128'], product: ['mde'], format: 'pac' }, io), 0);
  const find = createPacResolver(await QuickJS.create(), out.join(''));
  assert.equal(
    await find('https://winatp-gw-cus.microsoft.com/', 'winatp-gw-cus.microsoft.com'),
    'PROXY gw1.contoso.test:3128',
  );
  assert.equal(await find('https://example.org/', 'example.org'), 'DIRECT');
  const target = join(dir, 'pac-only');
  out = [];
  assert.equal(await clients({ gateway: ['gw1.contoso.test:3128'], format: 'pac', out: target }, io), 0);
  assert.deepEqual(await listFiles(target), ['proxy.pac']);
});

test('--config: the PAC carries the configured policy, proxies and fallback', async () => {
  const config = join(dir, 'airlock.yaml');
  await writeFile(
    config,
    `policy:
  sources: [10.0.0.0/8]
  destinations: [only.example.test, .suffix.example.test]
admin:
  pac: { proxies: ["gw9.contoso.test:3128"], otherwise: "PROXY corp.contoso.test:8080" }
`,
  );
  assert.equal(await clients({ configFile: config, format: 'pac' }, io), 0);
  const find = createPacResolver(await QuickJS.create(), out.join(''));
  assert.equal(await find('https://only.example.test/', 'only.example.test'), 'PROXY gw9.contoso.test:3128');
  assert.equal(
    await find('https://a.suffix.example.test/', 'a.suffix.example.test'),
    'PROXY gw9.contoso.test:3128',
  );
  assert.equal(
    await find('https://winatp-gw-cus.microsoft.com/', 'winatp-gw-cus.microsoft.com'),
    'PROXY corp.contoso.test:8080',
  );
});

test('--config: Defender Antivirus ProxyPacUrl is where the configuration serves the PAC file', async () => {
  const reg = async (admin: string): Promise<string | undefined> => {
    const config = join(dir, 'served.yaml');
    await writeFile(config, `admin:\n${admin}`);
    const target = join(dir, `served-${out.length}-${Date.now()}`);
    assert.equal(await clients({ ...BASE, os: ['windows'], configFile: config, out: target }, io), 0);
    return parseRegFile(await readFile(join(target, 'windows/defender-proxy.reg'))).find(
      (v) => v.name === 'ProxyPacUrl',
    )?.data as string | undefined;
  };
  // Served on the proxy port: the first gateway's own address.
  assert.equal(await reg('  servePacOnProxyPort: true\n'), 'http://gw1.contoso.test:3128/proxy.pac');
  // On an admin listener with a concrete address.
  assert.equal(await reg('  listen: 10.1.2.3:8081\n'), 'http://10.1.2.3:8081/proxy.pac');
  // A wildcard admin address names nothing a client can use: no ProxyPacUrl, and a warning says so.
  err = [];
  assert.equal(await reg('  listen: 0.0.0.0:8081\n'), undefined);
  assert.match(err.join(''), /address of the served PAC file is not known/);
});

test('an unknown --format is a usage error', async () => {
  await assert.rejects(
    clients({ ...BASE, format: 'yaml' }, io),
    /--format: "yaml" is not one of text, json, pac/,
  );
});
