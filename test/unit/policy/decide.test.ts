import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compilePolicy,
  decide,
  judgeServerName,
  parseAddress,
  serverNameChecked,
  type DestinationSpec,
  type HelloObservation,
  type Policy,
  type TlsRules,
} from '../../../src/policy/index.js';
import type { ReasonCode } from '../../../src/errors/index.js';

const origin = { source: 'config', where: 'test' } as const;
const dest = (host: string, ports?: number[]): DestinationSpec => ({
  host,
  origin,
  ...(ports ? { ports } : {}),
});

function build(): Policy {
  const compiled = compilePolicy({
    sources: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '127.0.0.1/32', '::1/128'].map(
      (cidr) => ({
        cidr,
        origin,
      }),
    ),
    destinations: [
      dest('.microsoft.com'),
      dest('winatp-gw-eus.microsoft.com'),
      dest('*.blob.core.windows.net'),
      dest('login.live.com'),
      dest('.atp.azure.com'),
      dest('crl.example.org', [80]),
      dest('bücher.example'),
      { cidr: '203.0.113.0/24', origin },
      { cidr: '2001:db8::/32', origin, ports: [443] },
    ],
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.errors.join('\n'));
  return compiled.policy;
}

const policy = build();

type Row = [
  name: string,
  source: string,
  method: string,
  host: string,
  port: number,
  reason: ReasonCode,
  rule?: string,
];

// prettier-ignore
const CASES: Row[] = [
  // Plain matches.
  ['exact name', '10.1.2.3', 'CONNECT', 'login.live.com', 443, 'ALLOWED', 'login.live.com'],
  ['domain rule admits the domain itself', '10.1.2.3', 'CONNECT', 'microsoft.com', 443, 'ALLOWED', '.microsoft.com'],
  ['domain rule admits a subdomain', '10.1.2.3', 'CONNECT', 'go.microsoft.com', 443, 'ALLOWED', '.microsoft.com'],
  ['domain rule admits a deep subdomain', '10.1.2.3', 'CONNECT', 'a.b.c.microsoft.com', 443, 'ALLOWED', '.microsoft.com'],
  ['most specific rule wins', '10.1.2.3', 'CONNECT', 'winatp-gw-eus.microsoft.com', 443, 'ALLOWED', 'winatp-gw-eus.microsoft.com'],
  ['subdomain wildcard admits one label', '10.1.2.3', 'CONNECT', 'x.blob.core.windows.net', 443, 'ALLOWED', '*.blob.core.windows.net'],
  ['subdomain wildcard admits several labels', '10.1.2.3', 'CONNECT', 'a.x.blob.core.windows.net', 443, 'ALLOWED', '*.blob.core.windows.net'],
  ['subdomain wildcard refuses the bare domain', '10.1.2.3', 'CONNECT', 'blob.core.windows.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['parent of a wildcard is not admitted', '10.1.2.3', 'CONNECT', 'core.windows.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['exact rule does not admit subdomains', '10.1.2.3', 'CONNECT', 'x.login.live.com', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['exact rule does not admit the parent', '10.1.2.3', 'CONNECT', 'live.com', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['MDI sensor under .atp.azure.com', '10.1.2.3', 'CONNECT', 'contoso-corpsensorapi.atp.azure.com', 443, 'ALLOWED', '.atp.azure.com'],
  ['unlisted host', '10.1.2.3', 'CONNECT', 'evil.example.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['plain HTTP to an allowed host on 80', '10.1.2.3', 'GET', 'crl.microsoft.com', 80, 'ALLOWED', '.microsoft.com'],
  ['HEAD is decided like GET', '10.1.2.3', 'HEAD', 'crl.microsoft.com', 80, 'ALLOWED', '.microsoft.com'],
  ['POST is decided like GET', '10.1.2.3', 'POST', 'crl.microsoft.com', 80, 'ALLOWED', '.microsoft.com'],
  // Case and trailing dot.
  ['upper case', '10.1.2.3', 'CONNECT', 'WINATP-GW-EUS.MICROSOFT.COM', 443, 'ALLOWED', 'winatp-gw-eus.microsoft.com'],
  ['mixed case', '10.1.2.3', 'CONNECT', 'Login.Live.Com', 443, 'ALLOWED', 'login.live.com'],
  ['one trailing dot', '10.1.2.3', 'CONNECT', 'login.live.com.', 443, 'ALLOWED', 'login.live.com'],
  ['upper case and trailing dot', '10.1.2.3', 'GET', 'CRL.MICROSOFT.COM.', 80, 'ALLOWED', '.microsoft.com'],
  ['two trailing dots are malformed', '10.1.2.3', 'CONNECT', 'login.live.com..', 443, 'BAD_HOST'],
  ['a lone dot is malformed', '10.1.2.3', 'CONNECT', '.', 443, 'BAD_HOST'],
  // IDN.
  ['IDN in Unicode matches its punycode rule', '10.1.2.3', 'CONNECT', 'bücher.example', 443, 'ALLOWED', 'xn--bcher-kva.example'],
  ['IDN in punycode matches', '10.1.2.3', 'CONNECT', 'xn--bcher-kva.example', 443, 'ALLOWED', 'xn--bcher-kva.example'],
  ['IDN in upper case', '10.1.2.3', 'CONNECT', 'BÜCHER.example', 443, 'ALLOWED', 'xn--bcher-kva.example'],
  ['IDN homograph is another name', '10.1.2.3', 'CONNECT', 'micrоsoft.com', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['fullwidth dot maps to a dot (same name connected)', '10.1.2.3', 'CONNECT', 'go\uff0emicrosoft.com', 443, 'ALLOWED', '.microsoft.com'],
  // Suffix tricks.
  ['no label boundary', '10.1.2.3', 'CONNECT', 'evilmicrosoft.com', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['allowed name as a prefix', '10.1.2.3', 'CONNECT', 'microsoft.com.evil.example.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['allowed name with a hyphen suffix', '10.1.2.3', 'CONNECT', 'microsoft.com-evil.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['wildcard without boundary', '10.1.2.3', 'CONNECT', 'xblob.core.windows.net', 443, 'DENY_HOST_NOT_ALLOWED'],
  ['empty label inside', '10.1.2.3', 'CONNECT', 'a..microsoft.com', 443, 'BAD_HOST'],
  ['leading dot in the request', '10.1.2.3', 'CONNECT', '.microsoft.com', 443, 'BAD_HOST'],
  ['star in the request', '10.1.2.3', 'CONNECT', '*.microsoft.com', 443, 'BAD_HOST'],
  ['space in the name', '10.1.2.3', 'CONNECT', 'go microsoft.com', 443, 'BAD_HOST'],
  ['percent-encoded name', '10.1.2.3', 'CONNECT', 'go%2emicrosoft.com', 443, 'BAD_HOST'],
  ['NUL byte in the name', '10.1.2.3', 'CONNECT', 'go.microsoft.com\u0000.evil.net', 443, 'BAD_HOST'],
  ['label of 64 characters', '10.1.2.3', 'CONNECT', `${'a'.repeat(64)}.microsoft.com`, 443, 'BAD_HOST'],
  ['label ending in a hyphen', '10.1.2.3', 'CONNECT', 'bad-.microsoft.com', 443, 'BAD_HOST'],
  ['name over 253 characters', '10.1.2.3', 'CONNECT', `${'a.'.repeat(130)}microsoft.com`, 443, 'BAD_HOST'],
  ['userinfo-like name', '10.1.2.3', 'CONNECT', 'login.live.com@evil.net', 443, 'BAD_HOST'],
  // IP literals.
  ['IPv4 literal without a CIDR rule', '10.1.2.3', 'CONNECT', '198.51.100.7', 443, 'DENY_IP_LITERAL'],
  ['IPv4 literal with a CIDR rule', '10.1.2.3', 'CONNECT', '203.0.113.10', 443, 'ALLOWED_IP_RULE', '203.0.113.0/24'],
  ['IPv4 literal in decimal form', '10.1.2.3', 'CONNECT', '2130706433', 443, 'DENY_IP_LITERAL'],
  ['IPv4 literal in hex form', '10.1.2.3', 'CONNECT', '0x7f.1', 443, 'DENY_IP_LITERAL'],
  ['IPv4 literal in hex matching a CIDR rule', '10.1.2.3', 'CONNECT', '0xcb.0.113.10', 443, 'ALLOWED_IP_RULE', '203.0.113.0/24'],
  ['numeric last label that is no address', '10.1.2.3', 'CONNECT', 'host.999', 443, 'BAD_HOST'],
  ['IPv6 literal without a rule', '10.1.2.3', 'CONNECT', '[2001:4860::1]', 443, 'DENY_IP_LITERAL'],
  ['IPv6 literal with a CIDR rule', '10.1.2.3', 'CONNECT', '[2001:db8::10]', 443, 'ALLOWED_IP_RULE', '2001:db8::/32'],
  ['IPv6 literal, rule port does not match', '10.1.2.3', 'GET', '[2001:db8::10]', 80, 'DENY_PORT', '2001:db8::/32'],
  ['IPv4-mapped IPv6 literal is judged as IPv4', '10.1.2.3', 'CONNECT', '[::ffff:203.0.113.10]', 443, 'ALLOWED_IP_RULE', '203.0.113.0/24'],
  ['IPv6 literal with a zone', '10.1.2.3', 'CONNECT', '[fe80::1%eth0]', 443, 'BAD_HOST'],
  ['loopback literal', '10.1.2.3', 'CONNECT', '127.0.0.1', 443, 'DENY_IP_LITERAL'],
  // Ports.
  ['CONNECT to 8443', '10.1.2.3', 'CONNECT', 'login.live.com', 8443, 'DENY_PORT', 'login.live.com'],
  ['CONNECT to 80', '10.1.2.3', 'CONNECT', 'crl.microsoft.com', 80, 'DENY_PORT', '.microsoft.com'],
  ['CONNECT to 22 on a wildcard', '10.1.2.3', 'CONNECT', 'x.blob.core.windows.net', 22, 'DENY_PORT', '*.blob.core.windows.net'],
  ['HTTP to 443', '10.1.2.3', 'GET', 'crl.microsoft.com', 443, 'DENY_PORT', '.microsoft.com'],
  ['HTTP to 8080', '10.1.2.3', 'GET', 'crl.microsoft.com', 8080, 'DENY_PORT', '.microsoft.com'],
  ['rule narrowed to port 80 refuses CONNECT 443', '10.1.2.3', 'CONNECT', 'crl.example.org', 443, 'DENY_PORT', 'crl.example.org'],
  ['rule narrowed to port 80 admits HTTP 80', '10.1.2.3', 'GET', 'crl.example.org', 80, 'ALLOWED', 'crl.example.org'],
  // Sources.
  ['10/8 source', '10.255.255.255', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['172.16/12 low edge', '172.16.0.1', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['172.16/12 high edge', '172.31.255.254', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['just outside 172.16/12', '172.32.0.1', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['192.168/16 source', '192.168.1.20', 'GET', 'crl.microsoft.com', 80, 'ALLOWED'],
  ['public IPv4 source', '198.51.100.2', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['public source asking for a denied host still gets the source reason', '198.51.100.2', 'CONNECT', 'evil.example.net', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['loopback 127.0.0.1 is allowed', '127.0.0.1', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['other loopback 127.0.0.2 is outside 127.0.0.1/32', '127.0.0.2', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['IPv6 unique-local source', 'fd12:3456::1', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['IPv6 loopback source', '::1', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['IPv6 global source', '2001:db8::5', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['IPv6 link-local source', 'fe80::1', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['IPv4-mapped IPv6 private source', '::ffff:10.1.2.3', 'CONNECT', 'login.live.com', 443, 'ALLOWED'],
  ['IPv4-mapped IPv6 public source', '::ffff:198.51.100.2', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  ['IPv4-mapped loopback source', '::ffff:127.0.0.1', 'GET', 'crl.microsoft.com', 80, 'ALLOWED'],
  ['unparseable source', 'not-an-address', 'CONNECT', 'login.live.com', 443, 'DENY_SOURCE_NOT_ALLOWED'],
  // Plain-HTTP methods: what revocation and update downloads use, nothing else by default.
  ['HEAD is forwarded', '10.1.2.3', 'HEAD', 'crl.microsoft.com', 80, 'ALLOWED'],
  ['POST is forwarded (OCSP)', '10.1.2.3', 'POST', 'crl.microsoft.com', 80, 'ALLOWED'],
  ['TRACE is refused', '10.1.2.3', 'TRACE', 'crl.microsoft.com', 80, 'DENY_METHOD'],
  ['PUT is refused', '10.1.2.3', 'PUT', 'crl.microsoft.com', 80, 'DENY_METHOD'],
  ['a lower-case method is not GET', '10.1.2.3', 'get', 'crl.microsoft.com', 80, 'DENY_METHOD'],
];

describe('decide(): the policy table', () => {
  test('has at least 60 cases', () => assert.ok(CASES.length >= 60, `${CASES.length} cases`));
  for (const [name, source, method, host, port, reason, rule] of CASES) {
    test(name, () => {
      const decision = decide(policy, { source, method, host, port });
      assert.equal(decision.reason, reason, `${method} ${host}:${port} from ${source}`);
      assert.equal(decision.verdict, reason.startsWith('ALLOWED') ? 'allow' : 'deny');
      assert.equal(decision.wouldDeny, null);
      if (rule !== undefined) assert.equal(decision.rule?.text, rule);
      if (!reason.startsWith('ALLOWED') && reason !== 'DENY_PORT') assert.equal(decision.rule, null);
    });
  }
});

describe('decide(): audit mode', () => {
  // prettier-ignore
  const AUDIT: [string, string, string, string, number, ReasonCode | null, ReasonCode][] = [
    ['an unlisted host is let through and marked', '10.1.2.3', 'CONNECT', 'evil.example', 443, 'DENY_HOST_NOT_ALLOWED', 'DENY_HOST_NOT_ALLOWED'],
    ['a refused port is let through and marked', '10.1.2.3', 'CONNECT', 'login.live.com', 8443, 'DENY_PORT', 'DENY_PORT'],
    ['an IP literal is let through and marked', '10.1.2.3', 'CONNECT', '198.51.100.7', 443, 'DENY_IP_LITERAL', 'DENY_IP_LITERAL'],
    ['a CONNECT from outside the sources stays refused', '198.51.100.2', 'CONNECT', 'login.live.com', 443, null, 'DENY_SOURCE_NOT_ALLOWED'],
    ['a GET from outside the sources stays refused', '198.51.100.2', 'GET', 'crl.microsoft.com', 80, null, 'DENY_SOURCE_NOT_ALLOWED'],
    ['a malformed host stays refused', '10.1.2.3', 'CONNECT', 'a..b', 443, null, 'BAD_HOST'],
    ['a refused method stays refused', '10.1.2.3', 'TRACE', 'crl.microsoft.com', 80, null, 'DENY_METHOD'],
  ];
  for (const [name, source, method, host, port, wouldDeny, reason] of AUDIT) {
    test(name, () => {
      const d = decide(policy, { source, method, host, port }, 'audit');
      assert.equal(d.verdict, wouldDeny === null ? 'deny' : 'allow');
      assert.equal(d.wouldDeny, wouldDeny);
      assert.equal(d.reason, reason);
    });
  }
});

describe('decide(): the destination a refusal names', () => {
  // prettier-ignore
  const SHOWN: [string, string, string, string, ReasonCode, string][] = [
    ['a refused method names the host normalised', '10.1.2.3', 'TRACE', 'CRL.Microsoft.COM.', 'DENY_METHOD', 'crl.microsoft.com'],
    ['a refused method names an IPv6 literal in canonical form', '10.1.2.3', 'PUT', '[2001:DB8:0::A]', 'DENY_METHOD', '2001:db8::a'],
    ['a refused method names an IPv4 literal in dotted form', '10.1.2.3', 'DELETE', '0x7f.1', 'DENY_METHOD', '127.0.0.1'],
    ['a refused source names the host normalised', '198.51.100.2', 'CONNECT', 'Login.Live.Com.', 'DENY_SOURCE_NOT_ALLOWED', 'login.live.com'],
    ['a refused source names an IPv6 literal in canonical form', '198.51.100.2', 'CONNECT', '[2001:DB8:0::A]', 'DENY_SOURCE_NOT_ALLOWED', '2001:db8::a'],
    ['a refused source names a malformed host as written', '198.51.100.2', 'CONNECT', 'a..B', 'DENY_SOURCE_NOT_ALLOWED', 'a..B'],
    ['a malformed host is named as written', '10.1.2.3', 'CONNECT', 'a..B', 'BAD_HOST', 'a..B'],
  ];
  for (const [name, source, method, host, reason, shown] of SHOWN) {
    test(name, () => {
      const d = decide(policy, { source, method, host, port: method === 'CONNECT' ? 443 : 80 });
      assert.deepEqual(
        { verdict: d.verdict, reason: d.reason, host: d.host, rule: d.rule },
        { verdict: 'deny', reason, host: shown, rule: null },
      );
    });
  }
});

describe('decide(): the client address', () => {
  const request = { method: 'CONNECT', host: 'login.live.com', port: 443 };
  test('an address already parsed (as the listener reports it) is judged like its text', () => {
    assert.equal(decide(policy, { ...request, source: parseAddress('10.1.2.3') }).reason, 'ALLOWED');
    assert.equal(
      decide(policy, { ...request, source: parseAddress('198.51.100.2') }).reason,
      'DENY_SOURCE_NOT_ALLOWED',
    );
  });
  test('an address that could not be read is refused like an outside source', () => {
    const d = decide(policy, { ...request, source: null });
    assert.deepEqual([d.verdict, d.reason, d.host], ['deny', 'DENY_SOURCE_NOT_ALLOWED', 'login.live.com']);
  });
});

describe('judgeServerName()', () => {
  const tls: TlsRules = { sniCheck: true, ports: [443], missingSni: 'deny', nonTls: 'deny' };
  const connect = decide(policy, {
    source: '10.1.2.3',
    method: 'CONNECT',
    host: 'login.live.com',
    port: 443,
  });
  const judge = (hello: HelloObservation, mode: 'enforce' | 'audit' = 'enforce', rules = tls) =>
    judgeServerName(policy, connect, 443, hello, rules, mode);

  test('the CONNECT host itself passes, in any case and with a trailing dot', () => {
    assert.deepEqual(judge({ status: 'ok', serverName: 'LOGIN.live.com.' }), {
      refusal: null,
      wouldDeny: null,
      sni: 'login.live.com',
    });
  });
  test('another allowed name passes (one certificate, several names)', () => {
    assert.equal(judge({ status: 'ok', serverName: 'go.microsoft.com' }).refusal, null);
  });
  test('a name the policy refuses is domain fronting', () => {
    assert.equal(judge({ status: 'ok', serverName: 'evil.example' }).refusal, 'DENY_SNI_MISMATCH');
  });
  test('an invalid name is refused', () => {
    assert.equal(judge({ status: 'ok', serverName: 'a..b' }).refusal, 'DENY_SNI_MISMATCH');
  });
  test('a missing name and non-TLS bytes follow the settings', () => {
    assert.equal(judge({ status: 'ok', serverName: null }).refusal, 'DENY_SNI_MISSING');
    assert.equal(judge({ status: 'not_tls' }).refusal, 'DENY_NOT_TLS');
    const lax: TlsRules = { ...tls, missingSni: 'allow', nonTls: 'allow' };
    assert.equal(judge({ status: 'ok', serverName: null }, 'enforce', lax).refusal, null);
    assert.equal(judge({ status: 'not_tls' }, 'enforce', lax).refusal, null);
  });
  test('audit mode marks a mismatch but still refuses malformed and missing hellos', () => {
    assert.deepEqual(judge({ status: 'ok', serverName: 'evil.example' }, 'audit'), {
      refusal: null,
      wouldDeny: 'DENY_SNI_MISMATCH',
      sni: 'evil.example',
    });
    assert.equal(judge({ status: 'malformed' }, 'audit').refusal, 'BAD_TLS_HELLO');
    assert.equal(judge({ status: 'incomplete' }, 'audit').refusal, 'TLS_HELLO_TIMEOUT');
  });
  test('an invalid name is refused and reported as the client sent it', () => {
    assert.deepEqual(judge({ status: 'ok', serverName: 'A..b' }), {
      refusal: 'DENY_SNI_MISMATCH',
      wouldDeny: null,
      sni: 'A..b',
    });
  });
  test('an IP literal as server name: the CONNECT address itself passes, reported in canonical form', () => {
    const toAddress = decide(policy, {
      source: '10.1.2.3',
      method: 'CONNECT',
      host: '[2001:db8::a]',
      port: 443,
    });
    assert.equal(toAddress.reason, 'ALLOWED_IP_RULE');
    assert.deepEqual(
      judgeServerName(policy, toAddress, 443, { status: 'ok', serverName: '2001:DB8:0::A' }, tls),
      {
        refusal: null,
        wouldDeny: null,
        sni: '2001:db8::a',
      },
    );
  });
  test('an IP literal as server name on a name tunnel passes only if the policy allows that address', () => {
    assert.deepEqual(judge({ status: 'ok', serverName: '0xcb.0.113.10' }), {
      refusal: null,
      wouldDeny: null,
      sni: '203.0.113.10',
    });
    assert.deepEqual(judge({ status: 'ok', serverName: '198.51.100.7' }), {
      refusal: 'DENY_SNI_MISMATCH',
      wouldDeny: null,
      sni: '198.51.100.7',
    });
  });
  test('audit mode: a tunnel let through to an unlisted host is not also marked when the name is that host', () => {
    const audited = decide(
      policy,
      { source: '10.1.2.3', method: 'CONNECT', host: 'evil.example', port: 443 },
      'audit',
    );
    assert.equal(audited.wouldDeny, 'DENY_HOST_NOT_ALLOWED');
    assert.deepEqual(
      judgeServerName(policy, audited, 443, { status: 'ok', serverName: 'EVIL.example' }, tls, 'audit'),
      { refusal: null, wouldDeny: null, sni: 'evil.example' },
    );
  });
  test('a passing hello yields neither a refusal nor a mark, in either mode', () => {
    const lax: TlsRules = { ...tls, missingSni: 'allow', nonTls: 'allow' };
    for (const mode of ['enforce', 'audit'] as const) {
      assert.deepEqual(judge({ status: 'ok', serverName: 'go.microsoft.com' }, mode), {
        refusal: null,
        wouldDeny: null,
        sni: 'go.microsoft.com',
      });
      assert.deepEqual(judge({ status: 'not_tls' }, mode, lax), {
        refusal: null,
        wouldDeny: null,
        sni: null,
      });
    }
  });
  test('the check applies only to the configured TLS ports', () => {
    assert.equal(serverNameChecked(tls, 443), true);
    assert.equal(serverNameChecked(tls, 8443), false);
    assert.equal(serverNameChecked({ ...tls, sniCheck: false }, 443), false);
  });
});

describe('compilePolicy()', () => {
  const compile = (destinations: DestinationSpec[], sources = ['10.0.0.0/8']) =>
    compilePolicy({
      sources: sources.map((cidr) => ({ cidr, origin })),
      destinations,
      ports: { connect: [443], http: [80] },
    });

  test('rejects a bad CIDR and names where it was written', () => {
    const result = compile([], ['10.0.0.0/33']);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.errors[0]!, /^test: "10.0.0.0\/33" is not a CIDR/);
  });
  test('rejects wildcards that are not a leading label', () => {
    const result = compile([dest('a.*.example.com'), dest('*example.com'), dest('*'), dest('.')]);
    assert.equal(result.ok ? 0 : result.errors.length, 4);
  });
  test('rejects an IP address written as a host rule, suggesting a CIDR', () => {
    const result = compile([dest('203.0.113.5')]);
    assert.match(result.ok ? '' : result.errors[0]!, /cidr: 203\.0\.113\.5\/32/);
  });
  test('rejects a URL written as a host rule', () => {
    const result = compile([dest('www.microsoft.com/pkiops/*')]);
    assert.equal(result.ok, false);
  });
  test('warns about duplicates and covered entries', () => {
    const result = compile([dest('.microsoft.com'), dest('crl.microsoft.com'), dest('.microsoft.com')]);
    assert.ok(result.ok);
    const warnings = result.ok ? result.warnings.join('\n') : '';
    assert.match(warnings, /duplicates/);
    assert.match(warnings, /"crl.microsoft.com" is already covered by ".microsoft.com"/);
  });
  test('a port-narrowed broad rule does not count as covering', () => {
    const result = compile([dest('.microsoft.com', [80]), dest('crl.microsoft.com')]);
    assert.ok(result.ok && !result.warnings.some((w) => w.includes('covered')));
  });
  test('warns that an empty source list refuses everyone', () => {
    const result = compile([dest('a.example')], []);
    assert.ok(result.ok && result.warnings.some((w) => w.includes('policy.sources is empty')));
  });
});
