import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SOURCES } from '../../../src/sources/index.js';
import {
  COMPONENTS,
  DISAGREEMENTS,
  ROUTE_SOURCES,
  explainInputs,
  explainMachine,
  type ComponentId,
  type Explanation,
  type MachineDescription,
  type Verdict,
} from '../../../src/advisor/index.js';

function component(e: Explanation, id: ComponentId) {
  const found = e.components.find((c) => c.component === id);
  assert.ok(found, `${id} present`);
  return found;
}

const P = '10.0.0.6:8080';

describe('model rules beyond the article scenarios', () => {
  const cases: {
    name: string;
    machine: MachineDescription;
    id: ComponentId;
    verdict: Verdict;
    rule: string;
    reason?: RegExp;
    fix?: RegExp;
  }[] = [
    {
      name: 'Linux: mdatp static proxy through an unauthenticated proxy works (mde-linux-static-proxy)',
      machine: {
        machine: { platform: 'linux' },
        linux: { mdatpProxy: `http://${P}` },
        network: { proxies: [{ address: P }] },
      },
      id: 'linux-cloud',
      verdict: 'works',
      rule: 'proxy-works',
    },
    {
      name: 'Linux: an authenticated proxy is unsupported (mde-linux-connectivity)',
      machine: {
        machine: { platform: 'linux' },
        linux: { mdatpProxy: `http://${P}` },
        network: { proxies: [{ address: P, authentication: 'required' }] },
      },
      id: 'linux-cloud',
      verdict: 'fails',
      rule: 'proxy-demands-credentials',
    },
    {
      name: 'Linux: TLS inspection is unsupported (mde-linux-connectivity)',
      machine: {
        machine: { platform: 'linux' },
        linux: { serviceEnvironmentProxy: `http://${P}` },
        network: { proxies: [{ address: P, tlsInspection: true }] },
      },
      id: 'linux-cloud',
      verdict: 'fails',
      rule: 'proxy-inspects-pinned',
      reason: /curl error 35 or 60/,
    },
    {
      name: 'Linux: no mdatp proxy and no direct path fails with the mdatp command as the fix',
      machine: {
        machine: { platform: 'linux' },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'linux-cloud',
      verdict: 'fails',
      rule: 'no-direct-egress',
      fix: /mdatp config proxy set --value http:\/\/10\.0\.0\.6:8080/,
    },
    {
      name: 'Linux via the Azure extension without the walinuxagent proxy: the extension deployment fails',
      machine: {
        machine: { platform: 'linux' },
        linux: { installedBy: 'azure-extension', installProxy: `http://${P}` },
        network: { directInternet: false },
      },
      id: 'linux-install',
      verdict: 'fails',
      rule: 'linux-extension-without-proxy',
      reason: /extension deployment fails and the sensor is not installed/,
      fix: /walinuxagent/,
    },
    {
      name: 'TelemetryProxyServer with a scheme and no other route: the documented format is host:port, so not "works"',
      machine: {
        machine: { platform: 'windows', userLoggedOn: false },
        windows: { telemetryProxy: { server: `http://${P}`, disableEnterpriseAuthProxy: true } },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'edr-telemetry',
      verdict: 'fails',
      rule: 'setting-format',
      reason: /carries a scheme; Microsoft documents host:port only.*direct connection/,
      fix: /TelemetryProxyServer \/t REG_SZ \/d 10\.0\.0\.6:8080/,
    },
    {
      name: 'TelemetryProxyServer with a scheme, WinHTTP set to the same proxy: degraded',
      machine: {
        machine: { platform: 'windows', userLoggedOn: false },
        windows: {
          telemetryProxy: { server: `http://${P}`, disableEnterpriseAuthProxy: true },
          winhttp: { proxy: P },
        },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'live-response',
      verdict: 'degraded',
      rule: 'setting-format',
      reason: /WinHTTP proxy \(netsh\) 10\.0\.0\.6:8080/,
    },
    {
      name: 'Defender Antivirus ProxyServer without a scheme and no other route: fails',
      machine: {
        machine: { platform: 'windows', userLoggedOn: false },
        windows: { antivirus: { proxyServer: P } },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'av-cloud-protection',
      verdict: 'fails',
      rule: 'setting-format',
      reason: /has no scheme; Microsoft says the value must start with http:\/\/ or https:\/\//,
      fix: /Set-MpPreference -ProxyServer "http:\/\/10\.0\.0\.6:8080"/,
    },
    {
      name: 'MDI: an authenticated proxy works when the sensor has credentials (mdi-proxy)',
      machine: {
        machine: { platform: 'windows', products: ['mdi'] },
        mdi: { proxyUrl: `http://${P}`, proxyCredentials: true },
        network: { proxies: [{ address: P, authentication: 'required' }] },
      },
      id: 'mdi-sensor',
      verdict: 'works',
      rule: 'proxy-works',
    },
    {
      name: 'MDI: TLS inspection breaks mutual TLS (mdi-proxy, mdi-known-issues)',
      machine: {
        machine: { platform: 'windows', products: ['mdi'] },
        mdi: { proxyUrl: `http://${P}` },
        network: { proxies: [{ address: P, tlsInspection: true }] },
      },
      id: 'mdi-sensor',
      verdict: 'fails',
      rule: 'proxy-inspects-pinned',
      reason: /mutual TLS/,
    },
    {
      name: 'MMA ignores the WinHTTP proxy (mma-overview)',
      machine: {
        machine: { platform: 'windows', products: ['mma'] },
        windows: { winhttp: { proxy: P } },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'mma',
      verdict: 'fails',
      rule: 'no-direct-egress',
      fix: /SetProxyInfo/,
    },
    {
      name: 'Arc uses proxy.url (arc-proxy)',
      machine: {
        machine: { platform: 'windows', products: ['arc'] },
        arc: { proxyUrl: `http://${P}` },
        network: { proxies: [{ address: P }] },
      },
      id: 'arc',
      verdict: 'works',
      rule: 'proxy-works',
    },
    {
      name: 'AMA with mode none and no direct path fails with the extension setting as the fix (ama-network)',
      machine: {
        machine: { platform: 'windows', products: ['ama'] },
        ama: { proxyMode: 'none' },
        network: { proxies: [{ address: P }] },
      },
      id: 'ama',
      verdict: 'fails',
      rule: 'no-direct-egress',
      fix: /"mode":"application"/,
    },
    {
      name: 'a WinHTTP bypass entry covering every destination sends the component direct',
      machine: {
        machine: { platform: 'windows', userLoggedOn: false },
        windows: { winhttp: { proxy: P, bypass: ['*.microsoft.com'] } },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'live-response',
      verdict: 'fails',
      rule: 'no-direct-egress',
      reason: /bypass list/,
    },
    {
      name: 'a bypass entry covering some destinations degrades the component',
      machine: {
        machine: { platform: 'windows', userLoggedOn: false },
        windows: { winhttp: { proxy: P, bypass: ['events.data.microsoft.com'] } },
        network: { directInternet: false, proxies: [{ address: P }] },
      },
      id: 'edr-telemetry',
      verdict: 'degraded',
      rule: 'bypass-without-direct-path',
      fix: /remove bypass entry "events\.data\.microsoft\.com"/,
    },
    {
      name: 'a TelemetryProxyServer that does not parse stops the sensor',
      machine: {
        machine: { platform: 'windows' },
        windows: { telemetryProxy: { server: '10.0.0.6:80a' } },
        network: { proxies: [{ address: P }] },
      },
      id: 'edr-telemetry',
      verdict: 'fails',
      rule: 'invalid-setting',
      reason: /TelemetryProxyServer is "10\.0\.0\.6:80a"/,
    },
    {
      name: 'a Defender Antivirus PAC file is not evaluated',
      machine: {
        machine: { platform: 'windows' },
        windows: { antivirus: { proxyPacUrl: 'http://pac.contoso.com/proxy.pac' } },
      },
      id: 'av-cloud-protection',
      verdict: 'degraded',
      rule: 'pac-not-evaluated',
    },
    {
      name: 'SSLOptions = 1 turns pinning off: inspection degrades cloud protection instead of breaking it (mdav-network)',
      machine: {
        machine: { platform: 'windows' },
        windows: { antivirus: { proxyServer: `http://${P}`, sslOptions: 1 }, winhttp: { proxy: P } },
        network: { proxies: [{ address: P, tlsInspection: true }] },
      },
      id: 'av-cloud-protection',
      verdict: 'degraded',
      rule: 'proxy-inspects-unpinned',
    },
    {
      name: 'a proxy that does not allow the agent URLs',
      machine: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: P } },
        network: { proxies: [{ address: P, allowsAgentUrls: false }] },
      },
      id: 'updates',
      verdict: 'fails',
      rule: 'proxy-blocks-agent-urls',
      fix: /definitionupdates\.microsoft\.com:443/,
    },
    {
      name: 'down-level Windows sends EDR through the MMA proxy (mde-urls-streamlined, mde-proxy)',
      machine: {
        machine: { platform: 'windows', windowsVersion: '8.1' },
        windows: { telemetryProxy: { server: P } },
        mma: { proxy: `http://${P}` },
        network: { proxies: [{ address: P }] },
      },
      id: 'edr-telemetry',
      verdict: 'works',
      rule: 'proxy-works',
      reason: /Log Analytics agent proxy setting/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const v = component(explainMachine(c.machine), c.id);
      assert.equal(v.verdict, c.verdict, `${v.verdict}: ${v.reason}`);
      assert.equal(v.rule, c.rule);
      if (c.reason) assert.match(v.reason, c.reason);
      if (c.fix)
        assert.match(`${v.fix?.setting ?? ''} ${v.fix?.change ?? ''} ${v.fix?.command ?? ''}`, c.fix);
    });
  }
});

describe('policy check and readings', () => {
  const machine: MachineDescription = {
    machine: { platform: 'windows', userLoggedOn: false, geography: 'eu' },
    windows: { telemetryProxy: { server: P, disableEnterpriseAuthProxy: true }, winhttp: { proxy: P } },
    network: { directInternet: false, proxies: [{ address: P }] },
  };

  test('the injected policy check refuses a destination: the component fails and names it', () => {
    const asked: string[] = [];
    const policyCheck = (host: string, port: number) => {
      asked.push(`${host}:${port}`);
      return host.startsWith('winatp-gw-')
        ? { allowed: false, reason: 'DENY_HOST_NOT_ALLOWED' }
        : { allowed: true, reason: 'ALLOWED' };
    };
    const e = explainMachine(machine, { policyCheck });
    const lr = component(e, 'live-response');
    assert.equal(lr.verdict, 'fails');
    assert.equal(lr.rule, 'policy-denies');
    assert.match(lr.reason, /refuses winatp-gw-weu\.microsoft\.com:443 \(DENY_HOST_NOT_ALLOWED\)/);
    assert.match(
      lr.fix?.change ?? '',
      /winatp-gw-weu\.microsoft\.com:443, winatp-gw-neu\.microsoft\.com:443/,
    );
    assert.equal(component(e, 'edr-telemetry').verdict, 'works');
    assert.ok(asked.includes('crl.microsoft.com:80'), 'CRL hosts are checked on port 80');
  });

  test('a proxy marked policyChecked: false is not checked', () => {
    const e = explainMachine(
      { ...machine, network: { directInternet: false, proxies: [{ address: P, policyChecked: false }] } },
      { policyCheck: () => ({ allowed: false, reason: 'no' }) },
    );
    assert.equal(component(e, 'live-response').verdict, 'works');
  });

  test('assume: picks the other reading and the explanation says so', () => {
    const unreachable: MachineDescription = {
      ...machine,
      network: {
        directInternet: false,
        proxies: [{ address: P, reachable: false }, { address: '10.0.0.7:3128' }],
      },
      windows: { telemetryProxy: { server: P }, winhttp: { proxy: '10.0.0.7:3128' } },
    };
    const byDefault = explainMachine(unreachable);
    const chosen = explainMachine({
      ...unreachable,
      assume: { 'static-proxy-unreachable': 'default-proxy' },
    });
    assert.equal(component(byDefault, 'edr-telemetry').verdict, 'fails');
    assert.equal(component(chosen, 'edr-telemetry').verdict, 'works');
    assert.equal(component(chosen, 'edr-telemetry').route.proxy, '10.0.0.7:3128');
    const reading = chosen.readings.find((r) => r.id === 'static-proxy-unreachable');
    assert.equal(reading?.assumed, 'default-proxy');
    assert.deepEqual(reading?.changes, ['edr-telemetry', 'live-response', 'user-context-services']);
    const viaOption = explainMachine(unreachable, {
      readings: { 'static-proxy-unreachable': 'default-proxy' },
    });
    assert.equal(component(viaOption, 'edr-telemetry').verdict, 'works');
  });

  test('gaps are filled with stated assumptions, including undescribed proxies', () => {
    const e = explainMachine({ windows: { winhttp: { proxy: '10.9.9.9:3128' } } });
    assert.ok(e.assumptions.some((a) => /userLoggedOn not given/.test(a)));
    assert.ok(e.assumptions.some((a) => /directInternet not given/.test(a)));
    assert.ok(e.assumptions.some((a) => /proxy 10\.9\.9\.9:3128 is not described/.test(a)));
  });
});

describe('the tables', () => {
  test('every component, route source and reading cites a known source', () => {
    const known = new Set<string>([...Object.keys(SOURCES), 'inference']);
    for (const c of COMPONENTS)
      for (const s of [...c.sources, ...c.authSources]) assert.ok(known.has(s), `${c.id}: ${s}`);
    for (const r of Object.values(ROUTE_SOURCES)) {
      assert.ok(r.sources.length > 0, r.id);
      for (const s of r.sources) assert.ok(known.has(s), `${r.id}: ${s}`);
    }
    for (const d of DISAGREEMENTS) {
      assert.equal(d.readings.length, 2, d.id);
      for (const r of d.readings)
        assert.ok(r.sources.length > 0 && r.sources.every((s) => known.has(s)), d.id);
    }
  });

  test('explainInputs merges pasted files, later inputs winning with a warning', () => {
    const result = explainInputs([
      { name: 'a.txt', text: 'Current WinHTTP proxy settings:\n\n    Direct access (no proxy server).\n' },
      {
        name: 'b.txt',
        text: 'Current WinHTTP proxy settings:\n\n    Proxy Server(s) :  10.0.0.6:8080\n    Bypass List     :  (none)\n',
      },
    ]);
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.equal(component(result.explanation, 'live-response').route.proxy, '10.0.0.6:8080');
    assert.ok(result.explanation.warnings.some((w) => /b\.txt: windows\.winhttp\.proxy was null/.test(w)));
  });

  test('explainInputs refuses Windows and Linux output for one machine', () => {
    const result = explainInputs([
      {
        name: 'netsh.txt',
        text: 'Current WinHTTP proxy settings:\n\n    Direct access (no proxy server).\n',
      },
      { name: 'health.txt', text: 'healthy : true\nlicensed : true\n' },
    ]);
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual([result.error.file, result.error.line], ['health.txt', 1]);
  });
});
