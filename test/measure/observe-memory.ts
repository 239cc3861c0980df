/**
 * Measures the operator view's memory: the supervisor's state after 100,000 distinct clients,
 * each having reached three catalog services and been refused once, plus 10,000 denied
 * destinations. Also the recorder's cost per access record in a worker.
 *
 *   npm run build && node --expose-gc dist/test/measure/observe-memory.js [clients]
 *
 * Not a test: it prints numbers for docs/admin-api.md.
 */
import {
  ObservedState,
  StateRecorder,
  deltaFromWire,
  deltaToWire,
  DEFAULT_STATE_LIMITS,
  type AccessRecord,
  type RecordCatalog,
} from '../../src/observe/index.js';

const maybeGc = (globalThis as { gc?: () => void }).gc;
if (maybeGc === undefined) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const gc: () => void = maybeGc;

const clients = Number(process.argv[2] ?? '100000');
const SERVICES: RecordCatalog[] = [
  { id: 'mde:winatp-gw-eus.microsoft.com@US', product: 'mde', service: 'command-and-control' },
  { id: 'mde:us-v20.events.data.microsoft.com@US', product: 'mde', service: 'edr-cyber-data' },
  { id: 'mdav:wdcp.microsoft.com', product: 'mdav', service: 'cloud-protection' },
];

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function record(i: number, k: number, denied: boolean): AccessRecord {
  const catalog = SERVICES[k % SERVICES.length]!;
  return {
    id: `m.${i}.${k}`,
    start: Date.now(),
    durationMs: 20,
    client: address(i),
    clientPort: 40_000 + k,
    clientName: null,
    method: 'CONNECT',
    host: denied ? `blocked-${i % 10_000}.example.com` : 'winatp-gw-eus.microsoft.com',
    port: 443,
    path: null,
    decision: denied ? 'deny' : 'allow',
    reason: denied ? 'DENY_HOST_NOT_ALLOWED' : 'ALLOWED',
    end: denied ? null : 'CLOSED',
    rule: denied ? null : 'winatp-gw-eus.microsoft.com',
    ruleOrigin: null,
    catalog: denied ? null : catalog,
    sni: null,
    upstream: denied ? null : '203.0.113.10:443',
    status: denied ? 403 : 200,
    bytesFromClient: 1000,
    bytesToClient: 4000,
    upstreamConnectMs: 3,
    setupMs: 5,
    detail: null,
  };
}

const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const base = heap();
const state = new ObservedState<string>(
  { ...DEFAULT_STATE_LIMITS, maxClients: clients },
  (d) => `explanation of ${d.host}`,
);
const recorder = new StateRecorder();
let records = 0;
const started = process.hrtime.bigint();
let recordNs = 0n;
for (let i = 0; i < clients; i++) {
  const batch = [record(i, 0, false), record(i, 1, false), record(i, 2, false), record(i, 3, true)];
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 3; k++) {
    recorder.tunnelOpened(batch[k]!);
    recorder.finished(batch[k]!);
  }
  recorder.finished(batch[3]!);
  recordNs += process.hrtime.bigint() - t0;
  records += 4;
  // One report per 2,000 clients, through the IPC encoding as from a worker.
  if (i % 2000 === 1999 || i === clients - 1) {
    const delta = recorder.take();
    if (delta !== null) state.apply(deltaFromWire(JSON.parse(JSON.stringify(deltaToWire(delta)))), 'w1');
  }
}
const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
const used = heap() - base;

// The worker's cost alone, as under load: 1,000 clients, tunnels opened and closed, one report
// per 10,000 records (about a second at the benchmark's rates).
const hot = new StateRecorder();
const sample = Array.from({ length: 1000 }, (_, i) => record(i, i % 3, false));
const warm = (rounds: number): number => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    const r = sample[i % sample.length]!;
    hot.tunnelOpened(r);
    hot.finished(r);
    if (i % 5000 === 4999) hot.take();
  }
  return Number(process.hrtime.bigint() - t0) / (rounds * 2);
};
warm(100_000);
const hotNs = warm(500_000);
const counts = state.counts();
const out = {
  clients: counts.clients,
  deniedDestinations: counts.deniedDestinations,
  services: counts.services,
  heapBytes: used,
  heapMiB: Math.round((used / 1048576) * 10) / 10,
  bytesPerClient: Math.round(used / counts.clients),
  recorderNsPerRecordWhileFilling: Math.round(Number(recordNs) / records),
  recorderNsPerRecord: Math.round(hotNs),
  mergeAndRecordMs: Math.round(elapsedMs),
  node: process.version,
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
