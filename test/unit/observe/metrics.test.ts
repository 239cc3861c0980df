import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { GatewayMetrics, type AccessRecord } from '../../../src/observe/index.js';
import { TallyHistogram } from '../../../src/observe/metrics.js';
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

test('a tally histogram is served exactly as a prom-client Histogram with the same observations', async () => {
  const bounds = [0.001, 0.01, 0.1, 1, 10];
  const reference = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({
    name: 'h_seconds',
    help: 'help text',
    labelNames: ['kind'],
    buckets: bounds,
    registers: [reference],
  });
  const tally = new TallyHistogram('h_seconds', 'help text', bounds, ['kind'], [ours]);
  let state = 7;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // Values on every bound, between them, above the last one, and zero.
  const values = [0, ...bounds, 20, ...Array.from({ length: 500 }, () => next() * 12)];
  for (const [i, value] of values.entries()) {
    const kind = i % 3 === 0 ? 'connect' : 'http';
    histogram.observe({ kind }, value);
    tally.observe(value, kind);
  }
  assert.equal(await ours.metrics(), await reference.metrics());
  // The workers' families are summed by the supervisor: the same aggregate either way.
  const twice = async (r: Registry): Promise<string> =>
    AggregatorRegistry.aggregate([await r.getMetricsAsJSON(), await r.getMetricsAsJSON()]).metrics();
  assert.equal(await twice(ours), await twice(reference));
  assert.match(await ours.metrics(), /h_seconds_bucket\{le="\+Inf",kind="http"\} \d+/);
});

test("the native relay's counters: bytes by path, pipes open, grants used and busy polling, read at scrape time; zero without a relay", async () => {
  let counters = {
    splicedBytes: 5_000_000,
    copiedBytes: 70_000,
    pipesOpen: 3,
    granted: 12,
    polledFoundNs: 1_500_000_000,
    polledSleptNs: 250_000,
  };
  const metrics = new GatewayMetrics({ ...GAUGES, relay: () => counters });
  assert.deepEqual(
    await samples(metrics, 'airlock_relay_bytes_total'),
    new Map([
      ['path=splice', 5_000_000],
      ['path=copy', 70_000],
    ]),
  );
  assert.deepEqual(await samples(metrics, 'airlock_relay_pipes_open'), new Map([['', 3]]));
  assert.deepEqual(await samples(metrics, 'airlock_front_granted_total'), new Map([['', 12]]));
  assert.deepEqual(
    await samples(metrics, 'airlock_relay_busy_poll_seconds_total'),
    new Map([
      ['outcome=found', 1.5],
      ['outcome=slept', 0.00025],
    ]),
  );
  counters = { ...counters, splicedBytes: 6_000_000, pipesOpen: 0, granted: 15, polledSleptNs: 2e9 };
  assert.equal((await samples(metrics, 'airlock_relay_bytes_total')).get('path=splice'), 6_000_000);
  assert.equal((await samples(metrics, 'airlock_relay_pipes_open')).get(''), 0);
  assert.equal((await samples(metrics, 'airlock_front_granted_total')).get(''), 15);
  assert.equal((await samples(metrics, 'airlock_relay_busy_poll_seconds_total')).get('outcome=slept'), 2);
  const without = new GatewayMetrics(GAUGES);
  assert.equal((await samples(without, 'airlock_relay_bytes_total')).get('path=splice'), 0);
  assert.equal((await samples(without, 'airlock_front_granted_total')).get(''), 0);
  assert.equal((await samples(without, 'airlock_relay_busy_poll_seconds_total')).get('outcome=found'), 0);
});

test("across workers the supervisor sums what each worker carries, but the policy's rule count is one number", async () => {
  const worker = (rules: number, connections: number): GatewayMetrics =>
    new GatewayMetrics({ ...GAUGES, rules: () => rules, connections: () => connections });
  const fleet = [worker(3, 10), worker(3, 4)];
  const text = async (workers: GatewayMetrics[]): Promise<string> =>
    AggregatorRegistry.aggregate(
      await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())),
    ).metrics();
  const summed = await text(fleet);
  assert.match(summed, /^airlock_connections_open 14$/m);
  assert.match(summed, /^airlock_policy_rules 3$/m);
  // Mid-reload, one worker on the new policy: the count is the new one once every worker has it.
  assert.match(await text([worker(3, 0), worker(5, 0)]), /^airlock_policy_rules 3$/m);
  assert.match(await text([worker(5, 0), worker(5, 0)]), /^airlock_policy_rules 5$/m);
});
