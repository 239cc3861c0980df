import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayMetrics, type AccessRecord } from '../../../src/observe/index.js';
import { MDE_C2, TUNNEL_RECORD } from './records.js';

const GAUGES = { connections: () => 0, sessions: () => 0, rules: () => 0 };

/** Every sample of `name` as "label=value,…" → value, from what the registry serves. */
async function samples(metrics: GatewayMetrics, name: string): Promise<Map<string, number>> {
  const family = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(family !== undefined, `${name} is registered`);
  const out = new Map<string, number>();
  for (const v of family.values as { labels: Record<string, string | number>; value: number }[]) {
    const key = Object.entries(v.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => `${k}=${x}`)
      .join(',');
    out.set(key, v.value);
  }
  return out;
}

test('metrics count what the records say, by label set, and the open-tunnel gauge returns to zero', async () => {
  const metrics = new GatewayMetrics(GAUGES);
  const tunnel: AccessRecord = { ...TUNNEL_RECORD, id: 't1', catalog: MDE_C2 };
  metrics.opened({ ...tunnel, end: null, bytesFromClient: 0, bytesToClient: 0 });
  metrics.opened({ ...tunnel, id: 't2' });
  assert.equal(
    (await samples(metrics, 'airlock_tunnels_open')).get('product=mde,service=command-and-control'),
    2,
  );
  metrics.record(tunnel);
  metrics.record({ ...tunnel, id: 't2', bytesFromClient: 3, bytesToClient: 0 });
  const denied: AccessRecord = {
    ...TUNNEL_RECORD,
    id: 'h1',
    method: 'GET',
    decision: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
    status: 403,
    bytesFromClient: 0,
    bytesToClient: 0,
  };
  metrics.record(denied);
  metrics.record({ ...denied, id: 'h2' });
  metrics.record({
    ...TUNNEL_RECORD,
    id: 'f1',
    decision: 'error',
    reason: 'FAIL_DNS',
    status: 502,
    bytesToClient: 0,
  });
  metrics.dnsAnswer('static');
  metrics.dnsAnswer('static');

  assert.deepEqual(
    await samples(metrics, 'airlock_requests_total'),
    new Map([
      ['decision=allow,kind=connect,reason=ALLOWED', 2],
      ['decision=deny,kind=http,reason=DENY_HOST_NOT_ALLOWED', 2],
      ['decision=error,kind=connect,reason=FAIL_DNS', 1],
    ]),
  );
  assert.deepEqual(
    await samples(metrics, 'airlock_bytes_total'),
    new Map([
      ['direction=from_client', 517 + 3 + 517],
      ['direction=to_client', 4096],
    ]),
  );
  assert.deepEqual(
    await samples(metrics, 'airlock_service_requests_total'),
    new Map([
      ['decision=allow,product=mde,service=command-and-control', 2],
      ['decision=deny,product=none,service=none', 2],
      ['decision=error,product=none,service=none', 1],
    ]),
  );
  assert.deepEqual(
    await samples(metrics, 'airlock_service_bytes_total'),
    new Map([
      ['direction=from_client,product=mde,service=command-and-control', 520],
      ['direction=to_client,product=mde,service=command-and-control', 4096],
      ['direction=from_client,product=none,service=none', 517],
    ]),
  );
  assert.deepEqual(
    await samples(metrics, 'airlock_service_failures_total'),
    new Map([['kind=dns,product=none,service=none', 1]]),
  );
  assert.equal(
    (await samples(metrics, 'airlock_tunnels_open')).get('product=mde,service=command-and-control'),
    0,
  );
  const dns = await samples(metrics, 'airlock_dns_answers_total');
  assert.equal(dns.get('result=static'), 2);
  // Every result is served from the start, at zero.
  assert.equal(dns.get('result=timeout'), 0);
  assert.equal(dns.size, 10);
});

test('reading the metrics twice gives the same values (a scrape does not add them up)', async () => {
  const metrics = new GatewayMetrics(GAUGES);
  metrics.record({ ...TUNNEL_RECORD, id: 'a' });
  const first = await samples(metrics, 'airlock_requests_total');
  const second = await samples(metrics, 'airlock_requests_total');
  assert.deepEqual(second, first);
  assert.equal(first.get('decision=allow,kind=connect,reason=ALLOWED'), 1);
});
