/**
 * DNS that fails: a server that is down, slow (answers after 5 s), answers SERVFAIL, truncates
 * its answers, or changes them between lookups; and many distinct names under a wildcard rule
 * while the server hangs. What must hold:
 *
 * - every wait is bounded by dns.timeout and dns.tries, never by the client's patience;
 * - the client gets FAIL_DNS (502) or FAIL_DNS_TIMEOUT (504), and the access log's `detail`
 *   says why in words: which server, what it answered;
 * - concurrent requests for one name share one lookup, and the names looked up at once are
 *   bounded (a name past the bound fails at once, saying so), so a hanging server cannot pile
 *   up lookups;
 * - an answer that changes is followed after its TTL, and judged again by the address guard.
 *
 * The DNS server is a tiny one on 127.0.0.1 (test/helpers/dns-server.ts) that answers per name.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, type Resolver } from '../../src/gateway/index.js';
import { toJsonFields, type AccessRecord } from '../../src/observe/index.js';
import { buildResolver, loadConfig } from '../../src/supervisor/index.js';
import { echoOnce, openTunnel } from '../helpers/cli.js';
import { captureClientHello } from '../helpers/client-hello.js';
import { startDnsServer, type DnsReply, type DnsServer } from '../helpers/dns-server.js';
import { request, sleep } from '../helpers/faults.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { closedPort, startTcpEcho, type TestOrigin } from '../helpers/origins.js';

const TIMEOUT_MS = 1000;
const TRIES = 2;
/** The longest c-ares waits for one query: the timeout doubles on each try. */
const LOOKUP_LIMIT_MS = TIMEOUT_MS * (2 ** TRIES - 1);
/** Here every lookup lasts long enough for 400 requests to arrive while all are in flight. */
const HUNG_TIMEOUT_MS = 1500;
const HUNG_LOOKUP_MS = HUNG_TIMEOUT_MS * (2 ** TRIES - 1);
/** The resolver's bound on names looked up at once (MAX_LOOKUPS_IN_FLIGHT in resolver.ts). */
const IN_FLIGHT_BOUND = 256;

let echo: TestOrigin;
before(async () => {
  echo = await startTcpEcho();
});
after(async () => {
  await echo.close();
});

function gatewayYaml(servers: string[], extra = ''): string {
  return `
policy:
  sources: [127.0.0.1/32]
  destinations: [.example.test]
  ports: { connect: [${echo.port}], http: [80] }
  internalNetworks: [127.0.0.1/32]
tls: { sniCheck: false }
limits: { newConnectionsPerClientPerSecond: 100000, maxConnectionsPerClient: 10000 }
dns:
  servers: [${servers.map((s) => `"${s}"`).join(', ')}]
  hostsFile: null
  timeout: ${TIMEOUT_MS}ms
  tries: ${TRIES}
  minTtl: 1s
  negativeTtl: 5s
${extra}`;
}

/** Asserts a failed CONNECT: status, reason, and words in the JSON log's `detail`. */
async function failsWith(
  gw: RunningGateway,
  host: string,
  status: number,
  reason: string,
  detail: RegExp,
): Promise<{ ms: number }> {
  const before = gw.records.length;
  const { head, socket, ms } = await request(
    gw.port,
    `CONNECT ${host}:${echo.port} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
  );
  socket.destroy();
  assert.equal(head.slice(9, 12), String(status), `status for ${host}: ${head}`);
  assert.match(head, new RegExp(`details="${reason}"`));
  const record = await gw.waitForRecord((r) => gw.records.indexOf(r) >= before && r.host === host);
  assert.equal(record.reason, reason);
  assert.equal(record.decision, reason.startsWith('DENY_') ? 'deny' : 'error');
  assert.match(String(toJsonFields(record).detail), detail);
  return { ms };
}

describe('a DNS server that answers badly', () => {
  let dns: DnsServer;
  let gw: RunningGateway;
  /** The answer for flip.example.test, changed by a test. */
  let flip: DnsReply = { addresses: ['127.0.0.1'], ttl: 1 };

  before(async () => {
    dns = await startDnsServer((query) => {
      const name = query.name;
      if (name === 'ok.example.test') return { addresses: ['127.0.0.1'], ttl: 60 };
      if (name === 'servfail.example.test') return { rcode: 2 };
      if (name === 'slow.example.test') return { delayMs: 5000, then: { addresses: ['127.0.0.1'] } };
      if (name === 'tc.example.test')
        return query.transport === 'udp' ? { truncated: true } : { addresses: ['127.0.0.1'], ttl: 60 };
      if (name === 'flip.example.test') return flip;
      return { rcode: 3 };
    });
    gw = await startGateway(gatewayYaml([dns.address]));
  });

  after(async () => {
    await gw.close();
    await dns.close();
  });

  const queriesFor = (name: string): number => dns.queries.filter((q) => q.name === name).length;

  test('a good answer works (the baseline)', async () => {
    const tunnel = await openTunnel(gw.port, `ok.example.test:${echo.port}`);
    assert.equal(await echoOnce(tunnel, 'hello'), 'hello');
    tunnel.destroy();
  });

  test('SERVFAIL: 502 FAIL_DNS at once, the server named in the log, cached for dns.negativeTtl', async () => {
    const { ms } = await failsWith(
      gw,
      'servfail.example.test',
      502,
      'FAIL_DNS',
      /127\.0\.0\.1:\d+ answered SERVFAIL/,
    );
    assert.ok(ms < 1000, `answered after ${ms} ms`);
    const asked = queriesFor('servfail.example.test');
    await failsWith(gw, 'servfail.example.test', 502, 'FAIL_DNS', /SERVFAIL/);
    assert.equal(queriesFor('servfail.example.test'), asked, 'the failure was cached, not asked again');
  });

  test('a server that answers after 5 s: 504 FAIL_DNS_TIMEOUT within dns.timeout × tries, one lookup for 20 clients', async () => {
    const started = Date.now();
    const all = await Promise.all(
      Array.from({ length: 20 }, () =>
        request(gw.port, `CONNECT slow.example.test:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`),
      ),
    );
    const took = Date.now() - started;
    for (const { head, socket } of all) {
      socket.destroy();
      assert.match(head, /^HTTP\/1\.1 504 /);
      assert.match(head, /details="FAIL_DNS_TIMEOUT"/);
    }
    // c-ares: 1 s, then 2 s; slack for a busy machine, but well before the answer's 5 s.
    assert.ok(
      took >= LOOKUP_LIMIT_MS - 100 && took < LOOKUP_LIMIT_MS + 1500,
      `all answered after ${took} ms`,
    );
    // Twenty clients, one lookup: A and AAAA, each tried twice.
    assert.equal(queriesFor('slow.example.test'), 2 * TRIES);
    const record = await gw.waitForRecord((r) => r.host === 'slow.example.test');
    assert.equal(record.reason, 'FAIL_DNS_TIMEOUT');
    assert.match(
      String(record.detail),
      /no answer from DNS server 127\.0\.0\.1:\d+ \(dns\.timeout 1000 ms, dns\.tries 2\)/,
    );
  });

  test('a truncated answer is asked again over TCP and works', async () => {
    const tunnel = await openTunnel(gw.port, `tc.example.test:${echo.port}`);
    assert.equal(await echoOnce(tunnel, 'via tcp'), 'via tcp');
    tunnel.destroy();
    const asked = dns.queries.filter((q) => q.name === 'tc.example.test').map((q) => q.transport);
    assert.ok(asked.includes('udp') && asked.includes('tcp'), `queries: ${asked.join(', ')}`);
  });

  test('an answer that changes is followed after its TTL and judged by the address guard each time', async () => {
    flip = { addresses: ['127.0.0.1'], ttl: 1 };
    const first = await openTunnel(gw.port, `flip.example.test:${echo.port}`);
    assert.equal(await echoOnce(first, 'one'), 'one');
    first.destroy();
    // Within the TTL the cached answer is used: no new query, whatever the server would say now.
    flip = { addresses: ['10.9.9.9'], ttl: 1 };
    const asked = queriesFor('flip.example.test');
    const second = await openTunnel(gw.port, `flip.example.test:${echo.port}`);
    second.destroy();
    assert.equal(queriesFor('flip.example.test'), asked);
    // After it, the new answer is fetched and refused: a private address (DNS rebinding).
    await sleep(1100);
    await failsWith(
      gw,
      'flip.example.test',
      403,
      'DENY_DESTINATION_ADDRESS',
      /only refused addresses: 10\.9\.9\.9/,
    );
    // Back to an allowed address, mixed with a refused one: only the allowed one is connected to.
    flip = { addresses: ['10.9.9.9', '127.0.0.1'], ttl: 1 };
    await sleep(1100);
    const third = await openTunnel(gw.port, `flip.example.test:${echo.port}`);
    assert.equal(await echoOnce(third, 'three'), 'three');
    third.destroy();
    const record = await gw.waitForRecord(
      (r) => r.host === 'flip.example.test' && r.end !== null && r.bytesToClient === 5,
    );
    assert.equal(record.upstream, `127.0.0.1:${echo.port}`);
  });
});

/**
 * What a client sends before its 200, while the gateway still resolves the name: the bytes and
 * the FIN arrive while nothing reads them, and their readiness is announced only then (the
 * native front watches its sockets edge-triggered). Once connected they must still be read and
 * passed on, with the TLS check (peeking) and without.
 */
describe('bytes and a FIN sent while the name is being resolved', () => {
  let dns: DnsServer;
  const gateways: RunningGateway[] = [];

  before(async () => {
    // Every name answers after 300 ms, long enough for the client's bytes to arrive meanwhile.
    dns = await startDnsServer(() => ({ delayMs: 300, then: { addresses: ['127.0.0.1'], ttl: 60 } }));
  });

  after(async () => {
    for (const gw of gateways) await gw.close();
    await dns.close();
  });

  for (const sniCheck of [false, true]) {
    // Bounded: bytes nobody reads would leave the tunnel hanging until tunnelIdle.
    test(
      `reach the origin and the echo comes back (tls.sniCheck: ${sniCheck})`,
      { timeout: 10_000 },
      async () => {
        const yaml = gatewayYaml([dns.address]).replace(
          'tls: { sniCheck: false }',
          `tls: { sniCheck: ${sniCheck}, ports: [${echo.port}] }`,
        );
        const gw = await startGateway(yaml);
        gateways.push(gw);
        const host = `early-${sniCheck ? 'tls' : 'plain'}.example.test`;
        const payload = sniCheck ? await captureClientHello(host) : Buffer.from('sent before the 200\n');
        const socket = connect(gw.port, '127.0.0.1');
        const received: Buffer[] = [];
        const ended = new Promise<void>((resolve, reject) => {
          socket.on('data', (c: Buffer) => received.push(c));
          socket.on('end', () => resolve());
          socket.on('error', reject);
        });
        socket.write(`CONNECT ${host}:${echo.port} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        // Apart from the head (not read with it), well before the answer comes.
        await sleep(100);
        assert.equal(dns.queries.filter((q) => q.name === host).length > 0, true, 'the lookup is under way');
        socket.end(payload);
        await ended;
        socket.destroy();
        const all = Buffer.concat(received);
        const headEnd = all.indexOf('\r\n\r\n');
        assert.match(all.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 /);
        assert.deepEqual(all.subarray(headEnd + 4), payload, 'the echo of what was sent while resolving');
        const record = await gw.waitForRecord((r) => r.host === host && r.end !== null);
        assert.equal(record.decision, 'allow');
        assert.equal(record.bytesFromClient, payload.length);
      },
    );
  }
});

describe('many distinct names under a wildcard rule while DNS hangs', () => {
  let dns: DnsServer;
  let resolver: Resolver;
  let gateway: Gateway;
  let port: number;
  const records: AccessRecord[] = [];

  before(async () => {
    dns = await startDnsServer((query) =>
      query.name.startsWith('late') ? { addresses: ['127.0.0.1'] } : 'drop',
    );
    const dir = mkdtempSync(join(tmpdir(), 'airlock-dns-'));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      gatewayYaml([dns.address]).replace(`timeout: ${TIMEOUT_MS}ms`, `timeout: ${HUNG_TIMEOUT_MS}ms`),
    );
    const loaded = await loadConfig({ configFile: join(dir, 'airlock.yaml'), listen: ['127.0.0.1:0'] });
    const file = loaded.config.file;
    // Built by hand (as buildGateway does) to watch the resolver's own count of lookups in flight.
    resolver = buildResolver(loaded);
    gateway = new Gateway({
      listeners: loaded.listeners,
      policy: loaded.policy,
      resolver,
      accessLog: {
        opened: () => undefined,
        write: (r) => void records.push(r),
        reopen: () => undefined,
        draining: () => undefined,
        flush: () => Promise.resolve(),
      },
      tls: file.tls,
      timeouts: file.timeouts,
      limits: file.limits,
    });
    await gateway.start();
    port = gateway.addresses()[0]!.port;
  });

  after(async () => {
    await gateway.shutdown(0);
    await dns.close();
  });

  test('lookups in flight stay at the bound; names past it fail at once, saying why; slots come back', async () => {
    const NAMES = 400;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, resolver.lookupsInFlight)), 5);
    const clients: Socket[] = [];
    try {
      const started = Date.now();
      const replies = Array.from({ length: NAMES }, (_, i) => {
        const host = `n${i}.wild.example.test`;
        return request(port, `CONNECT ${host}:${echo.port} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 15_000).then(
          ({ head, socket }) => {
            clients.push(socket);
            return head.slice(9, 12);
          },
          (error: Error) => `error: ${error.message}`,
        );
      });
      // Wait until every request is either refused or waiting for its lookup.
      for (let i = 0; i < 200 && records.length + resolver.lookupsInFlight < NAMES; i++) await sleep(10);
      const flooded = Date.now() - started;
      // A lookup lives for HUNG_LOOKUP_MS: if the flood took less, none had ended yet.
      assert.ok(flooded < HUNG_LOOKUP_MS - 1000, `the flood took ${flooded} ms: too slow to measure`);
      assert.equal(resolver.lookupsInFlight, IN_FLIGHT_BOUND);
      const statuses = await Promise.all(replies);
      assert.equal(peak, IN_FLIGHT_BOUND, `at most ${IN_FLIGHT_BOUND} lookups in flight (peak ${peak})`);
      const count = (code: string): number => statuses.filter((x) => x === code).length;
      // Looked up: the timeout, within its bound; the rest: refused at once.
      assert.equal(count('504'), IN_FLIGHT_BOUND, statuses.join(' '));
      assert.equal(count('502'), NAMES - IN_FLIGHT_BOUND, statuses.join(' '));
      const refused = records.filter((r) => r.reason === 'FAIL_DNS');
      assert.equal(refused.length, NAMES - IN_FLIGHT_BOUND);
      assert.match(
        String(refused[0]!.detail),
        /n\d+\.wild\.example\.test was not looked up: 256 other names are still waiting for DNS server 127\.0\.0\.1:\d+/,
      );
    } finally {
      clearInterval(sampler);
      for (const c of clients) c.destroy();
    }
    assert.equal(resolver.lookupsInFlight, 0);
    // The slots came back: a new name is looked up and works.
    const late = await openTunnel(port, `late.wild.example.test:${echo.port}`);
    assert.equal(await echoOnce(late, 'late'), 'late');
    late.destroy();
  });
});

describe('a DNS server that is down or does not serve TCP', () => {
  let noTcp: DnsServer;
  let gwDown: RunningGateway;
  let gwNoTcp: RunningGateway;

  before(async () => {
    noTcp = await startDnsServer(() => ({ truncated: true }), { tcp: false });
    gwDown = await startGateway(gatewayYaml([`127.0.0.1:${await closedPort()}`]));
    gwNoTcp = await startGateway(gatewayYaml([noTcp.address]));
  });

  after(async () => {
    await gwDown.close();
    await gwNoTcp.close();
    await noTcp.close();
  });

  test('nothing listening: 502 FAIL_DNS at once, saying the server refused', async () => {
    const { ms } = await failsWith(
      gwDown,
      'any.example.test',
      502,
      'FAIL_DNS',
      /DNS server 127\.0\.0\.1:\d+ refused the connection/,
    );
    assert.ok(ms < 1000, `answered after ${ms} ms`);
  });

  test('a truncated answer from a server without DNS over TCP: 502 FAIL_DNS, saying so', async () => {
    const { ms } = await failsWith(
      gwNoTcp,
      'any.example.test',
      502,
      'FAIL_DNS',
      /refused the connection: .*TCP after a truncated answer/,
    );
    assert.ok(ms < LOOKUP_LIMIT_MS + 1000, `answered after ${ms} ms`);
    assert.ok(noTcp.queries.length > 0);
  });

  test('the gateway keeps serving tunnels it can resolve', async () => {
    const gw = await startGateway(gatewayYaml([noTcp.address], 'hosts: { pinned.example.test: 127.0.0.1 }'));
    try {
      const tunnel = await openTunnel(gw.port, `pinned.example.test:${echo.port}`);
      assert.equal(await echoOnce(tunnel, 'pinned'), 'pinned');
      tunnel.destroy();
    } finally {
      await gw.close();
    }
  });
});
