import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/supervisor/index.js';
import { openTunnel } from '../helpers/cli.js';
import { captureClientHello } from '../helpers/client-hello.js';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';

/**
 * A reload applies to new tunnels; a tunnel already decided is judged to its end by the policy
 * that decided it, its ClientHello included. Both directions are checked, so an engine that
 * judged the ClientHello by the policy in force when it arrives fails one of them.
 */
const HOST = 'decided.test';
const OTHER = 'other.test';

/** What the tunnel does with `hello`: echoed back through it, or the connection cut. */
function outcome(socket: Socket, hello: Buffer): Promise<'relayed' | 'cut'> {
  return new Promise((resolve) => {
    let got = 0;
    const done = (result: 'relayed' | 'cut'): void => {
      socket.removeAllListeners('data');
      socket.destroy();
      resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= hello.length) done('relayed');
    });
    socket.on('close', () => done('cut'));
    socket.on('error', () => undefined);
    socket.write(hello);
  });
}

describeEachEngine(
  "a tunnel's ClientHello is judged by the policy that decided the tunnel, not one reloaded meanwhile",
  (engine) => {
    let echo: TestOrigin;
    let gw: RunningGateway;
    let dir: string;
    let hello: Buffer;
    const yaml = (destinations: string[]): string =>
      [
        engineConfig(engine),
        'policy:',
        '  sources: [127.0.0.0/8]',
        `  destinations: [${destinations.join(', ')}]`,
        `  ports: { connect: [${echo.port}] }`,
        `hosts: { ${HOST}: 127.0.0.1, ${OTHER}: 127.0.0.1 }`,
        `tls: { ports: [${echo.port}] }`,
      ].join('\n');
    before(async () => {
      echo = await startTcpEcho();
      dir = mkdtempSync(join(tmpdir(), 'airlock-sni-reload-'));
      gw = await startGateway(yaml([HOST, OTHER]));
      hello = await captureClientHello(OTHER);
    });
    after(async () => {
      await gw.close();
      await echo.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function reload(destinations: string[]): Promise<void> {
      const file = join(dir, `${destinations.join('-')}.yaml`);
      writeFileSync(file, yaml(destinations));
      const next = await loadConfig({ configFile: file, listen: ['127.0.0.1:0'] });
      gw.gateway.reload({ policy: next.policy, hosts: next.hosts, systemHosts: next.systemHosts });
    }

    test('decided while the ClientHello name was allowed: relayed after a reload that removes it', async () => {
      await reload([HOST, OTHER]);
      const tunnel = await openTunnel(gw.port, `${HOST}:${echo.port}`);
      await reload([HOST]);
      assert.equal(await outcome(tunnel, hello), 'relayed');
    });

    test('decided while the ClientHello name was not allowed: cut after a reload that adds it', async () => {
      await reload([HOST]);
      const tunnel = await openTunnel(gw.port, `${HOST}:${echo.port}`);
      await reload([HOST, OTHER]);
      assert.equal(await outcome(tunnel, hello), 'cut');
    });
  },
);
