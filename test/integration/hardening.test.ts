import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { RESERVED_DESCRIPTORS } from '../../src/gateway/admission.js';
import { loadNative } from '../../src/gateway/native.js';
import { waitFor } from '../helpers/wait.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { rawExchange, run } from '../helpers/run.js';

const SECURE = 'secure.example.test';
const PLAIN = 'plain.example.test';
const OTHER = 'other.example.test';

let pki: TestPki;
let tlsOrigin: TestOrigin;
let httpOrigin: TestOrigin;

before(async () => {
  pki = createPki([SECURE, PLAIN, OTHER, 'rebind.example.test']);
  tlsOrigin = await startOrigin(pki);
  httpOrigin = await startOrigin();
});

after(async () => {
  await tlsOrigin.close();
  await httpOrigin.close();
});

function policyYaml(extra = ''): string {
  return `
policy:
  sources: [127.0.0.1/32]
  destinations: [${SECURE}, ${PLAIN}]
  ports: { connect: [${tlsOrigin.port}], http: [${httpOrigin.port}] }
hosts:
  ${SECURE}: 127.0.0.1
  ${PLAIN}: 127.0.0.1
  ${OTHER}: 127.0.0.1
tls: { ports: [${tlsOrigin.port}] }
timeouts: { requestHead: 1s }
${extra}`;
}

/** openssl s_client through the gateway: CONNECT to `connectHost`, ClientHello for `servername`. */
async function sClient(gw: RunningGateway, connectHost: string, servername: string | null) {
  const args = [
    's_client',
    '-proxy',
    `127.0.0.1:${gw.port}`,
    '-connect',
    `${connectHost}:${tlsOrigin.port}`,
    '-CAfile',
    pki.caFile,
    // Keep reading after stdin ends, until the server closes.
    '-ign_eof',
  ];
  args.push(...(servername === null ? ['-noservername'] : ['-servername', servername]));
  const request = Buffer.from(
    `GET /sclient HTTP/1.1\r\nHost: ${servername ?? connectHost}\r\nConnection: close\r\n\r\n`,
  );
  const r = await run('openssl', args, 15_000, request);
  return { ...r, out: r.stdout.toString('latin1') };
}

/** Opens a CONNECT tunnel and resolves with the raw socket once the 200 has arrived. */
function openTunnel(port: number, target: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      if (head.startsWith('HTTP/1.1 200')) resolve(socket);
      else reject(new Error(head));
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

/**
 * A transport for a TLS client that re-frames its first flight (the ClientHello) into TLS
 * records of `recordSize` bytes and writes them in three TCP segments with pauses between.
 */
function fragmentingTransport(socket: Socket, recordSize: number): Duplex {
  let first = true;
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (!first) {
        socket.write(chunk, callback);
        return;
      }
      first = false;
      const payload = chunk.subarray(5, 5 + chunk.readUInt16BE(3));
      const rest = chunk.subarray(5 + payload.length);
      const records: Buffer[] = [];
      for (let i = 0; i < payload.length; i += recordSize) {
        const part = payload.subarray(i, i + recordSize);
        const head = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
        head.writeUInt16BE(part.length, 3);
        records.push(head, part);
      }
      const all = Buffer.concat([...records, rest]);
      const third = Math.ceil(all.length / 3);
      socket.write(all.subarray(0, third));
      setTimeout(() => socket.write(all.subarray(third, 2 * third)), 50);
      setTimeout(() => socket.write(all.subarray(2 * third), callback), 100);
    },
  });
  socket.on('data', (c: Buffer) => {
    if (!duplex.push(c)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (e) => duplex.destroy(e));
  return duplex;
}

describe('SNI check (no decryption)', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway(policyYaml());
  });
  after(async () => gw.close());

  // With the native front (the default engine when the addon is built), a ClientHello naming
  // the CONNECT host passes in the front itself; every other one is judged in JavaScript.
  const front = loadNative().addon !== null;
  const passedInFront = (): number => gw.gateway.stats().hellosPassedInFront;

  test('a ClientHello for the CONNECT host passes (openssl s_client)', async () => {
    const before = passedInFront();
    const r = await sClient(gw, SECURE, SECURE);
    assert.match(r.out, /HTTP\/1\.1 200 OK/, r.stderr);
    const record = await gw.waitForRecord(
      (x) => x.method === 'CONNECT' && x.sni === SECURE && x.end !== null,
    );
    assert.equal(record.decision, 'allow');
    assert.equal(passedInFront() - before, front ? 1 : 0);
  });

  test('a ClientHello for the CONNECT host in capitals with a trailing dot passes, logged as the host', async () => {
    const before = passedInFront();
    const written = gw.records.length;
    const r = await sClient(gw, SECURE, `${SECURE.toUpperCase()}.`);
    assert.match(r.out, /HTTP\/1\.1 200 OK/, r.stderr);
    const record = await gw.waitForRecord(
      (x) => gw.records.indexOf(x) >= written && x.method === 'CONNECT' && x.end !== null,
    );
    assert.equal(record.sni, SECURE);
    assert.equal(record.decision, 'allow');
    assert.equal(passedInFront() - before, front ? 1 : 0);
  });

  test('a ClientHello for a name that is not allowed is cut before it reaches the origin (domain fronting)', async () => {
    const seen = tlsOrigin.snis.length;
    const passedBefore = passedInFront();
    const r = await sClient(gw, SECURE, OTHER);
    assert.doesNotMatch(r.out, /HTTP\/1\.1 200 OK/);
    assert.ok(
      !tlsOrigin.snis.slice(seen).includes(OTHER),
      `origin saw ${tlsOrigin.snis.slice(seen).join(',')}`,
    );
    const record = await gw.waitForRecord((x) => x.reason === 'DENY_SNI_MISMATCH');
    assert.equal(record.decision, 'deny');
    assert.equal(record.sni, OTHER);
    assert.equal(passedInFront(), passedBefore, 'the front passed a ClientHello for another name');
    assert.equal(record.host, SECURE);
    assert.equal(record.bytesFromClient, 0);
  });

  test('a ClientHello for another allowed name passes', async () => {
    const r = await sClient(gw, SECURE, PLAIN);
    assert.match(r.out, /HTTP\/1\.1 200 OK/, r.stderr);
    assert.ok(tlsOrigin.snis.includes(PLAIN));
  });

  test('a ClientHello without server_name is refused by default', async () => {
    const r = await sClient(gw, SECURE, null);
    assert.doesNotMatch(r.out, /HTTP\/1\.1 200 OK/);
    await gw.waitForRecord((x) => x.reason === 'DENY_SNI_MISSING');
  });

  test('plain bytes on a TLS port are refused and never forwarded', async () => {
    const socket = await openTunnel(gw.port, `${SECURE}:${tlsOrigin.port}`);
    const requests = tlsOrigin.requests.length;
    socket.write(`GET /not-tls HTTP/1.1\r\nHost: ${SECURE}\r\n\r\n`);
    await new Promise((r) => socket.on('close', r));
    assert.equal(tlsOrigin.requests.length, requests);
    await gw.waitForRecord((x) => x.reason === 'DENY_NOT_TLS');
  });

  test('a ClientHello that comes late is judged when it comes; the setup time still ends at the 200', async () => {
    // The native front reports the upstream connect together with the first ClientHello bytes;
    // the record must not count the client's pause as setup.
    const socket = await openTunnel(gw.port, `${SECURE}:${tlsOrigin.port}`);
    const clientPort = socket.localPort;
    await new Promise((r) => setTimeout(r, 500));
    await new Promise<void>((resolve, reject) => {
      const tls = tlsConnect({ socket, servername: SECURE, ca: pki.ca });
      tls.on('secureConnect', () => {
        tls.destroy();
        resolve();
      });
      tls.on('error', reject);
    });
    const record = await gw.waitForRecord((x) => x.clientPort === clientPort);
    assert.equal(record.decision, 'allow');
    assert.equal(record.status, 200);
    assert.equal(record.sni, SECURE);
    assert.ok(
      record.setupMs !== null && record.setupMs >= 0 && record.setupMs < 400,
      `setup ${record.setupMs} ms`,
    );
    assert.ok(record.durationMs >= 500, `duration ${record.durationMs} ms`);
  });

  test('a tunnel that never sends a ClientHello is closed after timeouts.requestHead', async () => {
    const socket = await openTunnel(gw.port, `${SECURE}:${tlsOrigin.port}`);
    const started = Date.now();
    await new Promise((r) => socket.on('close', r));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 4000, `closed after ${elapsed} ms`);
    await gw.waitForRecord((x) => x.reason === 'TLS_HELLO_TIMEOUT');
  });

  test('a real ClientHello spread over more than 64 records is refused and never forwarded', async () => {
    // Node's ClientHello (about 380 bytes) in one-byte records: one record per byte.
    const socket = await openTunnel(gw.port, `${SECURE}:${tlsOrigin.port}`);
    const snis = tlsOrigin.snis.length;
    const failed = await new Promise<boolean>((resolve) => {
      const tls = tlsConnect({ socket: fragmentingTransport(socket, 1), servername: SECURE, ca: pki.ca });
      tls.on('secureConnect', () => {
        tls.destroy();
        resolve(false);
      });
      tls.on('error', () => resolve(true));
      tls.on('close', () => resolve(true));
    });
    assert.equal(failed, true, 'the handshake completed');
    // BAD_TLS_HELLO when the 65th record starts, not TLS_HELLO_TIMEOUT.
    const record = await gw.waitForRecord((x) => x.reason === 'BAD_TLS_HELLO');
    assert.equal(record.bytesFromClient, 0);
    assert.equal(tlsOrigin.snis.length, snis, 'the origin saw the ClientHello');
  });

  test('a ClientHello split over several TLS records and TCP segments completes a real handshake', async () => {
    for (const recordSize of [40, 300]) {
      const socket = await openTunnel(gw.port, `${SECURE}:${tlsOrigin.port}`);
      const body = await new Promise<string>((resolve, reject) => {
        const tls = tlsConnect({
          socket: fragmentingTransport(socket, recordSize),
          servername: SECURE,
          ca: pki.ca,
        });
        let text = '';
        tls.on('secureConnect', () =>
          tls.write(`GET /fragmented HTTP/1.1\r\nHost: ${SECURE}\r\nConnection: close\r\n\r\n`),
        );
        tls.on('data', (c: Buffer) => (text += c.toString()));
        tls.on('end', () => resolve(text));
        tls.on('error', reject);
      });
      assert.match(body, /^HTTP\/1\.1 200 OK/, `records of ${recordSize} bytes`);
    }
  });
});

describe('resolved-address guard', () => {
  test('an allowed name that resolves to an internal address is refused; internalNetworks admits it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-hosts-'));
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, '127.0.0.1 rebind.example.test\n');
    const yaml = (extra: string): string => `
policy:
  sources: [127.0.0.1/32]
  destinations: [rebind.example.test]
  ports: { connect: [${tlsOrigin.port}], http: [${httpOrigin.port}] }${extra}
dns: { servers: ["127.0.0.1:9"], hostsFile: ${JSON.stringify(hostsFile)}, timeout: 500ms, tries: 1 }
tls: { ports: [${tlsOrigin.port}] }
`;
    const guarded = await startGateway(yaml(''));
    try {
      const connections = tlsOrigin.connections + httpOrigin.connections;
      const tunnel = await rawExchange(
        guarded.port,
        `CONNECT rebind.example.test:${tlsOrigin.port} HTTP/1.1\r\n\r\n`,
      );
      assert.match(tunnel, /^HTTP\/1\.1 403 [\s\S]*destination_ip_prohibited[\s\S]*DENY_DESTINATION_ADDRESS/);
      const http = await rawExchange(
        guarded.port,
        `GET http://rebind.example.test:${httpOrigin.port}/meta HTTP/1.1\r\nHost: rebind.example.test:${httpOrigin.port}\r\n\r\n`,
      );
      assert.match(http, /^HTTP\/1\.1 403 [\s\S]*DENY_DESTINATION_ADDRESS/);
      assert.equal(
        tlsOrigin.connections + httpOrigin.connections,
        connections,
        'no upstream connection was made',
      );
      // A record is written when its connection ends, which may come after the client's answer.
      const records = await waitFor('both refusals logged', () => {
        const found = guarded.records.filter((r) => r.host === 'rebind.example.test');
        return found.length >= 2 && found;
      });
      assert.deepEqual(
        records.map((r) => [r.decision, r.reason]),
        [
          ['deny', 'DENY_DESTINATION_ADDRESS'],
          ['deny', 'DENY_DESTINATION_ADDRESS'],
        ],
      );
    } finally {
      await guarded.close();
    }
    const split = await startGateway(yaml('\n  internalNetworks: [127.0.0.0/8]'));
    try {
      const r = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--proxy',
        split.proxyUrl,
        `http://rebind.example.test:${httpOrigin.port}/split`,
      ]);
      assert.equal(r.stdout.toString(), '200', r.stderr);
    } finally {
      await split.close();
    }
  });
});

describe('audit mode', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway(`mode: audit\n${policyYaml()}`);
  });
  after(async () => gw.close());

  test('a host the policy refuses is let through and logged as would_deny', async () => {
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--proxy',
      gw.proxyUrl,
      '--cacert',
      pki.caFile,
      `https://${OTHER}:${tlsOrigin.port}/audit`,
    ]);
    assert.equal(r.stdout.toString(), '200', r.stderr);
    const record = await gw.waitForRecord((x) => x.host === OTHER && x.end !== null);
    assert.equal(record.decision, 'would_deny');
    assert.equal(record.reason, 'DENY_HOST_NOT_ALLOWED');
  });

  test('an allowed host in audit mode is logged as an ordinary allow, not as would_deny', async () => {
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--proxy',
      gw.proxyUrl,
      `http://${PLAIN}:${httpOrigin.port}/audit-allowed`,
    ]);
    assert.equal(r.stdout.toString(), '200', r.stderr);
    const record = await gw.waitForRecord((x) => x.path === '/audit-allowed');
    assert.equal(record.decision, 'allow');
    assert.equal(record.reason, 'ALLOWED');
  });

  test('an SNI mismatch is let through and logged as would_deny', async () => {
    const r = await sClient(gw, SECURE, OTHER);
    assert.match(r.out, /HTTP\/1\.1 200 OK/);
    const record = await gw.waitForRecord((x) => x.host === SECURE && x.sni === OTHER && x.end !== null);
    assert.equal(record.decision, 'would_deny');
    assert.equal(record.reason, 'DENY_SNI_MISMATCH');
  });

  test('audit mode is not an open proxy: the source ACL still refuses', async () => {
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--interface',
      '127.0.0.2',
      '--proxy',
      gw.proxyUrl,
      `http://${PLAIN}:${httpOrigin.port}/`,
    ]);
    assert.equal(r.stdout.toString(), '403');
    const record = await gw.waitForRecord((x) => x.client === '127.0.0.2');
    assert.equal(record.decision, 'deny');
    assert.equal(record.reason, 'DENY_SOURCE_NOT_ALLOWED');
  });

  test('audit mode is not an open proxy for CONNECT either: a source outside the ACL is refused and nothing is contacted', async () => {
    const connections = tlsOrigin.connections;
    const r = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_connect}',
      '--interface',
      '127.0.0.2',
      '--proxy',
      gw.proxyUrl,
      '--cacert',
      pki.caFile,
      `https://${SECURE}:${tlsOrigin.port}/audit-outsider`,
    ]);
    assert.equal(r.stdout.toString(), '403', r.stderr);
    assert.equal(tlsOrigin.connections, connections, 'no upstream connection');
    const record = await gw.waitForRecord((x) => x.client === '127.0.0.2' && x.method === 'CONNECT');
    assert.equal(record.decision, 'deny');
    assert.equal(record.reason, 'DENY_SOURCE_NOT_ALLOWED');
    assert.equal(record.upstream, null);
  });

  test('audit mode keeps the resolved-address guard: an internal address is refused, allowed name or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-hosts-'));
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, '127.0.0.1 rebind.example.test unlisted.example.test\n');
    const audit = await startGateway(`
mode: audit
policy:
  sources: [127.0.0.1/32]
  destinations: [rebind.example.test]
  ports: { connect: [${tlsOrigin.port}], http: [${httpOrigin.port}] }
dns: { servers: ["127.0.0.1:9"], hostsFile: ${JSON.stringify(hostsFile)}, timeout: 500ms, tries: 1 }
tls: { ports: [${tlsOrigin.port}] }
`);
    try {
      const connections = tlsOrigin.connections + httpOrigin.connections;
      for (const host of ['rebind.example.test', 'unlisted.example.test']) {
        const tunnel = await rawExchange(audit.port, `CONNECT ${host}:${tlsOrigin.port} HTTP/1.1\r\n\r\n`);
        assert.match(tunnel, /^HTTP\/1\.1 403 [\s\S]*DENY_DESTINATION_ADDRESS/, host);
      }
      const http = await rawExchange(
        audit.port,
        `GET http://rebind.example.test:${httpOrigin.port}/meta HTTP/1.1\r\nHost: rebind.example.test:${httpOrigin.port}\r\n\r\n`,
      );
      assert.match(http, /^HTTP\/1\.1 403 [\s\S]*DENY_DESTINATION_ADDRESS/);
      assert.equal(tlsOrigin.connections + httpOrigin.connections, connections, 'no upstream connection');
      // Records are written as connections end, which need not be the order they were sent in.
      await audit.waitForRecord((r) => r.method === 'GET');
      await audit.waitForRecord((r) => r.method === 'CONNECT' && r.host === 'unlisted.example.test');
      await audit.waitForRecord((r) => r.method === 'CONNECT' && r.host === 'rebind.example.test');
      assert.deepEqual(audit.records.map((r) => [r.method, r.host, r.decision, r.reason]).sort(), [
        ['CONNECT', 'rebind.example.test', 'deny', 'DENY_DESTINATION_ADDRESS'],
        ['CONNECT', 'unlisted.example.test', 'deny', 'DENY_DESTINATION_ADDRESS'],
        ['GET', 'rebind.example.test', 'deny', 'DENY_DESTINATION_ADDRESS'],
      ]);
    } finally {
      await audit.close();
    }
  });
});

describe('request defenses', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway(
      policyYaml('limits: { maxRequestsPerConnection: 2, newConnectionsPerClientPerSecond: 1000 }'),
    );
  });
  after(async () => gw.close());

  const target = (): string => `http://${PLAIN}:${httpOrigin.port}`;
  const host = (): string => `${PLAIN}:${httpOrigin.port}`;

  const cases: [string, () => string][] = [
    [
      'Content-Length together with Transfer-Encoding',
      () =>
        `POST ${target()}/smuggle HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    [
      'two different Content-Length values',
      () =>
        `POST ${target()}/smuggle HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    ],
    [
      'a header with a bad byte in its name',
      () => `GET ${target()}/smuggle HTTP/1.1\r\nHost: ${host()}\r\nX Bad: 1\r\n\r\n`,
    ],
    [
      'a header value with a NUL byte',
      () => `GET ${target()}/smuggle HTTP/1.1\r\nHost: ${host()}\r\nX-Bad: a\u0000b\r\n\r\n`,
    ],
    [
      'a bare LF line ending inside the head',
      () => `GET ${target()}/smuggle HTTP/1.1\nHost: ${host()}\r\n\r\n`,
    ],
  ];
  for (const [name, request] of cases) {
    test(`refuses ${name} with 400, nothing forwarded`, async () => {
      const reply = await rawExchange(gw.port, request());
      assert.match(reply, /^HTTP\/1\.1 400 /);
      assert.ok(!httpOrigin.requests.some((r) => r.url === '/smuggle'));
    });
  }

  test('refuses an absolute target whose host disagrees with Host', async () => {
    const reply = await rawExchange(gw.port, `GET ${target()}/x HTTP/1.1\r\nHost: evil.example.test\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 400 [\s\S]*BAD_HOST_MISMATCH/);
  });

  test('accepts a Host that differs only in case and trailing dot', async () => {
    const reply = await rawExchange(
      gw.port,
      `GET ${target()}/case HTTP/1.1\r\nHost: ${PLAIN.toUpperCase()}.:${httpOrigin.port}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
  });

  test('a keep-alive connection serves at most maxRequestsPerConnection requests', async () => {
    const one = `GET ${target()}/ka HTTP/1.1\r\nHost: ${host()}\r\n\r\n`;
    const reply = await rawExchange(gw.port, one + one + one, 1000);
    const statuses = [...reply.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses.slice(0, 2), ['200', '200']);
    assert.match(reply, /Connection: close/i);
    assert.ok(!statuses.slice(2).includes('200'), `third request served: ${statuses.join(',')}`);
  });
});

describe('connection rate per client', () => {
  test('past newConnectionsPerClientPerSecond a client gets 503 LIMIT_CONNECTION_RATE', async () => {
    const gw = await startGateway(policyYaml('limits: { newConnectionsPerClientPerSecond: 3 }'));
    try {
      const replies: string[] = [];
      for (let i = 0; i < 5; i++) {
        replies.push(
          await rawExchange(
            gw.port,
            `GET http://${PLAIN}:${httpOrigin.port}/rate HTTP/1.1\r\nHost: ${PLAIN}:${httpOrigin.port}\r\nConnection: close\r\n\r\n`,
          ),
        );
      }
      const statuses = replies.map((r) => r.slice(9, 12));
      assert.deepEqual(statuses.slice(0, 3), ['200', '200', '200']);
      assert.ok(
        statuses.slice(3).every((s) => s === '503'),
        statuses.join(','),
      );
      assert.match(replies[4]!, /LIMIT_CONNECTION_RATE/);
    } finally {
      await gw.close();
    }
  });
});

describe('PROXY protocol listener', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway(`
listeners:
  - address: 127.0.0.1:0
    proxyProtocol: true
    trustedProxies: [127.0.0.1/32]
policy:
  sources: [10.0.0.0/8]
  destinations: [${PLAIN}]
  ports: { connect: [443], http: [${httpOrigin.port}] }
hosts: { ${PLAIN}: 127.0.0.1 }
timeouts: { requestHead: 1s }
`);
  });
  after(async () => gw.close());

  /** A v2 header: TCP over IPv4 from 10.9.8.7:12345 to 192.0.2.1:3128. */
  const V2_HEADER = Buffer.concat([
    Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
    Buffer.from([0x21, 0x11, 0x00, 0x0c, 10, 9, 8, 7, 192, 0, 2, 1, 0x30, 0x39, 0x0c, 0x38]),
  ]);

  const get = (path: string): string =>
    `GET http://${PLAIN}:${httpOrigin.port}${path} HTTP/1.1\r\nHost: ${PLAIN}:${httpOrigin.port}\r\nConnection: close\r\n\r\n`;

  test('v1: the client address comes from the header, and the source ACL judges it', async () => {
    const ok = await rawExchange(gw.port, `PROXY TCP4 10.20.30.40 192.0.2.1 50123 3128\r\n${get('/pp1')}`);
    assert.match(ok, /^HTTP\/1\.1 200 /);
    const record = await gw.waitForRecord((x) => x.path === '/pp1');
    assert.equal(record.client, '10.20.30.40');
    assert.equal(record.clientPort, 50123);
    const refused = await rawExchange(
      gw.port,
      `PROXY TCP4 198.51.100.7 192.0.2.1 50124 3128\r\n${get('/pp2')}`,
    );
    assert.match(refused, /^HTTP\/1\.1 403 [\s\S]*DENY_SOURCE_NOT_ALLOWED/);
  });

  test('v2 binary header, sent in pieces', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(gw.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.write(V2_HEADER.subarray(0, 7));
      setTimeout(() => socket.write(Buffer.concat([V2_HEADER.subarray(7), Buffer.from(get('/pp3'))])), 50);
    });
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const record = await gw.waitForRecord((x) => x.path === '/pp3');
    assert.equal(record.client, '10.9.8.7');
    assert.equal(record.clientPort, 12345);
  });

  test('a connection without a PROXY header gets 400', async () => {
    const reply = await rawExchange(gw.port, get('/pp4'));
    assert.match(reply, /^HTTP\/1\.1 400 [\s\S]*DENY_PROXY_PROTOCOL/);
  });

  /** Sends `data` from 127.0.0.2, which is not a trusted proxy, and collects the answer until close. */
  const fromUntrusted = (data: Buffer | string): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect({ port: gw.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
      socket.write(data);
    });

  for (const [version, header] of [
    ['v1', Buffer.from('PROXY TCP4 10.20.30.40 192.0.2.1 50123 3128\r\n')],
    ['v2', V2_HEADER],
  ] as const) {
    test(`a ${version} PROXY header from an untrusted address is not believed: the connection is closed`, async () => {
      const path = `/untrusted-${version}`;
      const reply = await fromUntrusted(Buffer.concat([header, Buffer.from(get(path))]));
      assert.doesNotMatch(reply, /200 OK/);
      assert.ok(!httpOrigin.requests.some((r) => r.url === path));
      const records = gw.records.filter((x) => x.client === '127.0.0.2');
      assert.ok(records.length > 0 && records.every((x) => x.reason === 'DENY_PROXY_PROTOCOL'));
      assert.ok(records.every((x) => x.decision === 'deny'));
      assert.ok(!gw.records.some((x) => x.path === path), 'the header was not believed');
    });
  }
});

describe('PROXY protocol listener: connections waiting for their header', () => {
  // 80 descriptors for connections: at most 10 may wait for a header at once (one eighth).
  const WAITING = 10;
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway(
      `
listeners:
  - address: 127.0.0.1:0
    proxyProtocol: true
    trustedProxies: [127.0.0.1/32]
policy:
  sources: [10.0.0.0/8]
  destinations: [${PLAIN}]
  ports: { connect: [443], http: [${httpOrigin.port}] }
hosts: { ${PLAIN}: 127.0.0.1 }
timeouts: { requestHead: 20s }
`,
      { openFilesLimit: RESERVED_DESCRIPTORS + 80 },
    );
  });
  after(async () => gw.close());

  /** A connection from the trusted proxy that sends nothing; `reply` collects what comes back. */
  const silent = (): Promise<{ socket: Socket; reply: () => string }> =>
    new Promise((resolve) => {
      const socket = connect({ port: gw.port, host: '127.0.0.1' });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('connect', () => resolve({ socket, reply: () => text }));
    });

  test('are counted: past a share of the descriptors the next is refused with 503, and leaving gives the room back', async () => {
    const held = [];
    for (let i = 0; i < WAITING; i++) held.push(await silent());
    const over = await silent();
    try {
      await waitFor('the refusal of the connection past the share', () =>
        /^HTTP\/1\.1 503 [\s\S]*LIMIT_DESCRIPTORS/.test(over.reply()),
      );
      assert.ok(
        held.every((h) => h.reply() === ''),
        'a waiting connection was answered',
      );
    } finally {
      for (const h of held) h.socket.destroy();
      over.socket.destroy();
    }
    // The senders left without a header: recorded, and their room given back.
    await waitFor(
      'a record for each that left',
      () => gw.records.filter((r) => r.reason === 'DENY_PROXY_PROTOCOL').length >= WAITING,
    );
    const get = `GET http://${PLAIN}:${httpOrigin.port}/after-waiting HTTP/1.1\r\nHost: ${PLAIN}:${httpOrigin.port}\r\nConnection: close\r\n\r\n`;
    for (let i = 0; i < WAITING + 2; i++) {
      const reply = await rawExchange(gw.port, `PROXY TCP4 10.1.2.3 192.0.2.1 ${40000 + i} 3128\r\n${get}`);
      assert.match(reply, /^HTTP\/1\.1 200 /);
    }
  });
});
