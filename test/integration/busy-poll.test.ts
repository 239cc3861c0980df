import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadNative } from '../../src/gateway/native.js';
import { loadConfig } from '../../src/supervisor/index.js';
import { echoOnce, openTunnel } from '../helpers/cli.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `engine.busyPollUs`: the relay thread polls before it sleeps. What must hold: tunnels work the
 * same, the polling finds the events of a client that answers quickly (counted in
 * `airlock_relay_busy_poll_seconds_total{outcome="found"}`), and with the setting at 0 the
 * thread never polls.
 */
const addon = loadNative().addon;
const HOST = 'polled.test';

/** Nanoseconds polled so far: [events found, slept after all]. */
function polled(): [number, number] {
  const stats = addon!.relayStats();
  return [stats[4], stats[5]];
}

describe(
  'busy polling of the relay thread',
  { skip: addon === null ? 'the native relay is not built' : false },
  () => {
    let echo: TestOrigin;
    before(async () => {
      echo = await startTcpEcho();
    });
    after(async () => {
      await echo.close();
    });

    const yaml = (busyPollUs: number): string =>
      [
        `engine: { busyPollUs: ${busyPollUs} }`,
        'policy:',
        '  sources: [127.0.0.0/8]',
        `  destinations: [${HOST}]`,
        `  ports: { connect: [${echo.port}] }`,
        `hosts: { ${HOST}: 127.0.0.1 }`,
      ].join('\n');

    /** Tunnels one after another, each with a few echoes: the gaps between events are short. */
    async function tunnels(gw: RunningGateway, count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const written = gw.records.length;
        const socket = await openTunnel(gw.port, `${HOST}:${echo.port}`);
        for (let k = 0; k < 5; k++) assert.equal(await echoOnce(socket, `ping ${i}.${k}`), `ping ${i}.${k}`);
        socket.destroy();
        await waitFor('its record', () => gw.records.length > written);
      }
    }

    test('at 1000 µs the relay thread finds events while it polls, and tunnels work as before', async () => {
      const gw = await startGateway(yaml(1000));
      try {
        const [found] = polled();
        await tunnels(gw, 20);
        const [foundAfter] = polled();
        assert.ok(foundAfter > found, `no event was found while polling (${found} → ${foundAfter} ns)`);
        assert.ok(
          gw.records.every((r) => r.decision === 'allow'),
          'every tunnel allowed',
        );
      } finally {
        await gw.close();
      }
    });

    test('at 0 the relay thread never polls', async () => {
      const gw = await startGateway(yaml(0));
      try {
        const before = polled();
        await tunnels(gw, 20);
        assert.deepEqual(polled(), before);
      } finally {
        await gw.close();
      }
    });
  },
);

describe('engine.busyPollUs in the configuration', () => {
  const config = (engine: string): string =>
    [`engine: ${engine}`, 'policy:', '  sources: [127.0.0.0/8]', '  destinations: [polled.test]'].join('\n');

  test('microseconds from 0 to 1000: anything else is refused, naming the field', async () => {
    for (const value of ['1001', '-1', '2.5', '"100us"']) {
      await assert.rejects(startGateway(config(`{ busyPollUs: ${value} }`)), /engine\.busyPollUs/, value);
    }
  });

  test('busy polling with JavaScript tunnels is refused: only the relay thread polls', async () => {
    // Already when the file is read (config-check says so too), not only when serving starts.
    const dir = mkdtempSync(join(tmpdir(), 'airlock-busypoll-'));
    const file = join(dir, 'airlock.yaml');
    writeFileSync(file, config('{ tunnels: js, busyPollUs: 100 }'));
    try {
      await assert.rejects(
        loadConfig({ configFile: file }),
        /engine\.busyPollUs: busy polling is the native relay thread's, and engine\.tunnels is js/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
