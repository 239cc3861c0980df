import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { writeFileSync } from 'node:fs';
import { loadNative } from '../../src/gateway/index.js';
import { loadConfig } from '../../src/supervisor/index.js';
import { openTunnel } from '../helpers/cli.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { rawExchange, run } from '../helpers/run.js';
import { requirement } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What the gateway does with its upstreams, seen from outside: connect and response timeouts,
 * DNS answers (TTL, negative caching, address family preference) from a DNS server on loopback,
 * and the TLS settings that let a tunnel without SNI, or without TLS, through.
 */

interface DnsServer {
  readonly port: number;
  /** "A name", "AAAA name" per query received. */
  readonly queries: string[];
  close(): Promise<void>;
}

/** A DNS server on 127.0.0.1 answering from `zone` (name -> records); other names get NXDOMAIN. */
async function startDns(
  zone: Record<string, { a?: string[]; aaaa?: string[]; ttl: number }>,
): Promise<DnsServer> {
  const socket: UdpSocket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (message, peer) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (question === undefined) return;
    queries.push(`${question.type} ${question.name}`);
    const entry = zone[question.name.toLowerCase()];
    const data = question.type === 'A' ? entry?.a : question.type === 'AAAA' ? entry?.aaaa : undefined;
    const answers = (data ?? []).map((address) => ({
      type: question.type as 'A' | 'AAAA',
      name: question.name,
      ttl: entry!.ttl,
      data: address,
    }));
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (entry === undefined ? 3 : 0),
      questions: query.questions,
      answers,
    });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function status(reply: string): string {
  return reply.slice(9, 12);
}

let echo: TestOrigin;

before(async () => {
  echo = await startTcpEcho('::');
});

after(async () => {
  await echo.close();
});

describe('timeouts answer 504', () => {
  const addon = loadNative().addon;
  describe('connect timeout', { skip: requirement('connect timeout', loadNative().why) }, () => {
    let fd = -1;
    let port = 0;
    const fillers: Socket[] = [];
    let gw: RunningGateway;

    before(async () => {
      // A socket that listens with a backlog of 0 and never accepts: once one connection waits in
      // its queue, the kernel drops further SYNs, and a connect there times out.
      fd = addon!.listen('127.0.0.1', 0, false, 0, true, false);
      port = addon!.boundPort(fd);
      for (let i = 0; i < 3; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        fillers.push(s);
      }
      await new Promise((resolve) => fillers[0]!.once('connect', resolve));
      gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [stuck.example.test]
  ports: { connect: [${port}], http: [${port}] }
hosts: { stuck.example.test: 127.0.0.1 }
tls: { sniCheck: false }
timeouts: { connect: 500ms }
`);
    });

    after(async () => {
      await gw.close();
      for (const s of fillers) s.destroy();
      addon!.closeFd(fd);
    });

    test('CONNECT to an upstream that never completes the handshake: 504 FAIL_CONNECT_TIMEOUT after timeouts.connect', async () => {
      const started = Date.now();
      const reply = await rawExchange(gw.port, `CONNECT stuck.example.test:${port} HTTP/1.1\r\n\r\n`, 3000);
      const elapsed = Date.now() - started;
      assert.match(reply, /^HTTP\/1\.1 504 [\s\S]*FAIL_CONNECT_TIMEOUT/);
      assert.ok(elapsed >= 450, `answered after ${elapsed} ms`);
      const record = await gw.waitForRecord((r) => r.method === 'CONNECT');
      assert.equal(record.reason, 'FAIL_CONNECT_TIMEOUT');
      assert.equal(record.decision, 'error');
    });

    test('plain HTTP too', async () => {
      const reply = await rawExchange(
        gw.port,
        `GET http://stuck.example.test:${port}/ HTTP/1.1\r\nHost: stuck.example.test:${port}\r\n\r\n`,
        3000,
      );
      assert.match(reply, /^HTTP\/1\.1 504 [\s\S]*FAIL_CONNECT_TIMEOUT/);
    });
  });

  test('an origin that accepts and never answers: 504 FAIL_UPSTREAM_TIMEOUT after timeouts.upstreamResponse', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [silent.example.test]
  ports: { connect: [443], http: [${port}] }
hosts: { silent.example.test: 127.0.0.1 }
timeouts: { upstreamResponse: 500ms }
`);
    try {
      const started = Date.now();
      const reply = await rawExchange(
        gw.port,
        `GET http://silent.example.test:${port}/wait HTTP/1.1\r\nHost: silent.example.test:${port}\r\n\r\n`,
        3000,
      );
      assert.match(reply, /^HTTP\/1\.1 504 [\s\S]*FAIL_UPSTREAM_TIMEOUT/);
      assert.ok(Date.now() - started >= 450);
      const record = await gw.waitForRecord((r) => r.path === '/wait');
      assert.equal(record.reason, 'FAIL_UPSTREAM_TIMEOUT');
    } finally {
      await gw.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('pooled upstream connections', () => {
  test("a reused connection gets its exchange's response timeout, and closes after timeouts.upstreamKeepAlive idle", async () => {
    const opened: Socket[] = [];
    let closedAt = 0;
    // A keep-alive origin: /slow answers after 1.5 s, anything else at once. Not startOrigin():
    // node:http closes idle connections itself after 5 s, and only the gateway may close them here.
    const origin: Server = createServer((socket) => {
      opened.push(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => (closedAt = Date.now()));
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        let end: number;
        while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
          const path = buffered.split(' ')[1] ?? '';
          buffered = buffered.slice(end + 4);
          const answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          if (path === '/slow') setTimeout(answer, 1500);
          else answer();
        }
      });
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    const gw = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [pool.example.test]
  ports: { connect: [443], http: [${port}] }
hosts: { pool.example.test: 127.0.0.1 }
timeouts: { upstreamResponse: 5s, upstreamKeepAlive: 1s }
`);
    const get = (path: string) =>
      rawExchange(
        gw.port,
        `GET http://pool.example.test:${port}${path} HTTP/1.1\r\nHost: pool.example.test:${port}\r\nConnection: close\r\n\r\n`,
        3000,
      );
    try {
      assert.equal(status(await get('/fast')), '200');
      // Idle for 600 ms, then an exchange on the same connection whose answer takes 1.5 s, longer
      // than the 1 s idle timeout: it runs under the 5 s response timeout.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const reply = await get('/slow');
      const answeredAt = Date.now();
      assert.equal(status(reply), '200', reply);
      assert.equal(opened.length, 1, 'the second exchange did not reuse the pooled connection');
      // Idle again: the gateway closes it after upstreamKeepAlive.
      await waitFor('the pooled connection to be closed', () => closedAt !== 0, { timeoutMs: 5000 });
      assert.ok(closedAt - answeredAt >= 700, `closed ${closedAt - answeredAt} ms after the answer`);
      assert.equal(opened.length, 1);
    } finally {
      await gw.close();
      for (const socket of opened) socket.destroy();
      origin.close();
    }
  });
});

/**
 * A keep-alive origin on `host`:`port` (0: any free port) that answers every request with its
 * own name as the body; /slow after `slowMs`. Not startOrigin(): node:http closes idle
 * connections itself after 5 s.
 */
async function startNamedOrigin(
  name: string,
  host: string,
  port: number,
  slowMs = 0,
): Promise<{ port: number; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const path = buffered.split(' ')[1] ?? '';
        buffered = buffered.slice(end + 4);
        requests.push(path);
        const answer = () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n\r\n${name}`);
        if (path === '/slow') setTimeout(answer, slowMs);
        else answer();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('pooled upstream connections across a reload', () => {
  test('after a reload that points the name elsewhere, no request goes to the old address on a pooled connection', async () => {
    const before = await startNamedOrigin('before', '127.0.0.1', 0, 600);
    const afterwards = await startNamedOrigin('after', '127.0.0.2', before.port);
    const yaml = (address: string) => `
policy:
  sources: [127.0.0.1/32]
  destinations: [moved.example.test]
  ports: { connect: [443], http: [${before.port}] }
hosts: { moved.example.test: ${address} }
timeouts: { upstreamKeepAlive: 30s }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
`;
    const gw = await startGateway(yaml('127.0.0.1'));
    const get = (path: string) =>
      rawExchange(
        gw.port,
        `GET http://moved.example.test:${before.port}${path} HTTP/1.1\r\nHost: moved.example.test:${before.port}\r\n\r\n`,
        1500,
      );
    const reload = async () => {
      writeFileSync(gw.configFile, yaml('127.0.0.2'));
      const next = await loadConfig({ configFile: gw.configFile, listen: ['127.0.0.1:0'] });
      gw.gateway.reload({ policy: next.policy, hosts: next.hosts, systemHosts: next.systemHosts });
    };
    try {
      // Two connections to the old address: one carrying an exchange at the reload, one idle.
      const carrying = get('/slow');
      await waitFor('the slow exchange at the old origin', () => before.requests.includes('/slow'));
      assert.match(await get('/first'), /\r\n\r\nbefore$/);
      await reload();
      assert.match(await carrying, /\r\n\r\nbefore$/, 'the exchange under way finishes where it began');
      for (let i = 0; i < 3; i++) {
        const reply = await get(`/next-${i}`);
        assert.match(reply, /\r\n\r\nafter$/, reply);
      }
      assert.deepEqual(before.requests, ['/slow', '/first']);
      assert.deepEqual(afterwards.requests, ['/next-0', '/next-1', '/next-2']);
    } finally {
      await gw.close();
      before.close();
      afterwards.close();
    }
  });
});

describe('DNS answers', () => {
  let dns: DnsServer;

  before(async () => {
    dns = await startDns({
      'short.example.test': { a: ['127.0.0.1'], ttl: 1 },
      'dual.example.test': { a: ['127.0.0.1'], aaaa: ['::1'], ttl: 300 },
    });
  });

  after(async () => {
    await dns.close();
  });

  async function gateway(extra: string): Promise<RunningGateway> {
    return startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [short.example.test, dual.example.test, missing.example.test]
  internalNetworks: [127.0.0.0/8, "::1/128"]
  ports: { connect: [${echo.port}], http: [80] }
tls: { sniCheck: false }
dns:
  servers: ["127.0.0.1:${dns.port}"]
  hostsFile: null
  timeout: 1s
  tries: 1
${extra}`);
  }

  const queriesFor = (name: string): number => dns.queries.filter((q) => q.endsWith(` ${name}`)).length;
  const connectTo = (gw: RunningGateway, name: string): Promise<string> =>
    rawExchange(gw.port, `CONNECT ${name}:${echo.port} HTTP/1.1\r\n\r\n`, 200).then(status);

  test('an answer is cached for its TTL, then asked again', async () => {
    const gw = await gateway('  minTtl: 1s\n');
    try {
      assert.equal(await connectTo(gw, 'short.example.test'), '200');
      const asked = Date.now();
      const first = queriesFor('short.example.test');
      assert.equal(first, 2, `A and AAAA: ${dns.queries.join(', ')}`);
      assert.equal(await connectTo(gw, 'short.example.test'), '200');
      assert.equal(queriesFor('short.example.test'), first, 'the second tunnel used the cache');
      await waitFor('the TTL to run out and the name to be asked again', async () => {
        await connectTo(gw, 'short.example.test');
        return queriesFor('short.example.test') > first;
      });
      assert.ok(Date.now() - asked >= 900, `asked again after ${Date.now() - asked} ms (TTL 1 s)`);
    } finally {
      await gw.close();
    }
  });

  test('dns.maxTtl caps a long TTL', async () => {
    const gw = await gateway('  maxTtl: 1s\n');
    try {
      assert.equal(await connectTo(gw, 'dual.example.test'), '200');
      const first = queriesFor('dual.example.test');
      const asked = Date.now();
      await waitFor('the capped TTL to run out', async () => {
        await connectTo(gw, 'dual.example.test');
        return queriesFor('dual.example.test') > first;
      });
      assert.ok(
        Date.now() - asked >= 900 && Date.now() - asked < 4500,
        `${Date.now() - asked} ms (TTL 300 s)`,
      );
    } finally {
      await gw.close();
    }
  });

  test('a name that does not exist: 502 FAIL_DNS, remembered for dns.negativeTtl', async () => {
    const gw = await gateway('  negativeTtl: 1s\n');
    try {
      assert.equal(await connectTo(gw, 'missing.example.test'), '502');
      const asked = Date.now();
      const first = queriesFor('missing.example.test');
      assert.ok(first >= 1);
      assert.equal(await connectTo(gw, 'missing.example.test'), '502');
      assert.equal(queriesFor('missing.example.test'), first, 'the failure was cached');
      await waitFor('the negative TTL to run out', async () => {
        await connectTo(gw, 'missing.example.test');
        return queriesFor('missing.example.test') > first;
      });
      assert.ok(Date.now() - asked >= 900);
      const record = await gw.waitForRecord((r) => r.host === 'missing.example.test');
      assert.equal(record.reason, 'FAIL_DNS');
    } finally {
      await gw.close();
    }
  });

  for (const [prefer, upstream] of [
    ['ipv4', `127.0.0.1:`],
    ['ipv6', `[::1]:`],
  ] as const) {
    test(`dns.prefer: ${prefer} connects to the ${prefer} address first when a name has both`, async () => {
      const gw = await gateway(`  prefer: ${prefer}\n`);
      try {
        assert.equal(await connectTo(gw, 'dual.example.test'), '200');
        const record = await gw.waitForRecord((r) => r.host === 'dual.example.test' && r.end !== null);
        assert.equal(record.upstream, `${upstream}${echo.port}`);
      } finally {
        await gw.close();
      }
    });
  }
});

describe('TLS settings that let more through', () => {
  let pki: TestPki;
  let tlsOrigin: TestOrigin;

  before(async () => {
    pki = createPki(['secure.example.test']);
    tlsOrigin = await startOrigin(pki);
  });

  after(async () => {
    await tlsOrigin.close();
  });

  function policy(tls: string, ports: number[]): string {
    return `
policy:
  sources: [127.0.0.1/32]
  destinations: [secure.example.test]
  ports: { connect: [${ports.join(', ')}], http: [80] }
hosts: { secure.example.test: 127.0.0.1 }
tls: { ports: [${ports.join(', ')}], ${tls} }
timeouts: { requestHead: 2s }
`;
  }

  async function noSni(gw: RunningGateway): Promise<string> {
    const r = await run(
      'openssl',
      [
        's_client',
        '-proxy',
        `127.0.0.1:${gw.port}`,
        '-connect',
        `secure.example.test:${tlsOrigin.port}`,
        '-CAfile',
        pki.caFile,
        '-ign_eof',
        '-noservername',
      ],
      15_000,
      Buffer.from('GET /no-sni HTTP/1.1\r\nHost: secure.example.test\r\nConnection: close\r\n\r\n'),
    );
    return r.stdout.toString('latin1');
  }

  test('tls.missingSni: allow lets a ClientHello without a server name through (deny refuses it)', async () => {
    const allow = await startGateway(policy('missingSni: allow', [tlsOrigin.port]));
    const deny = await startGateway(policy('missingSni: deny', [tlsOrigin.port]));
    try {
      assert.match(await noSni(allow), /HTTP\/1\.1 200 OK/);
      const record = await allow.waitForRecord((r) => r.method === 'CONNECT' && r.end !== null);
      assert.equal(record.decision, 'allow');
      assert.equal(record.sni, null);
      assert.doesNotMatch(await noSni(deny), /HTTP\/1\.1 200 OK/);
      await deny.waitForRecord((r) => r.reason === 'DENY_SNI_MISSING');
    } finally {
      await allow.close();
      await deny.close();
    }
  });

  test('tls.nonTls: allow lets bytes that are not TLS through on a TLS port (deny cuts them)', async () => {
    const plain = await startTcpEcho();
    const allow = await startGateway(policy('nonTls: allow', [plain.port]));
    const deny = await startGateway(policy('nonTls: deny', [plain.port]));
    try {
      const tunnel = await openTunnel(allow.port, `secure.example.test:${plain.port}`);
      const echoed = await new Promise<string>((resolve) => {
        let text = '';
        tunnel.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.length >= 6) resolve(text);
        });
        tunnel.write('hello\n');
      });
      assert.equal(echoed, 'hello\n');
      tunnel.end();
      const refused = await openTunnel(deny.port, `secure.example.test:${plain.port}`);
      const connections = plain.connections;
      refused.on('error', () => undefined);
      refused.write('hello\n');
      await new Promise((resolve) => refused.on('close', resolve));
      await deny.waitForRecord((r) => r.reason === 'DENY_NOT_TLS');
      assert.equal(plain.connections, connections);
    } finally {
      await allow.close();
      await deny.close();
      await plain.close();
    }
  });
});
