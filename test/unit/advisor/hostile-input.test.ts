import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  explainInputs,
  parseInput,
  renderExplanation,
  type InputFile,
  type MachineFacts,
} from '../../../src/advisor/index.js';
import { bypassEntryFor } from '../../../src/advisor/proxy-address.js';
import { inWorker } from './in-worker.js';

/**
 * Pasted text made to be slow to parse, or to reach the terminal through a message.
 *
 * Each slow input below is sized so that the regular expressions it was written against took ten
 * minutes or more on it (measured on smaller sizes: their time grows with the square of the size,
 * or faster); the parsers now take well under a second. The parse runs in a worker and the test
 * fails when it has not finished after DEADLINE seconds, a bound far from both.
 */
const DEADLINE = 30;
const MiB = 1024 * 1024;
/** A run of spaces of a megabyte, as a paste can hold. */
const SPACES = ' '.repeat(MiB);

async function parsed(text: string): Promise<{ kind: string; facts: MachineFacts; warnings: string[] }> {
  const result = await inWorker('parseInput', text, DEADLINE);
  if (!result.ok) assert.fail(`should parse: ${result.error.line}: ${result.error.message}`);
  const { kind, facts, warnings } = result.value;
  return { kind, facts, warnings: warnings.map((w) => `${w.line}: ${w.message}`) };
}

async function refused(text: string): Promise<{ line: number; message: string }> {
  const result = await inWorker('parseInput', text, DEADLINE);
  if (result.ok) assert.fail(`should not parse, but is ${result.value.kind}`);
  return { line: result.error.line, message: result.error.message };
}

describe('pasted text that took minutes to parse', () => {
  test('blank lines: `^\\s*` of a multi-line pattern no longer runs on from each of them', async () => {
    const blank = ' \n'.repeat(MiB / 2);
    assert.equal(await inWorker('detectInputKind', `x\n${blank}y`, DEADLINE), null);
    const health = await parsed(`${blank}healthy : true\n`);
    assert.equal(health.kind, 'mdatp-health');
    assert.deepEqual(health.facts, { machine: { platform: 'linux' }, linux: {} });
  });

  test('reg query: a run of spaces in a value line is scanned once', async () => {
    const key = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender';
    // `.*\s{2,}REG_` in the recogniser.
    assert.equal(await inWorker('detectInputKind', `HKLM\\x\n  a${SPACES}b\n`, DEADLINE), null);
    // `(.+?)\s{2,}REG_` before the type; the message quotes the start of the line only.
    const bad = await refused(`${key}\n    ProxyPacUrl    REG_SZ    http://a/\n    Comment${SPACES}x\n`);
    assert.equal(bad.line, 3);
    assert.match(bad.message, /^unrecognised line in reg query output: "Comment +"… \(1048584 characters\)$/);
    assert.ok(bad.message.length < 400, `${bad.message.length} characters`);
    // `(.*?)\s*$` after it.
    const data = await parsed(`${key}\n    ProxyPacUrl    REG_SZ    http://a/${SPACES}b\n`);
    assert.equal(data.kind, 'reg-query');
    assert.equal(data.facts.windows?.antivirus?.proxyPacUrl, `http://a/${SPACES}b`);
  });

  test('netsh and mdatp health: a run of spaces inside a value is scanned once', async () => {
    const netsh = await parsed(
      `Current WinHTTP proxy settings:\n\n    Proxy Server(s) :  10.0.0.6:8080\n    Bypass List     :  <local>${SPACES}*.contoso.com\n`,
    );
    assert.deepEqual(netsh.facts.windows?.winhttp, {
      proxy: '10.0.0.6:8080',
      bypass: ['<local>', '*.contoso.com'],
    });
    const health = await parsed(`healthy : true\nhealth_issues : ["a",${SPACES}"b"]\n`);
    assert.deepEqual(health.facts.linux, { healthIssues: ['a', 'b'] });
  });

  test('Get-MpPreference: a table header is read once, not split into Proxy* names every possible way', async () => {
    assert.equal(await inWorker('detectInputKind', `${'Proxy'.repeat(80)}!`, DEADLINE), null);
  });

  test('shell prompts: a line of `@:` pairs is read once, not once for each pair', async () => {
    assert.equal(await inWorker('isPromptLine', '@:'.repeat(32 * 1024), DEADLINE), false);
    assert.equal(await inWorker('isPromptLine', `a@${'@:'.repeat(32 * 1024)}$ netsh`, DEADLINE), true);
    const line = await refused(`Current WinHTTP proxy settings:\n${'@:'.repeat(32 * 1024)}\n`);
    assert.equal(line.line, 2);
    assert.match(line.message, /^unexpected line in netsh output: "(@:)+"… \(65536 characters\)$/);
  });

  test('.reg export: the spaces ending a line and the NULs ending a value are found once', async () => {
    const head =
      'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender]\n';
    const spaces = await parsed(`${head}"ProxyPacUrl"="http://a/${SPACES}b"${SPACES}\n`);
    assert.equal(spaces.facts.windows?.antivirus?.proxyPacUrl, `http://a/${SPACES}b`);
    // hex(2) is UTF-16: a million NULs, "A", and the NUL that ends the string.
    const nuls = await parsed(`${head}"ProxyPacUrl"=hex(2):${'00,00,'.repeat(MiB)}41,00,00,00\n`);
    assert.equal(nuls.facts.windows?.antivirus?.proxyPacUrl, `${'\0'.repeat(MiB)}A`);
  });

  test('.reg export: a value continued over 400,000 lines is joined once, not copied for each line', async () => {
    const text =
      'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender]\n' +
      `"ProxyPacUrl"=hex(2):41,00,\\\n${'  00,00,\\\n'.repeat(400_000)}  00,00\n`;
    const result = await parsed(text);
    assert.equal(result.facts.windows?.antivirus?.proxyPacUrl, 'A');
  });

  test('netsh show advproxy: the lines of 200,000 unknown settings are found in one pass', async () => {
    const count = 200_000;
    const settings = Array.from({ length: count }, (_, i) => `  "Setting${i}": 0,\n`).join('');
    const result = await parsed(`{\n  "ProxyIsEnabled": false,\n${settings}  "AutoDetect": false\n}\n`);
    assert.deepEqual(result.facts.windows?.winhttp, { proxy: null, bypass: [] });
    const unknown = result.warnings.filter((w) => / unknown setting /.test(` ${w}`));
    assert.equal(unknown.length, count);
    assert.equal(unknown[0], '3: unknown setting "Setting0" ignored');
    assert.equal(unknown[count - 1], `${count + 2}: unknown setting "Setting${count - 1}" ignored`);
  });

  test('bypass lists: an entry of many `*` is matched in one pass, not every way of sharing the name', async () => {
    assert.equal(await inWorker('bypassEntryFor', `${'*'.repeat(40)}x`, DEADLINE), null);
    const host = 'winatp-gw-cus.microsoft.com';
    for (const entry of [
      '*.microsoft.com',
      'WINATP-*-cus.microsoft.com',
      '*gw*',
      '**',
      'http://*.microsoft.com:443',
    ])
      assert.equal(bypassEntryFor(host, [entry]), entry, entry);
    for (const entry of ['*.contoso.com', '*.microsoft.co', 'gw*', '<local>', '*x'])
      assert.equal(bypassEntryFor(host, [entry]), null, entry);
    assert.equal(bypassEntryFor('intranet', ['<local>']), '<local>');
  });

  test('Get-MpPreference: a list continued over 200,000 lines', () => {
    // On the test's thread, whose stack is the CLI's: Math.min(...indents) overflowed it with
    // 200,000 arguments, where a worker's larger stack held them.
    const text = `ProxyBypass : {a.contoso.com,\n${'  b,\n'.repeat(200_000)}  c.contoso.com}\nProxyPacUrl :\nProxyServer : http://10.0.0.6:8080\n`;
    const result = parseInput({ name: 'pasted.txt', text });
    assert.ok(result.ok, result.ok ? '' : result.error.message);
    const antivirus = result.value.facts.windows?.antivirus;
    assert.equal(antivirus?.proxyServer, 'http://10.0.0.6:8080');
    assert.equal(antivirus?.proxyBypass?.length, 200_002);
  });
});

describe('messages quote pasted values with their control characters escaped', () => {
  /** Retitles the window, clears the screen, sets a colour with a C1 control and reverses the text. */
  const ESC = '\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e';
  /** The same, escaped for JSON and YAML strings, which may not hold control characters as they are. */
  const ESC_JSON = '\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u202e';
  const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
  const dataCollection = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection';
  const regExport =
    'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender]\n';
  const netsh = 'Current WinHTTP proxy settings:\n\n';

  /** Every message explaining `files` gives: the error, or the warnings and the lines of the report. */
  function messages(files: InputFile[]): string[] {
    const result = explainInputs(files);
    if (!result.ok) return [result.error.message];
    return [...result.explanation.warnings, ...renderExplanation(result.explanation, 'text').split('\n')];
  }

  const cases: { name: string; files: InputFile[] }[] = [
    {
      name: 'reg query: a proxy address',
      files: [
        {
          name: 'a',
          text: `${dataCollection}\n    TelemetryProxyServer    REG_SZ    gw${ESC}.example:3128\n`,
        },
      ],
    },
    {
      name: 'reg query: a DWORD',
      files: [
        { name: 'a', text: `${dataCollection}\n    DisableEnterpriseAuthProxy    REG_DWORD    0x1${ESC}\n` },
      ],
    },
    {
      name: 'reg query: an error reg printed',
      files: [
        {
          name: 'a',
          text: `${dataCollection}\n    TelemetryProxyServer    REG_SZ    10.0.0.6:8080\nERROR: ${ESC}\n`,
        },
      ],
    },
    {
      name: 'reg query: a line it does not know',
      files: [
        {
          name: 'a',
          text: `${dataCollection}\n    TelemetryProxyServer    REG_SZ    10.0.0.6:8080\n  x${ESC}\n`,
        },
      ],
    },
    { name: '.reg: value data', files: [{ name: 'a', text: `${regExport}"ProxyServer"=x${ESC}\n` }] },
    { name: '.reg: a line it does not know', files: [{ name: 'a', text: `${regExport}x${ESC}\n` }] },
    {
      name: '.reg: a key outside the hives',
      files: [{ name: 'a', text: `Windows Registry Editor Version 5.00\n\n[HKEY_X${ESC}\\Software]\n` }],
    },
    {
      name: 'netsh: a proxy address',
      files: [{ name: 'a', text: `${netsh}    Proxy Server(s) :  gw${ESC}:3128\n` }],
    },
    {
      name: 'netsh: a line it does not know',
      files: [{ name: 'a', text: `${netsh}    Proxy Server(s) :  10.0.0.6:8080\n    x${ESC}\n` }],
    },
    {
      name: 'netsh show advproxy: a setting it does not know, and a line before the settings',
      files: [{ name: 'a', text: `x${ESC}\n{ "ProxyIsEnabled": false, "${ESC_JSON}": 1 }\n` }],
    },
    {
      name: 'netsh show advproxy: a proxy that is not used, and a PAC file',
      files: [
        {
          name: 'a',
          text: `{ "ProxyIsEnabled": false, "Proxy": "gw${ESC_JSON}:3128", "AutoconfigUrl": "x${ESC_JSON}" }\n`,
        },
      ],
    },
    {
      name: 'netsh show advproxy: a setting of the wrong type',
      files: [{ name: 'a', text: `{ "ProxyIsEnabled": "${ESC_JSON}" }\n` }],
    },
    {
      name: 'netsh show advproxy: invalid JSON',
      files: [{ name: 'a', text: `{ "ProxyIsEnabled": ${ESC} }\n` }],
    },
    {
      name: 'Get-MpPreference: a line it does not know',
      files: [{ name: 'a', text: `ProxyServer : http://10.0.0.6:8080\nx${ESC}\n` }],
    },
    {
      name: 'Get-MpPreference: a cut value',
      files: [{ name: 'a', text: `ProxyBypass : {}\nProxyPacUrl :\nProxyServer : http://gw${ESC}...\n` }],
    },
    {
      name: 'mdatp health: what mdatp printed, and a line it does not know',
      files: [{ name: 'a', text: `healthy : true\nWarning: ${ESC}\n` }],
    },
    {
      name: 'mdatp health: a line it does not know',
      files: [{ name: 'a', text: `healthy : true\nx${ESC}\n` }],
    },
    {
      name: 'mdatp config: a proxy address',
      files: [{ name: 'a', text: `$ mdatp config proxy set --value http://gw${ESC}:3128\n` }],
    },
    {
      name: 'mdatp_managed.json: a proxy address',
      files: [{ name: 'a', text: `{ "cloudService": { "proxy": "http://gw${ESC_JSON}:3128" } }\n` }],
    },
    {
      name: 'description: a key it does not know',
      files: [{ name: 'a', text: `machine:\n  "${ESC_JSON}": 1\n` }],
    },
    {
      name: "description: the machine's name, printed at the head of the report",
      files: [{ name: 'a', text: `machine:\n  name: "WS${ESC_JSON}"\n` }],
    },
    {
      name: 'description: a proxy address',
      files: [{ name: 'a', text: `network:\n  proxies:\n    - address: "gw${ESC_JSON}:3128"\n` }],
    },
    {
      name: 'description: a proxy setting the report shows as invalid',
      files: [{ name: 'a', text: `windows:\n  telemetryProxy:\n    server: "gw${ESC_JSON}:3128"\n` }],
    },
    {
      name: 'two inputs that disagree',
      files: [
        { name: 'a', text: `windows:\n  antivirus:\n    proxyPacUrl: "http://a/${ESC_JSON}"\n` },
        { name: 'b', text: 'windows:\n  antivirus:\n    proxyPacUrl: "http://b/"\n' },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const all = messages(c.files);
      for (const message of all) assert.doesNotMatch(message, RAW, JSON.stringify(message));
      // The value is still there, escaped (JSON writes the C0 controls as \u001b).
      assert.ok(
        all.some((m) => /\\x1b|\\x9b|\\u001b/.test(m)),
        JSON.stringify(all),
      );
    });
  }
});
