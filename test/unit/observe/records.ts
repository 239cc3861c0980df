import type { AccessRecord, RecordCatalog } from '../../../src/observe/index.js';

/** The command-and-control entry of the catalog, as a record carries it. */
export const MDE_C2: RecordCatalog = {
  id: 'mde:winatp-gw-eus.microsoft.com@US',
  product: 'mde',
  service: 'command-and-control',
};

/** A finished tunnel through an allowlist rule (no catalog entry), with every field set. */
export const TUNNEL_RECORD: AccessRecord = {
  id: 'k3x.t1a2b3.1',
  start: Date.UTC(2026, 0, 2, 3, 4, 5, 600),
  durationMs: 1234,
  client: '10.20.0.2',
  clientPort: 50000,
  clientName: null,
  method: 'CONNECT',
  host: 'winatp-gw-eus.microsoft.com',
  port: 443,
  path: null,
  decision: 'allow',
  reason: 'ALLOWED',
  end: 'CLOSED',
  rule: '.microsoft.com',
  ruleOrigin: 'mdemdi.conf:8',
  catalog: null,
  sni: 'winatp-gw-eus.microsoft.com',
  upstream: '203.0.113.10:443',
  status: 200,
  bytesFromClient: 517,
  bytesToClient: 4096,
  upstreamConnectMs: 3,
  setupMs: 12,
  detail: null,
};
