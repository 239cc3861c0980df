import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_INPUT_BYTES, explain } from '../../../src/cli/commands/explain.js';
import { AirlockError } from '../../../src/errors/index.js';
import { explainMachine, renderMarkdown, renderText, type Explanation } from '../../../src/advisor/index.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../../../test/fixtures/advisor/${name}`, import.meta.url));

async function run(options: Parameters<typeof explain>[0]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await explain({ ...options, output: { write: (text: string) => (out += text) } });
  return { code, out };
}

async function rejectsWith(
  options: Parameters<typeof explain>[0],
  code: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(run(options), (error: unknown) => {
    assert.ok(error instanceof AirlockError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    assert.equal(error.exitCode, 2);
    return true;
  });
}

describe('airlock explain', () => {
  test('text: pasted netsh output and a UTF-16 .reg export of one machine', async () => {
    const { code, out } = await run({
      from: [fixture('netsh-proxy.txt'), fixture('policies-utf16.reg')],
      machine: fixture('machine-lab-static-wininet.yaml'),
      format: 'text',
    });
    assert.equal(code, 0);
    assert.match(out, /^WORKSTATION: windows 11 workstation, no user logged on/);
    assert.match(out, /COMPONENT\s+ROUTE\s+VERDICT\s+REASON/);
    assert.match(
      out,
      /Live Response and command & control\s+static proxy \(TelemetryProxyServer\) 172\.16\.12\.12:3128\s+works/,
    );
    assert.match(out, /Summary: \d+ work, \d+ degraded, \d+ fail/);
  });

  test('json: the explanation round-trips and carries the assumed readings', async () => {
    const { out } = await run({
      from: [fixture('mdatp-config.txt'), fixture('mdatp-health.txt')],
      format: 'json',
      assume: ['static-proxy-unreachable=default-proxy'],
    });
    const parsed = JSON.parse(out) as Explanation;
    assert.equal(parsed.machine.platform, 'linux');
    assert.deepEqual(
      parsed.components.map((c) => [c.component, c.route.proxy]),
      [
        ['linux-cloud', '10.10.0.5:3128'],
        ['linux-install', null],
      ],
    );
    assert.equal(parsed.readings.find((r) => r.id === 'static-proxy-unreachable')?.assumed, 'default-proxy');
    assert.ok(parsed.warnings.some((w) => w.includes('mdatp-health.txt:1: ')));
  });

  test('markdown: a table row per component', async () => {
    const { out } = await run({ from: [fixture('netsh-direct.txt')], format: 'markdown' });
    assert.match(out, /^# machine\n/);
    assert.match(out, /\| Component \| Route \| Verdict \| Reason \| Fix \|/);
    assert.match(out, /\| EDR sensor \(cyber data\) \| direct connection \| \*\*fails\*\* \|/);
  });

  test('every format ends with a newline, after the numbered sources', async () => {
    for (const format of ['text', 'json', 'markdown'] as const) {
      const { out } = await run({ from: [fixture('netsh-proxy.txt')], format });
      assert.ok(out.endsWith('\n') && !out.endsWith('\n\n'), `${format} ends with exactly one newline`);
    }
    const { out } = await run({ from: [fixture('netsh-proxy.txt')], format: 'text' });
    assert.match(out, /\nSources:\n {2}\[1\] [^\n]+: https:\/\/[^\n]+\n(?: {2}\[\d+\] [^\n]+\n)*$/);
  });

  test('the policy check is passed to the advisor', async () => {
    const { out } = await run({
      from: [fixture('netsh-proxy.txt')],
      format: 'json',
      policyCheck: (host) => ({ allowed: !host.includes('events'), reason: 'not on the allowlist' }),
    });
    const edr = (JSON.parse(out) as Explanation).components.find((c) => c.component === 'edr-telemetry');
    assert.equal(edr?.rule, 'policy-denies');
  });

  test('unparseable input names the file and line (exit 2)', async () => {
    await rejectsWith(
      { from: [fixture('netsh-garbled.txt')], format: 'text' },
      'USAGE',
      /netsh-garbled\.txt:5: unexpected line/,
    );
  });

  test('a missing file is FILE_UNREADABLE (exit 2)', async () => {
    await rejectsWith(
      { from: [fixture('no-such-file.txt')], format: 'text' },
      'FILE_UNREADABLE',
      /no such file/,
    );
  });

  test('a file larger than 1 MiB is refused before it is parsed; one of 1 MiB is read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-explain-'));
    try {
      // netsh output and a line of spaces, which the parser skips.
      const netsh = await readFile(fixture('netsh-proxy.txt'));
      const padded = (size: number) =>
        Buffer.concat([netsh, Buffer.alloc(size - netsh.length - 1, ' '), Buffer.from('\n')]);
      const largest = join(dir, 'largest.txt');
      await writeFile(largest, padded(MAX_INPUT_BYTES));
      const { code, out } = await run({ from: [largest], format: 'json' });
      assert.equal(code, 0);
      assert.equal((JSON.parse(out) as Explanation).machine.platform, 'windows');
      const larger = join(dir, 'larger.txt');
      await writeFile(larger, padded(MAX_INPUT_BYTES + 1));
      await rejectsWith(
        { from: [larger], format: 'text' },
        'USAGE',
        /^\S+larger\.txt is larger than 1 MiB, the most explain reads from one file/,
      );
      assert.equal(MAX_INPUT_BYTES, 1024 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--machine must be a description', async () => {
    await rejectsWith(
      { from: [], machine: fixture('netsh-direct.txt'), format: 'text' },
      'USAGE',
      /looks like netsh-winhttp/,
    );
  });

  test('usage errors: no input, unknown format, bad --assume', async () => {
    await rejectsWith({ from: [], format: 'text' }, 'USAGE', /needs --from/);
    await rejectsWith({ from: [fixture('netsh-direct.txt')], format: 'yaml' as 'text' }, 'USAGE', /--format/);
    await rejectsWith(
      { from: [fixture('netsh-direct.txt')], format: 'text', assume: ['static-proxy-unreachable=maybe'] },
      'USAGE',
      /reading must be one of direct, default-proxy/,
    );
  });
});

describe('renderers', () => {
  const explanation = explainMachine({
    machine: { name: 'WS|01', platform: 'windows', userLoggedOn: false },
    windows: { telemetryProxy: { server: '10.0.0.6:8080' }, winhttp: { proxy: null } },
    network: {
      directInternet: false,
      proxies: [{ address: '10.0.0.6:8080', reachable: false }, { address: '10.0.0.7:8080' }],
    },
  });

  test('text lists fixes with their commands and the disagreement in play', () => {
    const text = renderText(explanation);
    assert.match(
      text,
      /Fixes:\n {2}EDR sensor \(cyber data\): HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection\\TelemetryProxyServer/,
    );
    assert.match(
      text,
      /reg add "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection" \/v TelemetryProxyServer \/t REG_SZ \/d 10\.0\.0\.7:8080 \/f/,
    );
    assert.match(text, /static-proxy-unreachable: assumed "direct"/);
  });

  test('markdown escapes table cells', () => {
    const md = renderMarkdown(explanation);
    assert.match(md, /^# WS\\\|01/);
    for (const line of md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Component'))) {
      assert.equal(line.split(/(?<!\\)\|/).length, 7, line);
    }
  });
});
