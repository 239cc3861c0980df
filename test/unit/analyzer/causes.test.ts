import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { causeOf, proxyErrorCode, type MethodResult } from '../../../src/analyzer/index.js';

/** The cause of each kind of failure, and the agreement between a client's view and the gateway box's. */

function failed(partial: Partial<MethodResult> & Pick<MethodResult, 'error'>): MethodResult {
  return {
    method: 'gateway',
    outcome: 'failed',
    route: 'PROXY 10.0.0.5:3128',
    routeNote: null,
    status: null,
    stages: [],
    tls: null,
    proxyAuth: null,
    proxyReason: null,
    warnings: [],
    ...partial,
  };
}

describe('proxyErrorCode', () => {
  test("a proxy's answer is a refusal, or a failure to reach the destination", () => {
    assert.equal(proxyErrorCode(403, 'DENY_HOST_NOT_ALLOWED'), 'PROXY_REFUSED');
    assert.equal(proxyErrorCode(503, 'LIMIT_CONNECTIONS'), 'PROXY_REFUSED');
    assert.equal(proxyErrorCode(502, 'FAIL_DNS'), 'PROXY_UPSTREAM_FAILED');
    assert.equal(proxyErrorCode(504, 'FAIL_CONNECT_TIMEOUT'), 'PROXY_UPSTREAM_FAILED');
    assert.equal(proxyErrorCode(502, 'dns_error'), 'PROXY_UPSTREAM_FAILED');
    assert.equal(proxyErrorCode(403, 'http_request_denied'), 'PROXY_REFUSED');
    assert.equal(proxyErrorCode(502, null), 'PROXY_UPSTREAM_FAILED');
    assert.equal(proxyErrorCode(403, null), 'PROXY_REFUSED');
  });
});

describe('causeOf', () => {
  const GATEWAY_DNS = failed({
    error: { code: 'PROXY_UPSTREAM_FAILED', stage: 'proxy', message: 'CONNECT answered 502 [FAIL_DNS]' },
    proxyReason: 'FAIL_DNS',
  });

  test('the same DNS failure reads the same from a client and on the gateway box', () => {
    const client = causeOf(GATEWAY_DNS, 'client')!;
    const box = causeOf(
      failed({
        method: 'direct',
        route: 'DIRECT',
        error: { code: 'DNS_NOT_FOUND', stage: 'dns', message: 'a.example did not resolve (FAIL_DNS)' },
      }),
      'gateway',
    )!;
    for (const c of [client, box]) {
      assert.equal(c.kind, 'upstream');
      assert.equal(c.code, 'FAIL_DNS');
      assert.equal(c.cell, 'FAIL_DNS');
      assert.match(c.fix, /dns\.servers/);
    }
    assert.equal(client.title, 'The gateway 10.0.0.5:3128 cannot resolve these names (DNS)');
    assert.equal(box.title, 'The gateway cannot resolve these names (DNS)');
  });

  test('on the gateway box, connection failures are the FAIL_* codes the gateway would log', () => {
    const box = (code: 'TCP_TIMEOUT' | 'TCP_REFUSED' | 'TCP_UNREACHABLE' | 'DNS_TIMEOUT') =>
      causeOf(
        failed({
          method: 'direct',
          route: 'DIRECT',
          error: { code, stage: code.startsWith('DNS') ? 'dns' : 'tcp', message: code },
        }),
        'gateway',
      )!.code;
    assert.equal(box('TCP_TIMEOUT'), 'FAIL_CONNECT_TIMEOUT');
    assert.equal(box('TCP_REFUSED'), 'FAIL_CONNECT_REFUSED');
    assert.equal(box('TCP_UNREACHABLE'), 'FAIL_CONNECT_UNREACHABLE');
    assert.equal(box('DNS_TIMEOUT'), 'FAIL_DNS_TIMEOUT');
  });

  test('a policy refusal names the policy; this machine failing to reach the proxy names the proxy', () => {
    const refused = causeOf(
      failed({
        error: {
          code: 'PROXY_REFUSED',
          stage: 'proxy',
          message: 'CONNECT answered 403 Forbidden [DENY_PORT]',
        },
        proxyReason: 'DENY_PORT',
      }),
      'client',
    )!;
    assert.deepEqual([refused.kind, refused.code, refused.cell], ['policy', 'DENY_PORT', 'DENY_PORT']);
    assert.match(refused.title, /refuses these ports: its policy does not allow them/);

    const down = causeOf(
      failed({ error: { code: 'TCP_REFUSED', stage: 'tcp', message: 'connection refused (ECONNREFUSED)' } }),
      'client',
    )!;
    assert.deepEqual([down.kind, down.cell], ['proxy', 'proxy refused']);
    assert.match(down.fix, /nothing listens there/);

    const direct = causeOf(
      failed({
        method: 'direct',
        route: 'DIRECT',
        error: { code: 'DNS_NOT_FOUND', stage: 'dns', message: 'x did not resolve (ENOTFOUND)' },
      }),
      'client',
    )!;
    assert.deepEqual([direct.kind, direct.code, direct.cell], ['local', 'DNS_NOT_FOUND', 'dns']);
  });

  test('a method that worked, or was not configured, has no cause', () => {
    assert.equal(causeOf({ ...GATEWAY_DNS, outcome: 'succeeded', error: null, status: 200 }, 'client'), null);
    assert.equal(causeOf({ ...GATEWAY_DNS, outcome: 'not-configured', error: null }, 'client'), null);
  });
});
