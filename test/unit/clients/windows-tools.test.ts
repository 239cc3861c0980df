import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseGatewayAddress,
  renderArcWindows,
  renderMdiInstallCmd,
  renderMdiProxyPowerShell,
  renderMmaWindowsPowerShell,
  renderRevocationNote,
  renderWinHttpReset,
  renderWinHttpSet,
  winHttpSetCommand,
  type GatewayAddress,
} from '../../../src/clients/index.js';
import { assertGolden } from './golden.js';
import { scanPowerShell } from './powershell-scan.js';

function gateway(text: string): GatewayAddress {
  const parsed = parseGatewayAddress(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
const GW = gateway('gw1.contoso.test:3128');

function crlfOnly(text: string): boolean {
  return !/(?<!\r)\n/.test(text) && text.endsWith('\r\n');
}

test('netsh: golden files; the command has the proxy and a bypass list, and the reset is there', () => {
  const set = renderWinHttpSet(GW, ['intranet.contoso.test', '*.corp.contoso.test']);
  const reset = renderWinHttpReset(GW);
  assertGolden('winhttp-proxy.cmd', set);
  assertGolden('winhttp-reset.cmd', reset);
  assert.equal(
    winHttpSetCommand(GW, ['intranet.contoso.test']),
    'netsh winhttp set proxy proxy-server="gw1.contoso.test:3128" bypass-list="<local>;intranet.contoso.test"',
  );
  assert.ok(set.includes('bypass-list="<local>;intranet.contoso.test;*.corp.contoso.test"'));
  assert.match(set, /laptops/i, 'says when not to use it');
  assert.match(reset, /^netsh winhttp reset proxy\r$/m);
  assert.ok(crlfOnly(set) && crlfOnly(reset));
});

test('revocation note: golden file; names the mechanism, the fixes, their costs and the SSLOptions disagreement', () => {
  const note = renderRevocationNote({
    gateway: GW,
    sensor: true,
    antivirus: true,
    revocationHosts: ['crl.microsoft.com', 'ctldl.windowsupdate.com'],
  });
  assertGolden('certificate-revocation.md', note);
  assert.match(note, /PreferStaticProxyForHttpRequest/);
  assert.match(note, /winhttp-proxy\.cmd/);
  assert.match(note, /WinHTTP/);
  assert.match(note, /- crl\.microsoft\.com\r\n- ctldl\.windowsupdate\.com/);
  assert.match(
    note,
    /proxy page suggests 2 \(no revocation check\) \[\d\], the streamlined\r\nURL list says 0/,
  );
  const avOnly = renderRevocationNote({ gateway: GW, sensor: false, antivirus: true, revocationHosts: [] });
  assert.doesNotMatch(
    avOnly,
    /PreferStaticProxyForHttpRequest = 1/,
    'the sensor fix is not offered without the sensor',
  );
});

test('MDI: golden files; installer command line with ProxyUrl, module cmdlets, values as literals', () => {
  const install = renderMdiInstallCmd(GW);
  const ps = renderMdiProxyPowerShell(GW);
  assertGolden('mdi-install-sensor.cmd', install);
  assertGolden('Set-MDISensorProxy.ps1', ps);
  assert.match(
    install,
    /^"Azure ATP sensor Setup\.exe" \/quiet NetFrameworkCommandLineArguments="\/q" AccessKeyFile="%~1" ProxyUrl="http:\/\/gw1\.contoso\.test:3128"\r$/m,
  );
  const scan = scanPowerShell(ps);
  assert.ok(scan.singleQuoted.includes('http://gw1.contoso.test:3128'));
  assert.match(scan.code, /Set-MDISensorProxyConfiguration -ProxyUrl \$proxyUrl/);
  assert.match(scan.code, /Get-MDISensorProxyConfiguration/);
  assert.match(scan.code, /Test-MDISensorApiConnection/);
  assert.ok(!scan.code.includes(GW.host));
});

test('MMA (Windows): golden file; SetProxyInfo on the agent COM object, -WhatIf supported', () => {
  const ps = renderMmaWindowsPowerShell(GW);
  assertGolden('Set-MmaProxy.ps1', ps);
  const scan = scanPowerShell(ps);
  assert.ok(scan.singleQuoted.includes('AgentConfigManager.MgmtSvcCfg'));
  assert.match(scan.code, /\$agent\.SetProxyInfo\(\$proxyUrl, '', ''\)/);
  assert.match(scan.code, /SupportsShouldProcess/);
  assert.ok(!scan.code.includes(GW.host));
});

test('Arc (Windows): golden file; proxy.url and proxy.bypass through azcmagent', () => {
  const cmd = renderArcWindows(GW, ['ARM', 'Arc']);
  assertGolden('arc-proxy.cmd', cmd);
  assert.match(cmd, /^azcmagent config set proxy\.url "http:\/\/gw1\.contoso\.test:3128"\r$/m);
  assert.match(cmd, /^azcmagent config set proxy\.bypass "ARM,Arc"\r$/m);
  assert.doesNotMatch(renderArcWindows(GW, []), /config set proxy\.bypass/);
});
