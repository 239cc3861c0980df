import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  builtinIssuerData,
  routeKey,
  runCheck,
  type CertSummary,
  type CheckReport,
  type CheckTarget,
  type ProbeFunction,
  type RouteProbe,
} from '../../../src/analyzer/index.js';
import { ANALYZER_STATUSES } from '../../../src/analyzer/probes.js';
import {
  escapeHtml,
  escapeXml,
  renderHtml,
  renderJson,
  renderJunit,
  renderMde,
  renderProgress,
  renderTable,
  renderText,
} from '../../../src/analyzer/report/index.js';

/**
 * Golden tests of the renderers. The report comes from the real runner and judge, fed canned
 * attempts, a fixed clock and fixed stage times, so every byte is deterministic. Set
 * UPDATE_GOLDENS=1 to rewrite the files after a deliberate change, and review the diff.
 */

const GOLDEN_DIR = fileURLToPath(new URL('../../../../test/fixtures/analyzer/', import.meta.url));

const cert = (subject: string, issuer: string, sha256: string, spkiSha256?: string): CertSummary => ({
  subject,
  issuer,
  sha256,
  ...(spkiSha256 === undefined ? {} : { spkiSha256 }),
  validTo: 'Jun 30 23:59:59 2027 GMT',
});
/** Public-key hashes of the real CAs (the anchors match on these, not on names). */
const SSCA_2011_SPKI = '2C67859DF5D5650D894BD25D55AE0F6BECD39E745186D70AF14D21E034898276';
const MS_ROOT_2011_SPKI = '02376D0908AC23041CC7D666D9DAF192554F7FC36317AA9CB800908616B28AF8';
const DIGICERT_G2_SPKI = '8BB593A93BE1D0E8A822BB887C547890C3E706AAD2DAB76254F97FB36B82FC26';

const MICROSOFT = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011', 'AA:01'),
  cert(
    'Microsoft Secure Server CA 2011',
    'Microsoft Root Certificate Authority 2011',
    'AA:02',
    SSCA_2011_SPKI,
  ),
  cert(
    'Microsoft Root Certificate Authority 2011',
    'Microsoft Root Certificate Authority 2011',
    'AA:03',
    MS_ROOT_2011_SPKI,
  ),
];
const AZURE = [
  cert('*.blob.core.windows.net', 'Microsoft TLS G2 RSA CA OCSP 04', 'BB:01'),
  cert('Microsoft TLS G2 RSA CA OCSP 04', 'Microsoft TLS RSA Root G2', 'BB:02'),
  cert('Microsoft TLS RSA Root G2', 'DigiCert Global Root G2', 'BB:03'),
  cert('DigiCert Global Root G2', 'DigiCert Global Root G2', 'BB:04', DIGICERT_G2_SPKI),
];
const INSPECTED = [
  cert('inspected', 'Contoso Inspection CA', 'CC:01'),
  cert('Contoso Inspection CA', 'Contoso Inspection CA', 'CC:02'),
];
/** The public root each chain ends in, as the connection reports it (none for the inspection CA). */
const PUBLIC_ROOT = new Map<readonly CertSummary[], string>([
  [MICROSOFT, 'Microsoft Root Certificate Authority 2011 (Microsoft)'],
  [AZURE, 'DigiCert Global Root G2 (Mozilla (Node.js bundle))'],
]);

function answer(
  status: number | null,
  chain: readonly CertSummary[] | null,
  extra: Partial<RouteProbe> = {},
  stages: RouteProbe['stages'] = [
    { stage: 'dns', ms: 2, ok: true, detail: '192.0.2.10' },
    { stage: 'tcp', ms: 11, ok: true, detail: '192.0.2.10:443' },
    { stage: 'tls', ms: 23, ok: true, detail: 'TLSv1.3' },
    { stage: 'http', ms: 31, ok: true, detail: String(status) },
  ],
): RouteProbe {
  return {
    stages,
    status,
    error: null,
    tls:
      chain === null
        ? null
        : {
            protocol: 'TLSv1.3',
            chain,
            trusted: true,
            trustError: null,
            nameMatches: true,
            publicRoot: PUBLIC_ROOT.get(chain) ?? null,
          },
    proxyAuth: null,
    proxyReason: null,
    ...extra,
  };
}

const TCP_TIMEOUT: RouteProbe = {
  stages: [
    { stage: 'dns', ms: 3, ok: true, detail: '192.0.2.10' },
    { stage: 'tcp', ms: 3000, ok: false, detail: 'tcp timed out after 3000 ms' },
  ],
  status: null,
  error: { code: 'TCP_TIMEOUT', stage: 'tcp', message: 'tcp timed out after 3000 ms' },
  tls: null,
  proxyAuth: null,
  proxyReason: null,
};

const AUTH: RouteProbe = {
  stages: [
    { stage: 'dns', ms: 1, ok: true, detail: '198.51.100.3' },
    { stage: 'tcp', ms: 4, ok: true, detail: '198.51.100.3:8080' },
    { stage: 'proxy', ms: 6, ok: false, detail: '407 Proxy Authentication Required (Basic)' },
  ],
  status: null,
  error: {
    code: 'PROXY_AUTH_REQUIRED',
    stage: 'proxy',
    message: '407 Proxy Authentication Required (Basic)',
  },
  tls: null,
  proxyAuth: ['Basic'],
  proxyReason: null,
};

const DENIED: RouteProbe = {
  stages: [
    { stage: 'dns', ms: 1, ok: true, detail: '198.51.100.7' },
    { stage: 'tcp', ms: 2, ok: true, detail: '198.51.100.7:3128' },
    { stage: 'proxy', ms: 3, ok: false, detail: 'CONNECT answered 403 Forbidden [DENY_HOST_NOT_ALLOWED]' },
  ],
  status: null,
  error: {
    code: 'PROXY_REFUSED',
    stage: 'proxy',
    message: 'CONNECT answered 403 Forbidden [DENY_HOST_NOT_ALLOWED]',
  },
  tls: null,
  proxyAuth: null,
  proxyReason: 'DENY_HOST_NOT_ALLOWED',
};

const CNC = 'https://winatp-gw-cus.microsoft.com/commands/test';
const BLOB = 'https://automatedirstrprdcus.blob.core.windows.net/';
const CTL = 'http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab';
const LIVE = 'https://login.live.com/';
const ENV_PROXY = 'PROXY proxy.corp.example:8080';
const GATEWAY = 'PROXY airlock.corp.example:3128';

const ANSWERS: Record<string, RouteProbe> = {
  [`${CNC} ${ENV_PROXY}`]: answer(200, INSPECTED),
  [`${CNC} DIRECT`]: TCP_TIMEOUT,
  [`${CNC} ${GATEWAY}`]: answer(200, MICROSOFT),
  [`${BLOB} ${ENV_PROXY}`]: answer(400, INSPECTED),
  [`${BLOB} DIRECT`]: TCP_TIMEOUT,
  [`${BLOB} ${GATEWAY}`]: answer(400, AZURE),
  [`${CTL} ${ENV_PROXY}`]: answer(200, null),
  [`${CTL} DIRECT`]: TCP_TIMEOUT,
  [`${CTL} ${GATEWAY}`]: answer(200, null),
  [`${LIVE} ${ENV_PROXY}`]: AUTH,
  [`${LIVE} DIRECT`]: TCP_TIMEOUT,
  [`${LIVE} ${GATEWAY}`]: DENIED,
};

const target = (
  url: string,
  services: string[],
  expect: readonly number[],
  extra: Partial<CheckTarget> = {},
): CheckTarget => ({
  url,
  method: 'GET',
  expect,
  services,
  products: ['mde'],
  required: true,
  noInspect: true,
  entryIds: [],
  origin: 'fixture',
  ...extra,
});

async function fixtureReport(): Promise<CheckReport> {
  const probe: ProbeFunction = (t, route) => {
    const found = ANSWERS[`${t.url} ${routeKey(route)}`];
    if (found === undefined) throw new Error(`no canned answer for ${t.url} ${routeKey(route)}`);
    return Promise.resolve(found);
  };
  let tick = 0;
  return runCheck({
    mode: 'client',
    targets: [
      target(CNC, ['command-and-control'], [200, 400, 404], {
        origin: 'command-and-control test URL (Windows and Linux analyzers)',
      }),
      target(BLOB, ['autoir-storage'], [400, 200, 404], {
        origin: 'storage account root (analyzers; answers 400)',
      }),
      target(CTL, ['crl-ocsp'], ANALYZER_STATUSES, {
        noInspect: false,
        origin: 'certificate trust list download (Windows analyzer)',
      }),
      target(LIVE, ['live-response'], [200, 302, 400, 404], { required: false, origin: 'host root' }),
    ],
    notTestable: [
      {
        host: '*.wns.windows.com',
        services: ['live-response'],
        required: false,
        entryIds: ['mde:*.wns.windows.com'],
        reason:
          'WNS push is raw TCP that cannot use a proxy; test client.wns.windows.com:443 directly from the endpoint',
      },
    ],
    methods: {
      env: { HTTPS_PROXY: 'http://proxy.corp.example:8080', http_proxy: 'http://proxy.corp.example:8080' },
      gateway: {
        route: { kind: 'http-proxy', host: 'airlock.corp.example', port: 3128 },
        text: 'airlock.corp.example:3128',
      },
      direct: true,
    },
    timeoutMs: 3000,
    deadlineMs: 60_000,
    concurrency: 4,
    issuers: builtinIssuerData(),
    clock: () => new Date('2026-06-01T08:00:00.000Z'),
    now: () => (tick += 1250),
    probe,
  });
}

function golden(name: string, actual: string): void {
  const path = `${GOLDEN_DIR}${name}`;
  if (process.env.UPDATE_GOLDENS === '1') {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, actual);
  }
  assert.equal(
    actual,
    readFileSync(path, 'utf8'),
    `${name} differs from its golden file (UPDATE_GOLDENS=1 rewrites it)`,
  );
}

test('the fixture report carries the findings the goldens show', async () => {
  const report = await fixtureReport();
  assert.equal(report.exitCode, 0, 'every required URL is reachable through the gateway');
  const cnc = report.targets[0]!;
  assert.equal(cnc.methods.find((m) => m.method === 'env')?.error?.code, 'TLS_INSPECTED');
  assert.equal(cnc.methods.find((m) => m.method === 'gateway')?.tls?.verdict, 'expected');
  const blob = report.targets[1]!;
  assert.equal(blob.methods.find((m) => m.method === 'env')?.tls?.inspectedBy, 'Contoso Inspection CA');
  const live = report.targets[3]!;
  assert.equal(live.reachable, false);
  assert.ok(live.notes.some((n) => n.includes('demands authentication (Basic)')));
  assert.ok(
    live.notes.some((n) => n.includes('DENY_HOST_NOT_ALLOWED: destination host is not on the allowlist')),
  );
  assert.equal(report.durationMs, 1250);
});

test('MDE client analyzer layout golden (--format mde)', async () => {
  golden('report.txt', renderMde(await fixtureReport()));
});

test('text golden: summary and causes first, a short block per service', async () => {
  golden('report.text.txt', renderText(await fixtureReport(), { width: 100 }));
});

test('verbose text golden: every URL with its stages', async () => {
  golden('report.verbose.txt', renderText(await fixtureReport(), { width: 100, verbose: true }));
});

test('JSON golden', async () => {
  const text = renderJson(await fixtureReport());
  golden('report.json', text);
  const parsed = JSON.parse(text) as CheckReport;
  assert.equal(parsed.kind, 'airlock-check');
  assert.equal(parsed.version, 1);
});

test('JUnit golden', async () => {
  const xml = renderJunit(await fixtureReport());
  golden('report.junit.xml', xml);
  assert.match(
    xml,
    /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="airlock check" tests="5" failures="0" errors="0" skipped="2"/,
  );
});

test('terminal table golden', async () => {
  golden('report.table.txt', renderTable(await fixtureReport(), 110));
});

test('JUnit marks unreachable required URLs as failures', async () => {
  const report = await fixtureReport();
  const failing: CheckReport = {
    ...report,
    exitCode: 1,
    targets: report.targets.map((t, i) =>
      i === 0 ? { ...t, reachable: false, methods: t.methods.filter((m) => m.method !== 'gateway') } : t,
    ),
  };
  const xml = renderJunit(failing);
  assert.match(xml, /<testsuite name="Command and control" tests="1" failures="1"/);
  assert.match(
    xml,
    /<failure type="unreachable" message="Default proxy: Failed \(12175: TLS inspected by Contoso Inspection CA/,
  );
});

test('renderers escape what they print', () => {
  assert.equal(escapeXml(`<a b="c">&'\u0001`), '&lt;a b=&quot;c&quot;&gt;&amp;&apos;');
  assert.equal(
    escapeHtml(`<script>"x"&'y'</script>`),
    '&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;',
  );
});

test('the HTML report is one self-contained file', async () => {
  const html = renderHtml(await fixtureReport());
  assert.match(html, /^<!DOCTYPE html>/);
  assert.doesNotMatch(html, /<script|<link|src=|url\(/i);
  assert.equal((html.match(/class="service"/g) ?? []).length, 4);
});

test('the progress bar fills with the count and is cut to the width', () => {
  assert.equal(renderProgress(0, 4, 'https://a/', 80), '[--------------------] 0/4 https://a/');
  assert.equal(renderProgress(2, 4, 'x', 80), '[##########----------] 2/4 x');
  assert.equal(renderProgress(4, 4, 'https://a-very-long-host.example/path', 40).length, 40);
});
