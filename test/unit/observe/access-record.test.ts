import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toJsonFields, toSquidLine, type AccessRecord } from '../../../src/observe/index.js';

const base: AccessRecord = {
  start: Date.UTC(2026, 0, 2, 3, 4, 5, 600),
  durationMs: 1234,
  client: '10.20.0.2',
  clientPort: 50000,
  method: 'CONNECT',
  host: 'winatp-gw-eus.microsoft.com',
  port: 443,
  path: null,
  decision: 'allow',
  reason: 'ALLOWED',
  end: 'CLOSED',
  rule: '.microsoft.com',
  ruleOrigin: 'mdemdi.conf:8',
  sni: 'winatp-gw-eus.microsoft.com',
  upstream: '203.0.113.10:443',
  status: 200,
  bytesFromClient: 517,
  bytesToClient: 4096,
  detail: null,
};

test('Squid native line for a tunnel', () => {
  assert.equal(
    toSquidLine(base),
    '1767323046.834   1234 10.20.0.2 TCP_TUNNEL/200 4096 CONNECT winatp-gw-eus.microsoft.com:443 - HIER_DIRECT/203.0.113.10 -',
  );
});

test('Squid native line for a denied plain-HTTP request', () => {
  const line = toSquidLine({
    ...base,
    method: 'GET',
    host: 'evil.example.net',
    port: 80,
    path: '/x?y=1',
    decision: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
    upstream: null,
    status: 403,
    bytesToClient: 0,
    durationMs: 0,
  });
  assert.equal(
    line,
    '1767323045.600      0 10.20.0.2 TCP_DENIED/403 0 GET http://evil.example.net/x?y=1 - HIER_NONE/- -',
  );
});

test('Squid line with an IPv6 upstream and a non-default port', () => {
  const line = toSquidLine({
    ...base,
    method: 'GET',
    path: '/a',
    port: 8080,
    upstream: '[2001:db8::1]:8080',
  });
  assert.match(line, / GET http:\/\/winatp-gw-eus\.microsoft\.com:8080\/a - HIER_DIRECT\/2001:db8::1 -$/);
});

test('audit-mode lines are marked in the Squid user field', () => {
  const line = toSquidLine({ ...base, decision: 'would_deny', reason: 'DENY_HOST_NOT_ALLOWED' });
  assert.match(
    line,
    / CONNECT winatp-gw-eus\.microsoft\.com:443 would_deny:DENY_HOST_NOT_ALLOWED HIER_DIRECT\/203\.0\.113\.10 -$/,
  );
});

test('a tunnel cut after the SNI check is marked', () => {
  const line = toSquidLine({ ...base, decision: 'deny', reason: 'DENY_SNI_MISMATCH', end: null });
  assert.match(line, / TCP_DENIED\/200 4096 CONNECT \S+ deny:DENY_SNI_MISMATCH /);
});

test('JSON fields use the fixed vocabulary', () => {
  const fields = toJsonFields(base);
  assert.deepEqual(Object.keys(fields), [
    'start',
    'client',
    'client_port',
    'method',
    'host',
    'port',
    'path',
    'decision',
    'reason',
    'end',
    'rule',
    'sni',
    'rule_origin',
    'upstream',
    'status',
    'bytes_from_client',
    'bytes_to_client',
    'duration_ms',
    'detail',
  ]);
  assert.equal(fields.start, '2026-01-02T03:04:05.600Z');
});
