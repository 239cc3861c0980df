import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  builtinCatalog,
  parseCatalogSelection,
  PRODUCTS,
  selectDestinations,
} from '../../../src/catalog/index.js';
import { buildClientPlan, planPac, type ClientPlanInput } from '../../../src/clients/index.js';
import { SOURCES, sourceText } from '../../../src/sources/index.js';
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
  const known = new Set(Object.keys(SOURCES));
  for (const file of plan.files) {
    assert.ok(file.description.length > 0 && file.runWhere.length > 0, file.path);
    const text =
      typeof file.contents === 'string' ? file.contents : file.contents.subarray(2).toString('utf16le');
    if (file.path !== 'README.md') assert.ok(file.source.length > 0, `${file.path} has sources`);
    for (const key of file.source) assert.ok(known.has(key), `${file.path}: unknown source ${key}`);
    // Inline numbers refer to a list in the same file that gives each title with its address.
    const numbers = new Set([...text.matchAll(/\[(\d+)\](?! )/g)].map((m) => m[1]!));
    for (const n of numbers) {
      assert.match(
        text,
        new RegExp(`\\[${n}\\] [^\\n]+ \\([^\\n]+\\): (https?://|no public address)`),
        `${file.path}: [${n}] is listed`,
      );
    }
    const listed = file.source.map((key) => sourceText(key));
    if (file.path.endsWith('.json')) {
      JSON.parse(text);
    } else if (file.path !== 'README.md') {
      assert.ok(numbers.size > 0, `${file.path} cites its sources in a comment`);
      for (const line of listed) assert.ok(text.includes(line), `${file.path} lists ${line}`);
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
  // Every document a file follows is listed with its title and address in the README.
  const readme = plan.files.find((f) => f.path === 'README.md')!.contents as string;
  for (const file of plan.files) {
    for (const key of file.source)
      assert.ok(readme.includes(sourceText(key)), `README lists ${key} (${file.path})`);
  }
});

test('the README orders the work per system and names the gateway-side selection', () => {
  const plan = buildClientPlan(FULL, catalog);
  const readme = plan.files.find((f) => f.path === 'README.md')!.contents as string;
  assert.match(readme, /catalog:\n {4}products: \[mde, mdi, ama, mma, arc\]/);
  const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(sections.slice(0, 7), [
    'Before anything else: the gateway',
    '2 gateways: which one each setting uses',
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

/** The `catalog:` block of the README, parsed as an operator would paste it. */
function readmeSelection(readme: string): Record<string, unknown> {
  const block = /```yaml\n([\s\S]*?)\n\s*```/.exec(readme);
  assert.ok(block, 'the README shows the catalog section as YAML');
  const text = block[1]!.replace(/^ {2}/gm, '');
  return (parseYaml(text) as { catalog: Record<string, unknown> }).catalog;
}

/** Each tenant placeholder of the README, filled as the operator would fill it. */
const FILLED: Record<string, string> = {
  '<workspace>': 'contoso-corp',
  '<workspace-id>': '8b1a0c2e-53f1-4a7e-9f0e-2d7c3b4a5e6f',
  '<storage-account>': 'contosologs01',
  '<region>': 'westeurope',
  '<dce>': 'contoso-dce-a1b2.westeurope',
  '<relay>': 'azgnrelay-westeurope-l1',
};
const CUSTOMER_CREATABLE = [
  '*.atp.azure.com',
  '*.ods.opinsights.azure.com',
  '*.oms.opinsights.azure.com',
  '*.blob.core.windows.net',
  '*.servicebus.windows.net',
];

function rulesFor(selection: Record<string, unknown>): string[] {
  const parsed = parseCatalogSelection(selection, 'catalog');
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return selectDestinations(catalog, parsed.selection).rules.map((r) => r.host.replace(/^\./, '*.'));
}

test('the README names each tenant value next to its products; filled in, it opens no customer-creatable wildcard', () => {
  const readme = buildClientPlan(FULL, catalog).files.find((f) => f.path === 'README.md')!.contents as string;
  const selection = readmeSelection(readme);
  assert.deepEqual(selection.products, ['mde', 'mdi', 'ama', 'mma', 'arc']);
  for (const [key, products] of [
    ['mdiWorkspaces', 'mdi'],
    ['logAnalyticsWorkspaces', 'ama, mma'],
    ['storageAccounts', 'mma, arc'],
    ['relayNamespaces', 'arc'],
  ] as const) {
    assert.match(readme, new RegExp(`^ {4}${key}: \\[<[a-z-]+>\\] +# ${products}: your values$`, 'm'), key);
    assert.match(readme, new RegExp(`^ {2}\\| \`${key}\` \\| ${products} \\| opens \`\\*\\.`, 'm'), key);
  }
  // Taken without the tenant values (the products line alone), the selection opens the five wildcards.
  const productsOnly = rulesFor({ products: selection.products });
  for (const wildcard of CUSTOMER_CREATABLE)
    assert.ok(productsOnly.includes(wildcard), `${wildcard} without tenant values`);
  // Followed as written, with the placeholders filled in: none of them.
  const filled = Object.fromEntries(
    Object.entries(selection).map(([key, value]) => [
      key,
      key === 'products'
        ? value
        : (value as string[]).map((v) => FILLED[v] ?? assert.fail(`placeholder ${v}`)),
    ]),
  );
  const narrow = rulesFor(filled);
  for (const wildcard of CUSTOMER_CREATABLE)
    assert.ok(!narrow.includes(wildcard), `${wildcard} with tenant values`);
  assert.ok(narrow.includes('contoso-corpsensorapi.atp.azure.com'), narrow.join(' '));
  assert.ok(narrow.includes('contosologs01.blob.core.windows.net'));
});

test('with two gateways, every single-proxy setting names its gateway and how it fails over', () => {
  const readmeOf = (input: ClientPlanInput): string =>
    buildClientPlan(input, catalog).files.find((f) => f.path === 'README.md')!.contents as string;
  const readme = readmeOf(FULL);
  const section = readme.slice(readme.indexOf('## 2 gateways'), readme.indexOf('## Windows endpoints'));
  assert.match(section, /proxy\.pac lists gw1\.contoso\.test:3128, gw2\.contoso\.test:3128 in that order/);
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Setting'));
  for (const setting of [
    'EDR sensor: TelemetryProxyServer',
    'Defender Antivirus: ProxyServer',
    'Defender for Identity sensor: ProxyUrl',
    'Linux mdatp, apt/dnf, walinuxagent',
    'macOS: cloudService.proxy',
    'Azure Arc agent: proxy.url',
  ]) {
    const row = rows.find((r) => r.startsWith(`| ${setting} |`));
    assert.ok(row, `${setting} has a row`);
    const cells = row.split(' | ');
    assert.equal(cells[1], 'gw1.contoso.test:3128', `${setting}: which gateway`);
    assert.ok(cells[2]!.length > 20, `${setting}: how it fails over`);
  }
  assert.match(
    section,
    /\| Defender Antivirus: ProxyServer \| gw1\.contoso\.test:3128 \| only through a PAC file \(ProxyPacUrl\), whose address Airlock does not know here/,
  );
  // One gateway: nothing to choose, no section.
  assert.doesNotMatch(readmeOf({ ...FULL, gateways: ['gw1.contoso.test:3128'] }), /## \d+ gateways/);
});

test('Defender Antivirus ProxyPacUrl: the served PAC when known (flag or configuration), a warning when not', () => {
  const av = (input: Omit<ClientPlanInput, 'products' | 'os'>) => {
    const plan = buildClientPlan({ ...input, products: ['mde'], os: ['windows'] }, catalog);
    const reg = parseRegFile(
      plan.files.find((f) => f.path === 'windows/defender-proxy.reg')!.contents as Buffer,
    );
    const readme = plan.files.find((f) => f.path === 'README.md')!.contents as string;
    return { pacUrl: reg.find((v) => v.name === 'ProxyPacUrl')?.data, readme, notes: plan.notes };
  };
  const gateways = FULL.gateways;
  const served = av({ gateways, servedPacUrl: 'http://gw1.contoso.test:3128/proxy.pac' });
  assert.equal(served.pacUrl, 'http://gw1.contoso.test:3128/proxy.pac');
  assert.match(
    served.readme,
    /through ProxyPacUrl http:\/\/gw1\.contoso\.test:3128\/proxy\.pac: its PAC file lists every gateway in order/,
  );
  assert.ok(served.notes.some((n) => /where the gateway configuration serves its PAC file/.test(n.message)));
  // --pac-url wins over the configuration.
  assert.equal(
    av({
      gateways,
      pacUrl: 'http://pac.contoso.test/proxy.pac',
      servedPacUrl: 'http://gw1.contoso.test:3128/proxy.pac',
    }).pacUrl,
    'http://pac.contoso.test/proxy.pac',
  );
  const unknown = av({ gateways });
  assert.equal(unknown.pacUrl, undefined);
  assert.ok(
    unknown.notes.some(
      (n) => n.level === 'warning' && /address of the served PAC file is not known/.test(n.message),
    ),
  );
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
  has(
    /^SOURCES_DISAGREE: EDR sensor fallback.*Defender for Endpoint pages say direct access, the Windows policy reference says the default proxy configuration/,
  );
  has(/^SOURCES_DISAGREE: SSLOptions.*proxy page suggests 2, the streamlined URL list says 0/);
  has(/^SOURCES_DISAGREE: AMA "auth"/);
  has(/^OPEN_QUESTION: ProxyBypass.*separator/);
  has(/^OPEN_QUESTION: Defender Antivirus gets both ProxyServer and ProxyPacUrl/);
  has(/^OPEN_QUESTION: AMA on Arc-enabled servers/);
  has(
    /^SINGLE_PROXY: Settings that take a single proxy use gw1\.contoso\.test:3128; gw2\.contoso\.test:3128 appear in proxy\.pac/,
  );
  const reg = plan.files.find((f) => f.path === 'windows/defender-proxy.reg')!.contents as Buffer;
  assert.match(
    reg.subarray(2).toString('utf16le'),
    /Defender for Endpoint pages say the EDR sensor falls\r\n; back to direct access/,
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
  assert.match(pac, /"=atp\.azure\.com": 1/);
  assert.throws(() => planPac({ gateways: [] }, catalog), /--gateway: give at least one gateway/);
  assert.throws(
    () => planPac({ gateways: ['gw:1'], products: ['x'] }, catalog),
    /--product "x": not a product/,
  );
});
