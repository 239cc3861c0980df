import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AdminServer,
  DASHBOARD_DIR,
  DashboardAssets,
  type AdminApi,
  type AdminState,
} from '../../src/admin/index.js';
import { parseListenAddress, type ListenAddress } from '../../src/config/index.js';
import { http, type Reply } from '../helpers/http.js';

/** The admin listener serving the dashboard: the page's files, their headers, and who may load them. */

const state: AdminState = { ready: () => true, stats: () => ({}), pac: () => null };
const metrics = { contentType: 'text/plain', metrics: () => Promise.resolve('') };
const api: AdminApi = {
  status: () => Promise.resolve({ ready: true }),
  clients: () => ({ total: 0, rows: [] }),
  client: () => null,
  services: () => ({ rows: [] }),
  denials: () => ({ total: 0, recent: [], destinations: [] }),
  tunnels: () => ({ total: 0, rows: [] }),
  history: () => ({ minutes: [] }),
  policy: () => ({ rules: [] }),
  reload: () => Promise.resolve({ ok: true, error: null }),
  subscribe: () => () => undefined,
};

function loopback(): ListenAddress {
  const listen = parseListenAddress('127.0.0.1:0');
  assert.ok(!('error' in listen));
  return listen;
}

/** A build output of our own: a page, a hashed bundle, a fixed-name file. */
function fixtureBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><script type="module" src="assets/app-ABCD1234.js"></script>',
  );
  writeFileSync(join(dir, 'assets', 'app-ABCD1234.js'), 'console.log(1)\n');
  writeFileSync(join(dir, 'assets', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

function assertHardened(reply: Reply): void {
  const csp = String(reply.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'scripts from the listener only: no inline script');
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /object-src 'none'/);
  assert.equal(reply.headers['x-content-type-options'], 'nosniff');
  assert.equal(reply.headers['x-frame-options'], 'DENY');
}

describe('the dashboard on an admin listener with a token', () => {
  let server: AdminServer;
  let port: number;
  before(async () => {
    server = new AdminServer(loopback(), state, metrics, {
      api,
      token: 'tok-0123456789abcdef',
      dashboard: DashboardAssets.load(fixtureBuild()),
    });
    port = (await server.start()).port;
  });
  after(() => server.close());

  test('the page and its files load without the token (they hold no data); the API does not', async () => {
    for (const path of ['/', '/dashboard', '/index.html']) {
      const page = await http(port, path);
      assert.equal(page.status, 200, path);
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(page.body, /assets\/app-ABCD1234\.js/);
      assertHardened(page);
      assert.equal(page.headers['cache-control'], 'no-cache');
    }
    const script = await http(port, '/assets/app-ABCD1234.js');
    assert.equal(script.status, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(script.headers['cache-control']), /immutable/);
    assertHardened(script);
    const icon = await http(port, '/assets/icon.svg');
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'no-cache');

    assert.equal((await http(port, '/api/status')).status, 401);
    assert.equal((await http(port, '/events')).status, 401);
  });

  test('revalidation, HEAD, unknown files and methods', async () => {
    const first = await http(port, '/');
    const etag = String(first.headers.etag);
    const again = await http(port, '/', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    const head = await http(port, '/assets/app-ABCD1234.js', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(Buffer.byteLength('console.log(1)\n')));
    // Files are looked up by name in what the build wrote: nothing else on disk is reachable.
    assert.notEqual((await http(port, '/assets/../../package.json')).status, 200);
    assert.notEqual((await http(port, '/assets/%2e%2e/%2e%2e/package.json')).status, 200);
    assert.equal((await http(port, '/assets/nope.js')).status, 404);
    assert.equal((await http(port, '/', { method: 'POST' })).status, 405);
  });
});

describe('the dashboard as the build leaves it', () => {
  let server: AdminServer;
  let port: number;
  before(async () => {
    server = new AdminServer(loopback(), state, metrics, { api, token: null });
    port = (await server.start()).port;
  });
  after(() => server.close());

  test('npm run build writes the page, a bundled script and stylesheet that it names, and nothing external', async () => {
    const page = await http(port, '/');
    assert.equal(page.status, 200, `the dashboard is built in ${DASHBOARD_DIR}`);
    const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(
      refs.some((r) => /^assets\/app-[A-Z0-9]{8}\.js$/.test(r)),
      refs.join(' '),
    );
    assert.ok(
      refs.some((r) => /^assets\/app-[A-Z0-9]{8}\.css$/.test(r)),
      refs.join(' '),
    );
    for (const ref of refs) {
      assert.doesNotMatch(ref, /^(?:[a-z]+:)?\/\//i, `${ref}: the page loads nothing from elsewhere`);
      const file = await http(port, `/${ref}`);
      assert.equal(file.status, 200, ref);
      assert.ok(file.body.length > 0, ref);
      // No absolute URL to another host in the bundle (a CDN, a font service).
      const external = /(?:src|href|url)\s*[=(]\s*["']?https?:\/\//i.exec(file.body);
      assert.equal(external, null, `${ref}: ${external?.[0] ?? ''}`);
    }
    assert.doesNotMatch(page.body, /<script>|<style>|\son[a-z]+=/i, 'no inline script, style or handler');
    const licences = await http(port, '/assets/licenses.txt');
    assert.match(licences.body, /preact/);
    assert.match(licences.body, /uplot/);
  });

  test('a listener whose dashboard is not built says so', async () => {
    const bare = new AdminServer(loopback(), state, metrics, {
      api,
      dashboard: DashboardAssets.load(join(tmpdir(), 'airlock-no-such-build')),
    });
    const p = (await bare.start()).port;
    try {
      const reply = await http(p, '/');
      assert.equal(reply.status, 404);
      assert.match(reply.body, /the dashboard is not built: run npm run build/);
    } finally {
      await bare.close();
    }
  });
});
