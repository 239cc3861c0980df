import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { REASONS } from '../../../src/errors/index.js';

const RFC9209 = new Set([
  'dns_timeout',
  'dns_error',
  'destination_not_found',
  'destination_unavailable',
  'destination_ip_prohibited',
  'destination_ip_unroutable',
  'connection_refused',
  'connection_terminated',
  'connection_timeout',
  'connection_read_timeout',
  'connection_write_timeout',
  'connection_limit_reached',
  'tls_protocol_error',
  'tls_certificate_error',
  'tls_alert_received',
  'http_request_error',
  'http_request_denied',
  'http_response_incomplete',
  'http_response_header_section_size',
  'http_response_header_size',
  'http_response_body_size',
  'http_response_trailer_section_size',
  'http_response_trailer_size',
  'http_response_transfer_coding',
  'http_response_content_coding',
  'http_response_timeout',
  'http_upgrade_failed',
  'http_protocol_error',
  'proxy_internal_response',
  'proxy_internal_error',
  'proxy_configuration_error',
  'proxy_loop_detected',
]);

test('every Proxy-Status error type is one RFC 9209 defines', () => {
  for (const [code, info] of Object.entries(REASONS)) {
    if (info.proxyStatus !== null) assert.ok(RFC9209.has(info.proxyStatus), `${code}: ${info.proxyStatus}`);
  }
});

test('docs/reason-codes.md lists exactly the codes of the table, with their statuses', () => {
  const doc = readFileSync(new URL('../../../../docs/reason-codes.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const match of doc.matchAll(/^\| `([A-Z_]+)` \| ([0-9—-]+) \|/gm)) rows.set(match[1]!, match[2]!);
  assert.deepEqual([...rows.keys()].sort(), Object.keys(REASONS).sort());
  for (const [code, info] of Object.entries(REASONS)) {
    assert.equal(rows.get(code), info.status === 0 ? '—' : String(info.status), code);
  }
});

test('refusals are 4xx/5xx and allows are 200', () => {
  for (const [code, info] of Object.entries(REASONS)) {
    // 505 is the status HTTP has for an HTTP version the server does not speak (RFC 9110 §15.6.6).
    if (code === 'BAD_VERSION') assert.equal(info.status, 505, code);
    else if (code.startsWith('DENY_') || code.startsWith('BAD_'))
      assert.ok(info.status >= 400 && info.status < 500, code);
    if (code.startsWith('FAIL_')) assert.ok(info.status >= 500, code);
    if (code.startsWith('ALLOWED')) assert.equal(info.status, 200, code);
  }
});
