import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIENTS_KEPT, Model, TAIL_LENGTH, type Snapshot } from '../../../web/src/model.js';
import type { ClientRow, Denial, ServiceRow, Status, Totals } from '../../../web/src/types.js';

/** The dashboard's state: the admin API's views loaded once, then kept current from the events. */

const T0 = Date.UTC(2026, 0, 2, 12, 0, 0);

function totals(allowed: number, denied: number, bytes: number): Totals {
  return { allowed, denied, failed: 0, opened: allowed, bytesFromClient: bytes, bytesToClient: 0 };
}

const status: Status = {
  ready: true,
  mode: 'enforce',
  workers: 2,
  connections: 0,
  rules: 10,
  generation: 1,
  startedAt: T0,
  uptimeSeconds: 1,
  reload: { attempts: 0, last: null },
  processes: [],
  warnings: [],
  lint: [],
  observe: { state: true, at: T0, openTunnels: 0, clients: 0, totals: totals(0, 0, 0) },
};

function service(key: string, s: ServiceRow['status']): ServiceRow {
  return {
    key,
    product: null,
    service: null,
    productLabel: null,
    serviceLabel: null,
    status: s,
    open: 0,
    clients: 0,
    requests: 0,
    successes: 0,
    lastSuccess: null,
    lastFailure: null,
    lastFailureKind: null,
    failures: {},
    bytesFromClient: 0,
    bytesToClient: 0,
  };
}

function client(address: string, lastSeen: number, name: string | null = null): ClientRow {
  return {
    address,
    name,
    firstSeen: lastSeen,
    lastSeen,
    open: 0,
    allowed: 1,
    denied: 0,
    failed: 0,
    bytesFromClient: 0,
    bytesToClient: 0,
    services: [],
    denials: [],
  };
}

function denial(id: string, at: number): Denial {
  return {
    id,
    at,
    client: '10.1.2.3',
    clientName: null,
    method: 'CONNECT',
    host: `${id}.example.test`,
    port: 443,
    reason: 'DENY_HOST_NOT_ALLOWED',
    sni: null,
    rule: null,
    audit: false,
    explanation: null,
  };
}

function loaded(): Model {
  const snapshot: Snapshot = {
    status,
    services: {
      rows: [
        service('-', 'failing'),
        service('mde/b', 'idle'),
        service('mde/a', 'reaching'),
        service('mde/c', 'failing'),
      ],
    },
    clients: { total: 1, rows: [client('10.0.0.1', T0)] },
    denials: { total: 0, recent: [], destinations: [] },
    tunnels: { total: 0, rows: [] },
    history: { minutes: [] },
    policy: null,
  };
  const m = new Model();
  m.load(snapshot);
  return m;
}

test('services: failing first, then reaching, then idle; traffic outside the catalog last', () => {
  assert.deepEqual(
    loaded()
      .serviceRows()
      .map((r) => r.key),
    ['mde/c', 'mde/a', 'mde/b', '-'],
  );
});

test('summaries give the last minute counted, not extrapolated; a new generation reloads status and policy', () => {
  const m = loaded();
  assert.equal(m.rates(), null, 'nothing to measure before a second summary');
  assert.deepEqual(
    m.apply('summary', { ...status.observe, at: T0 + 2000, totals: totals(4, 1, 2000), generation: 1 }),
    [],
  );
  assert.deepEqual(m.rates(), { seconds: 2, allowed: 4, denied: 1, bytesPerSecond: 1000 });
  // Past a minute, the oldest summaries leave the window.
  for (let s = 3; s <= 90; s++) {
    m.apply('summary', {
      ...status.observe,
      at: T0 + s * 1000,
      totals: totals(4 + s, 1, 2000),
      generation: 1,
    });
  }
  const r = m.rates()!;
  assert.ok(r.seconds >= 59 && r.seconds <= 61, String(r.seconds));
  assert.ok(r.allowed >= 59 && r.allowed <= 61, String(r.allowed));
  assert.equal(r.denied, 0);
  assert.deepEqual(
    m.apply('summary', { ...status.observe, at: T0 + 91_000, totals: totals(95, 1, 2000), generation: 2 }),
    ['status', 'policy'],
  );
  assert.equal(m.status?.generation, 2);
});

test('refusals: newest first, bounded, and the refused destinations loaded again', () => {
  const m = loaded();
  assert.deepEqual(m.apply('denials', { rows: [denial('a', T0 + 1), denial('b', T0 + 2)] }), [
    'denials',
    'history',
  ]);
  assert.deepEqual(
    m.recent.map((d) => d.id),
    ['b', 'a'],
  );
  const many = Array.from({ length: TAIL_LENGTH + 20 }, (_, i) => denial(`n${i}`, T0 + 10 + i));
  m.apply('denials', { rows: many });
  assert.equal(m.recent.length, TAIL_LENGTH);
  assert.equal(m.recent[0]!.id, `n${TAIL_LENGTH + 19}`);
});

test('tunnels open and close; clients follow the search and stay bounded', () => {
  const m = loaded();
  const tunnel = {
    id: 't1',
    client: '10.0.0.1',
    clientName: null,
    host: 'winatp-gw-eus.microsoft.com',
    port: 443,
    service: 'mde/command-and-control',
    since: T0,
    upstream: null,
    setupMs: 3,
  };
  m.apply('tunnels', { opened: [tunnel], closed: [] });
  assert.equal(m.tunnelsOf('10.0.0.1').length, 1);
  m.apply('tunnels', { opened: [], closed: ['t1'] });
  assert.equal(m.tunnelsOf('10.0.0.1').length, 0);

  m.clientQuery = 'ws-';
  assert.deepEqual(m.clientRows(), [], 'the held rows are narrowed at once');
  m.apply('clients', { rows: [client('10.0.0.2', T0 + 5, 'ws-002'), client('10.0.0.3', T0 + 6)], more: 0 });
  assert.deepEqual(
    m.clientRows().map((c) => c.address),
    ['10.0.0.2'],
  );
  m.clientQuery = '';
  const flood = Array.from({ length: CLIENTS_KEPT + 50 }, (_, i) =>
    client(`10.9.${i >> 8}.${i & 255}`, T0 + 100 + i),
  );
  assert.deepEqual(
    m.apply('clients', { rows: flood, more: 3 }),
    ['clients'],
    'more than one event carries: ask again',
  );
  assert.equal(m.clients.size, CLIENTS_KEPT);
  assert.equal(m.clientRows()[0]!.lastSeen, T0 + 100 + CLIENTS_KEPT + 49, 'the most recently seen are kept');
});

test('a reload result updates the status at once and asks for the policy', () => {
  const m = loaded();
  const last = {
    at: T0 + 5,
    trigger: 'admin API',
    ok: false,
    error: 'policy.sources[0]: bad',
    generation: 1,
  };
  assert.deepEqual(m.apply('reload', last), ['status', 'policy']);
  assert.deepEqual(m.status?.reload, { attempts: 1, last });
  assert.equal(m.status?.generation, 1);
  m.apply('reload', { ...last, ok: true, error: null, generation: 2 });
  assert.equal(m.status?.generation, 2);
  assert.deepEqual(m.apply('nonsense', {}), []);
});
