import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, renderTop, type TopSnapshot } from '../../../src/admin/index.js';

const now = Date.UTC(2026, 0, 2, 12, 0, 0);

const snapshot: TopSnapshot = {
  status: {
    mode: 'enforce',
    generation: 4,
    startedAt: now - 7_200_000,
    connections: 1234,
    processes: [{ up: true }, { up: false }],
    reload: {
      last: {
        trigger: 'SIGHUP',
        ok: false,
        at: now - 30_000,
        error: 'policy.sources[0]: "x" is not a CIDR\nmore',
      },
    },
    observe: {
      state: true,
      openTunnels: 12,
      clients: 3201,
      totals: { allowed: 120345, denied: 67, failed: 3 },
    },
  },
  services: {
    rows: [
      { key: 'mde/edr-cyber-data', status: 'idle', open: 0, clients: 0, lastSuccess: null, failures: {} },
      {
        key: 'mde/command-and-control',
        status: 'failing',
        open: 3,
        clients: 40,
        lastSuccess: now - 90_000,
        bytesFromClient: 2048,
        bytesToClient: 1_048_576,
        failures: { dns: 2, connect: 0, upstream_reset: 5 },
      },
    ],
  },
  clients: {
    total: 1,
    rows: [
      {
        address: '10.1.2.3',
        name: 'ws-042',
        lastSeen: now - 2000,
        open: 3,
        allowed: 45,
        denied: 1,
        services: [{ service: 'command-and-control', lastAllowed: now - 3000 }],
      },
    ],
  },
  denials: {
    recent: [],
    destinations: [
      {
        host: 'a-very-long-host-name-that-does-not-fit.example.com',
        port: 443,
        count: 7,
        lastSeen: now - 5000,
        lastReason: 'DENY_HOST_NOT_ALLOWED',
        explanation: { next: 'add geography EU to catalog.geographies', summary: 'x' },
      },
    ],
  },
};

test('the snapshot: header with the refused reload, failing services first, clients with names, denials with the next step', () => {
  const text = renderTop(snapshot, { width: 120, rows: 10, now }).join('\n');
  assert.match(text, /generation 4/);
  assert.match(text, /up 2h/);
  assert.match(text, /workers 1\/2/);
  assert.match(text, /last reload 30s ago: REFUSED \(SIGHUP\): policy\.sources\[0\]: "x" is not a CIDR$/m);
  const lines = text.split('\n');
  const c2 = lines.findIndex((l) => l.startsWith('mde/command-and-control'));
  const edr = lines.findIndex((l) => l.startsWith('mde/edr-cyber-data'));
  assert.ok(c2 > 0 && c2 < edr, 'failing before idle');
  assert.match(lines[c2]!, /failing\s+3\s+40\s+1m\s+1\.0MB dns 2, reset 5/);
  assert.match(text, /10\.1\.2\.3 \(ws-042\)\s+2s\s+3\s+45\s+1 command-and-control 3s/);
  assert.match(text, /DENY_HOST_NOT_ALLOWED\s+add geography EU to catalog\.geographies/);
});

for (const width of [40, 80, 100, 200]) {
  test(`every line fits ${width} columns`, () => {
    for (const line of renderTop(snapshot, { width, rows: 10, now })) assert.ok(line.length <= width, line);
  });
}

test('ago() in seconds, minutes, hours and days; "-" for never', () => {
  assert.deepEqual(
    [
      ago(now - 5000, now),
      ago(now - 120_000, now),
      ago(now - 7_200_000, now),
      ago(now - 172_800_000, now),
      ago(null, now),
    ],
    ['5s', '2m', '2h', '2d', '-'],
  );
});
