import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CheckReport, MethodResult } from '../../src/analyzer/index.js';
import { check, type CheckIo, type CheckOptions } from '../../src/cli/commands/check.js';
import { closedPort, startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki } from '../helpers/pki.js';

/**
 * `airlock check` against a network that means harm: a proxy whose reason phrases, Proxy-Status
 * details and authentication challenges carry terminal escape sequences, a certificate from a CA
 * named with them, PAC scripts that return, throw and alert them, and a PAC server that sends a
 * script without end. The reports must show that text with its escapes visible, never raw, and
 * the download must stop at the size limit instead of reading on.
 */

/** A report line may hold no invisible character but the line feeds between lines. */
const INVISIBLE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** Retitles the terminal, clears it and homes the cursor, then fakes a green "OK". */
const TAKEOVER = '\x1b]0;PWNED\x07\x1b[2J\x1b[HAll endpoints reachable \x1b[32mOK\x1b[0m';
/** The same text as the reports must print it: every escape visible. */
const TAKEOVER_SHOWN = '\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[HAll endpoints reachable \\x1b[32mOK\\x1b[0m';
/** The 8-bit control sequence introducer and next line, as a proxy's Latin-1 bytes give them. */
const C1 = '\x9b2J\x85';

const REFUSED = 'refused.example.test';
const AUTH = 'auth.example.test';
const PLAIN = 'plain.example.test';
const GARBLED = 'garbled.example.test';
const EVIL_CA = 'evil-ca.example.test';
const PAC_TARGET = 'pac.example.test';
/**
 * A proxy name with ESC c (reset the terminal) in it, as a PAC script answers it; it is also
 * given to --resolve, so that a check that took it for a name would not ask DNS for it.
 */
const EVIL_PROXY_NAME = 'evil\x1bc.example.test';

/** What the hostile proxy answers, chosen by the host a request names. */
function hostileAnswer(head: string): string {
  const host = /^\S+ (?:https?:\/\/)?([^:/\s]+)/.exec(head)?.[1] ?? '';
  switch (host) {
    case AUTH:
      return `HTTP/1.1 407 ${TAKEOVER}\r\nProxy-Authenticate: \x1b[2JBasic realm="x"\r\nContent-Length: 0\r\n\r\n`;
    case PLAIN:
      return `HTTP/1.1 502 ${TAKEOVER}${C1}\r\nProxy-Status: evil; error=destination_unavailable; details="${TAKEOVER}${C1}"\r\nContent-Length: 0\r\n\r\n`;
    case GARBLED:
      return `\x1b[2JHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`;
    default:
      return `HTTP/1.1 403 ${TAKEOVER}${C1}\r\nProxy-Status: evil; error=http_request_denied; details="${TAKEOVER}"\r\nContent-Length: 0\r\n\r\n`;
  }
}

interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** Keeps track of the server's connections; the function it returns closes them and the server. */
function closer(server: Server | HttpServer): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** A proxy that answers every request head with `hostileAnswer`, in Latin-1 bytes as they are. */
async function startHostileProxy(): Promise<Listening> {
  const server = createServer((socket) => {
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.end(Buffer.from(hostileAnswer(head.slice(0, end)), 'latin1'));
    });
  });
  const close = closer(server);
  return { port: await listen(server), close };
}

/** How the PAC server's endless script went: how much was sent, and whether the client hung up first. */
interface Stream {
  written: number;
  finished: boolean;
  closedEarly: boolean;
  /** Resolves once the response is over, either way. */
  readonly over: Promise<void>;
}

/** More than any PAC script may be, many times over; the endless script stops here. */
const STREAM_BOUND = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, '/* padding */ ');
/** How long the script that claims 512 MiB waits after its first chunk before giving up. */
const CLAIM_WAIT_MS = 20_000;

/**
 * Serves PAC scripts: one that is endless (chunked, written as fast as the client reads, up to
 * STREAM_BOUND), one whose Content-Length claims 512 MiB and that then sends almost nothing,
 * and hostile scripts by name.
 */
async function startPacServer(scripts: Readonly<Record<string, string>>): Promise<
  Listening & {
    readonly streams: Stream[];
  }
> {
  const streams: Stream[] = [];
  const server = createHttpServer((req, res) => {
    const path = req.url ?? '/';
    const script = scripts[path];
    if (script !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/x-ns-proxy-autoconfig' });
      res.end(script);
      return;
    }
    if (path !== '/endless.pac' && path !== '/claims-512m.pac') {
      res.writeHead(404);
      res.end();
      return;
    }
    let settle = (): void => undefined;
    const stream: Stream = {
      written: 0,
      finished: false,
      closedEarly: false,
      over: new Promise<void>((resolve) => (settle = resolve)),
    };
    streams.push(stream);
    res.on('close', () => {
      stream.closedEarly = !stream.finished;
      settle();
    });
    if (path === '/claims-512m.pac') {
      res.writeHead(200, { 'Content-Length': String(512 * 1024 * 1024) });
      res.write(CHUNK);
      stream.written += CHUNK.length;
      const timer = setTimeout(() => {
        stream.finished = true;
        res.destroy();
      }, CLAIM_WAIT_MS);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/x-ns-proxy-autoconfig' });
    const pump = (): void => {
      while (!res.destroyed && stream.written < STREAM_BOUND) {
        stream.written += CHUNK.length;
        if (!res.write(CHUNK)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) {
        stream.finished = true;
        res.end();
      }
    };
    pump();
  });
  const close = closer(server);
  return { port: await listen(server), close, streams };
}

interface Captured extends CheckIo {
  stdout: string;
  stderr: string;
}

function captureIo(): Captured {
  const io = {
    stdout: '',
    stderr: '',
    terminal: false,
    progressTerminal: false,
    columns: 120,
    width: 120,
    env: {},
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
let proxy: Listening;
let evilOrigin: TestOrigin;
let pacServer: Listening & { readonly streams: Stream[] };
let dead: number;

const PAC_SCRIPTS: Readonly<Record<string, string>> = {
  '/throws-on-load.pac': `throw new Error(${JSON.stringify(TAKEOVER)});\nfunction FindProxyForURL() { return "DIRECT"; }\n`,
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-check-hostile-'));
  proxy = await startHostileProxy();
  evilOrigin = await startOrigin(createPki([EVIL_CA], `Evil ${TAKEOVER} CA`));
  pacServer = await startPacServer(PAC_SCRIPTS);
  dead = await closedPort();
});

after(async () => {
  await proxy?.close();
  await evilOrigin?.close();
  await pacServer?.close();
});

function resolveAll(): string[] {
  return [REFUSED, AUTH, PLAIN, GARBLED, EVIL_CA, PAC_TARGET, EVIL_PROXY_NAME].map((h) => `${h}:127.0.0.1`);
}

async function run(options: CheckOptions): Promise<Captured> {
  const io = captureIo();
  await check({ resolve: resolveAll(), timeout: '5000', verbose: true, ...options }, io);
  return io;
}

function assertVisible(output: string, format: string): void {
  const at = output.search(INVISIBLE);
  assert.equal(
    at,
    -1,
    `--format ${format} printed ${JSON.stringify(output.slice(Math.max(0, at - 60), at + 20))}`,
  );
}

function pacResult(report: CheckReport): MethodResult {
  const pac = report.targets[0]?.methods.find((m) => m.method === 'pac');
  assert.ok(pac !== undefined, JSON.stringify(report.targets[0]));
  return pac;
}

describe('airlock check shows what a hostile network sends without letting it drive the terminal', () => {
  test('reason phrases, Proxy-Status details, challenges, malformed heads and certificate names are escaped in every terminal format', async () => {
    const urls = [
      `https://${REFUSED}:${dead}/`,
      `https://${AUTH}:${dead}/`,
      `http://${PLAIN}:${dead}/`,
      `https://${GARBLED}:${dead}/`,
      `https://${EVIL_CA}:${evilOrigin.port}/`,
    ];
    for (const format of ['text', 'table', 'mde']) {
      const io = await run({ urls, proxy: `http://127.0.0.1:${proxy.port}`, format });
      assert.ok(io.stdout.includes(`https://${REFUSED}:${dead}/`), io.stdout);
      assertVisible(io.stdout, format);
      assertVisible(io.stderr, format);
      if (format !== 'text') continue;
      // The text shows what was sent, as escapes: the reader sees the attempt.
      assert.ok(io.stdout.includes('\\x1b]0;PWNED\\x07'), io.stdout);
      assert.ok(io.stdout.includes('\\x9b2J\\x85'), io.stdout);
      assert.ok(io.stdout.includes('issuer Evil \\x1b]0;PWNED'), io.stdout);
    }
    const json = await run({ urls, proxy: `http://127.0.0.1:${proxy.port}`, format: 'json' });
    const report = JSON.parse(json.stdout) as CheckReport;
    const proxied = (host: string): MethodResult | undefined =>
      report.targets.find((t) => t.target.url.includes(host))?.methods.find((m) => m.method === 'proxy');
    assert.equal(proxied(REFUSED)?.proxyReason, TAKEOVER_SHOWN);
    assert.equal(
      proxied(REFUSED)?.error?.message,
      `CONNECT answered 403 ${TAKEOVER_SHOWN}\\x9b2J\\x85 [${TAKEOVER_SHOWN}]`,
    );
    assert.deepEqual(proxied(AUTH)?.proxyAuth, ['\\x1b[2JBasic']);
    assert.equal(proxied(PLAIN)?.proxyReason, `${TAKEOVER_SHOWN}\\x9b2J\\x85`);
    assert.match(proxied(GARBLED)?.error?.message ?? '', /not an HTTP\/1\.x status line: "\\x1b\[2JHTTP/);
  });

  test('what a PAC script returns, throws or fails to load with is escaped', async () => {
    const scripts = {
      returns: `function FindProxyForURL(url, host) { alert(${JSON.stringify(TAKEOVER)}); return ${JSON.stringify(`${TAKEOVER}\u202eDIRECT`)}; }`,
      'names-a-proxy': `function FindProxyForURL(url, host) { return ${JSON.stringify(`PROXY ${EVIL_PROXY_NAME}:${dead}; DIRECT`)}; }`,
      throws: `function FindProxyForURL(url, host) { throw new Error(${JSON.stringify(TAKEOVER)}); }`,
    };
    const cases: { pac: string; shows: string }[] = Object.entries(scripts).map(([name, script]) => {
      const file = join(dir, `${name}.pac`);
      writeFileSync(file, script);
      return { pac: file, shows: name === 'names-a-proxy' ? 'evil\\x1bc.example.test' : TAKEOVER_SHOWN };
    });
    cases.push({ pac: `http://127.0.0.1:${pacServer.port}/throws-on-load.pac`, shows: TAKEOVER_SHOWN });
    for (const { pac, shows } of cases) {
      for (const format of ['text', 'table', 'mde']) {
        const io = await run({ urls: [`https://${PAC_TARGET}:${dead}/`], pac, direct: false, format });
        assertVisible(io.stdout, `${format} with ${pac}`);
        assertVisible(io.stderr, `${format} with ${pac}`);
      }
      const json = await run({
        urls: [`https://${PAC_TARGET}:${dead}/`],
        pac,
        direct: false,
        format: 'json',
      });
      const result = pacResult(JSON.parse(json.stdout) as CheckReport);
      assert.equal(result.outcome, 'failed', pac);
      assert.ok(result.error?.message.includes(shows), `${pac}: ${result.error?.message}`);
      assert.doesNotMatch(result.error?.message ?? '', INVISIBLE);
    }
  });

  test('an endless PAC script is refused at 1 MiB, and the download stopped there', async () => {
    const url = `http://127.0.0.1:${pacServer.port}/endless.pac`;
    const before = pacServer.streams.length;
    const json = await run({
      urls: [`https://${PAC_TARGET}:${dead}/`],
      pac: url,
      direct: false,
      format: 'json',
    });
    const result = pacResult(JSON.parse(json.stdout) as CheckReport);
    assert.equal(result.error?.code, 'PAC_DOWNLOAD_FAILED');
    assert.equal(result.error?.message, `PAC download failed: ${url} is larger than 1 MiB`);
    const stream = pacServer.streams[before];
    assert.ok(stream !== undefined, 'the PAC server was asked');
    await stream.over;
    assert.equal(stream.closedEarly, true, `the client read all ${stream.written} bytes`);
    assert.ok(stream.written < STREAM_BOUND);
  });

  test('a PAC script whose Content-Length is over 1 MiB is refused before its body is read', async () => {
    const url = `http://127.0.0.1:${pacServer.port}/claims-512m.pac`;
    const before = pacServer.streams.length;
    const json = await run({
      urls: [`https://${PAC_TARGET}:${dead}/`],
      pac: url,
      direct: false,
      format: 'json',
    });
    const result = pacResult(JSON.parse(json.stdout) as CheckReport);
    assert.equal(result.error?.message, `PAC download failed: ${url} is larger than 1 MiB`);
    const stream = pacServer.streams[before];
    assert.ok(stream !== undefined, 'the PAC server was asked');
    await stream.over;
    assert.equal(stream.closedEarly, true, 'the client hung up before the server gave up');
  });
});
