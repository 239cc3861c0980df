import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { echoOnce, serve, type Served } from '../helpers/cli.js';
import { startTcpEcho, type TestOrigin } from '../helpers/origins.js';

/**
 * The dashboard in Debian's Chromium, against `airlock serve` with two workers carrying real
 * traffic on loopback: it shows the client, the service rows and a refusal with its explanation,
 * takes new traffic live (no reload), loads nothing but the admin listener's own files, logs in
 * with the token and reloads the configuration. Screenshots go to test-artifacts/dashboard/.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));
const C2 = 'winatp-gw-eus.microsoft.com';
const VIEWPORT = { width: 1366, height: 768 };

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a CONNECT from a loopback address of our choice; resolves with the socket and the status line. */
function connectFrom(
  local: string,
  port: number,
  target: string,
): Promise<{ socket: Socket; status: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: local });
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      resolve({ socket, status: head.slice(0, head.indexOf('\r\n')) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`CONNECT ${target}: no answer`)));
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

async function refuse(local: string, port: number, target: string): Promise<void> {
  const { socket, status } = await connectFrom(local, port, target);
  socket.destroy();
  assert.match(status, /^HTTP\/1\.1 403/, target);
}

async function launch(t: { after: (fn: () => Promise<void>) => void }): Promise<BrowserContext> {
  // A fresh profile per run: nothing cached, no cookie from another run.
  const profile = mkdtempSync(join(tmpdir(), 'airlock-dashboard-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    timeout: 30_000,
    viewport: VIEWPORT,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(async () => {
    await within(10_000, 'browser close', context.close()).catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** Records what a page does wrong: script errors, console errors, Content-Security-Policy violations. */
async function watch(page: Page): Promise<{ problems: string[] }> {
  const seen = { problems: [] as string[] };
  page.on('pageerror', (e) => seen.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.problems.push(`console: ${m.text()}`);
  });
  // Runs in the page before its own scripts (the browser does not apply the page's CSP to it).
  await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => {
    console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI);
  });`);
  return seen;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function adminPortOf(gw: Served): number {
  const port = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
  assert.ok(port > 0, gw.stderr);
  return port;
}

async function stop(gw: Served | undefined): Promise<void> {
  if (gw === undefined) return;
  if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
  await within(10_000, 'gateway exit', gw.exited).catch(() => gw.child.kill('SIGKILL'));
}

const skip = existsSync(CHROMIUM) ? false : `Debian's chromium is not installed (${CHROMIUM})`;

describe('dashboard in headless Chromium, a gateway with two workers carrying traffic', { skip }, () => {
  let echo: TestOrigin;
  let gw: Served;
  let origin: string;
  const held: Socket[] = [];

  before(async () => {
    echo = await startTcpEcho();
    const dir = mkdtempSync(join(tmpdir(), 'airlock-dashboard-'));
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `workers: 2
policy:
  sources: [127.0.0.0/8]
  defaultAllowlist: true
  destinations:
    - { host: ${C2}, ports: [${echo.port}] }
  ports: { connect: [443, ${echo.port}], http: [80] }
catalog: { products: [mde], geographies: [US] }
hosts: { ${C2}: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null, timeout: 300ms, tries: 1 }
admin: { listen: "127.0.0.1:0" }
observe: { clientNames: { 127.0.0.1/32: ws-042 } }
timeouts: { drain: 2s }
`,
    );
    gw = await serve(['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0'], 60_000);
    origin = `http://127.0.0.1:${adminPortOf(gw)}`;

    // Real traffic: finished tunnels to the command-and-control channel, one held open, and a
    // refusal the catalog explains (another geography).
    for (let i = 0; i < 3; i++) {
      const { socket, status } = await connectFrom('127.0.0.1', gw.port, `${C2}:${echo.port}`);
      assert.match(status, /^HTTP\/1\.1 200/);
      assert.equal(await echoOnce(socket, `ping ${i}`), `ping ${i}`);
      socket.end();
    }
    held.push((await connectFrom('127.0.0.1', gw.port, `${C2}:${echo.port}`)).socket);
    await refuse('127.0.0.1', gw.port, 'winatp-gw-neu.microsoft.com:443');
  });

  after(async () => {
    for (const s of held) s.destroy();
    await stop(gw);
    await echo?.close();
  });

  test('the page loads with no request beyond the admin listener (no CDN, font or other asset)', async (t) => {
    const context = await launch(t);
    const requested: string[] = [];
    const blocked: string[] = [];
    context.on('request', (r) => requested.push(r.url()));
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const seen = await watch(page);
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: 20_000 });
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    // Every view once, charts included.
    for (const key of ['1', '2', '3', '4', '5']) {
      await page.keyboard.press(key);
      await page.waitForTimeout(300);
    }
    await page.keyboard.press('1');
    await page.locator('.chart canvas').first().waitFor({ timeout: 5000 });
    assert.deepEqual(blocked, [], 'the page asked for nothing elsewhere');
    assert.ok(requested.length >= 5, `the page, its script and stylesheet, the API: ${requested.join(' ')}`);
    for (const url of requested) assert.equal(new URL(url).origin, origin, url);
    assert.ok(
      requested.some((u) => u.endsWith('/events')),
      'the event stream',
    );
    assert.deepEqual(seen.problems, [], 'no script error, console error or CSP violation');
  });

  test('shows the client, the service rows and the refusal with its explanation, then new traffic live', async (t) => {
    const context = await launch(t);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    const page = await context.newPage();
    const seen = await watch(page);
    await page.goto(`${origin}/#/services`, { waitUntil: 'load', timeout: 20_000 });

    // Services: the command-and-control channel reaching, with its open tunnel and its client; idle ones too.
    const c2 = page.locator('tr[data-service="mde/command-and-control"]');
    await c2.filter({ hasText: 'reaching' }).waitFor({ timeout: 10_000 });
    assert.match(await c2.innerText(), /Command and control/);
    assert.ok((await page.locator('tr[data-status="idle"]').count()) > 0, 'idle catalog services are listed');
    await shot(page, 'services');

    // Clients, from the keyboard: the client by name, the service it reached and its open tunnel.
    await page.keyboard.press('3');
    const me = page.locator('tr[data-client="127.0.0.1"]');
    await me.waitFor({ timeout: 10_000 });
    const row = await me.innerText();
    assert.match(row, /ws-042/);
    assert.match(row, /mde\/command-and-control/);
    assert.match(row, /1 open/);
    await page.keyboard.press('/');
    assert.equal(await page.evaluate("document.activeElement?.getAttribute('type')"), 'search');
    await page.keyboard.type('ws-04');
    await page.waitForTimeout(600);
    assert.equal(await page.locator('tr[data-client]').count(), 1);
    await shot(page, 'clients');
    await page.keyboard.press('Escape');
    await page.locator('input[type=search]').fill('');
    await page.locator('input[type=search]').blur();

    // Refusals: the explanation, the next step, and the catalog selection to paste.
    await page.keyboard.press('4');
    const neu = page.locator('tr[data-denial="winatp-gw-neu.microsoft.com"]');
    await neu.waitFor({ timeout: 10_000 });
    const text = await neu.innerText();
    assert.match(text, /DENY_HOST_NOT_ALLOWED/);
    assert.match(text, /CATALOG_OTHER_GEOGRAPHY/);
    assert.match(text, /Next step: add geography EU to catalog\.geographies/);
    await neu.getByRole('button', { name: 'Copy catalog selection' }).click();
    const yaml = neu.locator('.copy-panel pre');
    await yaml.waitFor({ state: 'visible' });
    assert.match(await yaml.innerText(), /catalog:\n\s+geographies: \[US, EU\]/);
    await neu.getByText('Copied to the clipboard.').waitFor({ timeout: 5000 });
    assert.match(String(await page.evaluate('navigator.clipboard.readText()')), /geographies: \[US, EU\]/);
    await shot(page, 'denials');

    // New traffic, no reload: a new client opens a tunnel and is refused a host.
    await page.evaluate("window.dashboardMarker = 'same page'");
    held.push((await connectFrom('127.0.0.5', gw.port, `${C2}:${echo.port}`)).socket);
    await refuse('127.0.0.5', gw.port, 'live-check.example.test:443');
    const live = page.locator('tr[data-denial="live-check.example.test"]');
    await live.waitFor({ timeout: 10_000 });
    assert.match(await live.innerText(), /NOT_DEFENDER/);
    await page.keyboard.press('3');
    await page.locator('tr[data-client="127.0.0.5"]').waitFor({ timeout: 10_000 });
    await page.keyboard.press('1');
    await page
      .locator('.tile', { hasText: 'Open tunnels' })
      .filter({ hasText: /^Open tunnels\s*2$/ })
      .waitFor({ timeout: 10_000 });
    assert.equal(
      await page.evaluate('window.dashboardMarker'),
      'same page',
      'updated in place: the page was not reloaded',
    );
    await page.waitForTimeout(500);
    await shot(page, 'overview');

    // Keyboard: the first Tab reaches the skip link, then the header and the views, with a visible focus ring.
    await page.keyboard.press('5');
    await page.locator('#cfg-lint').waitFor();
    await shot(page, 'configuration');
    // (From the top of a freshly loaded page.)
    await page.reload({ waitUntil: 'load' });
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      // What has the focus, and whether it shows (an outline wider than nothing).
      const focused = await page.evaluate(`(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        const ring = style.outlineStyle !== 'none' && style.outlineWidth !== '0px';
        return (el.textContent || '').trim() + '|' + (ring ? 'ring' : 'none');
      })()`);
      order.push(String(focused));
    }
    assert.deepEqual(
      order.slice(0, 6).map((o) => o.split('|')[0]!.replace(/\d.*$/, '').trim()),
      ['Reload configuration', 'Overview', 'Services', 'Clients', 'Refusals', 'Configuration'],
    );
    assert.ok(
      order.every((o) => o.endsWith('|ring')),
      `every focused control shows it: ${order.join(', ')}`,
    );
    assert.deepEqual(seen.problems, []);
  });
});

describe('dashboard with an admin token', { skip }, () => {
  let gw: Served;
  let origin: string;
  const token = 'dashboard-token-0123456789';

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-dashboard-token-'));
    writeFileSync(join(dir, 'token'), `${token}\n`);
    writeFileSync(
      join(dir, 'airlock.yaml'),
      `policy: { sources: [127.0.0.0/8] }
catalog: { products: [mde], geographies: [US] }
dns: { servers: ["127.0.0.1:9"], hostsFile: null, timeout: 300ms, tries: 1 }
admin: { listen: "127.0.0.1:0", tokenFile: ${JSON.stringify(join(dir, 'token'))} }
timeouts: { drain: 1s }
`,
    );
    gw = await serve(['--config', join(dir, 'airlock.yaml'), '--listen', '127.0.0.1:0'], 30_000);
    origin = `http://127.0.0.1:${adminPortOf(gw)}`;
  });
  after(() => stop(gw));

  test('logs in with the token, is sensible with no data yet, follows events with the cookie and reloads', async (t) => {
    const context = await launch(t);
    const page = await context.newPage();
    const seen = await watch(page);
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: 20_000 });

    const field = page.getByLabel('Admin token');
    await field.waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate('document.activeElement?.id'), 'token', 'the form has the focus');
    await field.fill('not-the-token-at-all');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'not the admin listener' }).waitFor({ timeout: 5000 });
    await shot(page, 'login');
    await field.fill(token);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 });

    // No traffic yet: the views say so instead of showing nothing.
    assert.ok(await page.getByText('No tunnel in the last hour.').isVisible());
    assert.ok(await page.getByText('No refusal yet.').isVisible());
    await shot(page, 'overview-empty');

    // The event stream carries the cookie: a refusal shows up without a reload.
    await page.keyboard.press('4');
    await refuse('127.0.0.1', gw.port, 'after-login.example.test:443');
    await page.locator('tr[data-denial="after-login.example.test"]').waitFor({ timeout: 10_000 });

    // The reload button: POST /api/reload from the page's own origin, with the cookie.
    await page.getByRole('button', { name: 'Reload configuration' }).click();
    await page.getByText('Reloaded: generation 2').waitFor({ timeout: 15_000 });
    await page.locator('.brand', { hasText: 'generation 2' }).waitFor({ timeout: 5000 });
    assert.deepEqual(
      seen.problems.filter((p) => !p.includes('401')),
      [],
      'only the expected 401s (before the login)',
    );
  });
});
