import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { getHeapSnapshot, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/supervisor/index.js';
import { echoOnce, openTunnel } from '../helpers/cli.js';
import { captureClientHello } from '../helpers/client-hello.js';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';

/**
 * An established tunnel keeps what its record needs and lets go of what only its setup needed.
 * A tunnel may live for days, tens of thousands are held at once and the policy is reloaded
 * meanwhile: a tunnel that kept the policy it was decided by would pin every policy since.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync' }) => void;

const HOST = 'retained.test';
const CHECKED = 'checked.test';

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

describeEachEngine(
  'open tunnels keep neither the policy they were decided by nor their request head',
  (engine) => {
    let echo: TestOrigin;
    let plainEcho: TestOrigin;
    let gw: RunningGateway;
    const yaml = (): string =>
      [
        engineConfig(engine),
        'policy:',
        '  sources: [127.0.0.0/8]',
        `  destinations: [${HOST}, ${CHECKED}]`,
        `  ports: { connect: [${echo.port}, ${plainEcho.port}] }`,
        `hosts: { ${HOST}: 127.0.0.1, ${CHECKED}: 127.0.0.1 }`,
        // A ClientHello is read on one echo's port only: one tunnel is judged on its ClientHello,
        // the other relays as soon as it is connected.
        `tls: { ports: [${echo.port}] }`,
      ].join('\n');
    before(async () => {
      echo = await startTcpEcho();
      plainEcho = await startTcpEcho();
      gw = await startGateway(yaml());
    });
    after(async () => {
      await gw.close();
      await echo.close();
      await plainEcho.close();
    });

    /** Reloads a policy compiled afresh from the same file; only the gateway holds it. */
    async function reload(): Promise<WeakRef<object>> {
      const next = await loadConfig({ configFile: gw.configFile, listen: ['127.0.0.1:0'] });
      gw.gateway.reload({ policy: next.policy, hosts: next.hosts, systemHosts: next.systemHosts });
      return new WeakRef(next.policy);
    }

    test('after a reload the policy of open tunnels is collected, and the tunnels still relay', async () => {
      const decidedBy = await reload();
      const plain = await openTunnel(gw.port, `${HOST}:${plainEcho.port}`);
      const hello = await captureClientHello(CHECKED);
      const checked = await openTunnel(gw.port, `${CHECKED}:${echo.port}`);
      const helloBack = await new Promise<Buffer>((resolve) => {
        let got = Buffer.alloc(0);
        const onData = (c: Buffer): void => {
          got = Buffer.concat([got, c]);
          if (got.length >= hello.length) {
            checked.off('data', onData);
            resolve(got);
          }
        };
        checked.on('data', onData);
        checked.write(hello);
      });
      assert.deepEqual(helloBack, hello, 'the ClientHello passed the judgement and was echoed');
      const opened = await waitForOpened(gw, 2);
      assert.deepEqual(opened.map((r) => r.host).sort(), [CHECKED, HOST]);
      assert.equal(opened.find((r) => r.host === CHECKED)?.sni, CHECKED);

      await reload();
      assert.equal(
        await collected(decidedBy),
        true,
        'an open tunnel still holds the policy it was decided by',
      );
      assert.equal(gw.gateway.stats().sessions, 2, 'both tunnels are still open');
      for (const socket of [plain, checked]) assert.equal(await echoOnce(socket, 'ping'), 'ping');
      await closeAll([plain, checked]);
    });

    test('an open tunnel does not keep its request head', async () => {
      // A marker made at run time: the only strings holding it are the request the test sends
      // (gone once written) and whatever the gateway keeps of the head it read.
      const marker = `pad-${randomUUID()}`;
      const tunnel = await openTunnel(
        gw.port,
        `${HOST}:${plainEcho.port}`,
        `X-Pad: ${marker}${'.'.repeat(2000)}\r\n`,
      );
      assert.equal(await echoOnce(tunnel, 'ping'), 'ping', 'the tunnel relays');
      assert.deepEqual(await stringsHolding(marker), [], 'the open tunnel keeps its CONNECT head alive');
      await closeAll([tunnel]);
    });
  },
);

/**
 * Strings in this process's heap (after the full GC a snapshot starts with) that contain
 * `marker` and are more than the marker itself, each cut to 80 characters for the message.
 */
async function stringsHolding(marker: string): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snapshot = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const typeNames = snapshot.snapshot.meta.node_types[0];
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const found: string[] = [];
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (typeNames[snapshot.nodes[i + typeAt]!] !== 'string') continue;
    const text = snapshot.strings[snapshot.nodes[i + nameAt]!]!;
    if (text.length > marker.length && text.includes(marker)) found.push(JSON.stringify(text.slice(0, 80)));
  }
  return found;
}

async function waitForOpened(gw: RunningGateway, n: number): Promise<RunningGateway['openedRecords']> {
  const deadline = Date.now() + 5000;
  while (gw.openedRecords.length < n) {
    if (Date.now() > deadline) assert.fail(`${gw.openedRecords.length} of ${n} tunnels reported open`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return gw.openedRecords.slice(0, n);
}

async function closeAll(sockets: Socket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          s.once('close', resolve);
          s.destroy();
        }),
    ),
  );
}
