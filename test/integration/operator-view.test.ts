import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { CLI, echoOnce, openTunnel, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';
import { http, type Reply } from '../helpers/http.js';
import { rawExchange, run } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

interface PromSample {
  labels?: Record<string, string>;
  value?: string;
  count?: string;
  buckets?: Record<string, string>;
}
interface PromFamily {
  name: string;
  type: string;
  metrics: PromSample[];
}

function sample(
  families: PromFamily[],
  name: string,
  labels: Record<string, string>,
): PromSample | undefined {
  return families
    .find((f) => f.name === name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

describe('operator view: a gateway with two workers carrying traffic', () => {
  let echo: TestOrigin;
  let gw: Served;
  let dir: string;
  let file: string;
  let adminPort: number;
  let held: Socket;

  const config = (extra = ''): string => `workers: 2
pidFile: ${JSON.stringify(join(dir, 'airlock.pid'))}
policy:
  sources: [127.0.0.0/8]
  defaultAllowlist: true
  destinations:
    - { host: winatp-gw-eus.microsoft.com, ports: [${echo.port}] }
    - { host: nx.example.test, ports: [${echo.port}] }
  ports: { connect: [443, ${echo.port}], http: [80] }
catalog: { products: [mde], geographies: [US] }
hosts: { winatp-gw-eus.microsoft.com: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null, timeout: 300ms, tries: 1 }
admin: { listen: "127.0.0.1:0" }
timeouts: { drain: 2s }
${extra}`;

  before(async () => {
    echo = await startTcpEcho();
    dir = mkdtempSync(join(tmpdir(), 'airlock-operator-'));
    file = join(dir, 'airlock.yaml');
    writeFileSync(file, config());
    gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], 60_000);
    adminPort = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
    assert.ok(adminPort > 0, gw.stderr);

    // Real traffic: tunnels to a catalog service (one held open), a refusal the catalog
    // explains, and a name that does not resolve.
    for (let i = 0; i < 3; i++) {
      const t = await openTunnel(gw.port, `winatp-gw-eus.microsoft.com:${echo.port}`);
      assert.equal(await echoOnce(t, `ping ${i}`), `ping ${i}`);
      t.end();
    }
    held = await openTunnel(gw.port, `winatp-gw-eus.microsoft.com:${echo.port}`);
    const refused = await rawExchange(
      gw.port,
      'CONNECT winatp-gw-neu.microsoft.com:443 HTTP/1.1\r\n\r\n',
      300,
    );
    assert.match(refused, /^HTTP\/1\.1 403/);
    const dns = await rawExchange(gw.port, `CONNECT nx.example.test:${echo.port} HTTP/1.1\r\n\r\n`, 1500);
    assert.match(dns, /^HTTP\/1\.1 50[24]/);
  });

  after(async () => {
    held?.destroy();
    await echo?.close();
    if (gw === undefined) return;
    if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
    await gw.exited;
  });

  test('/metrics parses as Prometheus text and carries the new series, with no per-host or per-client label', async () => {
    // Wait until the held tunnel shows and the finished ones are counted (metrics are per worker, summed).
    const families = await waitFor('the tunnels in the metrics', async () => {
      const reply = await http(adminPort, '/metrics');
      assert.equal(reply.status, 200);
      const parsed = parsePrometheusTextFormat(reply.body) as PromFamily[];
      const done = sample(parsed, 'airlock_service_requests_total', {
        product: 'mde',
        service: 'command-and-control',
        decision: 'allow',
      });
      return Number(done?.value ?? 0) >= 3 ? parsed : null;
    });
    const type = (name: string): string | undefined => families.find((f) => f.name === name)?.type;
    assert.equal(type('airlock_connect_setup_seconds'), 'HISTOGRAM');
    assert.equal(type('airlock_upstream_connect_seconds'), 'HISTOGRAM');
    const setup = families.find((f) => f.name === 'airlock_connect_setup_seconds')!.metrics[0]!;
    assert.ok(Number(setup.count) >= 4, `four tunnels set up: ${JSON.stringify(setup)}`);
    const connect = families.find((f) => f.name === 'airlock_upstream_connect_seconds')!.metrics[0]!;
    assert.ok(Number(connect.count) >= 4);
    assert.equal(
      sample(families, 'airlock_tunnels_open', { product: 'mde', service: 'command-and-control' })?.value,
      '1',
    );
    // Each of the four tunnels looked its name up, or came on a repeat grant of a tunnel that did.
    const lookedUp = Number(sample(families, 'airlock_dns_answers_total', { result: 'static' })?.value);
    const granted = Number(sample(families, 'airlock_front_granted_total', {})?.value);
    assert.ok(lookedUp >= 1 && lookedUp + granted >= 4, `static answers ${lookedUp}, granted ${granted}`);
    // The DNS server the test names refuses (nothing listens on 127.0.0.1:9): a failed lookup, by its result.
    const dnsFamily = families.find((f) => f.name === 'airlock_dns_answers_total')!;
    const failedLookups = dnsFamily.metrics.filter(
      (m) => !['static', 'cached', 'ok'].includes(m.labels!.result!) && Number(m.value) > 0,
    );
    assert.equal(failedLookups.length > 0, true, JSON.stringify(dnsFamily.metrics));
    assert.ok(
      Number(
        sample(families, 'airlock_service_failures_total', { product: 'none', service: 'none', kind: 'dns' })
          ?.value,
      ) >= 1,
    );
    assert.ok(
      Number(
        sample(families, 'airlock_service_requests_total', {
          product: 'none',
          service: 'none',
          decision: 'deny',
        })?.value,
      ) >= 1,
    );
    assert.equal(sample(families, 'airlock_last_reload_success', {})?.value, '1');
    assert.equal(sample(families, 'airlock_config_generation', {})?.value, '1');
    assert.ok(families.some((f) => f.name === 'airlock_last_reload_timestamp_seconds'));
    const labels = new Set(families.flatMap((f) => f.metrics.flatMap((m) => Object.keys(m.labels ?? {}))));
    for (const forbidden of ['host', 'client', 'destination', 'address', 'sni'])
      assert.equal(labels.has(forbidden), false, `no "${forbidden}" label`);
  });

  test('the admin API lists the service, the client, the open tunnel and the denial with its next step', async () => {
    const services = await waitFor('the service row', async () => {
      const body = JSON.parse((await http(adminPort, '/api/services')).body) as {
        rows: { key: string; status: string; clients: number; open: number; serviceLabel: string }[];
      };
      const row = body.rows.find((r) => r.key === 'mde/command-and-control');
      return row !== undefined && row.open === 1 ? body : null;
    });
    const c2 = services.rows.find((r) => r.key === 'mde/command-and-control')!;
    assert.equal(c2.status, 'reaching');
    assert.equal(c2.clients, 1);
    assert.equal(c2.serviceLabel, 'Command and control');
    // Catalog services the policy opens but nobody used are listed as idle.
    assert.ok(services.rows.some((r) => r.status === 'idle'));

    // Each worker reports once a second: the refusal may come from the other worker, a moment later.
    const clients = await waitFor('the client with its refusal', async () => {
      const body = JSON.parse((await http(adminPort, '/api/clients?q=127.0.0')).body) as {
        rows: { address: string; open: number; services: { key: string }[]; denials: { reason: string }[] }[];
      };
      const row = body.rows.find((r) => r.address === '127.0.0.1');
      return row !== undefined && row.denials.some((d) => d.reason === 'DENY_HOST_NOT_ALLOWED') ? body : null;
    });
    const me = clients.rows.find((r) => r.address === '127.0.0.1')!;
    assert.equal(me.open, 1);
    assert.ok(me.services.some((s) => s.key === 'mde/command-and-control'));
    assert.ok(me.denials.some((d) => d.reason === 'DENY_HOST_NOT_ALLOWED'));

    const tunnels = JSON.parse((await http(adminPort, '/api/tunnels')).body) as {
      total: number;
      rows: { id: string; host: string; service: string }[];
    };
    assert.equal(tunnels.total, 1);
    assert.equal(tunnels.rows[0]!.host, 'winatp-gw-eus.microsoft.com');
    // The JSON log had an "open" line for it, with the same id and its service.
    const openLine = gw.stdout
      .split('\n')
      .filter((l) => l.includes('"event":"open"'))
      .map((l) => JSON.parse(l) as { id: string; service: string; product: string; catalog_id: string })
      .find((l) => l.id === tunnels.rows[0]!.id);
    assert.ok(openLine !== undefined, 'an open line with the tunnel id');
    assert.equal(openLine.service, 'command-and-control');
    assert.equal(openLine.catalog_id, 'mde:winatp-gw-eus.microsoft.com@US');

    const denials = JSON.parse((await http(adminPort, '/api/denials')).body) as {
      destinations: {
        host: string;
        lastReason: string;
        explanation: { code: string; next: string; suggestions: { key: string; add: string[] }[] };
      }[];
      recent: { host: string; explanation: { code: string } }[];
    };
    const neu = denials.destinations.find((d) => d.host === 'winatp-gw-neu.microsoft.com')!;
    assert.equal(neu.lastReason, 'DENY_HOST_NOT_ALLOWED');
    assert.equal(neu.explanation.code, 'CATALOG_OTHER_GEOGRAPHY');
    assert.match(neu.explanation.next, /add geography EU/);
    assert.deepEqual(neu.explanation.suggestions, [{ key: 'catalog.geographies', add: ['EU'] }]);
    assert.ok(denials.recent.some((d) => d.host === 'winatp-gw-neu.microsoft.com'));

    const status = JSON.parse((await http(adminPort, '/api/status')).body) as {
      generation: number;
      uptimeSeconds: number;
      processes: { up: boolean; pid: number }[];
      lint: unknown[];
      reload: { last: { trigger: string } | null };
    };
    assert.equal(status.generation, 1);
    assert.equal(status.processes.length, 2);
    assert.ok(status.processes.every((p) => p.up));
    assert.ok(Array.isArray(status.lint));
  });

  test('without a token, only requests naming a loopback host are answered (no DNS rebinding)', async () => {
    assert.equal((await http(adminPort, '/api/status')).status, 200);
    assert.equal(
      (await http(adminPort, '/api/status', { headers: { Host: `localhost:${adminPort}` } })).status,
      200,
    );
    const rebound = await http(adminPort, '/api/status', {
      headers: { Host: `evil.example.test:${adminPort}` },
    });
    assert.equal(rebound.status, 403);
    assert.equal(
      (await http(adminPort, '/api/clients', { headers: { Host: 'evil.example.test' } })).status,
      403,
    );
    // Probes and the PAC file do not depend on the name used.
    assert.equal((await http(adminPort, '/healthz', { headers: { Host: 'evil.example.test' } })).status, 200);
    // A cross-site page cannot make the gateway reload.
    const crossSite = await http(adminPort, '/api/reload', {
      method: 'POST',
      headers: { Origin: 'http://evil.example.test', 'Sec-Fetch-Site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
  });

  test('/events streams a denial as it happens', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: adminPort, path: '/events', headers: { Host: `127.0.0.1:${adminPort}` } },
        (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
            const m = /event: denials\ndata: (.*)\n/.exec(text);
            if (m !== null && m[1]!.includes('evil.example.test')) {
              req.destroy();
              resolve(m[1]!);
            }
          });
          void rawExchange(gw.port, 'CONNECT evil.example.test:443 HTTP/1.1\r\n\r\n', 200);
        },
      );
      req.on('error', (e) => (e.message.includes('aborted') ? undefined : reject(e)));
      setTimeout(() => reject(new Error('no denials event')), 6000).unref();
      req.end();
    });
    const event = JSON.parse(got) as {
      rows: { host: string; reason: string; explanation: { code: string } }[];
    };
    const row = event.rows.find((r) => r.host === 'evil.example.test')!;
    assert.equal(row.reason, 'DENY_HOST_NOT_ALLOWED');
    assert.equal(row.explanation.code, 'NOT_DEFENDER');
  });

  test('`airlock top --once` prints the services and the denial, in 100 columns', async () => {
    const r = await run(
      process.execPath,
      [CLI, 'top', '--once', '--admin', `127.0.0.1:${adminPort}`],
      60_000,
    );
    const out = r.stdout.toString();
    assert.equal(r.code, 0, r.stderr);
    assert.match(out, /SERVICES/);
    assert.match(out, /mde\/command-and-control\s+reaching\s+1\s+1/);
    assert.match(
      out,
      /winatp-gw-neu\.microsoft\.com:443\s+\d+\s+\S+\s+DENY_HOST_NOT_ALLOWED\s+add geography EU/,
    );
    assert.match(out, /127\.0\.0\.1/);
    for (const line of out.split('\n')) assert.ok(line.length <= 100, `too wide: ${line}`);
  });

  test('`airlock reload` exits non-zero with the error on a broken file, zero on a good one', async () => {
    const pidFile = join(dir, 'airlock.pid');
    writeFileSync(file, config().replace('[127.0.0.0/8]', '[not-a-cidr]'));
    const bad = await run(process.execPath, [CLI, 'reload', '--pid-file', pidFile], 60_000);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /refused the new configuration/);
    assert.match(bad.stderr, /policy\.sources\[0\]: "not-a-cidr" is not a CIDR/);
    let status = JSON.parse((await http(adminPort, '/api/status')).body) as {
      generation: number;
      reload: { last: { ok: boolean; error: string } };
    };
    assert.equal(status.generation, 1);
    assert.equal(status.reload.last.ok, false);

    writeFileSync(file, config());
    const good = await run(process.execPath, [CLI, 'reload', '--pid-file', pidFile], 60_000);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout.toString(), /generation 2/);
    status = JSON.parse((await http(adminPort, '/api/status')).body) as typeof status;
    assert.equal(status.generation, 2);
    assert.equal(status.reload.last.ok, true);

    // The admin API's reload answers the same way.
    const viaApi = await run(process.execPath, [CLI, 'reload', '--admin', `127.0.0.1:${adminPort}`], 60_000);
    assert.equal(viaApi.code, 0, viaApi.stderr);
    assert.match(viaApi.stdout.toString(), /generation 3/);
  });
});

describe('admin listener access', () => {
  test('on a non-loopback address without a token the gateway refuses to start, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-admin-token-'));
    const file = join(dir, 'airlock.yaml');
    writeFileSync(file, 'admin: { listen: "0.0.0.0:0" }\ndns: { hostsFile: null }\n');
    const env = { ...process.env };
    delete env.AIRLOCK_ADMIN_TOKEN;
    const r = await run(
      process.execPath,
      [CLI, 'serve', '--config', file, '--listen', '127.0.0.1:0'],
      15_000,
      undefined,
      env,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admin\.listen: 0\.0\.0\.0:0 is reachable from the network/);
    assert.match(r.stderr, /AIRLOCK_ADMIN_TOKEN/);
  });

  describe('with a token', () => {
    let gw: Served;
    let port: number;
    const token = 'tok-0123456789abcdef';
    before(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'airlock-admin-token-'));
      const file = join(dir, 'airlock.yaml');
      writeFileSync(join(dir, 'token'), `${token}\n`);
      writeFileSync(
        file,
        `admin: { listen: "0.0.0.0:0", tokenFile: ${JSON.stringify(join(dir, 'token'))} }\npolicy: { sources: [127.0.0.0/8] }\ndns: { hostsFile: null }\n`,
      );
      gw = await serve(['--config', file, '--listen', '127.0.0.1:0'], 60_000);
      port = Number(/"admin":"0\.0\.0\.0:(\d+)"/.exec(gw.stderr)?.[1]);
      assert.ok(port > 0, gw.stderr);
    });
    after(async () => {
      if (gw === undefined) return;
      if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
      await gw.exited;
    });

    test('requests without it get 401; probes and the PAC file stay open', async () => {
      for (const path of ['/api/status', '/metrics', '/api/clients', '/events']) {
        const reply = await http(port, path);
        assert.equal(reply.status, 401, path);
        assert.equal(reply.headers['www-authenticate'], 'Bearer realm="airlock"');
      }
      assert.equal(
        (await http(port, '/api/status', { headers: { Authorization: 'Bearer wrong-token-0123456' } }))
          .status,
        401,
      );
      assert.equal((await http(port, '/healthz')).status, 200);
      assert.equal((await http(port, '/readyz')).status, 200);
      assert.equal((await http(port, '/api/reload', { method: 'POST' })).status, 401);
    });

    test('with it, the API answers; GET never reloads; POST /api/reload does', async () => {
      const auth = { Authorization: `Bearer ${token}` };
      assert.equal((await http(port, '/api/status', { headers: auth })).status, 200);
      assert.equal((await http(port, '/api/reload', { headers: auth })).status, 405);
      const reload = await http(port, '/api/reload', { method: 'POST', headers: auth });
      assert.equal(reload.status, 200);
      assert.equal((JSON.parse(reload.body) as { generation: number }).generation, 2);
    });

    test('a browser logs in for a cookie, and may reload only from the same origin', async () => {
      const login = await http(port, '/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '0' },
      });
      assert.equal(login.status, 401);
      const ok = await new Promise<Reply>((resolve, reject) => {
        const body = `token=${token}`;
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/api/login',
            method: 'POST',
            headers: {
              'Content-Type': 'application/x-www-form-urlencoded',
              'Content-Length': Buffer.byteLength(body),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(ok.status, 204);
      const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
      assert.match(String(ok.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
      assert.equal((await http(port, '/api/status', { headers: { Cookie: cookie } })).status, 200);
      const crossSite = await http(port, '/api/reload', {
        method: 'POST',
        headers: { Cookie: cookie, Origin: 'http://evil.example.test', 'Sec-Fetch-Site': 'cross-site' },
      });
      assert.equal(crossSite.status, 403);
      const sameOrigin = await http(port, '/api/reload', {
        method: 'POST',
        headers: { Cookie: cookie, Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' },
      });
      assert.equal(sameOrigin.status, 200);
    });
  });
});
