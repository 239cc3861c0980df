import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CommandIo } from '../../../src/cli/commands/catalog.js';
import { configCheck, type ConfigCheckOptions } from '../../../src/cli/commands/config-check.js';
import { isAirlockError } from '../../../src/errors/index.js';
import { loadConfig } from '../../../src/supervisor/index.js';

/** Checks that catch mistakes before the gateway serves: config-check, its --strict gate and the load-time validation. */

const dir = mkdtempSync(join(tmpdir(), 'airlock-config-check-'));
const DNS = 'dns: { servers: ["127.0.0.1:9"], hostsFile: null }\n';

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(options: ConfigCheckOptions): Promise<{ code: number; out: string; warnings: string[] }> {
  let out = '';
  let err = '';
  const io: CommandIo = { out: (t) => (out += String(t)), err: (t) => (err += t) };
  const code = await configCheck(options, io);
  return { code, out, warnings: err.split('\n').filter((l) => l !== '') };
}

async function refused(text: string, message: RegExp, options: { listen?: string[] } = {}): Promise<void> {
  const configFile = file('refused.yaml', text);
  await assert.rejects(loadConfig({ configFile, ...options }), (error: unknown) => {
    assert.ok(isAirlockError(error), String(error));
    assert.match(error.message, message);
    return true;
  });
}

describe('allowlist files', () => {
  test('a line "bad host name" is flagged with file:line, as are its single-label names; --strict fails on it', async () => {
    const list = file('list.conf', 'winatp-gw-eus.microsoft.com\nbad host name\n.com\n');
    const configFile = file('list.yaml', `policy:\n  allowlistFiles: [list.conf]\n${DNS}`);
    const plain = await run({ configFile });
    assert.equal(plain.code, 0);
    assert.deepEqual(plain.warnings.slice(0, 5), [
      `warning: ${list}:2: 3 names on one line ("bad", "host", "name"): each becomes a rule of its own; write one name per line, or remove the spaces if it is one name`,
      `warning: ${list}:2: "bad" is a single-label name: it matches only a host named exactly "bad", never a name on the internet; write the full name`,
      `warning: ${list}:2: "host" is a single-label name: it matches only a host named exactly "host", never a name on the internet; write the full name`,
      `warning: ${list}:2: "name" is a single-label name: it matches only a host named exactly "name", never a name on the internet; write the full name`,
      `warning: ${list}:3: ".com" admits the whole top-level domain com`,
    ]);
    assert.match(
      plain.out,
      /^.*list\.yaml: OK, with \d+ warnings and 1 high lint finding \(--strict fails on them\)\n/,
    );

    const strict = await run({ configFile, strict: true });
    assert.equal(strict.code, 3);
    assert.match(
      strict.out,
      /list\.yaml: valid, but --strict fails on \d+ warnings and 1 high lint finding\n/,
    );
  });

  test('--strict fails on high lint findings alone, and passes a clean configuration', async () => {
    const risky = file(
      'risky.yaml',
      `policy:\n  destinations: [.blob.core.windows.net, .azurewebsites.net, .cloudapp.azure.com, .servicebus.windows.net, .azureedge.net]\n${DNS}`,
    );
    const result = await run({ configFile: risky, strict: true });
    assert.equal(result.code, 3);
    assert.match(result.out, /lint: 5 high, 0 medium/);
    const clean = file('clean.yaml', `policy:\n  destinations: [winatp-gw-eus.microsoft.com]\n${DNS}`);
    const ok = await run({ configFile: clean, strict: true });
    assert.deepEqual(ok.warnings, []);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /clean\.yaml: OK\n/);
  });

  test('a missing allowlist names the configuration line that named it', async () => {
    await refused(
      `policy:\n  sources: [10.0.0.0/8]\n  allowlistFiles:\n    - present.conf\n    - missing.conf\n${DNS}`.replace(
        'present.conf',
        file('present.conf', 'a.example.com\n'),
      ),
      /cannot read allowlist .*missing\.conf: no such file; named at .*refused\.yaml:5 \(policy\.allowlistFiles\[1\]\)$/,
    );
  });
});

describe('the admin listener', () => {
  test('equal to, or overlapping, a proxy listener is refused, naming both', async () => {
    await refused(
      `listeners: ["0.0.0.0:3128"]\nadmin:\n  listen: 0.0.0.0:3128\n${DNS}`,
      /^admin\.listen: 0\.0\.0\.0:3128 is the proxy listener 0\.0\.0\.0:3128 at .*refused\.yaml:1 \(listeners\[0\]\): both would bind port 3128; give the admin listener another port, at .*refused\.yaml:3 \(admin\.listen\)$/,
    );
    await refused(
      `listeners: ["127.0.0.1:8080", "10.0.0.5:3128"]\nadmin:\n  listen: 0.0.0.0:3128\n${DNS}`,
      /admin\.listen: 0\.0\.0\.0:3128 overlaps the proxy listener 10\.0\.0\.5:3128 at .*:1 \(listeners\[1\]\)/,
    );
    await refused(
      `admin:\n  listen: "[::]:3128"\n${DNS}`,
      /admin\.listen: \[::\]:3128 overlaps the proxy listener 0\.0\.0\.0:3128 at the default listener/,
    );
    await refused(
      `admin:\n  listen: 127.0.0.1:9090\n${DNS}`,
      /overlaps the proxy listener 0\.0\.0\.0:9090 given by --listen/,
      {
        listen: ['0.0.0.0:9090'],
      },
    );
  });

  test('on another port, or another address of the same family, it is accepted', async () => {
    for (const [listeners, admin] of [
      ['0.0.0.0:3128', '127.0.0.1:9090'],
      ['10.0.0.5:3128', '127.0.0.1:3128'],
      ['127.0.0.1:0', '127.0.0.1:0'],
    ]) {
      const configFile = file(
        'admin.yaml',
        `listeners: ["${listeners}"]\nadmin:\n  listen: ${admin}\n${DNS}`,
      );
      await loadConfig({ configFile });
    }
  });
});

describe('policy.ports', () => {
  test('a port no rule can use is a warning, and config-check says which rules each port serves', async () => {
    const configFile = file('ports.yaml', `policy:\n  ports:\n    connect: [443, 40443]\n${DNS}`);
    const { out, warnings } = await run({ configFile });
    assert.ok(
      warnings.includes(
        'warning: policy.ports.connect: port 40443 is allowed by no destination rule: every rule lists its own ports (catalog rules carry the ports Microsoft documents) and none lists 40443; give the rules that need it `ports: [40443]` in policy.destinations',
      ),
      warnings.join('\n'),
    );
    assert.match(
      out,
      /\n {4}CONNECT 443: \d+ of \d+ rules \(those without ports of their own, and those listing 443\)\n/,
    );
    assert.match(
      out,
      /\n {4}CONNECT 40443: no rule \(every rule lists its own ports, and none lists this one\)\n/,
    );

    const own = file(
      'own.yaml',
      `policy:\n  destinations:\n    - a.example.com\n    - { host: b.example.com, ports: [40443] }\n  ports:\n    connect: [443, 40443]\n${DNS}`,
    );
    const shown = await run({ configFile: own });
    assert.deepEqual(shown.warnings, []);
    assert.match(
      shown.out,
      /\n {4}CONNECT 443: 1 rule: a\.example\.com\n {4}CONNECT 40443: every rule \(2\)\n {4}HTTP 80: 1 rule: a\.example\.com\n/,
    );
  });
});

describe('lint.acknowledge', () => {
  const WINDOWS_UPDATE = /\*\.windowsupdate\.com/;

  test('the catalog wildcard warning can be acknowledged by entry id, rule or finding id', async () => {
    const plain = await run({ configFile: file('plain.yaml', DNS) });
    const warning = plain.warnings.filter((w) => WINDOWS_UPDATE.test(w));
    assert.equal(warning.length, 1);
    assert.match(
      warning[0]!,
      /\(reviewed and accepted\? lint\.acknowledge: \["mde:\*\.windowsupdate\.com"\]\)$/,
    );
    for (const id of ['mde:*.windowsupdate.com', '*.windowsupdate.com', 'BROAD_DOMAIN:*.windowsupdate.com']) {
      const configFile = file('ack.yaml', `lint:\n  acknowledge: ["${id}"]\n${DNS}`);
      const acknowledged = await run({ configFile, strict: true });
      assert.deepEqual(acknowledged.warnings, [], id);
      assert.equal(acknowledged.code, 0);
      assert.match(acknowledged.out, /lint: 0 high, 0 medium, 1 acknowledged \(lint\.acknowledge\)/);
    }
  });

  test('an acknowledgement that matches nothing is a warning (a typo would hide nothing)', async () => {
    const configFile = file('typo.yaml', `lint:\n  acknowledge: ["mde:*.windowsupdate.org"]\n${DNS}`);
    const { warnings } = await run({ configFile });
    assert.ok(
      warnings.includes(
        'warning: lint.acknowledge: "mde:*.windowsupdate.org" matches no lint finding of the effective rules',
      ),
      warnings.join('\n'),
    );
    assert.equal(
      warnings.filter((w) => WINDOWS_UPDATE.test(w) && !w.includes('matches no lint finding')).length,
      1,
    );
  });
});
