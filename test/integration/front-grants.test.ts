import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadNative } from '../../src/gateway/native.js';
import { loadConfig } from '../../src/supervisor/index.js';
import { echoOnce, openTunnel } from '../helpers/cli.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Repeat grants of the native front: a client's next request identical to one just decided and
 * connected is connected by the relay thread at once. What must hold: the same outcome and the
 * same record as a request decided in JavaScript, the per-client limit never exceeded (the
 * grant's slot is reserved), no grant surviving a reload, and an unused grant's slot given back.
 */
const addon = loadNative().addon;
const HOST = 'granted.test';
const OTHER = 'other.test';
/** Not allowed, and as long as HOST: a request for it is as long as one for HOST. */
const FORBIDDEN = 'grantex.test';

/** Tunnels the front connected on a grant since the process started. */
function grantsUsed(): number {
  return addon?.relayStats()[3] ?? 0;
}

describe(
  'repeat grants of the native front',
  { skip: addon === null ? 'the native relay is not built' : false },
  () => {
    let echo: TestOrigin;
    let gw: RunningGateway;
    let dir: string;
    const yaml = (destinations: string[]): string =>
      [
        'policy:',
        '  sources: [127.0.0.0/8]',
        `  destinations: [${destinations.join(', ')}]`,
        `  ports: { connect: [${echo.port}] }`,
        `hosts: { ${HOST}: 127.0.0.1, ${OTHER}: 127.0.0.1, ${FORBIDDEN}: 127.0.0.1 }`,
        'limits: { maxConnectionsPerClient: 8 }',
      ].join('\n');

    before(async () => {
      echo = await startTcpEcho();
      dir = mkdtempSync(join(tmpdir(), 'airlock-grants-'));
      gw = await startGateway(yaml([HOST, OTHER]));
    });
    after(async () => {
      await gw.close();
      await echo.close();
      rmSync(dir, { recursive: true, force: true });
    });

    function write(destinations: string[]): string {
      const file = join(dir, `${destinations.join('-')}.yaml`);
      writeFileSync(file, yaml(destinations));
      return file;
    }

    async function reload(destinations: string[]): Promise<void> {
      const next = await loadConfig({ configFile: write(destinations), listen: ['127.0.0.1:0'] });
      gw.gateway.reload({ policy: next.policy, hosts: next.hosts, systemHosts: next.systemHosts });
    }

    /** One tunnel through, one echo, closed, its record written. */
    async function roundTrip(target: string, fields = ''): Promise<void> {
      const written = gw.records.length;
      const socket = await openTunnel(gw.port, target, fields);
      assert.equal(await echoOnce(socket, 'ping'), 'ping');
      socket.destroy();
      await waitFor('its record', () => gw.records.length > written);
    }

    /** No connection slot is held: no tunnel, and no grant reserving one. */
    function nothingHeld(): Promise<boolean> {
      return waitFor(
        'every slot given back',
        () => gw.gateway.stats().connections + gw.gateway.stats().grantsHeld === 0,
        {
          timeoutMs: 5000,
          context: () => JSON.stringify(gw.gateway.stats()),
        },
      );
    }

    test('an identical request is connected on the grant and logged as the first was', async () => {
      const target = `${HOST}:${echo.port}`;
      const before = grantsUsed();
      const recordsBefore = gw.records.length;
      await roundTrip(target);
      await roundTrip(target);
      await roundTrip(target);
      assert.equal(grantsUsed() - before, 2, 'the second and third requests came on grants');
      // A different head (one more header field) is decided here, not on the grant.
      await roundTrip(target, 'User-Agent: other\r\n');
      assert.equal(grantsUsed() - before, 2);
      const records = gw.records.slice(recordsBefore);
      for (const record of records) {
        assert.equal(record.decision, 'allow');
        assert.equal(record.host, HOST);
        assert.equal(record.upstream, `127.0.0.1:${echo.port}`);
        assert.equal(record.bytesFromClient, 4);
        assert.equal(record.bytesToClient, 4);
      }
    });

    test('a grant is for the byte-identical request only: another host of the same length is decided here', async () => {
      await nothingHeld();
      await roundTrip(`${HOST}:${echo.port}`);
      await waitFor('the grant', () => gw.gateway.stats().grantsHeld === 1);
      const before = grantsUsed();
      const target = `${FORBIDDEN}:${echo.port}`;
      const reply = await rawExchange(gw.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 403 [\s\S]*DENY_HOST_NOT_ALLOWED/);
      assert.equal(grantsUsed(), before);
      await nothingHeld();
    });

    test(
      'a head that came on a grant made under a policy replaced meanwhile is judged by the new one and cut',
      { timeout: 10_000 },
      async () => {
        // The window between a reload and the front hearing of it, held open: the policy is
        // swapped without revoking the grants, as if the revocation had not reached the front yet.
        await nothingHeld();
        const target = `${OTHER}:${echo.port}`;
        await roundTrip(target);
        await waitFor('the grant', () => gw.gateway.stats().grantsHeld === 1);
        const next = await loadConfig({ configFile: write([HOST]), listen: ['127.0.0.1:0'] });
        const parts = (gw.gateway as unknown as { parts: { policy: unknown } }).parts;
        const replaced = parts.policy;
        parts.policy = next.policy;
        try {
          const before = grantsUsed();
          const written = gw.records.length;
          const socket = connect(gw.port, '127.0.0.1');
          socket.on('error', () => undefined);
          socket.resume();
          socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
          await new Promise((resolve) => socket.once('close', resolve));
          assert.equal(grantsUsed(), before + 1, 'the front connected it on the grant');
          const record = await gw.waitForRecord((r) => gw.records.indexOf(r) >= written);
          assert.equal(record.decision, 'deny');
          assert.equal(record.reason, 'DENY_HOST_NOT_ALLOWED');
          assert.equal(record.bytesFromClient, 0);
        } finally {
          parts.policy = replaced;
        }
        await nothingHeld();
      },
    );

    test('an unused grant expires and gives back the slot it reserved', async () => {
      await roundTrip(`${HOST}:${echo.port}`);
      // The tunnel is over; its grant still holds a slot until it expires (1 s, swept each second).
      await waitFor('the tunnel to be counted out', () => gw.gateway.stats().connections === 0);
      assert.equal(gw.gateway.stats().grantsHeld, 1);
      await nothingHeld();
    });

    test('the per-client limit holds with a grant outstanding', async () => {
      await nothingHeld();
      const target = `${HOST}:${echo.port}`;
      const held: Socket[] = [];
      try {
        // The first tunnel leaves a grant, which holds a slot of its own; the second comes on it.
        held.push(await openTunnel(gw.port, target));
        await waitFor('the grant reserving a slot', () => gw.gateway.stats().grantsHeld === 1);
        const before = grantsUsed();
        held.push(await openTunnel(gw.port, target));
        assert.equal(grantsUsed() - before, 1);
        // Grants are made only while the client holds at most half its limit (8): from the fourth
        // tunnel on, each is admitted at accept as without grants.
        for (let i = 2; i < 8; i++) held.push(await openTunnel(gw.port, target));
        const { connections, grantsHeld } = gw.gateway.stats();
        assert.deepEqual({ connections, grantsHeld }, { connections: 8, grantsHeld: 0 });
        const fifth = await rawExchange(gw.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
        assert.match(fifth, /^HTTP\/1\.1 503 [\s\S]*LIMIT_CLIENT_CONNECTIONS/);
        for (const socket of held) assert.equal(await echoOnce(socket, 'ping'), 'ping');
      } finally {
        for (const socket of held) socket.destroy();
      }
      await nothingHeld();
    });

    test('a reload revokes every grant: the next identical request meets the new policy', async () => {
      const target = `${OTHER}:${echo.port}`;
      await roundTrip(target);
      const before = grantsUsed();
      await reload([HOST]);
      // Revoked grants give their slots back at once, not when they would have expired (1 s).
      await waitFor('the revoked grant to give back its slot', () => gw.gateway.stats().grantsHeld === 0, {
        timeoutMs: 400,
      });
      const reply = await rawExchange(gw.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      assert.match(reply, /^HTTP\/1\.1 403 [\s\S]*DENY_HOST_NOT_ALLOWED/);
      assert.equal(grantsUsed(), before);
      await reload([HOST, OTHER]);
      await nothingHeld();
    });

    test('engine.grants: false: identical requests are each decided here, and no slot is reserved', async () => {
      const off = await startGateway(`${yaml([HOST])}\nengine: { grants: false }`);
      try {
        const target = `${HOST}:${echo.port}`;
        const before = grantsUsed();
        for (let i = 0; i < 3; i++) {
          const written = off.records.length;
          const socket = await openTunnel(off.port, target);
          assert.equal(await echoOnce(socket, 'ping'), 'ping');
          assert.equal(off.gateway.stats().grantsHeld, 0);
          socket.destroy();
          await waitFor('its record', () => off.records.length > written);
        }
        assert.equal(grantsUsed(), before, 'no request came on a grant');
        assert.deepEqual(
          off.records.map((r) => r.decision),
          ['allow', 'allow', 'allow'],
        );
      } finally {
        await off.close();
      }
    });
  },
);
