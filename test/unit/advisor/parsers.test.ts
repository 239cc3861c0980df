import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  decodeWinHttpSettings,
  hexToBytes,
  parseInput,
  parseMachineDescription,
  parseMdatpConfig,
  parseMdatpHealth,
  parseMpPreference,
  parseNetshAdvproxy,
  parseNetshWinHttp,
  parseRegExport,
  parseRegistryText,
  parseProxyAddress,
  selectHttpsProxy,
  type InputKind,
  type MachineFacts,
} from '../../../src/advisor/index.js';

const FIXTURES = new URL('../../../../test/fixtures/advisor/', import.meta.url);

/** Reads a fixture as the CLI would: UTF-16 with a byte-order mark, else UTF-8. */
function fixture(name: string): string {
  const bytes = readFileSync(new URL(name, FIXTURES));
  return bytes[0] === 0xff && bytes[1] === 0xfe
    ? bytes.subarray(2).toString('utf16le')
    : bytes.toString('utf8');
}

function parsed(name: string) {
  const result = parseInput({ name, text: fixture(name) });
  if (!result.ok) assert.fail(`${name} should parse: ${result.error.line}: ${result.error.message}`);
  return result.value;
}

describe('pasted output that parses', () => {
  const cases: { file: string; kind: InputKind; facts: MachineFacts; warning?: RegExp }[] = [
    {
      file: 'netsh-direct.txt',
      kind: 'netsh-winhttp',
      facts: { machine: { platform: 'windows' }, windows: { winhttp: { proxy: null, bypass: [] } } },
    },
    {
      file: 'netsh-proxy.txt',
      kind: 'netsh-winhttp',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: '172.16.12.10:3128', bypass: ['<local>', '*.contoso.com'] } },
      },
    },
    {
      file: 'netsh-advproxy.txt',
      kind: 'netsh-winhttp-advproxy',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          winhttp: {
            proxy:
              'http=http-proxy.com:8080;https=https-proxy.com:8081;ftp=ftp-proxy.com:8082;socks=socks-proxy.com:8083',
            bypass: [],
          },
        },
      },
      warning: /auto-detection \(WPAD\) is on/,
    },
    {
      file: 'netsh-advproxy-bypass.txt',
      kind: 'netsh-winhttp-advproxy',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: '10.0.0.6:8080', bypass: ['*.contoso.com', '<local>'] } },
      },
    },
    {
      file: 'netsh-advproxy-direct.txt',
      kind: 'netsh-winhttp-advproxy',
      facts: { machine: { platform: 'windows' }, windows: { winhttp: { proxy: null, bypass: [] } } },
    },
    {
      file: 'netsh-proxy-no-bypass.txt',
      kind: 'netsh-winhttp',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: 'proxy.contoso.com:8080', bypass: [] } },
      },
    },
    {
      file: 'netsh-per-scheme.txt',
      kind: 'netsh-winhttp',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: 'http=myproxy:80;https=sproxy.contoso.com:88', bypass: [] } },
      },
    },
    {
      file: 'netsh-http-only.txt',
      kind: 'netsh-winhttp',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: 'http=myproxy:80', bypass: [] } },
      },
      warning: /no https= entry/,
    },
    {
      file: 'reg-query-datacollection.txt',
      kind: 'reg-query',
      facts: {
        machine: { platform: 'windows' },
        windows: { telemetryProxy: { server: '172.16.12.12:3128', disableEnterpriseAuthProxy: true } },
      },
    },
    {
      file: 'reg-query-defender.txt',
      kind: 'reg-query',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyPacUrl: null,
            proxyBypass: ['intranet.contoso.com', 'updates.fabrikam.com'],
            sslOptions: 3,
          },
        },
      },
    },
    {
      file: 'reg-query-winhttp.txt',
      kind: 'reg-query',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: '172.16.12.10:3128', bypass: ['<local>', '*.contoso.com'] } },
      },
    },
    {
      file: 'reg-query-wininet.txt',
      kind: 'reg-query',
      facts: {
        machine: { platform: 'windows' },
        windows: { wininet: { proxy: '172.16.12.11:3128', bypass: ['*.contoso.com', '<local>'] } },
      },
    },
    {
      file: 'reg-query-nonpolicy-path.txt',
      kind: 'reg-query',
      facts: { machine: { platform: 'windows' }, windows: { preferStaticProxyForHttpRequest: true } },
      warning: /not the Group Policy key/,
    },
    {
      file: 'policies.reg',
      kind: 'reg-export',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          winhttp: { proxy: '172.16.12.10:3128', bypass: ['<local>', '*.contoso.com'] },
          telemetryProxy: { server: '172.16.12.12:3128', disableEnterpriseAuthProxy: true },
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyBypass: ['intranet.contoso.com', 'updates.fabrikam.com'],
          },
        },
      },
    },
    {
      file: 'policies-utf16.reg',
      kind: 'reg-export',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          winhttp: { proxy: '172.16.12.10:3128', bypass: ['<local>', '*.contoso.com'] },
          telemetryProxy: { server: '172.16.12.12:3128', disableEnterpriseAuthProxy: true },
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyBypass: ['intranet.contoso.com', 'updates.fabrikam.com'],
          },
        },
      },
    },
    {
      file: 'mppreference-list.txt',
      kind: 'mp-preference',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyPacUrl: null,
            proxyBypass: ['intranet.contoso.com', 'updates.fabrikam.com'],
          },
        },
      },
    },
    {
      file: 'mppreference-table.txt',
      kind: 'mp-preference',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyPacUrl: 'https://pac.contoso.com/proxy.pac',
            proxyBypass: [],
          },
        },
      },
    },
    {
      file: 'mppreference-table-empty.txt',
      kind: 'mp-preference',
      facts: {
        machine: { platform: 'windows' },
        windows: { antivirus: { proxyServer: null, proxyPacUrl: null, proxyBypass: [] } },
      },
    },
    {
      file: 'mppreference-full.txt',
      kind: 'mp-preference',
      facts: {
        machine: { platform: 'windows' },
        windows: {
          antivirus: {
            proxyServer: 'http://172.16.12.12:3128',
            proxyPacUrl: null,
            proxyBypass: [
              'intranet.contoso.com',
              '*.fabrikam.com',
              'legacy-app.contoso.com',
              'updates.fabrikam.com',
            ],
          },
        },
      },
    },
    {
      file: 'mdatp-health.txt',
      kind: 'mdatp-health',
      facts: {
        machine: { platform: 'linux' },
        linux: { licensed: true, cloudEnabled: true, healthIssues: [] },
      },
      warning: /read as Linux/,
    },
    {
      file: 'mdatp-health-unhealthy.txt',
      kind: 'mdatp-health',
      facts: {
        machine: { platform: 'linux' },
        linux: { licensed: false, cloudEnabled: false, healthIssues: ['no active event provider'] },
      },
    },
    {
      file: 'mdatp-health-details-edr.txt',
      kind: 'mdatp-health',
      facts: { machine: { platform: 'linux', connectivity: 'streamlined', geography: 'eu' }, linux: {} },
    },
    {
      file: 'mdatp-config.txt',
      kind: 'mdatp-config',
      facts: { machine: { platform: 'linux' }, linux: { mdatpProxy: 'http://10.10.0.5:3128' } },
    },
    {
      file: 'mdatp-managed.json',
      kind: 'mdatp-managed-json',
      facts: { machine: { platform: 'linux' }, linux: { mdatpProxy: 'http://10.10.0.5:3128/' } },
    },
    {
      file: 'winhttp-blob-direct.txt',
      kind: 'winhttp-blob',
      facts: { machine: { platform: 'windows' }, windows: { winhttp: { proxy: null, bypass: [] } } },
    },
    {
      file: 'winhttp-blob-proxy.txt',
      kind: 'winhttp-blob',
      facts: {
        machine: { platform: 'windows' },
        windows: { winhttp: { proxy: '172.16.12.10:3128', bypass: ['<local>', '*.contoso.com'] } },
      },
    },
    {
      file: 'machine-lab-static-wininet.yaml',
      kind: 'machine-description',
      facts: {
        machine: {
          name: 'WORKSTATION',
          platform: 'windows',
          role: 'workstation',
          windowsVersion: '11',
          userLoggedOn: false,
        },
        network: {
          directInternet: false,
          proxies: [{ address: '172.16.12.11:3128' }, { address: '172.16.12.12:3128' }],
        },
        assume: { 'revocation-for-cloud-protection': 'not-observed' },
      },
    },
  ];
  for (const c of cases) {
    test(`${c.file} is ${c.kind}`, () => {
      const input = parsed(c.file);
      assert.equal(input.kind, c.kind);
      assert.deepEqual(input.facts, c.facts);
      if (c.warning)
        assert.ok(
          input.warnings.some((w) => c.warning?.test(w.message)),
          JSON.stringify(input.warnings),
        );
    });
  }
});

describe('malformed and truncated pasted output', () => {
  const cases: { file: string; line: number; message: RegExp }[] = [
    { file: 'netsh-header-only.txt', line: 5, message: /ends before the proxy settings/ },
    { file: 'netsh-cut-address.txt', line: 4, message: /is not a host name or IP address/ },
    { file: 'netsh-garbled.txt', line: 5, message: /unexpected line in netsh output: "Bypass Lis"/ },
    { file: 'netsh-advproxy-truncated.txt', line: 6, message: /not closed \(truncated paste\?\)/ },
    { file: 'netsh-advproxy-bad-value.txt', line: 2, message: /ProxyIsEnabled must be true or false/ },
    { file: 'reg-query-bad-dword.txt', line: 4, message: /REG_DWORD data "1" is not a 0x/ },
    { file: 'reg-query-unrelated.txt', line: 3, message: /none of the registry values/ },
    { file: 'policies-truncated.reg', line: 4, message: /continues past the end/ },
    { file: 'mppreference-table-cut.txt', line: 4, message: /ProxyServer .* was cut by PowerShell/ },
    { file: 'mppreference-bad-server.txt', line: 1, message: /"31x8" is not a port/ },
    { file: 'mdatp-health-truncated.txt', line: 2, message: /health_issues: the list is not closed/ },
    { file: 'mdatp-managed-bad.json', line: 4, message: /only http:\/\/ and https:\/\/ proxies/ },
    { file: 'winhttp-blob-truncated.txt', line: 1, message: /needs 17 bytes but only 4 follow/ },
    { file: 'machine-bad-key.yaml', line: 8, message: /network\.proxies\[0\]\.authenticaton: unknown key/ },
    { file: 'unknown.txt', line: 1, message: /not recognised/ },
  ];
  for (const c of cases) {
    test(`${c.file} fails at line ${c.line}`, () => {
      const result = parseInput({ name: c.file, text: fixture(c.file) });
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.file, c.file);
      assert.equal(result.error.line, c.line);
      assert.match(result.error.message, c.message);
    });
  }
});

describe('parser details', () => {
  test('netsh: two outputs pasted into one file are refused at the second header', () => {
    const text = `${fixture('netsh-direct.txt')}\n${fixture('netsh-proxy.txt')}`;
    const result = parseNetshWinHttp(text);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error.message, /second netsh output/);
  });

  test('netsh: a proxy line without its Bypass List line is a warning, not an error', () => {
    const result = parseNetshWinHttp(
      'Current WinHTTP proxy settings:\n\n    Proxy Server(s) :  10.0.0.6:8080\n',
    );
    assert.equal(result.ok, true);
    if (result.ok) assert.match(result.warnings[0]?.message ?? '', /no "Bypass List" line/);
  });

  test('netsh show advproxy: the per-user flag and the HTTPS entry of a per-scheme list are reported', () => {
    const result = parseNetshAdvproxy(fixture('netsh-advproxy.txt'));
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.ok(result.warnings.some((w) => /PerUserProxySettings is true/.test(w.message) && w.line === 10));
    // show proxy output that heads itself as advanced is handed to the advproxy parser.
    const viaShowProxy = parseNetshWinHttp(fixture('netsh-advproxy-direct.txt'));
    assert.deepEqual(viaShowProxy.ok && viaShowProxy.value, {
      machine: { platform: 'windows' },
      windows: { winhttp: { proxy: null, bypass: [] } },
    });
    // A proxy the ProxyIsEnabled flag turns off is not used.
    const off = parseNetshAdvproxy('{ "ProxyIsEnabled": false, "Proxy": "10.0.0.6:8080" }');
    assert.ok(off.ok && off.value.windows?.winhttp?.proxy === null);
    assert.ok(off.ok && off.warnings.some((w) => /is not used/.test(w.message)));
  });

  test('WinHttpSettings: the documented direct-access value decodes as direct', () => {
    const hex = hexToBytes('1800000000000000010000000000000000000000');
    assert.ok(hex.ok);
    if (!hex.ok) return;
    const decoded = decodeWinHttpSettings(hex.bytes);
    assert.deepEqual(decoded.ok && decoded.value, { proxy: null, bypass: [], flags: 1 });
  });

  test('WinHttpSettings: a stored proxy with the proxy flag off is direct, with a warning', () => {
    const proxy = Buffer.from('10.0.0.6:8080', 'ascii');
    const bytes = Buffer.concat([
      Buffer.from([0x28, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, proxy.length, 0, 0, 0]),
      proxy,
      Buffer.from([0, 0, 0, 0]),
    ]);
    const decoded = decodeWinHttpSettings(bytes);
    assert.ok(decoded.ok);
    if (!decoded.ok) return;
    assert.equal(decoded.value.proxy, null);
    assert.match(decoded.warnings.join(), /proxy flag is off/);
  });

  test('WinHttpSettings: an odd number of hex digits is reported as truncated', () => {
    const hex = hexToBytes('180000000');
    assert.deepEqual(hex, { ok: false, message: 'odd number of hex digits (truncated?)' });
  });

  test('reg query: REG_MULTI_SZ ProxyBypass and ProxyEnable 0 for WinINET', () => {
    const text = [
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender',
      '    ProxyBypass    REG_MULTI_SZ    intranet.contoso.com\\0updates.fabrikam.com',
      '',
      'HKEY_USERS\\S-1-5-21-1004336348-1177238915-682003330-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
      '    ProxyEnable    REG_DWORD    0x0',
      '    ProxyServer    REG_SZ    10.0.0.7:8080',
      '',
    ].join('\r\n');
    const result = parseRegistryText(text);
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.deepEqual(result.value.windows?.antivirus?.proxyBypass, [
      'intranet.contoso.com',
      'updates.fabrikam.com',
    ]);
    assert.equal(result.value.windows?.wininet?.proxy, null);
    assert.match(result.warnings.map((w) => w.message).join(), /ProxyEnable is 0/);
  });

  test('reg query: a value of the wrong type names its line', () => {
    const text =
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection\n    TelemetryProxyServer    REG_DWORD    0x1\n';
    const result = parseRegistryText(text);
    assert.deepEqual(result, {
      ok: false,
      error: { line: 2, message: 'TelemetryProxyServer should be REG_SZ, not REG_DWORD' },
    });
  });

  test('.reg: escaped characters, hex(7) multi-strings and REGEDIT4', () => {
    const multi = Buffer.from('a.contoso.com\0b.contoso.com\0\0', 'utf16le');
    const text = [
      'REGEDIT4',
      '',
      '[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender]',
      `"ProxyBypass"=hex(7):${[...multi].map((b) => b.toString(16).padStart(2, '0')).join(',')}`,
      '"ProxyPacUrl"="file:\\\\\\\\server\\\\share\\\\proxy.pac"',
    ].join('\n');
    const values = parseRegExport(text);
    assert.ok(values.ok);
    if (!values.ok) return;
    assert.deepEqual(
      values.value.map((v) => v.data.value),
      [['a.contoso.com', 'b.contoso.com'], 'file:\\\\server\\share\\proxy.pac'],
    );
  });

  test('.reg: a string value without its closing quote is truncated', () => {
    const text =
      'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection]\n"TelemetryProxyServer"="172.16.12.12:31\n';
    const result = parseRegExport(text);
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual([result.error.line, /not closed/.test(result.error.message)], [4, true]);
  });

  test('Get-MpPreference table: a cut bypass list is kept without its cut entry, with a warning', () => {
    const text = [
      'ProxyBypass                                  ProxyPacUrl ProxyServer',
      '-----------                                  ----------- -----------',
      '{intranet.contoso.com, updates.fabrikam.c...}             http://10.0.0.6:8080',
    ].join('\n');
    const result = parseMpPreference(text);
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.deepEqual(result.value.windows?.antivirus?.proxyBypass, ['intranet.contoso.com']);
    assert.match(result.warnings[0]?.message ?? '', /cut by PowerShell/);
  });

  test('mdatp health: a field named like a proxy is reported as not interpreted', () => {
    const result = parseMdatpHealth(
      'healthy : true\nlicensed : true\nproxy_address : "http://10.0.0.5:3128"\n',
    );
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.equal(result.value.linux?.mdatpProxy, undefined);
    assert.match(
      result.warnings.map((w) => w.message).join(),
      /proxy_address is not in Microsoft's mdatp health reference/,
    );
  });

  test('mdatp config: an empty value clears the proxy; a bad one names the line', () => {
    const cleared = parseMdatpConfig(
      '$ mdatp config proxy set --value http://10.0.0.5:3128\n$ mdatp config proxy set --value ""\n',
    );
    assert.deepEqual(cleared.ok && cleared.value.linux, { mdatpProxy: null });
    const bad = parseMdatpConfig('$ sudo mdatp config proxy set --value http://10.0.0.5:port\n');
    assert.deepEqual(bad.ok ? null : bad.error.line, 1);
  });

  test('machine description: a YAML syntax error names its line; JSON descriptions work', () => {
    const broken = parseMachineDescription(
      'machine:\n  name: WS01\n  products: [mde,\nnetwork:\n  directInternet: false\n',
    );
    assert.equal(broken.ok, false);
    if (!broken.ok) assert.ok(broken.error.line >= 3, `line ${broken.error.line}`);
    const json = parseInput({
      name: 'm.json',
      text: '{ "machine": { "platform": "linux" }, "linux": { "mdatpProxy": "http://10.0.0.5:3128" } }',
    });
    assert.equal(json.ok && json.value.kind, 'machine-description');
  });

  test('machine description: an invalid proxy address is refused with its line', () => {
    const result = parseMachineDescription('windows:\n  winhttp:\n    proxy: "10.0.0.6:99999"\n');
    assert.deepEqual(result.ok ? null : result.error, {
      line: 3,
      message: 'windows.winhttp.proxy: "10.0.0.6:99999": port 99999 is out of range',
    });
  });
});

describe('proxy addresses', () => {
  const cases: { text: string; expect: string | RegExp }[] = [
    { text: '10.0.0.6:8080', expect: 'null|10.0.0.6|8080' },
    { text: 'http://10.0.0.6:8080', expect: 'http|10.0.0.6|8080' },
    { text: 'http://proxy.server:3128/', expect: 'http|proxy.server|3128' },
    { text: 'https://Proxy.Contoso.com', expect: 'https|proxy.contoso.com|443' },
    { text: 'http://user:pass@10.0.0.6:8080', expect: 'http|10.0.0.6|8080' },
    { text: '[fd00::6]:3128', expect: 'null|fd00::6|3128' },
    { text: 'socks5://10.0.0.6:1080', expect: /only http/ },
    { text: 'http://10.0.0.6:8080/proxy.pac', expect: /has a path/ },
    { text: '10.0.0.6 :8080', expect: /contains spaces/ },
    { text: 'fd00::6:3128', expect: /IPv6 needs \[brackets\]/ },
  ];
  for (const c of cases) {
    test(`"${c.text}"`, () => {
      const result = parseProxyAddress(c.text);
      if (typeof c.expect === 'string') {
        assert.ok(result.ok, result.ok ? '' : result.message);
        if (result.ok)
          assert.equal(`${result.value.scheme}|${result.value.host}|${result.value.port}`, c.expect);
      } else {
        assert.equal(result.ok, false);
        if (!result.ok) assert.match(result.message, c.expect);
      }
    });
  }

  test('WinHTTP lists: https= wins, plain entries serve all schemes, http-only lists go direct for HTTPS', () => {
    const pick = (list: string) => {
      const r = selectHttpsProxy(list);
      return r.ok ? (r.value ? `${r.value.host}:${r.value.port}` : 'direct') : 'error';
    };
    assert.deepEqual(['http=a:80;https=b:88', 'a:8080', 'http=a:80', 'https=b:88 c:81', ''].map(pick), [
      'b:88',
      'a:8080',
      'direct',
      'b:88',
      'error',
    ]);
  });
});
