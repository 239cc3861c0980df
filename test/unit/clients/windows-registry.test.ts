import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ATP_KEY,
  DATA_COLLECTION_KEY,
  DEFENDER_KEY,
  defenderRegistryValues,
  parseGatewayAddress,
  preferStaticProxyValue,
  psRegistryPath,
  renderGpoTable,
  renderRegFile,
  renderRegistryPowerShell,
  type GatewayAddress,
  type RegistryValue,
} from '../../../src/clients/index.js';
import { assertGolden } from './golden.js';
import { scanPowerShell } from './powershell-scan.js';
import { parseRegFile } from './reg-parser.js';

function gateway(text: string): GatewayAddress {
  const parsed = parseGatewayAddress(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const GW = gateway('gw1.contoso.test:3128');
const HEADER = ['Defender proxy settings (test).', 'Second header line.'];

function fullValues(): RegistryValue[] {
  const values = defenderRegistryValues(GW, {
    edr: true,
    antivirus: true,
    products: ['mde', 'mdav'],
    pacUrl: 'http://gw1.contoso.test:8081/proxy.pac',
    bypass: ['intranet.contoso.test', '*.corp.contoso.test'],
  });
  values.push(preferStaticProxyValue(['mde']));
  return values;
}

test('the Defender values are the documented keys, names, types and formats', () => {
  const values = fullValues();
  const find = (name: string): RegistryValue => values.find((v) => v.name === name)!;
  assert.deepEqual(
    values.map((v) => [v.key, v.name, v.type]),
    [
      [DATA_COLLECTION_KEY, 'TelemetryProxyServer', 'REG_SZ'],
      [DATA_COLLECTION_KEY, 'DisableEnterpriseAuthProxy', 'REG_DWORD'],
      [DEFENDER_KEY, 'ProxyServer', 'REG_SZ'],
      [DEFENDER_KEY, 'ProxyPacUrl', 'REG_SZ'],
      [DEFENDER_KEY, 'ProxyBypass', 'REG_SZ'],
      [ATP_KEY, 'PreferStaticProxyForHttpRequest', 'REG_DWORD'],
    ],
  );
  // EDR: host:port, no scheme; AV: a URL with a scheme.
  assert.equal(find('TelemetryProxyServer').data, 'gw1.contoso.test:3128');
  assert.equal(find('DisableEnterpriseAuthProxy').data, 1);
  assert.equal(find('ProxyServer').data, 'http://gw1.contoso.test:3128');
  assert.equal(find('PreferStaticProxyForHttpRequest').data, 1);
  for (const v of values) assert.ok(v.source.length > 0, `${v.name} cites a source`);
});

test('only the antivirus value when the sensor is not selected', () => {
  const values = defenderRegistryValues(GW, { edr: false, antivirus: true, products: ['mdav'] });
  assert.deepEqual(
    values.map((v) => v.name),
    ['ProxyServer'],
  );
});

test('.reg: golden file, UTF-16LE byte-order mark and the version 5 header', () => {
  const bytes = renderRegFile(fullValues(), HEADER);
  assertGolden('defender-proxy.reg', bytes);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe]);
  const header = Buffer.from('Windows Registry Editor Version 5.00\r\n', 'utf16le');
  assert.ok(bytes.subarray(2, 2 + header.length).equals(header));
});

test('.reg: every key, name, type and value reads back through the parser', () => {
  const values = fullValues();
  const parsed = parseRegFile(renderRegFile(values, HEADER));
  assert.deepEqual(
    parsed,
    values.map((v) => ({ key: v.key, name: v.name, type: v.type, data: v.data })),
  );
});

test('.reg: backslashes and quotes in strings are escaped and read back', () => {
  const values: RegistryValue[] = [
    {
      key: `${DEFENDER_KEY}\\Sub Key`,
      name: 'Odd "name"\\x',
      type: 'REG_SZ',
      data: 'C:\\Path\\to "file".txt\\',
      comment: 'test value',
      source: ['mde-proxy'],
      products: ['mde'],
      gpo: null,
    },
    {
      key: DEFENDER_KEY,
      name: 'Big',
      type: 'REG_DWORD',
      data: 0xfffffffe,
      comment: 'large dword',
      source: ['mde-proxy'],
      products: ['mde'],
      gpo: null,
    },
  ];
  const bytes = renderRegFile(values, []);
  const text = bytes.subarray(2).toString('utf16le');
  assert.match(text, /"Odd \\"name\\"\\\\x"="C:\\\\Path\\\\to \\"file\\"\.txt\\\\"/);
  assert.match(text, /"Big"=dword:fffffffe\r\n/);
  assert.deepEqual(
    parseRegFile(bytes),
    values.map((v) => ({ key: v.key, name: v.name, type: v.type, data: v.data })),
  );
});

test('.reg: a DWORD out of range is refused, not written', () => {
  const bad: RegistryValue = { ...preferStaticProxyValue(['mde']), data: 2 ** 32 };
  assert.throws(() => renderRegFile([bad], []), /not a DWORD/);
  assert.throws(() => renderRegFile([{ ...bad, data: -1 }], []), /not a DWORD/);
});

test('the parser refuses what regedit would not import', () => {
  const good = renderRegFile(fullValues(), HEADER);
  assert.throws(() => parseRegFile(good.subarray(2)), /byte-order mark/);
  const lfOnly = Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    Buffer.from(good.subarray(2).toString('utf16le').replace(/\r\n/g, '\n'), 'utf16le'),
  ]);
  assert.throws(() => parseRegFile(lfOnly), /CRLF/);
  const utf8 = Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    Buffer.from('Windows Registry Editor Version 5.00\r\n'),
  ]);
  assert.throws(() => parseRegFile(utf8));
});

test('PowerShell: golden file, balanced blocks, values only inside single-quoted literals', () => {
  const values = fullValues();
  const script = renderRegistryPowerShell(values, { synopsis: 'Test synopsis.', notes: ['A note.'] });
  assertGolden('Set-DefenderProxy.ps1', script);
  const scan = scanPowerShell(script);
  for (const v of values) {
    if (v.type === 'REG_SZ')
      assert.ok(scan.singleQuoted.includes(String(v.data)), `${v.name} data is a literal`);
    assert.ok(scan.singleQuoted.includes(psRegistryPath(v.key)));
  }
  for (const text of [GW.host, 'proxy.pac', 'intranet.contoso.test']) {
    assert.ok(!scan.code.includes(text), `${text} appears in code`);
    assert.ok(!scan.doubleQuoted.some((d) => d.includes(text)), `${text} appears in an expanding string`);
  }
  assert.match(scan.code, /\[CmdletBinding\(SupportsShouldProcess = \$true\)\]/);
  assert.match(scan.code, /IsInRole\(\[Security\.Principal\.WindowsBuiltInRole\]::Administrator\)/);
  assert.match(scan.code, /\$PSCmdlet\.ShouldProcess\(/);
  assert.match(scan.code, /Read-PolicyValue \$v\.Path \$v\.Name/);
  assert.ok(
    script.split('\n').every((line) => line === '' || line.endsWith('\r')),
    'CRLF line ends',
  );
});

test('the scanner finds broken PowerShell', () => {
  assert.throws(() => scanPowerShell('if ($a) { $b = 1'), /unclosed/);
  assert.throws(() => scanPowerShell("$a = 'x"), /unterminated single-quoted/);
  assert.throws(() => scanPowerShell('$a = (1]'), /closes/);
  assert.throws(() => scanPowerShell('"$($a"'), /unterminated|missing/);
  assert.doesNotThrow(() => scanPowerShell("# { unbalanced in a comment\n$a = '{'"));
});

test('GPO table: golden file; each value on its own row with ADMX, path, setting and value', () => {
  const values = fullValues();
  const table = renderGpoTable(values, 'Group Policy (test)', ['A note.']);
  assertGolden('defender-proxy-gpo.md', table);
  const rows = table.split('\r\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ADMX'));
  assert.equal(rows.length, values.length);
  for (const [i, v] of values.entries()) {
    const row = rows[i]!;
    assert.ok(row.includes(`\\${v.name} (${v.type}) = ${String(v.data)}`), row);
    if (v.gpo !== null) {
      assert.ok(row.startsWith(`| ${v.gpo.admx} | ${v.gpo.path} | ${v.gpo.setting} |`), row);
    }
  }
  assert.match(table, /DataCollection\.admx \| Windows Components > Data Collection and Preview Builds/);
  assert.match(table, /WindowsDefender\.admx \| Windows Components > Microsoft Defender Antivirus/);
});
