import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { CheckReport, MethodResult, TargetResult } from '../../src/analyzer/index.js';
import { renderHtml } from '../../src/analyzer/report/index.js';
import { spkiSha256 } from '../../src/analyzer/trust-anchors.js';
import { check, type CheckIo, type CheckOptions } from '../../src/cli/commands/check.js';
import { isAirlockError } from '../../src/errors/index.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { skipHere } from '../helpers/skip.js';

const SECURE = 'secure.example.test';
const OTHER = 'other.example.test';
const STALL = 'stall.example.test';
const PLAIN = 'plain.example.test';

interface LocalServer {
  readonly port: number;
  connections: number;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function tracked(server: Server | HttpServer): { sockets: Set<Socket>; close: () => Promise<void> } {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  return {
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Reads a request head off a raw socket, then hands the socket on. */
function onHead(socket: Socket, handle: (head: string) => void): void {
  let buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffer = Buffer.concat([buffer, chunk]);
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onData);
    const rest = buffer.subarray(end + 4);
    if (rest.length > 0) socket.unshift(rest);
    handle(buffer.subarray(0, end).toString('latin1'));
  };
  socket.on('data', onData);
}

/**
 * A TLS-inspecting proxy written for this test: it accepts CONNECT, terminates the client's
 * TLS with a certificate from its own CA for the requested name, and relays the cleartext to
 * the real origin over a second TLS connection.
 */
async function startInterceptor(originPort: number, originCa: string, forged: TestPki): Promise<LocalServer> {
  const context = createSecureContext({ key: forged.key, cert: forged.cert });
  const state = { connections: 0 };
  const server = createServer((client) => {
    state.connections++;
    onHead(client, (head) => {
      const m = /^CONNECT ([^\s:]+):(\d+) HTTP\/1\.1/.exec(head);
      if (m === null) {
        client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      const inner = new TLSSocket(client, { isServer: true, secureContext: context });
      const upstream = tlsConnect({ host: '127.0.0.1', port: originPort, servername: m[1], ca: originCa });
      inner.on('error', () => upstream.destroy());
      upstream.on('error', () => inner.destroy());
      inner.pipe(upstream).pipe(inner);
    });
  });
  const t = tracked(server);
  const port = await listen(server);
  return {
    port,
    get connections() {
      return state.connections;
    },
    close: t.close,
  };
}

/** A proxy that demands credentials for everything. */
async function startAuthProxy(): Promise<LocalServer> {
  const state = { connections: 0 };
  const server = createServer((client) => {
    state.connections++;
    onHead(client, () =>
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      ),
    );
  });
  const t = tracked(server);
  const port = await listen(server);
  return {
    port,
    get connections() {
      return state.connections;
    },
    close: t.close,
  };
}

/** Accepts connections and never says a word: a black hole on loopback. */
async function startStall(): Promise<LocalServer> {
  const state = { connections: 0 };
  const server = createServer((socket) => {
    state.connections++;
    socket.on('data', () => undefined);
  });
  const t = tracked(server);
  const port = await listen(server);
  return {
    port,
    get connections() {
      return state.connections;
    },
    close: t.close,
  };
}

/** The few DOM members the browser assertions read (the project compiles without the DOM library). */
interface DomNode {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
}

interface Captured extends CheckIo {
  stdout: string;
  stderr: string;
}

function captureIo(env: Record<string, string> = {}): Captured {
  const io = {
    stdout: '',
    stderr: '',
    terminal: false,
    progressTerminal: false,
    columns: 120,
    env,
    out(text: string | Uint8Array) {
      io.stdout += typeof text === 'string' ? text : Buffer.from(text).toString();
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}

let dir: string;
let pki: TestPki;
let forged: TestPki;
let origin: TestOrigin;
let httpOrigin: TestOrigin;
let gw: RunningGateway;
let interceptor: LocalServer;
let authProxy: LocalServer;
let stall: LocalServer;
let pacServer: HttpServer;
let pacPort: number;
let issuersFile: string;

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

const RESOLVE = [`${SECURE}:127.0.0.1`, `${OTHER}:127.0.0.1`, `${STALL}:127.0.0.1`, `${PLAIN}:127.0.0.1`];

async function runJson(
  options: CheckOptions,
  env: Record<string, string> = {},
): Promise<{ code: number; report: CheckReport; io: Captured; ms: number }> {
  const io = captureIo(env);
  const started = Date.now();
  const code = await check({ format: 'json', resolve: RESOLVE, ...options }, io);
  return { code, report: JSON.parse(io.stdout) as CheckReport, io, ms: Date.now() - started };
}

function method(target: TargetResult | undefined, id: MethodResult['method']): MethodResult {
  const m = target?.methods.find((x) => x.method === id);
  assert.ok(m !== undefined, `no ${id} result`);
  return m;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-check-'));
  pki = createPki([SECURE, OTHER, STALL, PLAIN]);
  forged = createPki([SECURE, OTHER], 'Interception CA');
  origin = await startOrigin(pki);
  httpOrigin = await startOrigin();
  gw = await startGateway(`
policy:
  sources: [127.0.0.1/32, "::1/128"]
  destinations:
    - ${SECURE}
    - ${PLAIN}
    - gone.example.test
    - .wild.example.test
  ports:
    connect: [${origin.port}]
    http: [${httpOrigin.port}]
hosts:
  ${SECURE}: 127.0.0.1
  ${OTHER}: 127.0.0.1
  ${PLAIN}: 127.0.0.1
tls:
  ports: [${origin.port}]
`);
  interceptor = await startInterceptor(origin.port, pki.ca, forged);
  authProxy = await startAuthProxy();
  stall = await startStall();
  pacServer = createHttpServer((req, res) => {
    if (req.url === '/proxy.pac') {
      res.writeHead(200, { 'Content-Type': 'application/x-ns-proxy-autoconfig' });
      res.end(
        `function FindProxyForURL(url, host) {\n  if (dnsDomainIs(host, ".example.test")) return "PROXY 127.0.0.1:${gw.port}; DIRECT";\n  return "DIRECT";\n}\n`,
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  tracked(pacServer);
  pacPort = await listen(pacServer);
  issuersFile = join(dir, 'issuers.json');
  writeFileSync(
    issuersFile,
    JSON.stringify({
      version: 1,
      reviewed: '2026-11-01',
      classes: [
        {
          id: 'test-origins',
          description: 'the test origins, pinned to the test CA',
          hosts: ['*.example.test'],
          pinned: true,
          requirePublicRoot: false,
          anchors: [{ name: 'Airlock Test CA', spkiSha256: spkiSha256(new X509Certificate(pki.ca)) }],
        },
      ],
    }),
  );
});

after(async () => {
  await gw?.close();
  await origin?.close();
  await httpOrigin?.close();
  await interceptor?.close();
  await authProxy?.close();
  await stall?.close();
  await new Promise<void>((resolve) => (pacServer ? pacServer.close(() => resolve()) : resolve()));
});

describe('airlock check against local servers', () => {
  test('succeeds through the gateway, direct and a PAC file; reports TLS inspected through the intercepting proxy', async () => {
    const url = `https://${SECURE}:${origin.port}/commands/test`;
    const pacFile = join(dir, 'proxy.pac');
    writeFileSync(
      pacFile,
      `function FindProxyForURL(url, host) { return isInNet(dnsResolve(host), "127.0.0.0", "255.0.0.0") ? "PROXY 127.0.0.1:${gw.port}" : "DIRECT"; }`,
    );
    const before = interceptor.connections;
    const { code, report } = await runJson({
      urls: [url],
      caFiles: [pki.caFile, forged.caFile],
      issuers: issuersFile,
      airlock: `127.0.0.1:${gw.port}`,
      proxy: `http://127.0.0.1:${interceptor.port}`,
      pac: pacFile,
      timeout: '3000',
    });
    const target = report.targets[0];
    assert.equal(target?.target.url, url);
    assert.equal(method(target, 'gateway').outcome, 'succeeded', JSON.stringify(method(target, 'gateway')));
    assert.equal(method(target, 'gateway').status, 200);
    assert.equal(method(target, 'gateway').tls?.verdict, 'expected');
    assert.equal(method(target, 'direct').outcome, 'succeeded');
    const pac = method(target, 'pac');
    assert.equal(pac.outcome, 'succeeded', JSON.stringify(pac));
    assert.equal(pac.route, `PROXY 127.0.0.1:${gw.port}`);
    const proxied = method(target, 'proxy');
    assert.equal(proxied.outcome, 'failed');
    assert.equal(proxied.error?.code, 'TLS_INSPECTED');
    assert.match(proxied.error?.message ?? '', /TLS inspected by Interception CA/);
    assert.equal(proxied.tls?.inspectedBy, 'Interception CA');
    assert.equal(
      proxied.tls?.trusted,
      true,
      'the interception CA is trusted here, as an enterprise CA would be',
    );
    assert.ok(interceptor.connections > before, 'the check went through the interceptor');
    assert.ok(target?.notes.some((n) => /TLS inspected by Interception CA/.test(n)));
    assert.equal(target?.reachable, true);
    assert.equal(report.summary.inspected, 1);
    assert.equal(code, 0);
    const record = await gw.waitForRecord(
      (r) => r.method === 'CONNECT' && r.host === SECURE && r.end !== null,
    );
    assert.equal(record.reason, 'ALLOWED');
  });

  test('--format mde reads like the MDE client analyzer', async () => {
    const io = captureIo();
    const code = await check(
      {
        urls: [`https://${SECURE}:${origin.port}/`],
        resolve: RESOLVE,
        caFiles: [pki.caFile, forged.caFile],
        issuers: issuersFile,
        airlock: `127.0.0.1:${gw.port}`,
        proxy: `127.0.0.1:${interceptor.port}`,
        format: 'mde',
        timeout: '3000',
      },
      io,
    );
    assert.equal(code, 0);
    const lines = io.stdout.split('\n');
    const at = lines.indexOf(`Testing URL : https://${SECURE}:${origin.port}/`);
    assert.ok(at >= 0, io.stdout);
    assert.equal(lines[at + 1], "1 - Default proxy: Doesn't exist");
    assert.equal(lines[at + 2], "2 - Proxy auto-config (PAC): Doesn't exist");
    assert.equal(lines[at + 3], '3 - Proxy disabled: Succeeded (200)');
    assert.match(lines[at + 4] ?? '', /^4 - Named proxy: Failed \(12175: TLS inspected by Interception CA/);
    assert.equal(lines[at + 5], '5 - Airlock gateway: Succeeded (200)');
  });

  test('without issuer data, inspection is found by comparing what each method is shown', async () => {
    const { report } = await runJson({
      urls: [`https://${SECURE}:${origin.port}/`],
      caFiles: [pki.caFile],
      proxy: `http://127.0.0.1:${interceptor.port}`,
      timeout: '3000',
    });
    const proxied = method(report.targets[0], 'proxy');
    assert.equal(proxied.tls?.verdict, 'inspected');
    assert.equal(proxied.tls?.trusted, false);
    assert.equal(proxied.error?.code, 'TLS_INSPECTED');
    assert.match(
      proxied.error?.message ?? '',
      /Interception CA \(other methods see a certificate from Airlock Test CA\)/,
    );
    assert.equal(method(report.targets[0], 'direct').tls?.verdict, 'unknown');
  });

  test('a proxy that demands authentication is reported as such, naming the components that cannot answer it', async () => {
    const { code, report, io } = await runJson(
      { urls: [`https://${SECURE}:${origin.port}/`], caFiles: [pki.caFile], direct: false, timeout: '3000' },
      { HTTPS_PROXY: `http://127.0.0.1:${authProxy.port}` },
    );
    const env = method(report.targets[0], 'env');
    assert.equal(env.outcome, 'failed');
    assert.equal(env.error?.code, 'PROXY_AUTH_REQUIRED');
    assert.equal(env.error?.stage, 'proxy');
    assert.deepEqual(env.proxyAuth, ['Basic']);
    assert.equal(env.route, `PROXY 127.0.0.1:${authProxy.port}`);
    const note = report.targets[0]?.notes.find((n) => n.includes('demands authentication')) ?? '';
    assert.match(note, /cannot authenticate: Defender for Endpoint/);
    assert.equal(report.summary.proxyAuthRequired, 1);
    assert.equal(code, 1, io.stderr);
  });

  test('a black-holed address times out at the configured timeout, stage by stage, and the run ends quickly', async () => {
    const timeout = 400;
    const { code, report, ms } = await runJson({
      urls: [`https://${STALL}:${stall.port}/`],
      proxy: `http://127.0.0.1:${stall.port}`,
      timeout: String(timeout),
    });
    const direct = method(report.targets[0], 'direct');
    assert.equal(direct.error?.code, 'TLS_TIMEOUT');
    const tlsStage = direct.stages.find((s) => s.stage === 'tls');
    assert.ok(tlsStage !== undefined && !tlsStage.ok);
    assert.ok(tlsStage.ms >= timeout - 20 && tlsStage.ms < timeout + 500, `tls stage took ${tlsStage.ms} ms`);
    const proxied = method(report.targets[0], 'proxy');
    assert.equal(proxied.error?.code, 'PROXY_TIMEOUT');
    const proxyStage = proxied.stages.find((s) => s.stage === 'proxy');
    assert.ok(proxyStage !== undefined && proxyStage.ms >= timeout - 20 && proxyStage.ms < timeout + 500);
    assert.equal(code, 1);
    assert.ok(ms < 3000, `the run took ${ms} ms`);
  });

  test('a route that keeps timing out is given up, and the total deadline stops the rest', async () => {
    const urls = [1, 2, 3, 4, 5].map((n) => `https://${STALL}:${stall.port}/${n}`);
    const viaProxy = await runJson({
      urls,
      proxy: `http://127.0.0.1:${stall.port}`,
      direct: false,
      concurrency: '1',
      timeout: '200',
    });
    const codes = viaProxy.report.targets.map((t) => method(t, 'proxy').error?.code);
    assert.deepEqual(codes, [
      'PROXY_TIMEOUT',
      'PROXY_TIMEOUT',
      'PROXY_TIMEOUT',
      'BREAKER_OPEN',
      'BREAKER_OPEN',
    ]);
    assert.ok(viaProxy.ms < 3000, `took ${viaProxy.ms} ms`);

    const limited = await runJson({ urls, concurrency: '1', timeout: '500', deadline: '700' });
    assert.equal(limited.report.summary.deadlineReached, true);
    const outcomes = limited.report.targets.map((t) => method(t, 'direct').outcome);
    assert.equal(outcomes[0], 'failed');
    assert.ok(
      outcomes.slice(1).every((o) => o === 'not-run'),
      JSON.stringify(outcomes),
    );
    assert.ok(limited.ms < 2500, `took ${limited.ms} ms`);
    assert.equal(limited.code, 1);
  });

  test('the gateway says why it refuses a destination', async () => {
    const { report } = await runJson({
      urls: [`https://${OTHER}:${origin.port}/`],
      caFiles: [pki.caFile],
      gateway: `127.0.0.1:${gw.port}`,
      direct: false,
      timeout: '3000',
    });
    const refused = method(report.targets[0], 'gateway');
    assert.equal(refused.error?.code, 'PROXY_REFUSED');
    assert.equal(refused.proxyReason, 'DENY_HOST_NOT_ALLOWED');
    assert.ok(
      report.targets[0]?.notes.some((n) =>
        /DENY_HOST_NOT_ALLOWED: destination host is not on the allowlist/.test(n),
      ),
    );
  });

  test('plain HTTP goes through the gateway as an absolute-form request; a refusal carries its reason', async () => {
    const allowed = `http://${PLAIN}:${httpOrigin.port}/msdownload/x.cab`;
    const refused = `http://${OTHER}:${httpOrigin.port}/`;
    const before = httpOrigin.requests.length;
    const { report } = await runJson({ urls: [allowed, refused], airlock: gw.proxyUrl, timeout: '3000' });
    const ok = method(report.targets[0], 'gateway');
    assert.equal(ok.outcome, 'succeeded', JSON.stringify(ok));
    assert.deepEqual(
      ok.stages.map((st) => st.stage),
      ['tcp', 'http'],
    );
    assert.equal(method(report.targets[0], 'direct').outcome, 'succeeded');
    assert.ok(httpOrigin.requests.slice(before).some((r) => r.url === '/msdownload/x.cab'));
    const no = method(report.targets[1], 'gateway');
    assert.equal(no.error?.code, 'PROXY_REFUSED');
    assert.equal(no.error?.stage, 'http');
    assert.equal(no.proxyReason, 'DENY_HOST_NOT_ALLOWED');
  });

  test('environment proxy: HTTPS_PROXY is used, NO_PROXY sends the host direct', async () => {
    const url = `https://${SECURE}:${origin.port}/`;
    const proxied = await runJson(
      { urls: [url], caFiles: [pki.caFile], timeout: '3000' },
      { https_proxy: gw.proxyUrl },
    );
    const env = method(proxied.report.targets[0], 'env');
    assert.equal(env.outcome, 'succeeded');
    assert.equal(env.route, `PROXY 127.0.0.1:${gw.port}`);
    assert.equal(env.routeNote, 'from https_proxy');

    const bypassed = await runJson(
      { urls: [url], caFiles: [pki.caFile], timeout: '3000' },
      { HTTPS_PROXY: `http://127.0.0.1:${authProxy.port}`, NO_PROXY: 'localhost, .example.test' },
    );
    const direct = method(bypassed.report.targets[0], 'env');
    assert.equal(direct.outcome, 'succeeded');
    assert.equal(direct.route, 'DIRECT');
    assert.equal(direct.routeNote, 'NO_PROXY entry ".example.test"');
  });

  test('a PAC URL is fetched directly; one that cannot be fetched fails the PAC method with 12167', async () => {
    const url = `https://${SECURE}:${origin.port}/`;
    const good = await runJson({
      urls: [url],
      caFiles: [pki.caFile],
      pac: `http://127.0.0.1:${pacPort}/proxy.pac`,
      direct: false,
      timeout: '3000',
    });
    const pac = method(good.report.targets[0], 'pac');
    assert.equal(pac.outcome, 'succeeded', JSON.stringify(pac));
    assert.equal(pac.routeNote, `PAC returned "PROXY 127.0.0.1:${gw.port}; DIRECT"`);

    const io = captureIo();
    await check(
      {
        urls: [url],
        resolve: RESOLVE,
        caFiles: [pki.caFile],
        pac: `http://127.0.0.1:${pacPort}/missing.pac`,
        format: 'mde',
        timeout: '3000',
      },
      io,
    );
    assert.match(
      io.stdout,
      /2 - Proxy auto-config \(PAC\): Failed \(12167: PAC download failed: .*answered 404\)/,
    );
  });

  test('--gateway tests the upstream reachability of the compiled policy with the gateway own name resolution', async () => {
    const io = captureIo();
    const output = join(dir, 'gateway-report.json');
    const code = await check(
      { onGateway: true, configFile: gw.configFile, caFiles: [pki.caFile], output, timeout: '2000' },
      io,
    );
    const report = JSON.parse(readFileSync(output, 'utf8')) as CheckReport;
    assert.equal(report.mode, 'gateway');
    const secure = report.targets.find((t) => t.target.url === `https://${SECURE}:${origin.port}/`);
    assert.equal(method(secure, 'direct').outcome, 'succeeded');
    assert.equal(method(secure, 'env').outcome, 'not-configured');
    const gone = report.targets.find((t) => t.target.url.startsWith('https://gone.example.test'));
    assert.match(method(gone, 'direct').error?.code ?? '', /^DNS_/);
    assert.ok(report.notTestable.some((n) => n.host === '.wild.example.test'));
    assert.equal(code, 1, 'a policy destination that does not resolve fails the check');
    assert.match(io.stderr, /FAILED; json report written to/);
  });

  test('bad input is a usage error (exit 2)', async () => {
    const cases: CheckOptions[] = [
      { urls: ['https://x.example.test/'], timeout: 'soon' },
      { urls: ['ftp://x.example.test/'] },
      { urls: ['https://x.example.test/'], proxy: 'http://[broken' },
      { urls: ['https://x.example.test/'], format: 'pdf' },
      { urls: ['https://x.example.test/'], product: undefined, geos: ['US'] },
      { products: ['not-a-product'] },
      { urls: ['https://x.example.test/'], resolve: ['no-address'] },
      { onGateway: true, proxy: 'http://127.0.0.1:3128' },
      { onGateway: true, gateway: '127.0.0.1:3128' },
      { urls: ['https://x.example.test/'], gateway: true },
    ] as CheckOptions[];
    for (const options of cases) {
      await assert.rejects(
        check(options, captureIo()),
        (error: unknown) => isAirlockError(error) && error.code === 'USAGE' && error.exitCode === 2,
        JSON.stringify(options),
      );
    }
  });

  test('the HTML report renders in headless Chromium: service cards, one row per URL, findings', async (t) => {
    if (!existsSync(CHROMIUM)) {
      skipHere(
        t,
        `${CHROMIUM} is not installed (Debian package "chromium"): the browser check of the HTML report`,
      );
      return;
    }
    const { report, code } = await runJson({
      urls: [`https://${SECURE}:${origin.port}/`, `https://${STALL}:${stall.port}/`],
      caFiles: [pki.caFile, forged.caFile],
      issuers: issuersFile,
      airlock: `127.0.0.1:${gw.port}`,
      proxy: `http://127.0.0.1:${interceptor.port}`,
      // Long enough for a TLS handshake through the gateway on a busy machine; the stalled
      // origin still times out.
      timeout: '3000',
    });
    assert.equal(code, 1);
    mkdirSync(ARTIFACTS, { recursive: true });
    // The page is loaded from this test's own directory; the artifacts folder gets copies for people.
    const html = renderHtml(report);
    const file = join(dir, 'analyzer-report.html');
    writeFileSync(file, html);
    writeFileSync(join(ARTIFACTS, 'analyzer-report.html'), html);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
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
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href, { timeout: 15_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'analyzer-report.png'), fullPage: true });
      assert.deepEqual(requests, [pathToFileURL(file).href], 'the report loads nothing but itself');

      const verdict = page.locator('.verdict');
      assert.equal(await verdict.getAttribute('data-exit-code'), '1');
      assert.match((await verdict.textContent()) ?? '', /^FAILED: 1 of 2 URLs reachable/);
      const verdictColor = await verdict.evaluate(
        (el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el)
            .color,
      );
      assert.equal(verdictColor, 'rgb(207, 34, 46)', 'a failed run is shown in red');

      const cards = await page.$$eval('.service', (nodes: unknown[]) =>
        (nodes as DomNode[]).map((el) => [
          el.getAttribute('data-service'),
          el.getAttribute('data-status'),
          el.textContent,
        ]),
      );
      assert.deepEqual(cards, [['custom', 'partial', 'URLs given by handpartly reachable: 1 of 2 URLs']]);

      const headers = await page.$$eval('table.urls thead th', (nodes: unknown[]) =>
        (nodes as DomNode[]).map((el) => el.textContent),
      );
      assert.deepEqual(headers, ['URL', 'Proxy disabled', 'Named proxy', 'Airlock gateway', 'Result']);
      const rows = await page.$$eval('table.urls tbody tr', (nodes: unknown[]) =>
        (nodes as DomNode[]).map((el) => ({
          url: el.getAttribute('data-url'),
          reachable: el.getAttribute('data-reachable'),
          cells: Array.from(el.querySelectorAll('td.method')).map(
            (td) => `${td.getAttribute('data-method')}=${td.getAttribute('data-outcome')}:${td.textContent}`,
          ),
        })),
      );
      assert.deepEqual(rows, [
        {
          url: `https://${SECURE}:${origin.port}/`,
          reachable: 'true',
          cells: ['direct=succeeded:ok 200', 'proxy=failed:x inspected', 'gateway=succeeded:ok 200'],
        },
        {
          url: `https://${STALL}:${stall.port}/`,
          reachable: 'false',
          cells: [
            'direct=failed:x tls timeout',
            'proxy=failed:x inspected',
            'gateway=failed:x DENY_HOST_NOT_ALLOWED',
          ],
        },
      ]);
      const reasons = await page.$$eval('table.urls td.method[data-reason]', (nodes: unknown[]) =>
        (nodes as DomNode[]).map(
          (td) =>
            `${td.getAttribute('data-method')}=${td.getAttribute('data-kind')}:${td.getAttribute('data-reason')}`,
        ),
      );
      assert.ok(reasons.includes('gateway=policy:DENY_HOST_NOT_ALLOWED'), reasons.join(', '));
      assert.ok(reasons.includes('proxy=tls:TLS_INSPECTED'), reasons.join(', '));
      const findings = await page.$$eval('ul.findings li', (nodes: unknown[]) =>
        (nodes as DomNode[]).map((el) => el.textContent ?? ''),
      );
      assert.ok(
        findings.some((f) => f.includes('Interception CA re-signs the certificates')),
        findings.join('\n'),
      );
      assert.ok(
        findings.some((f) => f.includes('DENY_HOST_NOT_ALLOWED')),
        findings.join('\n'),
      );
      const box = await page.locator('table.urls').boundingBox();
      assert.ok(box !== null && box.width > 600 && box.height > 60, 'the URL table is laid out');
    } finally {
      await browser.close();
    }
  });
});
