import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import type { CheckReport, Finding, MethodResult } from '../../src/analyzer/index.js';
import { methodCell } from '../../src/analyzer/report/index.js';
import { check, type CheckIo, type CheckOptions } from '../../src/cli/commands/check.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOrigin, type TestOrigin } from '../helpers/origins.js';
import { createPki } from '../helpers/pki.js';

/**
 * `airlock check` names the cause: a gateway that cannot resolve names is one finding about its
 * DNS (not a hundred "refused" lines), told apart from a policy that refuses; and the same
 * failure reads the same from a client (`--gateway HOST:PORT`) and on the gateway box
 * (`--on-gateway -c CONFIG`).
 */

interface DnsServer {
  readonly port: number;
  queries: number;
  close(): Promise<void>;
}

/** A DNS server on loopback that answers every query with SERVFAIL, or never answers at all. */
async function startDns(answer: 'servfail' | 'silent'): Promise<DnsServer> {
  const socket: UdpSocket = createSocket('udp4');
  const state = { queries: 0 };
  socket.on('message', (query, peer) => {
    state.queries++;
    if (answer === 'silent' || query.length < 12) return;
    // The question ends after the name's labels and the type and class (4 bytes).
    let at = 12;
    while (at < query.length && query[at] !== 0) at += query[at]! + 1;
    const reply = Buffer.from(query.subarray(0, Math.min(query.length, at + 5)));
    reply[2] = 0x80 | (query[2]! & 0x79); // QR, the query's opcode and RD
    reply[3] = 0x80 | 2; // RA, RCODE 2: SERVFAIL
    reply.writeUInt16BE(1, 4);
    reply.fill(0, 6, 12); // no answer, authority or additional records
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    get queries() {
      return state.queries;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function captureIo(): CheckIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    terminal: false,
    progressTerminal: false,
    columns: 100,
    width: 100,
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

async function runJson(options: CheckOptions): Promise<{ code: number; report: CheckReport }> {
  const io = captureIo();
  const code = await check({ format: 'json', envProxy: false, timeout: '3000', ...options }, io);
  return { code, report: JSON.parse(io.stdout) as CheckReport };
}

function only(findings: readonly Finding[]): Finding {
  assert.equal(findings.length, 1, JSON.stringify(findings, null, 2));
  return findings[0]!;
}

function cells(report: CheckReport, method: MethodResult['method']): string[] {
  return report.targets.map((t) =>
    methodCell(
      t.methods.find((m) => m.method === method)!,
      report.mode,
    ),
  );
}

const NAMES = ['a.example.test', 'b.example.test', 'c.example.test', 'd.example.test'];

function gatewayYaml(dnsPort: number, extra = ''): string {
  return `
policy:
  sources: [127.0.0.1/32]
  destinations: [${NAMES.join(', ')}]
  ports: { connect: [443], http: [80] }
dns:
  servers: ["127.0.0.1:${dnsPort}"]
  hostsFile: null
  timeout: 300ms
  tries: 1
${extra}`;
}

let servfail: DnsServer;
let silent: DnsServer;
let gwServfail: RunningGateway;
let gwSilent: RunningGateway;
let gwPolicy: RunningGateway;
let origin: TestOrigin;

before(async () => {
  servfail = await startDns('servfail');
  silent = await startDns('silent');
  gwServfail = await startGateway(gatewayYaml(servfail.port));
  gwSilent = await startGateway(gatewayYaml(silent.port));
  const pki = createPki(['allowed.example.test', 'refused.example.test', 'other.example.test']);
  origin = await startOrigin(pki);
  gwPolicy = await startGateway(`
policy:
  sources: [127.0.0.1/32]
  destinations: [allowed.example.test]
  ports: { connect: [${origin.port}], http: [80] }
hosts:
  allowed.example.test: 127.0.0.1
  refused.example.test: 127.0.0.1
  other.example.test: 127.0.0.1
`);
});

after(async () => {
  await gwServfail?.close();
  await gwSilent?.close();
  await gwPolicy?.close();
  await origin?.close();
  await servfail?.close();
  await silent?.close();
});

describe('airlock check finds the cause', () => {
  test('a gateway whose DNS servers answer SERVFAIL: one finding naming DNS, the same from a client and on the gateway box', async () => {
    const urls = NAMES.slice(0, 3).map((n) => `https://${n}/`);
    const client = await runJson({ urls, gateway: `127.0.0.1:${gwServfail.port}`, direct: false });
    assert.equal(client.code, 1);
    const seen = only(client.report.findings);
    assert.equal(seen.code, 'FAIL_DNS');
    assert.equal(seen.kind, 'upstream');
    assert.equal(seen.severity, 'error');
    assert.equal(seen.urls, 3);
    assert.match(seen.title, /^The gateway 127\.0\.0\.1:\d+ cannot resolve names: every DNS lookup fails$/);
    assert.match(seen.fix, /dns\.servers/);
    assert.deepEqual(cells(client.report, 'gateway'), ['x FAIL_DNS', 'x FAIL_DNS', 'x FAIL_DNS']);
    assert.ok(servfail.queries > 0, 'the gateway asked the DNS server');

    const box = await runJson({ onGateway: true, configFile: gwServfail.configFile });
    assert.equal(box.code, 1);
    const onBox = only(box.report.findings);
    assert.equal(onBox.code, 'FAIL_DNS');
    assert.equal(onBox.kind, 'upstream');
    assert.equal(onBox.urls, box.report.targets.length);
    assert.equal(onBox.title, 'The gateway cannot resolve names: every DNS lookup fails');
    assert.equal(onBox.fix, seen.fix);
    assert.ok(
      cells(box.report, 'direct').every((c) => c === 'x FAIL_DNS'),
      cells(box.report, 'direct').join(),
    );
  });

  test('the text report puts the one DNS finding before the services, and says "refused" nowhere', async () => {
    const io = captureIo();
    const urls = NAMES.map((n) => `https://${n}/`);
    const code = await check(
      { urls, gateway: `127.0.0.1:${gwServfail.port}`, direct: false, envProxy: false, format: 'text' },
      io,
    );
    assert.equal(code, 1);
    const text = io.stdout;
    assert.match(text, /^Airlock connectivity check \(client\): FAILED: 0 of 4 URLs reachable/);
    const causes = text.indexOf('Causes, most important first:');
    const services = text.indexOf('Services:');
    assert.ok(causes > 0 && causes < services, text);
    assert.equal((text.match(/^ {2}\d+\. /gm) ?? []).length, 1, text);
    assert.match(
      text,
      /1\. error: The gateway 127\.0\.0\.1:\d+ cannot resolve names: every DNS lookup fails \[FAIL_DNS\]/,
    );
    assert.match(text, /4 URLs, none reached by any method \(4 required\)/);
    assert.doesNotMatch(text, /refused/i);
  });

  test('DNS servers that never answer: FAIL_DNS_TIMEOUT, and attempts skipped after repeated timeouts join the same finding', async () => {
    const urls = NAMES.map((n) => `https://${n}/`);
    const client = await runJson({ urls, gateway: `127.0.0.1:${gwSilent.port}`, direct: false });
    const seen = only(client.report.findings);
    assert.equal(seen.code, 'FAIL_DNS_TIMEOUT');
    assert.match(
      seen.title,
      /^The gateway 127\.0\.0\.1:\d+ cannot resolve names: its DNS servers do not answer$/,
    );
    assert.equal(seen.urls, 4);

    const box = await runJson({ onGateway: true, configFile: gwSilent.configFile, concurrency: '1' });
    const onBox = only(box.report.findings);
    assert.equal(onBox.code, 'FAIL_DNS_TIMEOUT');
    assert.equal(onBox.title, 'The gateway cannot resolve names: its DNS servers do not answer');
    assert.equal(onBox.urls, box.report.targets.length);
    assert.equal(onBox.notTried, box.report.targets.length - 3, 'three timeouts, then the route is given up');
  });

  test('a policy that refuses: findings name the policy and what to change, one per reason', async () => {
    const { code, report } = await runJson({
      urls: [
        `https://refused.example.test:${origin.port}/`,
        `https://other.example.test:${origin.port}/x`,
        `https://allowed.example.test:${origin.port + 1 === 65536 ? 1 : origin.port + 1}/`,
      ],
      gateway: `127.0.0.1:${gwPolicy.port}`,
      direct: false,
    });
    assert.equal(code, 1);
    assert.deepEqual(
      report.findings.map((f) => [f.code, f.kind, f.urls]),
      [
        ['DENY_HOST_NOT_ALLOWED', 'policy', 2],
        ['DENY_PORT', 'policy', 1],
      ],
    );
    const [host, port] = report.findings;
    assert.match(host!.title, /refuses these hosts: its policy does not allow them/);
    assert.match(host!.fix, /policy\.destinations/);
    assert.match(port!.title, /refuses these ports: its policy does not allow them/);
    assert.match(port!.fix, /policy\.ports\.connect/);
    assert.deepEqual(cells(report, 'gateway'), [
      'x DENY_HOST_NOT_ALLOWED',
      'x DENY_HOST_NOT_ALLOWED',
      'x DENY_PORT',
    ]);
  });
});
