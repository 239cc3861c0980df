import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PacError,
  createPacEvaluator,
  formatPacEntry,
  parsePacResult,
  type PacEvaluator,
} from '../../../src/analyzer/index.js';
import { builtinCatalog, parseCatalogSelection, selectDestinations } from '../../../src/catalog/index.js';
import { exportPac } from '../../../src/catalog/tools.js';

async function withPac<T>(
  script: string,
  work: (pac: PacEvaluator) => Promise<T>,
  names: Record<string, string> = {},
): Promise<T> {
  const asked: string[] = [];
  const pac = await createPacEvaluator(script, {
    resolveName: (host) => {
      asked.push(host);
      return Promise.resolve(names[host] ?? null);
    },
    myIpAddress: '10.20.30.40',
    timeLimitMs: 300,
  });
  try {
    return await work(pac);
  } finally {
    pac.dispose();
  }
}

test('parsePacResult reads every entry kind with default ports, and rejects malformed answers', () => {
  const parsed = parsePacResult('PROXY a.corp:3128; DIRECT ;HTTPS [2001:db8::1]:8443; SOCKS5 s; proxy b');
  assert.ok(Array.isArray(parsed));
  assert.deepEqual(parsed.map(formatPacEntry), [
    'PROXY a.corp:3128',
    'DIRECT',
    'HTTPS [2001:db8::1]:8443',
    'SOCKS5 s:1080',
    'PROXY b:80',
  ]);
  for (const bad of [
    '',
    ';',
    'PROXY',
    'FTP a:1',
    'PROXY a:1 extra',
    'DIRECT a',
    'PROXY a:0',
    'PROXY a:99999',
  ]) {
    assert.ok('error' in parsePacResult(bad), bad);
  }
});

test('a PAC script runs in the sandbox with the standard helpers', async () => {
  const script = `
function FindProxyForURL(url, host) {
  if (isPlainHostName(host)) return "DIRECT";
  if (shExpMatch(host, "*.wd.microsoft.com")) return "PROXY airlock-a.corp:3128; PROXY airlock-b.corp:3128";
  if (dnsDomainIs(host, ".example.test") && url.substring(0, 6) === "https:") return "PROXY airlock-a.corp:3128";
  return "DIRECT";
}`;
  await withPac(script, async (pac) => {
    const wd = await pac.findProxy('https://x.cp.wd.microsoft.com/api/report');
    assert.equal(wd.raw, 'PROXY airlock-a.corp:3128; PROXY airlock-b.corp:3128');
    assert.equal(wd.entries.length, 2);
    assert.equal((await pac.findProxy('https://a.example.test/')).raw, 'PROXY airlock-a.corp:3128');
    assert.equal((await pac.findProxy('http://a.example.test/')).raw, 'DIRECT');
    assert.equal((await pac.findProxy('https://intranet/')).raw, 'DIRECT');
  });
});

test('name functions answer from the caller resolver; the script reruns with what it asked for', async () => {
  const script = `
function FindProxyForURL(url, host) {
  alert("checking " + host);
  if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "DIRECT";
  if (!isResolvable(host)) return "PROXY unresolved.corp:1";
  if (myIpAddress() === "10.20.30.40" && dnsResolve(host) === "192.0.2.7") return "PROXY resolved.corp:2";
  return "PROXY other.corp:3";
}`;
  await withPac(
    script,
    async (pac) => {
      const internal = await pac.findProxy('https://inside.corp/');
      assert.equal(internal.raw, 'DIRECT');
      assert.deepEqual(internal.alerts, ['checking inside.corp']);
      assert.equal((await pac.findProxy('https://outside.example/')).raw, 'PROXY resolved.corp:2');
      assert.equal((await pac.findProxy('https://nowhere.example/')).raw, 'PROXY unresolved.corp:1');
      assert.equal((await pac.findProxy('https://10.9.9.9/')).raw, 'DIRECT', 'IP literals need no lookup');
    },
    { 'inside.corp': '10.1.1.1', 'outside.example': '192.0.2.7' },
  );
});

test('a looping script is stopped at the time limit; errors and non-strings are PacErrors', async () => {
  const script = `
function FindProxyForURL(url, host) {
  if (host === "loop.example") { while (true) {} }
  if (host === "throw.example") throw new Error("boom");
  if (host === "number.example") return 42;
  if (host === "bad.example") return "PROXY";
  return "DIRECT";
}`;
  await withPac(script, async (pac) => {
    const started = Date.now();
    await assert.rejects(
      pac.findProxy('https://loop.example/'),
      (e: unknown) => e instanceof PacError && /ran longer than 300 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 2000, 'interrupted promptly');
    await assert.rejects(pac.findProxy('https://throw.example/'), /Error: boom/);
    await assert.rejects(pac.findProxy('https://number.example/'), /returned number, not a string/);
    await assert.rejects(pac.findProxy('https://bad.example/'), /returned "PROXY"/);
    assert.equal(
      (await pac.findProxy('https://fine.example/')).raw,
      'DIRECT',
      'the sandbox survives an interrupted call',
    );
  });
});

test('what a script returns, throws or alerts comes out with its invisible characters escaped', async () => {
  const script = `
function FindProxyForURL(url, host) {
  alert("\\x1b]0;TITLE\\x07");
  if (host === "spaced.example") return "PROXY\\ta.corp:3128;\\r\\nDIRECT\\v";
  if (host === "throw.example") throw new Error("\\x1b[2J\\u202egone");
  if (host === "proxy.example") return "PROXY a\\x1bc.corp:3128";
  return "\\x1b[31mDIRECT\\x9b0m";
}`;
  await withPac(script, async (pac) => {
    // Tabs and line breaks are whitespace to the parser; the answer is shown with them escaped.
    const spaced = await pac.findProxy('https://spaced.example/');
    assert.deepEqual(spaced.entries.map(formatPacEntry), ['PROXY a.corp:3128', 'DIRECT']);
    assert.equal(spaced.raw, 'PROXY\\x09a.corp:3128;\\x0d\\x0aDIRECT\\x0b');
    assert.deepEqual(spaced.alerts, ['\\x1b]0;TITLE\\x07']);
    await assert.rejects(
      pac.findProxy('https://throw.example/'),
      (e: unknown) => e instanceof PacError && e.message.endsWith('Error: \\x1b[2J\\u{202e}gone'),
    );
    await assert.rejects(
      pac.findProxy('https://other.example/'),
      (e: unknown) => e instanceof PacError && e.message.includes('returned "\\x1b[31mDIRECT\\x9b0m"'),
    );
    // A proxy name with an escape in it is no name: refused, not tried.
    await assert.rejects(
      pac.findProxy('https://proxy.example/'),
      (e: unknown) => e instanceof PacError && e.message.endsWith('"PROXY a\\x1bc.corp:3128": bad host:port'),
    );
  });
  assert.deepEqual(parsePacResult('PROXY a\u202e.corp:3128'), {
    error: '"PROXY a\\u{202e}.corp:3128": bad host:port',
  });
});

test('a script without FindProxyForURL, or with a syntax error, does not compile', async () => {
  await assert.rejects(createPacEvaluator('function other() { return "DIRECT"; }'), PacError);
  await assert.rejects(createPacEvaluator('function FindProxyForURL(url, host) {'), PacError);
});

test("Airlock's own exported PAC file sends catalog hosts to the gateway and the rest direct", async () => {
  const parsed = parseCatalogSelection({ products: ['mde'], geographies: ['US'] }, 'catalog');
  assert.ok(parsed.ok);
  const selection = selectDestinations(builtinCatalog(), parsed.selection);
  const script = exportPac(selection.rules, { proxies: ['airlock.corp:3128'] });
  await withPac(script, async (pac) => {
    assert.equal(
      (await pac.findProxy('https://winatp-gw-cus.microsoft.com/commands/test')).raw,
      'PROXY airlock.corp:3128',
    );
    assert.equal(
      (await pac.findProxy('https://unitedstates.cp.wd.microsoft.com/')).raw,
      'PROXY airlock.corp:3128',
    );
    assert.equal((await pac.findProxy('https://www.example.org/')).raw, 'DIRECT');
  });
});

test('concurrent lookups each get their own answer (calls are serialized over the shared sandbox)', async () => {
  const script = `
function FindProxyForURL(url, host) {
  var a = dnsResolve(host);
  return a === null ? "DIRECT" : "PROXY " + a + ":3128";
}`;
  await withPac(
    script,
    async (pac) => {
      const hosts = ['a.example', 'b.example', 'c.example', 'd.example'];
      const answers = await Promise.all(hosts.map((h) => pac.findProxy(`https://${h}/`)));
      assert.deepEqual(
        answers.map((a) => a.raw),
        ['PROXY 192.0.2.1:3128', 'PROXY 192.0.2.2:3128', 'PROXY 192.0.2.3:3128', 'PROXY 192.0.2.4:3128'],
      );
    },
    {
      'a.example': '192.0.2.1',
      'b.example': '192.0.2.2',
      'c.example': '192.0.2.3',
      'd.example': '192.0.2.4',
    },
  );
});
