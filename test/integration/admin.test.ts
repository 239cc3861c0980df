import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { compilePolicy, decide, parseDstdomain } from '../../src/policy/index.js';
import { serve, type Served } from '../helpers/cli.js';
import { rawExchange } from '../helpers/run.js';

const LIST = `.microsoft.com
*.blob.core.windows.net
login.live.com
`;

let gw: Served;
let adminPort: number;

async function get(
  path: string,
  host = `127.0.0.1:${adminPort}`,
): Promise<{ status: number; type: string; body: string }> {
  const reply = await rawExchange(
    adminPort,
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
  const metrics = await get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(
    metrics.body,
    /airlock_requests_total\{kind="connect",decision="deny",reason="DENY_HOST_NOT_ALLOWED"\} 1/,
  );
  assert.match(metrics.body, /airlock_connections_open \d+/);
  assert.match(metrics.body, /airlock_policy_rules 3/);
  assert.match(metrics.body, /airlock_process_resident_memory_bytes \d+/);
});

test('/proxy.pac sends exactly the policy’s hosts to the gateway, evaluated by a real PAC engine', async () => {
  const pac = await get('/proxy.pac', `gw.example.test:${adminPort}`);
  assert.equal(pac.status, 200);
  assert.equal(pac.type, 'application/x-ns-proxy-autoconfig');
  const find = createPacResolver(await QuickJS.create(), pac.body);
  const compiled = compilePolicy({
    sources: [{ cidr: '127.0.0.0/8', origin: { source: 'config', where: 't' } }],
    destinations: parseDstdomain(LIST, 'list.conf').destinations,
    ports: { connect: [443], http: [80] },
  });
  assert.ok(compiled.ok);
  const policy = compiled.ok ? compiled.policy : null!;
  const hosts = [
    'microsoft.com',
    'go.microsoft.com',
    'a.b.microsoft.com',
    'evilmicrosoft.com',
    'microsoft.com.evil.example',
    'x.blob.core.windows.net',
    'blob.core.windows.net',
    'login.live.com',
    'x.login.live.com',
    'example.org',
  ];
  for (const host of hosts) {
    const answer = await find(`https://${host}/`, host);
    const allowed =
      decide(policy, { source: '127.0.0.1', method: 'CONNECT', host, port: 443 }).verdict === 'allow';
    assert.equal(answer, allowed ? `PROXY gw.example.test:${gw.port}` : 'DIRECT', host);
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

test('/readyz turns 503 when draining starts', async () => {
  const { connect } = await import('node:net');
  // Hold a tunnel-less keep-alive connection open so the drain lasts a moment.
  const held = connect(gw.port, '127.0.0.1');
  held.on('error', () => undefined);
  held.write('CONNECT evil.example.test:443 HTTP/1.1\r\n');
  gw.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  const ready = await get('/readyz').catch(() => ({ status: 0 }));
  assert.ok(ready.status === 503 || ready.status === 0, `readyz ${ready.status}`);
  held.destroy();
  assert.equal(await gw.exited, 0);
});
