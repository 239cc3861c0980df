import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import { openings, renderNftables } from '../../src/install/index.js';
import { CLI, serve, type Served } from '../helpers/cli.js';
import { closedPort, startOrigin, type TestOrigin } from '../helpers/origins.js';
import { run } from '../helpers/run.js';
import { requirement, skipHere } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Generated and shipped files checked by the programs that will read them, not by parsers of
 * this project: nft for the firewall rules, HAProxy for its example (and a real PROXY v2 hop
 * from it into the gateway), and the .reg files' bytes against the format regedit documents.
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function tool(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

describe('nftables rules from `airlock install`', () => {
  test('nft -c accepts the generated ruleset (checked inside a network namespace of its own)', (t) => {
    const nft = tool('nft');
    if (nft === null) return skipHere(t, 'nft is not installed (Debian package "nftables")');
    if (process.getuid?.() !== 0) return skipHere(t, 'nft -c needs root');
    const parsed = parseConfig(
      [
        'listeners: ["0.0.0.0:3128", "[::]:3128", { address: "0.0.0.0:3129", proxyProtocol: true, trustedProxies: [10.30.0.11/32] }]',
        'policy: { sources: [10.0.0.0/8, 192.168.0.0/16, "fd00::/8"] }',
        'admin: { listen: 0.0.0.0:9090 }',
      ].join('\n'),
      'airlock.yaml',
    );
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
    const file = join(mkdtempSync(join(tmpdir(), 'airlock-nft-')), 'firewall.nft');
    writeFileSync(file, renderNftables(openings(parsed.config.file, { port: 22, from: ['10.20.0.0/24'] })));
    const ns = `alnft${process.pid}`;
    const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(ip('netns', 'add', ns).status, 0, `ip netns add ${ns}`);
    try {
      const r = spawnSync('ip', ['netns', 'exec', ns, nft, '-c', '-f', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `nft -c rejected the ruleset:\n${r.stderr}\n${readFileSync(file, 'utf8')}`);
      // And it does refuse a broken file, so a pass means something.
      writeFileSync(`${file}.broken`, readFileSync(file, 'utf8').replace('policy drop;', 'policy dorp;'));
      const broken = spawnSync('ip', ['netns', 'exec', ns, nft, '-c', '-f', `${file}.broken`], {
        encoding: 'utf8',
      });
      assert.notEqual(broken.status, 0);
    } finally {
      ip('netns', 'del', ns);
    }
  });
});

const haproxy = tool('haproxy');

describe(
  'deploy/haproxy/haproxy.cfg',
  {
    skip: requirement(
      'HAProxy example',
      haproxy === null ? 'haproxy is not installed (Debian package "haproxy")' : null,
    ),
  },
  () => {
    const example = join(REPO, 'deploy/haproxy/haproxy.cfg');
    let origin: TestOrigin;
    let gw: Served;
    let adminPort: number;
    let haproxyProc: ReturnType<typeof spawn> | null = null;
    let front: number;

    before(async () => {
      origin = await startOrigin();
      const dir = mkdtempSync(join(tmpdir(), 'airlock-haproxy-'));
      const gwFile = join(dir, 'airlock.yaml');
      // The gateway as in deploy/examples/behind-haproxy.yaml, on loopback. The only allowed client
      // is 127.0.0.2: HAProxy itself connects from 127.0.0.1, so a request passes only when the
      // PROXY v2 header carried the client's own address.
      writeFileSync(
        gwFile,
        `listeners:
  - address: 127.0.0.1:0
    proxyProtocol: true
    trustedProxies: [127.0.0.1/32]
policy:
  sources: [127.0.0.2/32]
  destinations: [plain.example.test]
  ports: { connect: [443], http: [${origin.port}] }
hosts: { plain.example.test: 127.0.0.1 }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
admin: { listen: 127.0.0.1:0 }
timeouts: { drain: 2s }
`,
      );
      gw = await serve(['--config', gwFile]);
      adminPort = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(gw.stderr)?.[1]);
      front = await closedPort();
      // The example with its addresses moved to loopback; every other directive as shipped.
      const text = readFileSync(example, 'utf8')
        .replace(/^\s*(daemon|user \S+|group \S+|log \/dev\/log.*)$/gm, '')
        .replace(/maxconn 100000/, 'maxconn 1000')
        .replace(/bind :3128/, `bind 127.0.0.1:${front}`)
        .replace(/src 10\.0\.0\.0\/8/, 'src 127.0.0.0/8')
        .replace(/check port 9090/, `check port ${adminPort}`)
        .replace(/^(\s*server gw1) \S+$/m, `$1 127.0.0.1:${gw.port}`)
        .replace(/^\s*server gw[23] .*$/gm, '');
      const cfg = join(dir, 'haproxy.cfg');
      writeFileSync(cfg, text);
      haproxyProc = spawn(haproxy!, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
      haproxyProc.stderr?.resume();
      haproxyProc.stdout?.resume();
    });

    after(async () => {
      haproxyProc?.kill('SIGTERM');
      gw?.child.kill('SIGTERM');
      await gw?.exited;
      await origin?.close();
    });

    test('haproxy -c accepts the shipped example', () => {
      const r = spawnSync(haproxy!, ['-c', '-f', example], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    });

    test('a request through HAProxy reaches the gateway with the client address in a PROXY v2 header', async () => {
      const get = (): Promise<string> =>
        new Promise((resolve) => {
          const s = connect({ host: '127.0.0.1', port: front, localAddress: '127.0.0.2' });
          let text = '';
          s.on('data', (c: Buffer) => (text += c.toString('latin1')));
          s.on('error', () => resolve(text));
          s.on('close', () => resolve(text));
          s.write(
            `GET http://plain.example.test:${origin.port}/via-haproxy HTTP/1.1\r\nHost: plain.example.test:${origin.port}\r\nConnection: close\r\n\r\n`,
          );
        });
      // HAProxy forwards once it is up and has seen /readyz answer.
      const reply = await waitFor(
        'a 200 through HAProxy',
        async () => {
          const text = await get();
          return /^HTTP\/1\.1 200 /.test(text) ? text : null;
        },
        { timeoutMs: 15_000 },
      );
      assert.match(reply, /^HTTP\/1\.1 200 /);
      const record = await waitFor(
        'the access line',
        () =>
          gw.stdout
            .split('\n')
            .filter((l) => l.includes('/via-haproxy'))
            .map((l) => JSON.parse(l) as { client: string; decision: string })[0],
      );
      assert.equal(record.client, '127.0.0.2');
      assert.equal(record.decision, 'allow');
      assert.ok(origin.requests.some((r) => r.url === '/via-haproxy'));
    });
  },
);

/**
 * regedit's format, as documented in "How to add, modify, or delete registry subkeys and values
 * by using a registration entries (.reg) file" (https://learn.microsoft.com/en-us/troubleshoot/windows-server/performance/add-modify-delete-registry-subkeys-values):
 * UTF-16LE text with a byte-order mark, the first line "Windows Registry Editor Version 5.00",
 * a blank line, then `[key]` lines followed by `"name"=value` lines; Windows line ends (CRLF).
 */
describe('generated .reg files', () => {
  test('byte layout: BOM FF FE, strict UTF-16LE, CRLF only, the version 5.00 header and a blank line', async () => {
    const out = mkdtempSync(join(tmpdir(), 'airlock-reg-'));
    const r = await run(process.execPath, [
      CLI,
      'clients',
      '--gateway',
      'gw1.contoso.test:3128',
      '--gateway',
      'gw2.contoso.test:3128',
      '--product',
      'mde,mdi',
      '--os',
      'windows',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name.endsWith('.reg')) files.push(join(dir, entry.name));
      }
    };
    walk(out);
    assert.ok(files.length > 0, 'at least one .reg file');
    for (const file of files) {
      const bytes = readFileSync(file);
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe], `${file}: byte-order mark`);
      assert.equal((bytes.length - 2) % 2, 0, `${file}: whole UTF-16 code units`);
      // A decoder that rejects unpaired surrogates: the file is valid UTF-16LE.
      const text = new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(2));
      const units = [...text];
      units.forEach((ch, i) => {
        if (ch === '\n') assert.equal(units[i - 1], '\r', `${file}: a LF without CR at character ${i}`);
        if (ch === '\r') assert.equal(units[i + 1], '\n', `${file}: a CR without LF at character ${i}`);
      });
      assert.ok(text.endsWith('\r\n'), `${file}: ends with CRLF`);
      const lines = text.slice(0, -2).split('\r\n');
      assert.equal(lines[0], 'Windows Registry Editor Version 5.00', file);
      assert.equal(lines[1], '', `${file}: a blank line after the header`);
      let key: string | null = null;
      for (const line of lines.slice(2)) {
        if (line === '' || line.startsWith(';')) continue;
        if (line.startsWith('[')) {
          assert.match(
            line,
            /^\[-?HKEY_(LOCAL_MACHINE|CURRENT_USER|USERS|CLASSES_ROOT|CURRENT_CONFIG)(\\[^\\\]]+)+\]$/,
            file,
          );
          key = line;
          continue;
        }
        assert.ok(key !== null, `${file}: a value before any key: ${line}`);
        assert.match(
          line,
          /^("(?:[^"\\]|\\["\\])*"|@)=("(?:[^"\\]|\\["\\])*"|dword:[0-9a-f]{8}|-)$/,
          `${file}: ${line}`,
        );
      }
    }
  });
});

describe('generated PowerShell', () => {
  test('no PowerShell parser runs here; the scripts are checked structurally instead', (t) => {
    // PowerShell (pwsh) is not packaged for Debian, and the machines these tests run on reach
    // only Debian's and npm's registries. test/unit/clients/powershell-scan.ts checks brackets,
    // quoting and where values land in every generated script; with pwsh installed, this test
    // also has PowerShell's own parser read them.
    const pwsh = tool('pwsh');
    if (pwsh === null) {
      t.diagnostic('pwsh is not installed: PowerShell scripts are checked by the structural scanner only');
      return;
    }
    const dir = join(REPO, 'test/fixtures/clients');
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.ps1'))) {
      const r: SpawnSyncReturns<string> = spawnSync(
        pwsh,
        [
          '-NoProfile',
          '-Command',
          `$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('${join(dir, name)}', [ref]$null, [ref]$e); if ($e.Count) { $e | ForEach-Object { $_.Message }; exit 1 }`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    }
  });
});
