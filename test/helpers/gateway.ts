import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGateway, loadConfig, type LoadedConfig } from '../../src/supervisor/index.js';
import type { Gateway } from '../../src/gateway/index.js';
import type { AccessLogSink, AccessRecord } from '../../src/observe/index.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly port: number;
  readonly proxyUrl: string;
  readonly records: AccessRecord[];
  /** Records of tunnels when they were established (AccessLogSink.opened). */
  readonly openedRecords: AccessRecord[];
  /** Resolves with the next access record matching `predicate` (or one already written). */
  waitForRecord(predicate: (r: AccessRecord) => boolean, timeoutMs?: number): Promise<AccessRecord>;
  /** The configuration file written for this gateway. */
  readonly configFile: string;
  readonly loaded: LoadedConfig;
  close(): Promise<void>;
}

/**
 * Starts a gateway in this process from YAML text, on 127.0.0.1:0 unless the YAML has
 * listeners. DNS is pointed at a dead loopback port and the hosts file is off, so a test can
 * only reach what its `hosts:` section maps.
 */
export async function startGateway(
  yaml: string,
  options: { listen?: string[]; openFilesLimit?: number } = {},
): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-gw-'));
  const file = join(dir, 'airlock.yaml');
  const dns = /^dns:/m.test(yaml)
    ? ''
    : 'dns:\n  servers: ["127.0.0.1:9"]\n  hostsFile: null\n  timeout: 500ms\n  tries: 1\n';
  writeFileSync(file, `${yaml}\n${dns}`);
  const loaded = await loadConfig({
    configFile: file,
    listen: options.listen ?? (/^listeners:/m.test(yaml) ? undefined : ['127.0.0.1:0']),
  });
  const records: AccessRecord[] = [];
  const waiters: { predicate: (r: AccessRecord) => boolean; resolve: (r: AccessRecord) => void }[] = [];
  const openedRecords: AccessRecord[] = [];
  const sink: AccessLogSink = {
    opened(record) {
      openedRecords.push(record);
    },
    write(record) {
      records.push(record);
      for (const w of [...waiters]) {
        if (w.predicate(record)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(record);
        }
      }
    },
    reopen() {},
    draining() {},
    flush: () => Promise.resolve(),
  };
  const gateway = buildGateway(loaded, sink, { openFilesLimit: options.openFilesLimit ?? null });
  await gateway.start();
  const address = gateway.addresses()[0]!;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    gateway,
    port: address.port,
    proxyUrl: `http://${host}:${address.port}`,
    configFile: file,
    loaded,
    records,
    openedRecords,
    waitForRecord(predicate, timeoutMs = 5000) {
      const existing = records.find(predicate);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no matching access record within ${timeoutMs} ms; have: ${JSON.stringify(records)}`),
            ),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    async close() {
      await gateway.shutdown(0);
    },
  };
}
