import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { echoOnce, openTunnel, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { rawExchange } from '../helpers/run.js';
import { events, waitFor, waitForEvent } from '../helpers/wait.js';

const LIST = `.microsoft.com
*.blob.core.windows.net
login.live.com
`;

let gw: Served;
let adminPort: number;

async function get(
  path: string,
  host = `127.0.0.1:${adminPort}`,
  port = adminPort,
): Promise<{ status: number; type: string; body: string }> {
  const reply = await rawExchange(
    port,
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    2000,
  );
  const [head = '', body = ''] = reply.split('\r\n\r\n');
  return { status: Number(head.slice(9, 12)), type: /content-type: ([^\r]+)/i.exec(head)?.[1] ?? '', body };
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-admin-'));
  writeFileSync(join(dir, 'list.conf'), LIST);
  writeFileSync(
    join(dir, 'airlock.yaml'),
    `policy:
  sources: [127.0.0.0/8]
  allowlistFiles: [list.conf]
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
admin:
  listen: 127.0.0.1:0
  servePacOnProxyPort: true
timeouts: { drain: 3s }
`,
  );
  gw = await serve(['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0']);
  adminPort = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
  assert.ok(adminPort > 0, gw.stderr);
});

after(async () => {
  if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
  await gw.exited;
});

test('/healthz and /readyz answer 200 while serving', async () => {
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  assert.equal((await get('/nope')).status, 404);
});

test('/metrics counts decisions by reason', async () => {
  await rawExchange(gw.port, 'CONNECT evil.example.test:443 HTTP/1.1\r\n\r\n', 300);
  // The refusal is counted when its session is over, which may be just after the 403 arrived.
  const denied =
    /airlock_requests_total\{kind="connect",decision="deny",reason="DENY_HOST_NOT_ALLOWED"\} 1\n/;
  const metrics = await waitFor('the refusal to be counted', async () => {
    const m = await get('/metrics');
    return denied.test(m.body) && m;
  });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /airlock_connections_open \d+/);
  assert.match(metrics.body, /airlock_policy_rules 3/);
  assert.match(metrics.body, /airlock_process_resident_memory_bytes \d+/);
});

test('/proxy.pac sends exactly the policy’s hosts to the gateway, evaluated by a real PAC engine', async () => {
  const pac = await get('/proxy.pac', `gw.example.test:${adminPort}`);
  assert.equal(pac.status, 200);
  assert.equal(pac.type, 'application/x-ns-proxy-autoconfig');
  const find = createPacResolver(await QuickJS.create(), pac.body);
  // What the list above means, written out by hand: `.microsoft.com` is the domain and every name
  // under it, `*.blob.core.windows.net` only names under it, `login.live.com` that name alone.
  const expected: [host: string, proxied: boolean][] = [
    ['microsoft.com', true],
    ['go.microsoft.com', true],
    ['a.b.microsoft.com', true],
    ['evilmicrosoft.com', false],
    ['microsoft.com.evil.example', false],
    ['x.blob.core.windows.net', true],
    ['blob.core.windows.net', false],
    ['login.live.com', true],
    ['x.login.live.com', false],
    ['example.org', false],
  ];
  for (const [host, proxied] of expected) {
    const answer = await find(`https://${host}/`, host);
    assert.equal(answer, proxied ? `PROXY gw.example.test:${gw.port}` : 'DIRECT', host);
  }
});

test('the PAC is also served on the proxy port when servePacOnProxyPort is set; other origin-form requests still get 400', async () => {
  const reply = await rawExchange(
    gw.port,
    `GET /wpad.dat HTTP/1.1\r\nHost: wpad.example.test:${gw.port}\r\nConnection: close\r\n\r\n`,
    1000,
  );
  assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*FindProxyForURL/);
  assert.match(reply, new RegExp(`PROXY wpad\\.example\\.test:${gw.port}`));
  const other = await rawExchange(gw.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n', 500);
  assert.match(other, /^HTTP\/1\.1 400 [\s\S]*BAD_ORIGIN_FORM/);
});

describe('a gateway with admin.pac.proxies, draining', () => {
  let echo: TestOrigin;
  let own: Served;
  let ownAdmin: number;

  before(async () => {
    echo = await startTcpEcho();
    const dir = mkdtempSync(join(tmpdir(), 'airlock-admin-pac-'));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `policy:
  sources: [127.0.0.0/8]
  destinations: [echo.example.test, .wd.example.test]
  ports: { connect: [${echo.port}, 443], http: [80] }
hosts: { echo.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
admin:
  listen: 127.0.0.1:0
  pac:
    proxies: ["gw1.example.test:3128", "gw2.example.test:3128", "[2001:db8::7]:8080"]
    otherwise: "PROXY fallback.example.test:8080"
timeouts: { drain: 20s }
`,
    );
    own = await serve(['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0']);
    ownAdmin = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(own.stderr)?.[1]);
  });

  after(async () => {
    if (own.child.exitCode === null) own.child.kill('SIGKILL');
    await echo.close();
  });

  test('the PAC names every configured gateway, in the configured order, then the configured fallback', async () => {
    const reply = await rawExchange(
      ownAdmin,
      `GET /proxy.pac HTTP/1.1\r\nHost: anything.example.test\r\nConnection: close\r\n\r\n`,
      2000,
    );
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
    const find = createPacResolver(await QuickJS.create(), body);
    const chain = 'PROXY gw1.example.test:3128; PROXY gw2.example.test:3128; PROXY [2001:db8::7]:8080';
    const expected: [host: string, answer: string][] = [
      ['echo.example.test', chain],
      ['a.wd.example.test', chain],
      ['wd.example.test', chain],
      ['x.echo.example.test', 'PROXY fallback.example.test:8080'],
      ['example.org', 'PROXY fallback.example.test:8080'],
    ];
    for (const [host, answer] of expected) assert.equal(await find(`https://${host}/`, host), answer, host);
  });

  test('/readyz answers 503 (not silence) while a tunnel drains, then the process exits 0', async () => {
    const tunnel = await openTunnel(own.port, `echo.example.test:${echo.port}`);
    assert.equal((await get('/readyz', undefined, ownAdmin)).status, 200);
    const mark = events(own, 'shutdown').length;
    own.child.kill('SIGTERM');
    await waitForEvent(own, 'shutdown', { after: mark });
    // The tunnel still holds the drain open: the admin listener must answer, and say "not ready".
    const ready = await get('/readyz', undefined, ownAdmin);
    assert.equal(ready.status, 503);
    assert.match(ready.body, /not ready/);
    assert.equal((await get('/healthz', undefined, ownAdmin)).status, 200);
    assert.equal(await echoOnce(tunnel, 'still draining'), 'still draining');
    tunnel.end();
    assert.equal(await own.exited, 0);
  });
});
