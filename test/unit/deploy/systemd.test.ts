import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { defaultConfigText, renderFirewallUnit, renderUnit, sizing } from '../../../src/install/index.js';

/** The unit files in deploy/systemd are exactly what `airlock install` writes for the default configuration. */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

describe('deploy/systemd', () => {
  test('airlock.service is the installer output for the default configuration', async () => {
    const parsed = parseConfig(defaultConfigText(), '<default>');
    assert.ok(parsed.ok);
    const file = parsed.config.file;
    const expected = renderUnit(file, sizing(file), {
      node: '/usr/bin/node',
      main: '/usr/local/lib/node_modules/airlock/dist/src/cli/main.js',
      afterFirewall: true,
    });
    assert.equal(await readFile(join(repo, 'deploy/systemd/airlock.service'), 'utf8'), expected);
  });

  test('airlock-firewall.service is the installer output', async () => {
    assert.equal(
      await readFile(join(repo, 'deploy/systemd/airlock-firewall.service'), 'utf8'),
      renderFirewallUnit(),
    );
  });
});
