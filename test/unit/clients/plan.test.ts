import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinCatalog, PRODUCTS } from '../../../src/catalog/index.js';
import {
  buildClientPlan,
  CLIENT_SOURCES,
  planPac,
  type ClientPlanInput,
} from '../../../src/clients/index.js';
import { isAirlockError } from '../../../src/errors/index.js';
import { assertGolden, goldenFiles, UPDATING_GOLDENS } from './golden.js';
import { scanPowerShell } from './powershell-scan.js';
import { parseRegFile } from './reg-parser.js';

const catalog = builtinCatalog();

const FULL: ClientPlanInput = {
  gateways: ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'],
  products: ['mde', 'mdi', 'ama', 'mma', 'arc'],
  os: ['windows', 'linux', 'macos'],
};

function usageError(input: ClientPlanInput): string {
  try {
    buildClientPlan(input, catalog);
  } catch (error) {
    assert.ok(isAirlockError(error), String(error));
    assert.equal(error.code, 'USAGE');
    return error.message;
  }
  assert.fail('expected a usage error');
}

test('the full plan matches its golden directory, file for file', () => {
  const plan = buildClientPlan(FULL, catalog);
  for (const file of plan.files) assertGolden(`plan/${file.path}`, file.contents);
  if (!UPDATING_GOLDENS) {
    assert.deepEqual(
      goldenFiles('plan'),
      plan.files.map((f) => f.path).sort(),
      'no golden file without a generated file, and the reverse',
    );
  }
});

test('every file says where it goes, when, and what it follows; every citation is a known source', () => {
  const plan = buildClientPlan(FULL, catalog);
  const known = new Set(Object.keys(CLIENT_SOURCES));
  for (const file of plan.files) {
    assert.ok(file.description.length > 0 && file.runWhere.length > 0, file.path);
    const text =
      typeof file.contents === 'string' ? file.contents : file.contents.subarray(2).toString('utf16le');
    if (file.path !== 'README.md') assert.ok(file.source.length > 0, `${file.path} has sources`);
    for (const key of file.source) assert.ok(known.has(key), `${file.path}: unknown source ${key}`);
    const cited = [...text.matchAll(/\[(R\d+|seed \d{3}|[a-z-]+\(\d\)|[a-z.]+\(\d\))\]/g)].map((m) => m[1]!);
    for (const key of cited) assert.ok(known.has(key), `${file.path} cites unknown [${key}]`);
    if (file.path.endsWith('.json')) {
      JSON.parse(text);
    } else if (file.path !== 'README.md') {
      assert.ok(cited.length > 0, `${file.path} cites its sources in a comment`);
    }
    if (file.path.endsWith('.reg')) assert.ok(parseRegFile(file.contents as Buffer).length > 0);
    if (file.path.endsWith('.ps1')) {
      const scan = scanPowerShell(text);
      assert.ok(!scan.code.includes('contoso'), `${file.path}: gateway name outside a literal`);
      assert.ok(
        !scan.doubleQuoted.some((d) => d.includes('contoso')),
        `${file.path}: gateway name in an expanding string`,
      );
    }
    if (/\.(cmd|ps1|reg|md)$/.test(file.path) && file.path !== 'README.md' && file.target === 'windows') {
      assert.ok(!/(?<!\r)\n/.test(text), `${file.path}: CRLF line ends`);
    }
  }
  // Every cited key is explained in the README.
  const readme = plan.files.find((f) => f.path === 'README.md')!.contents as string;
  for (const file of plan.files) {
    const text =
      typeof file.contents === 'string' ? file.contents : file.contents.subarray(2).toString('utf16le');
    for (const m of text.matchAll(/\[(R\d+|seed \d{3})\]/g)) {
      assert.ok(readme.includes(`- [${m[1]!}] `), `README lists [${m[1]!}] (cited in ${file.path})`);
    }
  }
});

test('the README orders the work per system and names the gateway-side selection', () => {
  const plan = buildClientPlan(FULL, catalog);
  const readme = plan.files.find((f) => f.path === 'README.md')!.contents as string;
  assert.match(readme, /catalog: \{ products: \[mde, mdi, ama, mma, arc\] \}/);
  const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(sections.slice(0, 6), [
    'Before anything else: the gateway',
    'Windows endpoints',
    'Linux endpoints',
    'macOS endpoints',
    'Azure: extension settings and Azure Policy',
    'PAC file',
  ]);
  assert.ok(
    readme.indexOf('`windows/defender-proxy.reg`') < readme.indexOf('`windows/mdi-install-sensor.cmd`'),
  );
  assert.ok(readme.indexOf('`linux/walinuxagent-proxy.sh`') < readme.indexOf('`linux/mdatp-proxy.sh`'));
  for (const file of plan.files)
    if (file.path !== 'README.md') assert.ok(readme.includes(`\`${file.path}\``), file.path);
});

test('where the sources disagree, the output says so', () => {
  const plan = buildClientPlan(
    { ...FULL, bypass: ['intranet.contoso.test'], pacUrl: 'http://gw1.contoso.test:8081/proxy.pac' },
    catalog,
  );
  const codes = plan.notes.map((n) => `${n.code}: ${n.message}`);
  const has = (re: RegExp): void =>
    assert.ok(
      codes.some((c) => re.test(c)),
      `${re}\n${codes.join('\n')}`,
    );
  has(/^SOURCES_DISAGREE: EDR sensor fallback.*R7 and R9.*R33/);
  has(/^SOURCES_DISAGREE: SSLOptions.*R6 suggests 2, R2 says 0/);
  has(/^SOURCES_DISAGREE: AMA "auth"/);
  has(/^OPEN_QUESTION: ProxyBypass.*separator/);
  has(/^OPEN_QUESTION: Defender Antivirus gets both ProxyServer and ProxyPacUrl/);
  has(/^OPEN_QUESTION: AMA on Arc-enabled servers/);
  has(
    /^SINGLE_PROXY: Single-proxy settings use gw1\.contoso\.test:3128; gw2\.contoso\.test:3128 appear in proxy\.pac only/,
  );
  const reg = plan.files.find((f) => f.path === 'windows/defender-proxy.reg')!.contents as Buffer;
  assert.match(
    reg.subarray(2).toString('utf16le'),
    /R7 and R9 say the EDR sensor falls back to direct access/,
  );
  assert.match(reg.subarray(2).toString('utf16le'), /list separator in the registry is not documented/);
});

test('MDI on Linux and macOS alongside Windows is skipped with a note, not an error', () => {
  const plan = buildClientPlan(FULL, catalog);
  const skipped = plan.notes.filter((n) => n.code === 'SKIPPED').map((n) => n.message);
  assert.ok(skipped.some((m) => m.startsWith('mdi has no settings for linux (only for windows)')));
  assert.ok(!plan.files.some((f) => f.path.startsWith('linux/') && f.products.includes('mdi')));
});

test('one clear error per bad input, naming it; nothing is planned', () => {
  assert.match(
    usageError({ ...FULL, gateways: ['gw1.contoso.test'] }),
    /^--gateway "gw1\.contoso\.test": not host:port/,
  );
  assert.match(
    usageError({ ...FULL, gateways: ["gw1'.contoso.test:3128"] }),
    /^--gateway "gw1'\.contoso\.test:3128": a single quote \('\) is not allowed/,
  );
  assert.match(
    usageError({ ...FULL, gateways: ['$(calc):3128'] }),
    /^--gateway "\$\(calc\):3128": "\$" is not allowed/,
  );
  assert.match(usageError({ ...FULL, gateways: [] }), /^--gateway: give at least one gateway/);
  assert.match(
    usageError({ ...FULL, products: ['mde', 'sentinel'] }),
    new RegExp(`^--product "sentinel": not a product in the catalog \\(one of ${PRODUCTS.join(', ')}\\)$`),
  );
  assert.match(
    usageError({ ...FULL, products: ['mdi'], os: ['linux'] }),
    /^--product mdi does not run on linux \(it has settings for windows\)/,
  );
  assert.match(
    usageError({ ...FULL, products: ['mdav'], os: ['macos'] }),
    /^--product mdav does not run on macos.*use --product mde/,
  );
  assert.match(
    usageError({ ...FULL, products: ['arc-sql'] }),
    /^--product arc-sql: no client configuration for SQL Server enabled by Azure Arc/,
  );
  assert.match(
    usageError({ ...FULL, os: ['solaris'] }),
    /^--os "solaris": not one of windows, linux, macos$/,
  );
  assert.match(usageError({ ...FULL, bypass: ['a b'] }), /^--bypass "a b": a space is not allowed/);
  assert.match(
    usageError({ ...FULL, pacUrl: 'file:///x.pac' }),
    /^--pac-url "file:\/\/\/x\.pac": must start with http/,
  );
  assert.match(
    usageError({ ...FULL, arcBypass: ['Everything'] }),
    /^--arc-bypass "Everything": not an Azure Arc bypass group/,
  );
  assert.match(usageError({ ...FULL, otherwise: 'SOCKS x:1' }), /^--otherwise: PAC fallback/);
  // Several problems: every one listed, one per line.
  const many = usageError({ gateways: ['bad'], products: ['nope'], os: ['beos'] });
  assert.equal(many.split('\n').length, 3, many);
});

test('comma-separated lists work like repeated flags', () => {
  const a = buildClientPlan(
    { gateways: ['gw1.contoso.test:3128'], products: ['mde,mdi'], os: ['windows'] },
    catalog,
  );
  const b = buildClientPlan(
    { gateways: ['gw1.contoso.test:3128'], products: ['mde', 'mdi'], os: ['windows'] },
    catalog,
  );
  assert.deepEqual(
    a.files.map((f) => f.path),
    b.files.map((f) => f.path),
  );
  assert.deepEqual(a.products, ['mde', 'mdi']);
});

test('Defender Antivirus alone on Windows: AV value only, WinHTTP as the revocation fix, no sensor files', () => {
  const plan = buildClientPlan(
    { gateways: ['gw1.contoso.test:3128'], products: ['mdav'], os: ['windows'] },
    catalog,
  );
  const reg = parseRegFile(
    plan.files.find((f) => f.path === 'windows/defender-proxy.reg')!.contents as Buffer,
  );
  assert.deepEqual(
    reg.map((v) => v.name),
    ['ProxyServer'],
  );
  assert.ok(plan.files.some((f) => f.path === 'windows/winhttp-proxy.cmd'));
  assert.ok(!plan.files.some((f) => f.path.startsWith('linux/')));
});

test("planPac: the products' catalog hosts, the gateways in order", () => {
  const pac = planPac(
    { gateways: ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'], products: ['mdi'] },
    catalog,
  );
  assert.match(pac, /"PROXY gw1\.contoso\.test:3128; PROXY gw2\.contoso\.test:3128"/);
  assert.match(pac, /"atp\.azure\.com": 1/);
  assert.throws(() => planPac({ gateways: [] }, catalog), /--gateway: give at least one gateway/);
  assert.throws(
    () => planPac({ gateways: ['gw:1'], products: ['x'] }, catalog),
    /--product "x": not a product/,
  );
});
