import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { catalogList, type CommandIo } from '../../src/cli/commands/catalog.js';
import { check, type CheckIo } from '../../src/cli/commands/check.js';
import { explain } from '../../src/cli/commands/explain.js';
import { policyShow } from '../../src/cli/commands/policy-show.js';
import { outputWidth } from '../../src/cli/terminal.js';
import { CLI } from '../helpers/cli.js';
import { closedPort } from '../helpers/origins.js';

/**
 * Tables fit the terminal: no line of `policy show`, `explain`, `catalog list` or `check` is
 * wider than the width given (COLUMNS, the terminal's, or 100), and `--wide` lifts the limit.
 */

const WIDTHS = [40, 60, 80, 100, 132];

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

function capture(width: number): CommandIo & { text: string } {
  const io = {
    text: '',
    width,
    out(chunk: string | Uint8Array) {
      io.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    },
    err() {},
  };
  return io;
}

function assertFits(text: string, width: number, what: string): void {
  const lines = text.split('\n');
  const widest = lines.reduce((a, l) => (l.length > a.length ? l : a), '');
  assert.ok(widest.length <= width, `${what} at ${width}: a line of ${widest.length}: "${widest}"`);
  assert.ok(lines.length > 3, `${what} printed something`);
}

/** A configuration with rules whose origins and lint findings make wide cells. */
function config(): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-width-'));
  writeFileSync(
    join(dir, 'mdemdi.conf'),
    '.blob.core.windows.net\n.microsoft.com\nwinatp-gw-eus.microsoft.com\n',
  );
  writeFileSync(
    join(dir, 'airlock.yaml'),
    'policy:\n  allowlistFiles: [mdemdi.conf]\n  defaultAllowlist: true\ndns: { servers: ["127.0.0.1:9"], hostsFile: null }\n',
  );
  return join(dir, 'airlock.yaml');
}

describe('tables fit the width', () => {
  test('policy show, catalog list and explain at 40 to 132 columns', async () => {
    const file = config();
    for (const width of WIDTHS) {
      const shown = capture(width);
      assert.equal(await policyShow({ configFile: file, format: 'table' }, shown), 0);
      assertFits(shown.text, width, 'policy show');
      assert.match(shown.text, /\.blob\.core\.windows\.net/);
      if (width >= 100) assert.match(shown.text, /high:CUSTOMER_CREATABLE/);

      const listed = capture(width);
      assert.equal(await catalogList({ format: 'table' }, listed), 0);
      assertFits(listed.text, width, 'catalog list');
      // The table ends with its count, followed by the legend of the SOURCE numbers.
      assert.match(listed.text, /\d+ entries\n/);

      let explained = '';
      await explain({
        from: [fixture('advisor/netsh-proxy.txt'), fixture('advisor/policies.reg')],
        format: 'text',
        width,
        output: { write: (t: string) => (explained += t) },
      });
      assertFits(explained, width, 'explain');
      assert.match(explained, /Summary: \d+ work/);
    }
  });

  test('check: the text, verbose and table reports at 40 to 132 columns', async () => {
    const port = await closedPort();
    for (const width of WIDTHS) {
      for (const variant of [{ format: 'text' }, { format: 'text', verbose: true }, { format: 'table' }]) {
        let text = '';
        const io: CheckIo = {
          terminal: false,
          progressTerminal: false,
          columns: width,
          width,
          env: {},
          out: (chunk) => (text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()),
          err: () => undefined,
        };
        await check(
          {
            urls: [
              `https://winatp-gw-eus.microsoft.com:${port}/commands/test`,
              `http://ctldl.windowsupdate.com:${port}/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab`,
            ],
            resolve: ['winatp-gw-eus.microsoft.com:127.0.0.1', 'ctldl.windowsupdate.com:127.0.0.1'],
            envProxy: false,
            timeout: '2000',
            ...variant,
          },
          io,
        );
        assertFits(text, width, `check ${JSON.stringify(variant)}`);
        assert.match(text, /TCP_REFUSED|tcp refused/);
      }
    }
  });

  test('the width comes from COLUMNS, else the terminal, else 100; --wide lifts it', () => {
    assert.equal(outputWidth({ isTTY: true, columns: 93 }, {}), 93);
    assert.equal(outputWidth({ isTTY: false }, {}), 100);
    assert.equal(outputWidth({ isTTY: true, columns: 93 }, { COLUMNS: '61' }), 61);
    assert.equal(outputWidth({ isTTY: false }, { COLUMNS: 'wide' }), 100);
    assert.equal(outputWidth({ isTTY: true, columns: 93 }, { COLUMNS: '61' }, true), Infinity);
  });

  test('the command line: COLUMNS=72 fits every table; --wide does not cut', () => {
    const env = { ...process.env, COLUMNS: '72' };
    const runs: [string, string[]][] = [
      ['policy show', ['policy', 'show']],
      ['catalog list', ['catalog', 'list', '--product', 'mdi']],
      [
        'explain',
        ['explain', '--from', fixture('advisor/netsh-proxy.txt'), '--from', fixture('advisor/policies.reg')],
      ],
    ];
    for (const [what, args] of runs) {
      const fitted = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
      assert.equal(fitted.status, 0, fitted.stderr);
      assertFits(fitted.stdout, 72, what);
      const wide = spawnSync(process.execPath, [CLI, ...args, '--wide'], { env, encoding: 'utf8' });
      assert.equal(wide.status, 0, wide.stderr);
      assert.ok(
        wide.stdout.split('\n').some((l) => l.length > 72),
        `${what} --wide keeps its natural width`,
      );
    }
  });
});
