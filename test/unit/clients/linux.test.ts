import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AZURE_IMDS,
  AZURE_WIRE_SERVER,
  mdatpManagedSettings,
  parseGatewayAddress,
  renderAptProxyConf,
  renderArcLinux,
  renderMacosPreferences,
  renderMdatpManagedJson,
  renderMdatpProxyScript,
  renderOmsagentScript,
  renderWalinuxagentDropIn,
  renderWalinuxagentScript,
  renderYumDnfProxyScript,
  type GatewayAddress,
} from '../../../src/clients/index.js';
import { assertGolden } from './golden.js';

function gateway(text: string): GatewayAddress {
  const parsed = parseGatewayAddress(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
const GW = gateway('gw1.contoso.test:3128');
const dir = mkdtempSync(join(tmpdir(), 'airlock-clients-linux-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `sh -n` and `bash -n`: the script parses in both shells. */
function assertShellSyntax(name: string, script: string): void {
  const path = join(dir, name);
  writeFileSync(path, script);
  for (const shell of ['sh', 'bash']) {
    assert.doesNotThrow(() => execFileSync(shell, ['-n', path], { stdio: 'pipe' }), `${shell} -n ${name}`);
  }
  assert.ok(script.startsWith('#!/bin/sh\n'));
  assert.match(script, /^set -eu$/m);
  assert.ok(!script.includes('\r'), 'LF line ends');
}

test('mdatp: golden files; the runtime proxy command and the managed-configuration fragment', () => {
  const script = renderMdatpProxyScript(GW);
  const json = renderMdatpManagedJson(GW);
  assertGolden('linux/mdatp-proxy.sh', script);
  assertGolden('linux/mdatp_managed.json', json);
  assertShellSyntax('mdatp-proxy.sh', script);
  assert.match(script, /^PROXY='http:\/\/gw1\.contoso\.test:3128'$/m);
  assert.match(script, /^mdatp config proxy set --value "\$PROXY"$/m);
  assert.match(script, /^mdatp connectivity test$/m);
  const parsed = JSON.parse(json) as unknown;
  assert.deepEqual(parsed, { cloudService: { proxy: 'http://gw1.contoso.test:3128/' } });
  assert.deepEqual(parsed, mdatpManagedSettings(GW));
});

test('apt: golden file; per-host proxy for packages.microsoft.com only', () => {
  const conf = renderAptProxyConf(GW);
  assertGolden('linux/apt-microsoft-proxy.conf', conf);
  const settings = conf.split('\n').filter((l) => l !== '' && !l.startsWith('//'));
  assert.deepEqual(settings, [
    'Acquire::https::Proxy::packages.microsoft.com "http://gw1.contoso.test:3128/";',
    'Acquire::http::Proxy::packages.microsoft.com "http://gw1.contoso.test:3128/";',
  ]);
});

test('yum/dnf: golden file; the edit adds proxy= to Microsoft repositories only, and running it twice changes nothing', () => {
  const script = renderYumDnfProxyScript(GW);
  assertGolden('linux/yum-dnf-microsoft-proxy.sh', script);
  assertShellSyntax('yum-dnf.sh', script);
  const sedLine = script.split('\n').find((l) => l.trimStart().startsWith('sed -i'));
  assert.ok(sedLine !== undefined);
  const repo = join(dir, 'microsoft-prod.repo');
  writeFileSync(
    repo,
    [
      '[packages-microsoft-com-prod]',
      'name=packages-microsoft-com-prod',
      'baseurl=https://packages.microsoft.com/rhel/9/prod/',
      'enabled=1',
      '',
      '[other]',
      'name=other',
      'baseurl=https://mirror.example.test/os/',
      '',
    ].join('\n'),
  );
  const run = (): void =>
    void execFileSync('sh', ['-c', `f=${JSON.stringify(repo)}\n${sedLine}`], { stdio: 'pipe' });
  run();
  const once = readFileSync(repo, 'utf8');
  run();
  assert.equal(readFileSync(repo, 'utf8'), once, 'idempotent');
  const lines = once.split('\n');
  assert.equal(lines.filter((l) => l === 'proxy=http://gw1.contoso.test:3128').length, 1);
  assert.equal(
    lines[lines.indexOf('baseurl=https://packages.microsoft.com/rhel/9/prod/') + 1],
    'proxy=http://gw1.contoso.test:3128',
  );
  assert.equal(
    lines[lines.indexOf('baseurl=https://mirror.example.test/os/') + 1],
    '',
    'other repositories untouched',
  );
});

test('walinuxagent: golden files; 13-Proxy.conf has one [Service] section with http_proxy and https_proxy', () => {
  const dropIn = renderWalinuxagentDropIn(GW);
  const script = renderWalinuxagentScript(GW);
  assertGolden('linux/13-Proxy.conf', dropIn);
  assertGolden('linux/walinuxagent-proxy.sh', script);
  assertShellSyntax('walinuxagent-proxy.sh', script);
  const body = dropIn.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(body[0], '[Service]');
  const env = new Map(
    body.slice(1).map((line) => {
      const m = /^Environment=([a-z_]+)=(\S+)$/.exec(line);
      assert.ok(m, `not an Environment= line: ${line}`);
      return [m[1]!, m[2]!] as const;
    }),
  );
  assert.equal(env.get('http_proxy'), 'http://gw1.contoso.test:3128');
  assert.equal(env.get('https_proxy'), 'http://gw1.contoso.test:3128');
  assert.equal(
    env.get('no_proxy'),
    `${AZURE_WIRE_SERVER},${AZURE_IMDS}`,
    'the wire server and the instance metadata service stay off the proxy',
  );
  // The script installs exactly the same [Service] block, then reloads and restarts.
  const heredoc = /<<'AIRLOCK_EOF'\n([\s\S]*?)\nAIRLOCK_EOF\n/.exec(script);
  assert.ok(heredoc);
  assert.deepEqual(heredoc[1]!.split('\n'), body);
  assert.ok(script.indexOf('systemctl daemon-reload') < script.indexOf('systemctl restart "$unit"'));
});

test('omsagent: golden file; proxy.conf owned by omsagent:omiusers, mode 600, then a restart', () => {
  const script = renderOmsagentScript(GW);
  assertGolden('linux/omsagent-proxy.sh', script);
  assertShellSyntax('omsagent-proxy.sh', script);
  assert.match(script, /chown omsagent:omiusers/);
  assert.match(script, /chmod 600/);
  assert.match(script, /^\/opt\/microsoft\/omsagent\/bin\/service_control restart$/m);
});

test('Arc (Linux): golden file; azcmagent proxy.url and bypass groups', () => {
  const script = renderArcLinux(GW, ['Arc']);
  assertGolden('linux/arc-proxy.sh', script);
  assertShellSyntax('arc-proxy.sh', script);
  assert.match(script, /^azcmagent config set proxy\.url 'http:\/\/gw1\.contoso\.test:3128'$/m);
  assert.match(script, /^azcmagent config set proxy\.bypass 'Arc'$/m);
});

test('macOS: golden file; cloudService.proxy in a well-formed plist', () => {
  const plist = renderMacosPreferences(GW);
  assertGolden('macos/com.microsoft.wdav.plist', plist);
  assert.match(
    plist,
    /<key>cloudService<\/key>\n\s*<dict>\n\s*<key>proxy<\/key>\n\s*<string>http:\/\/gw1\.contoso\.test:3128<\/string>\n\s*<\/dict>/,
  );
  // Tags balance (a minimal well-formedness check: comments and declarations stripped).
  const body = plist.replace(/<!--[\s\S]*?-->/g, '').replace(/<[?!][^>]*>/g, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') assert.equal(stack.pop(), m[2]);
    else stack.push(m[2]!);
  }
  assert.deepEqual(stack, []);
});
