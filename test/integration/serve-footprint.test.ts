/**
 * What a serving gateway has loaded. `serve` must not pay for the commands it does not run
 * (spreadsheet import, the PAC engine), and must load its CommonJS dependencies with `require`:
 * an ES `import` of a CommonJS package starts Node.js's CommonJS lexer, which costs a gateway
 * process about 8 MiB of resident memory (src/deps/README.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serve, stopServed } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/** Loaded into the gateway with --import: on SIGUSR2, one line with what the process has loaded. */
const PROBE = `
import { createRequire } from 'node:module';
const cache = createRequire(process.cwd() + '/').cache;
process.on('SIGUSR2', () => {
  const loaded = { builtins: process.moduleLoadList, commonjs: Object.keys(cache) };
  process.stderr.write('LOADED ' + JSON.stringify(loaded) + '\\n');
});
`;

interface Loaded {
  readonly builtins: string[];
  readonly commonjs: string[];
}

test('a serving gateway (access log, admin listener) loads no CommonJS through import, and no command it does not run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-footprint-'));
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, PROBE);
  const config = join(dir, 'airlock.yaml');
  writeFileSync(
    config,
    [
      'version: 1',
      'listeners: ["127.0.0.1:0"]',
      'admin:',
      '  listen: 127.0.0.1:0',
      'log:',
      `  file: ${JSON.stringify(join(dir, 'access.log'))}`,
      '',
    ].join('\n'),
  );
  const gw = await serve(['--config', config, '--workers', '1'], 30_000, {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${probe}`.trim(),
  });
  try {
    gw.child.kill('SIGUSR2');
    const line = await waitFor('the probe to report', () => /^LOADED (.*)$/m.exec(gw.stderr)?.[1], {
      timeoutMs: 10_000,
    });
    const loaded = JSON.parse(line) as Loaded;
    // The probe itself is real: the gateway's own dependencies are among what require loaded.
    for (const dependency of ['pino', 'prom-client', 'yaml', 'ipaddr.js'])
      assert.ok(
        loaded.commonjs.some((file) => file.includes(`/node_modules/${dependency}/`)),
        `${dependency} is not in require's cache: ${loaded.commonjs.join(' ')}`,
      );
    assert.ok(
      loaded.builtins.includes('NativeModule net'),
      `no "net" among the builtins: ${loaded.builtins.join(' ')}`,
    );
    const lexer = loaded.builtins.filter((name) => name.includes('cjs-module-lexer'));
    assert.deepEqual(lexer, [], 'a CommonJS package was imported as an ES module: load it through src/deps/');
    const unneeded = loaded.commonjs.filter((file) =>
      ['exceljs', 'pac-resolver', 'quickjs-wasi'].some((name) => file.includes(`/node_modules/${name}/`)),
    );
    assert.deepEqual(unneeded, [], 'serve loaded what only other commands use');
  } finally {
    await stopServed(gw);
    rmSync(dir, { recursive: true, force: true });
  }
});
