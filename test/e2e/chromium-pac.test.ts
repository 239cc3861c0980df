import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { serve, type Served } from '../helpers/cli.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki } from '../helpers/pki.js';
import { rawExchange } from '../helpers/run.js';
import { requirement } from '../helpers/skip.js';

/**
 * A real browser configured only with --proxy-pac-url pointing at the gateway's /proxy.pac:
 * the allowlisted HTTPS origin must be fetched through the gateway, and a host the PAC does
 * not list must be reached DIRECT, with the gateway never seeing it. Loopback only.
 */

const CHROMIUM = '/usr/bin/chromium';
const ALLOWED = 'allowed.example.test';
const DIRECT = 'direct.example.test';
/** The DIRECT origin listens on a second loopback address, so its traffic is told apart from the gateway's. */
const DIRECT_ADDRESS = '127.0.0.2';

/** Base64 SHA-256 of the key's SubjectPublicKeyInfo, the form --ignore-certificate-errors-spki-list takes. */
function spkiHash(privateKeyPem: string): string {
  const spki = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

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

/** Access-log records (JSON lines on stdout) of the running gateway. */
function accessRecords(gw: Served): { host?: string; method?: string; decision?: string; sni?: string }[] {
  return gw.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { host?: string; method?: string; decision?: string; sni?: string })
    .filter((r) => r.host !== undefined && r.method !== undefined);
}

test(
  'headless Chromium with --proxy-pac-url: allowlisted HTTPS through the gateway, other hosts DIRECT',
  {
    skip: requirement(
      'headless Chromium with a PAC URL',
      existsSync(CHROMIUM) ? null : `Debian's chromium is not installed (${CHROMIUM})`,
    ),
    timeout: 90_000,
  },
  async (t) => {
    const pki = createPki([ALLOWED, DIRECT]);
    const allowedOrigin: TestOrigin = await startOrigin(pki);
    t.after(() => allowedOrigin.close());
    const directOrigin: TestOrigin = await startOrigin(pki, DIRECT_ADDRESS);
    t.after(() => directOrigin.close());

    const dir = mkdtempSync(join(tmpdir(), 'airlock-chromium-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'airlock.yaml');
    writeFileSync(
      config,
      `policy:
  sources: [127.0.0.0/8]
  destinations: [${ALLOWED}]
  ports: { connect: [${allowedOrigin.port}], http: [80] }
hosts:
  ${ALLOWED}: 127.0.0.1
tls: { ports: [${allowedOrigin.port}] }
dns: { servers: ["127.0.0.1:9"], hostsFile: null, timeout: 500ms, tries: 1 }
admin:
  listen: 127.0.0.1:0
timeouts: { drain: 1s }
`,
    );
    const gw = await serve(['--config', config, '--listen', '127.0.0.1:0']);
    t.after(async () => {
      if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
      await within(10_000, 'gateway exit', gw.exited).catch(() => gw.child.kill('SIGKILL'));
    });
    const adminPort = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
    assert.ok(adminPort > 0, gw.stderr);
    const pacUrl = `http://127.0.0.1:${adminPort}/proxy.pac`;

    // The PAC as Chromium will get it: the allowlisted name goes to this gateway, by the address the PAC was fetched from.
    const pac = await rawExchange(
      adminPort,
      `GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1:${adminPort}\r\nConnection: close\r\n\r\n`,
      2000,
    );
    assert.match(pac, /^HTTP\/1\.1 200 /);
    assert.ok(pac.includes(`"=${ALLOWED}": 1`), pac);
    assert.ok(pac.includes(`PROXY 127.0.0.1:${gw.port}`), pac);
    assert.ok(!pac.includes(DIRECT));

    let browser: Browser | undefined;
    t.after(async () => {
      if (browser !== undefined)
        await within(10_000, 'browser close', browser.close()).catch(() => undefined);
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--proxy-pac-url=${pacUrl}`,
        `--ignore-certificate-errors-spki-list=${spkiHash(pki.key)}`,
        // Chromium resolves names itself only for DIRECT: the DIRECT name maps to its origin, every
        // other name fails (127.0.0.1, the PAC server and the gateway, is left alone).
        `--host-resolver-rules=MAP ${DIRECT} ${DIRECT_ADDRESS}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`,
      ],
    });
    const page = await browser.newPage();

    const viaGateway = await page.goto(`https://${ALLOWED}:${allowedOrigin.port}/through-gateway`, {
      timeout: 20_000,
    });
    assert.equal(viaGateway?.status(), 200);
    const echoed = JSON.parse(await viaGateway.text()) as { url: string; sni: string | null };
    assert.equal(echoed.url, '/through-gateway');
    assert.equal(echoed.sni, ALLOWED);

    const gatewayLogBefore = gw.stdout.length;
    const direct = await page.goto(`https://${DIRECT}:${directOrigin.port}/direct`, { timeout: 20_000 });
    assert.equal(direct?.status(), 200);
    const directEcho = JSON.parse(await direct.text()) as { url: string; sni: string | null };
    assert.equal(directEcho.url, '/direct');
    assert.equal(directEcho.sni, DIRECT);
    assert.ok(directOrigin.connections >= 1);
    assert.ok(
      directOrigin.requests.some((r) => r.url === '/direct'),
      'the DIRECT origin served the page itself',
    );

    await within(10_000, 'browser close', browser.close());
    browser = undefined;

    // Tunnels are logged when they close: wait (bounded) for the browser's tunnel to appear.
    const deadline = Date.now() + 10_000;
    while (!accessRecords(gw).some((r) => r.host === ALLOWED) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const records = accessRecords(gw);
    const tunnel = records.find((r) => r.host === ALLOWED);
    assert.ok(tunnel, `the gateway logged the ${ALLOWED} tunnel; log:\n${gw.stdout}`);
    assert.equal(tunnel.method, 'CONNECT');
    assert.equal(tunnel.decision, 'allow');
    assert.equal(tunnel.sni, ALLOWED);
    assert.ok(allowedOrigin.snis.includes(ALLOWED));
    assert.ok(!records.some((r) => r.host === DIRECT || r.sni === DIRECT), `the gateway never saw ${DIRECT}`);
    assert.ok(!gw.stdout.slice(gatewayLogBefore).includes(DIRECT) && !gw.stderr.includes(DIRECT));
  },
);
