import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ObservedState,
  StateRecorder,
  deltaFromWire,
  deltaToWire,
  type AccessRecord,
  type DenialInfo,
  type RecordCatalog,
  type StateLimits,
} from '../../../src/observe/index.js';
import { MDE_C2, TUNNEL_RECORD } from './records.js';

const C2 = MDE_C2;
const CYBER: RecordCatalog = {
  id: 'mde:us-v20.events.data.microsoft.com',
  product: 'mde',
  service: 'edr-cyber-data',
};

let n = 0;
function record(partial: Partial<AccessRecord> = {}): AccessRecord {
  return {
    ...TUNNEL_RECORD,
    id: `t.${++n}`,
    client: '10.1.2.3',
    rule: 'winatp-gw-eus.microsoft.com',
    ruleOrigin: 'catalog: mde:winatp-gw-eus.microsoft.com@US',
    catalog: C2,
    ...partial,
  };
}

const denied = (host: string, client = '10.1.2.3'): AccessRecord =>
  record({
    host,
    client,
    decision: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
    rule: null,
    ruleOrigin: null,
    catalog: null,
    status: 403,
    end: null,
    upstream: null,
    sni: null,
    bytesFromClient: 0,
    bytesToClient: 0,
  });

const LIMITS: StateLimits = {
  maxClients: 3,
  maxDeniedDestinations: 2,
  maxAgeMs: 60_000,
  recentDenials: 4,
  maxTunnels: 100,
};

function harness(limits: StateLimits = LIMITS): {
  clock: { now: number };
  recorder: StateRecorder;
  state: ObservedState<string>;
  explained: DenialInfo[];
  flush(source?: string): void;
} {
  const clock = { now: 1_000_000 };
  const explained: DenialInfo[] = [];
  const recorder = new StateRecorder(undefined, () => clock.now);
  const state = new ObservedState<string>(
    limits,
    (d) => {
      explained.push(d);
      return `why ${d.host}`;
    },
    () => clock.now,
  );
  return {
    clock,
    recorder,
    state,
    explained,
    flush(source = 'w1') {
      const delta = recorder.take();
      // Through the IPC encoding, as a worker's report arrives.
      if (delta !== null) state.apply(deltaFromWire(JSON.parse(JSON.stringify(deltaToWire(delta)))), source);
    },
  };
}

describe('observed state', () => {
  test('a tunnel is open from its first record to its last, across reports; the service and client count it', () => {
    const h = harness();
    const r = record();
    h.recorder.tunnelOpened(r);
    h.flush();
    assert.equal(h.state.tunnelRows(10).total, 1);
    const service = h.state.serviceRows().find((s) => s.key === 'mde/command-and-control')!;
    assert.equal(service.open, 1);
    assert.equal(service.status, 'reaching');
    assert.equal(service.clients, 1);
    assert.equal(h.state.clientRow('10.1.2.3')!.open, 1);
    h.recorder.finished({ ...r, durationMs: 5000 });
    h.flush();
    assert.equal(h.state.tunnelRows(10).total, 0);
    assert.equal(h.state.serviceRows()[0]!.open, 0);
    assert.equal(h.state.clientRow('10.1.2.3')!.open, 0);
    assert.equal(h.state.clientRow('10.1.2.3')!.bytesToClient, TUNNEL_RECORD.bytesToClient);
  });

  test('open tunnels from many reports share one catalog entry; every field arrives as sent', () => {
    const h = harness();
    const sent = [
      record({ client: '10.1.2.3', upstream: '192.0.2.10:443' }),
      record({
        client: '10.1.2.4',
        upstream: '192.0.2.10:443',
        catalog: CYBER,
        host: 'us-v20.events.data.microsoft.com',
      }),
      record({ client: '10.1.2.5', upstream: '192.0.2.11:443' }),
    ];
    for (const r of sent) {
      h.recorder.tunnelOpened(r);
      // One report each: every row's strings and objects arrive in a message of their own.
      h.flush();
    }
    const rows = h.state.tunnelRows(10).rows;
    assert.equal(rows.length, 3);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const r of sent) {
      const row = byId.get(r.id)!;
      assert.deepEqual(
        [row.client, row.host, row.port, row.upstream, row.catalog, row.decision, row.since, row.setupMs],
        [r.client, r.host, r.port, r.upstream, r.catalog, r.decision, r.start, r.setupMs],
      );
    }
    // Rows naming the same catalog entry hold one object, not one each.
    assert.equal(byId.get(sent[0]!.id)!.catalog, byId.get(sent[2]!.id)!.catalog);
    assert.notEqual(byId.get(sent[0]!.id)!.catalog, byId.get(sent[1]!.id)!.catalog);
  });

  test('a tunnel opened and closed within one report never shows as open', () => {
    const h = harness();
    const r = record();
    h.recorder.tunnelOpened(r);
    h.recorder.finished(r);
    h.flush();
    assert.equal(h.state.tunnelRows(10).total, 0);
    assert.equal(h.state.serviceRows()[0]!.open, 0);
    assert.equal(h.state.totals.opened, 1);
  });

  test('two workers merge: last allowed per service is one lookup, counts add up', () => {
    const h = harness();
    h.recorder.tunnelOpened(record());
    h.recorder.finished(
      record({
        id: 'x',
        method: 'GET',
        status: 200,
        catalog: CYBER,
        host: 'us-v20.events.data.microsoft.com',
      }),
    );
    h.flush('w1');
    h.clock.now += 5000;
    h.recorder.finished(record({ method: 'GET', status: 200 }));
    h.flush('w2');
    const client = h.state.clientRow('10.1.2.3')!;
    const c2 = client.services.find((s) => s.key === 'mde/command-and-control')!;
    assert.equal(c2.lastAllowed, h.clock.now);
    assert.ok(client.services.some((s) => s.key === 'mde/edr-cyber-data'));
    assert.equal(client.allowed, 2);
    // "has 10.1.2.3 reached the command-and-control channel in the last 10 minutes?"
    assert.equal(
      h.state.clientRows({ service: 'mde/command-and-control', sinceMs: 600_000, limit: 10 }).total,
      1,
    );
    assert.equal(h.state.clientRows({ service: 'mde/sample-upload', sinceMs: 600_000, limit: 10 }).total, 0);
  });

  test('a worker that goes takes its tunnels with it', () => {
    const h = harness();
    h.recorder.tunnelOpened(record());
    h.flush('w1');
    h.recorder.tunnelOpened(record());
    h.flush('w2');
    assert.equal(h.state.tunnelRows(10).total, 2);
    assert.equal(h.state.dropSource('w1').length, 1);
    assert.equal(h.state.tunnelRows(10).total, 1);
    assert.equal(h.state.serviceRows()[0]!.open, 1);
  });

  test('failures by kind mark a service failing; a later success makes it reach again', () => {
    const h = harness();
    h.recorder.finished(record({ decision: 'error', reason: 'FAIL_DNS', status: 502, end: null }));
    h.recorder.finished(
      record({ decision: 'error', reason: 'FAIL_CONNECT_REFUSED', status: 502, end: null }),
    );
    h.recorder.finished(record({ decision: 'deny', reason: 'DENY_SNI_MISMATCH', end: null }));
    h.flush();
    let service = h.state.serviceRows()[0]!;
    assert.equal(service.status, 'failing');
    assert.deepEqual(
      { dns: service.failures.dns, connect: service.failures.connect, sni: service.failures.sni },
      { dns: 1, connect: 1, sni: 1 },
    );
    h.clock.now += 1000;
    h.recorder.tunnelOpened(record());
    h.flush();
    service = h.state.serviceRows()[0]!;
    assert.equal(service.status, 'reaching');
    h.clock.now += 11 * 60_000;
    assert.equal(h.state.serviceRows()[0]!.status, 'reaching', 'still open');
  });

  test('denied destinations: count, clients, reasons, an explanation worked out once', () => {
    const h = harness();
    h.recorder.finished(denied('evil.example.com', '10.0.0.1'));
    h.recorder.finished(denied('evil.example.com', '10.0.0.2'));
    h.flush();
    h.recorder.finished(denied('evil.example.com', '10.0.0.1'));
    h.flush();
    const row = h.state.deniedRows(10).rows[0]!;
    assert.equal(row.host, 'evil.example.com');
    assert.equal(row.count, 3);
    assert.deepEqual(row.clients, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(row.reasons, { DENY_HOST_NOT_ALLOWED: 3 });
    assert.equal(row.explanation, 'why evil.example.com');
    assert.equal(h.explained.length, 1);
    assert.equal(h.state.recentDenials(10).length, 3);
    assert.equal(h.state.clientRow('10.0.0.1')!.denials.length, 2);
    h.state.resetExplanations();
    h.state.deniedRows(10);
    assert.equal(h.explained.length, 2, 'worked out again after a reload');
  });

  test('bounded by count: the oldest clients and denied destinations go first; the tail keeps the newest', () => {
    const h = harness();
    for (let i = 1; i <= 5; i++) {
      h.clock.now += 1000;
      h.recorder.finished(denied(`d${i}.example.com`, `10.0.0.${i}`));
      h.flush();
    }
    assert.deepEqual(
      h.state.clientRows({ limit: 10 }).rows.map((r) => r.address),
      ['10.0.0.5', '10.0.0.4', '10.0.0.3'],
    );
    assert.deepEqual(
      h.state.deniedRows(10).rows.map((r) => r.host),
      ['d5.example.com', 'd4.example.com'],
    );
    assert.deepEqual(
      h.state.recentDenials(10).map((d) => d.host),
      ['d5.example.com', 'd4.example.com', 'd3.example.com', 'd2.example.com'],
    );
  });

  test('bounded by age: a client not seen within maxAge is forgotten, unless a tunnel of it is open', () => {
    const h = harness();
    h.recorder.finished(record({ client: '10.0.0.1', method: 'GET' }));
    h.recorder.tunnelOpened(record({ client: '10.0.0.2' }));
    h.flush();
    h.clock.now += 61_000;
    h.recorder.finished(record({ client: '10.0.0.3', method: 'GET' }));
    h.flush();
    const addresses = h.state
      .clientRows({ limit: 10 })
      .rows.map((r) => r.address)
      .sort();
    assert.deepEqual(addresses, ['10.0.0.2', '10.0.0.3']);
  });

  test('a report is bounded however much traffic there was', () => {
    const recorder = new StateRecorder({
      maxDenialsPerReport: 3,
      maxKeysPerReport: 2,
      maxClientsPerDestination: 2,
      maxDenialsPerClient: 2,
    });
    for (let i = 0; i < 10; i++) recorder.finished(denied(`h${i}.example.com`, `10.0.0.${i}`));
    const delta = recorder.take()!;
    assert.equal(delta.clients.length, 2);
    assert.equal(delta.denied.length, 2);
    assert.equal(delta.denials.length, 3);
    assert.ok(delta.dropped > 0);
    assert.equal(recorder.take(), null);
  });
});
