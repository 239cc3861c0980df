import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseReader } from '../../../bench/loadgen/http-response.js';
import {
  ipv4ToNumber,
  numberToIpv4,
  SourceAllocator,
  sourceAddress,
} from '../../../bench/loadgen/protocol.js';
import { split } from '../../../bench/scenarios.js';
import {
  airlockConfig,
  observationOf,
  squidConfig,
  squidHosts,
  tinyproxyConfig,
  tinyproxyFilter,
  type ProxyEnv,
} from '../../../bench/proxies.js';

test('IPv4 addresses convert both ways', () => {
  assert.equal(ipv4ToNumber('127.1.2.3'), 127 * 2 ** 24 + 1 * 2 ** 16 + 2 * 256 + 3);
  assert.equal(numberToIpv4(ipv4ToNumber('127.254.255.1')), '127.254.255.1');
  assert.throws(() => ipv4ToNumber('127.1.2'), RangeError);
  assert.throws(() => ipv4ToNumber('127.1.2.256'), RangeError);
});

test('source ranges skip .0 and .255 and never overlap', () => {
  const alloc = new SourceAllocator();
  const a = alloc.take(300);
  const b = alloc.take(10);
  assert.equal(sourceAddress(a, 0), '127.1.0.1');
  assert.equal(sourceAddress(a, 253), '127.1.0.254');
  assert.equal(sourceAddress(a, 254), '127.1.1.1');
  assert.equal(sourceAddress(a, 300), '127.1.0.1', 'wraps around inside its range');
  assert.equal(sourceAddress(b, 0), '127.1.2.1', 'the next range starts on a fresh /24');
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(sourceAddress(a, i));
  assert.equal(seen.size, 300);
  assert.throws(() => new SourceAllocator('127.1.0.0', '127.1.1.0').take(600), RangeError);
});

test('work splits over generators without empty shares', () => {
  assert.deepEqual(split(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(split(1, 8), [1]);
  assert.deepEqual(
    split(50_000, 8).reduce((a, b) => a + b, 0),
    50_000,
  );
});

test('responses framed by Content-Length, split anywhere', () => {
  const wire = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
  );
  for (let cut = 1; cut < wire.length; cut++) {
    const reader = new ResponseReader();
    const done = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
    assert.deepEqual(
      done.map((d) => [d.status, d.bodyBytes, d.keepAlive]),
      [
        [200, 5, true],
        [404, 0, true],
      ],
      `cut at ${cut}`,
    );
    assert.equal(reader.idle, true);
  }
});

test('chunked bodies, Connection: close and HTTP/1.0', () => {
  const reader = new ResponseReader();
  const chunked = reader.push(
    Buffer.from(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n',
    ),
  );
  assert.deepEqual(chunked, [{ status: 200, bodyBytes: 5, keepAlive: false }]);
  const old = new ResponseReader().push(Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx'));
  assert.equal(old[0]?.keepAlive, false);
  const kept = new ResponseReader().push(
    Buffer.from('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx'),
  );
  assert.equal(kept[0]?.keepAlive, true);
});

test('a body delimited by the close completes at the end; a cut response throws', () => {
  const reader = new ResponseReader();
  assert.deepEqual(reader.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabcd')), []);
  assert.deepEqual(reader.end(), { status: 200, bodyBytes: 4, keepAlive: false });
  const cut = new ResponseReader();
  cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  assert.throws(() => cut.end(), /closed inside a response/);
  assert.equal(new ResponseReader().end(), null);
  assert.throws(() => new ResponseReader().push(Buffer.from('SSH-2.0-x\r\n\r\n')), /bad status line/);
});

test('tinyproxy filters are the dstdomain rules as anchored regular expressions', () => {
  assert.equal(
    tinyproxyFilter(['localhost', '.wd.microsoft.com']),
    '^localhost$\n(^|\\.)wd\\.microsoft\\.com$\n',
  );
});

const env: ProxyEnv = {
  workDir: '/dev/shm/bench',
  repoRoot: '/repo',
  destName: 'localhost',
  allowlist: ['localhost', '.wd.microsoft.com'],
  originHost: '127.0.0.1',
  connectPorts: [1001, 1002],
  tlsPorts: [1001],
  httpPorts: [1003],
  accessLog: true,
  clientAddresses: ['127.0.1.1', '127.0.1.2'],
  dnsServer: '127.53.0.1',
};

test('every proxy does the same work: each logs every request, names come from hosts files', () => {
  const airlock = JSON.parse(airlockConfig(env, 3128, '/dev/shm/bench/access.log')) as {
    log: { file: string };
    hosts: Record<string, string>;
    limits: Record<string, number>;
  };
  assert.equal(airlock.log.file, '/dev/shm/bench/access.log');
  assert.deepEqual(airlock.hosts, { localhost: '127.0.0.1' });
  // A few source addresses carry thousands of tunnels per second: per-client limits out of the way.
  assert.ok(airlock.limits.maxConnectionsPerClient! >= 60_000);
  assert.ok(airlock.limits.newConnectionsPerClientPerSecond! >= 100_000);

  const squid = squidConfig(env, 3128, 2, '/dev/shm/bench/squid');
  assert.match(squid, /^access_log stdio:\/dev\/shm\/bench\/squid\/access-\$\{process_number\}\.log squid$/m);
  assert.match(squid, /^dns_nameservers 127\.53\.0\.1$/m);
  assert.match(squid, /^hosts_file \/dev\/shm\/bench\/squid\/hosts$/m);
  assert.match(squid, /^workers 2$/m);
  assert.equal(
    squidHosts(env),
    '127.0.0.1 localhost\n127.0.1.1 bench-client-1\n127.0.1.2 bench-client-2\n',
    'Squid finds a name for every client address without asking DNS',
  );
  assert.match(squidConfig({ ...env, accessLog: false }, 3128, 1, '/d'), /^access_log none$/m);

  const tiny = tinyproxyConfig(env, 3128, '/dev/shm/bench/tiny');
  assert.match(tiny, /^LogLevel Connect$/m, 'the client, request line and upstream of every request');
  assert.match(tiny, /^LogFile "\/dev\/shm\/bench\/tiny\/tinyproxy\.log"$/m);
  assert.match(tinyproxyConfig({ ...env, accessLog: false }, 3128, '/d'), /^LogLevel Critical$/m);
});

test("the gateway's observation switch is read from its listening event", () => {
  assert.equal(observationOf('{"event":"listening","workers":2,"observation":"off"}'), 'off');
  assert.equal(observationOf('{"event":"listening","observation":false}'), 'off');
  assert.equal(observationOf('{"event":"listening","workers":2}'), null, 'no switch yet');
  assert.equal(observationOf('airlock listening on 127.0.0.1:3128'), null);
});
