import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIP } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  squidUserField,
  toJsonFields,
  toJsonLine,
  toSquidLine,
  type AccessRecord,
} from '../../../src/observe/index.js';
import { isoTime } from '../../../src/observe/access-record.js';
import { MDE_C2, TUNNEL_RECORD } from './records.js';

const base = TUNNEL_RECORD;

test('Squid native line for a tunnel: the user field carries the reason', () => {
  assert.equal(
    toSquidLine(base),
    '1767323046.834   1234 10.20.0.2 TCP_TUNNEL/200 4096 CONNECT winatp-gw-eus.microsoft.com:443 ALLOWED HIER_DIRECT/203.0.113.10 -',
  );
});

test('Squid native line for a tunnel of a catalog service: reason@product/service', () => {
  const line = toSquidLine({ ...base, catalog: MDE_C2 });
  assert.match(
    line,
    / CONNECT winatp-gw-eus\.microsoft\.com:443 ALLOWED@mde\/command-and-control HIER_DIRECT\//,
  );
});

test('Squid native line for a denied plain-HTTP request', () => {
  const line = toSquidLine({
    ...base,
    method: 'GET',
    host: 'evil.example.net',
    port: 80,
    path: '/x?y=1',
    decision: 'deny',
    reason: 'DENY_HOST_NOT_ALLOWED',
    upstream: null,
    status: 403,
    bytesToClient: 0,
    durationMs: 0,
  });
  assert.equal(
    line,
    '1767323045.600      0 10.20.0.2 TCP_DENIED/403 0 GET http://evil.example.net/x?y=1 DENY_HOST_NOT_ALLOWED HIER_NONE/- -',
  );
});

test('refusals that used to look alike in Squid format now differ by their reason', () => {
  const refused = (reason: AccessRecord['reason'], host: string, port: number): string =>
    toSquidLine({
      ...base,
      host,
      port,
      decision: 'deny',
      reason,
      upstream: null,
      status: 403,
      bytesToClient: 0,
    });
  const lines = [
    refused('DENY_HOST_NOT_ALLOWED', 'example.com', 443),
    refused('DENY_PORT', 'winatp-gw-eus.microsoft.com', 8443),
    refused('DENY_IP_LITERAL', '203.0.113.9', 443),
  ];
  assert.deepEqual(
    lines.map((l) => parseSquidNative(l).user),
    ['DENY_HOST_NOT_ALLOWED', 'DENY_PORT', 'DENY_IP_LITERAL'],
  );
});

test('Squid line with an IPv6 upstream and a non-default port', () => {
  const line = toSquidLine({
    ...base,
    method: 'GET',
    path: '/a',
    port: 8080,
    upstream: '[2001:db8::1]:8080',
  });
  assert.match(
    line,
    / GET http:\/\/winatp-gw-eus\.microsoft\.com:8080\/a ALLOWED HIER_DIRECT\/2001:db8::1 -$/,
  );
});

test('audit-mode lines are marked in the Squid user field', () => {
  const line = toSquidLine({ ...base, decision: 'would_deny', reason: 'DENY_HOST_NOT_ALLOWED' });
  assert.match(
    line,
    / CONNECT winatp-gw-eus\.microsoft\.com:443 would_deny:DENY_HOST_NOT_ALLOWED HIER_DIRECT\/203\.0\.113\.10 -$/,
  );
});

test('a tunnel cut after the SNI check is marked', () => {
  const line = toSquidLine({
    ...base,
    decision: 'deny',
    reason: 'DENY_SNI_MISMATCH',
    end: null,
    catalog: MDE_C2,
  });
  assert.match(line, / TCP_DENIED\/200 4096 CONNECT \S+ deny:DENY_SNI_MISMATCH@mde\/command-and-control /);
});

/**
 * Squid's native access.log format, field by field, as Squid documents it: its built-in
 * `logformat squid %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`
 * (http://www.squid-cache.org/Doc/config/logformat/) and the field descriptions of
 * https://wiki.squid-cache.org/Features/LogFormat ("Squid native access.log format in detail").
 * Ten whitespace-separated fields; `%[un` is the user name in Squid's text-log escaping (no
 * whitespace, "-" when there is none). This is the layout tools reading Squid logs rely on.
 */
function parseSquidNative(line: string): {
  time: number;
  elapsed: number;
  client: string;
  result: string;
  status: number;
  bytes: number;
  method: string;
  url: string;
  user: string;
  hierarchy: string;
  peer: string;
  type: string;
} {
  const fields = line.trim().split(/\s+/);
  assert.equal(fields.length, 10, `ten fields: ${line}`);
  const [time, elapsed, client, code, bytes, method, url, user, peering, type] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  assert.match(time, /^\d+\.\d{3}$/, 'time: seconds since the epoch with milliseconds (%ts.%03tu)');
  assert.match(elapsed, /^\d+$/, 'elapsed: milliseconds (%6tr)');
  assert.ok(isIP(client) !== 0, 'remotehost: the client address (%>a)');
  const m = /^([A-Z_]+)\/(\d{3})$/.exec(code);
  assert.ok(m !== null, 'code/status: Squid result code and three-digit HTTP status (%Ss/%03>Hs)');
  assert.match(m[1]!, /^(TCP|UDP|NONE)(_[A-Z]+)*$/, 'result code: TCP_*, as Squid writes them');
  assert.match(bytes, /^\d+$/, 'bytes: reply size (%<st)');
  assert.match(method, /^[A-Z]+$|^-$/, 'method (%rm)');
  if (method === 'CONNECT')
    assert.match(url, /^(\[[0-9a-f:]+\]|[^/\s:]+):\d+$/, 'URL: authority-form for CONNECT (%ru)');
  else assert.match(url, /^(http:\/\/|error:)/, 'URL: absolute-form (%ru)');
  assert.match(user, /^[^\s]+$/, 'user: one token, "-" when none (%[un)');
  const p = /^(HIER_[A-Z_]+|[A-Z_]+)\/(.+)$/.exec(peering);
  assert.ok(p !== null, 'hierarchy/peer: hierarchy code and peer address or "-" (%Sh/%<a)');
  assert.ok(p[2] === '-' || isIP(p[2]!) !== 0, 'peer: an address or "-"');
  assert.match(type, /^(-|[a-z]+\/[a-z0-9.+-]+)$/, 'type: MIME content type or "-" (%mt)');
  return {
    time: Number(time),
    elapsed: Number(elapsed),
    client,
    result: m[1]!,
    status: Number(m[2]),
    bytes: Number(bytes),
    method,
    url,
    user,
    hierarchy: p[1]!,
    peer: p[2]!,
    type,
  };
}

test("every kind of line keeps Squid's native ten fields, and the reason and service read back from the user field", () => {
  const cases: AccessRecord[] = [
    base,
    { ...base, catalog: MDE_C2 },
    {
      ...base,
      decision: 'deny',
      reason: 'DENY_PORT',
      port: 8443,
      status: 403,
      upstream: null,
      bytesToClient: 0,
    },
    { ...base, decision: 'deny', reason: 'DENY_SNI_MISMATCH', catalog: MDE_C2 },
    { ...base, decision: 'would_deny', reason: 'DENY_HOST_NOT_ALLOWED' },
    { ...base, decision: 'error', reason: 'FAIL_DNS', status: 502, upstream: null, catalog: MDE_C2 },
    {
      ...base,
      method: 'GET',
      path: '/pki/crl.crl',
      port: 80,
      catalog: { id: 'mde:crl.microsoft.com', product: 'mde', service: 'crl-ocsp' },
    },
    {
      ...base,
      method: '-',
      host: '-',
      port: 0,
      decision: 'deny',
      reason: 'BAD_REQUEST',
      status: 400,
      upstream: null,
    },
    {
      ...base,
      host: '2001:db8::5',
      decision: 'deny',
      reason: 'DENY_IP_LITERAL',
      status: 403,
      upstream: null,
    },
  ];
  for (const r of cases) {
    const parsed = parseSquidNative(toSquidLine(r));
    assert.equal(parsed.client, r.client);
    assert.equal(parsed.status, r.status);
    assert.equal(parsed.bytes, r.bytesToClient);
    const user = /^(?:would_deny:|deny:)?([A-Z_]+)(?:@([a-z-]+)\/([a-z-]+))?$/.exec(parsed.user);
    assert.ok(user !== null, parsed.user);
    assert.equal(user[1], r.reason);
    assert.equal(user[2] ?? null, r.catalog?.product ?? null);
    assert.equal(user[3] ?? null, r.catalog?.service ?? null);
    assert.equal(squidUserField(r), parsed.user);
  }
});

test('JSON fields use the fixed vocabulary', () => {
  const fields = toJsonFields({ ...base, catalog: MDE_C2, clientName: 'ws-042' });
  assert.deepEqual(Object.keys(fields), [
    'event',
    'id',
    'start',
    'client',
    'client_port',
    'client_name',
    'method',
    'host',
    'port',
    'path',
    'decision',
    'reason',
    'end',
    'rule',
    'sni',
    'rule_origin',
    'catalog_id',
    'product',
    'service',
    'upstream',
    'status',
    'bytes_from_client',
    'bytes_to_client',
    'duration_ms',
    'upstream_connect_ms',
    'setup_ms',
    'detail',
  ]);
  assert.equal(fields.start, '2026-01-02T03:04:05.600Z');
  assert.equal(fields.event, 'close');
  assert.equal(fields.catalog_id, MDE_C2.id);
  assert.equal(fields.product, 'mde');
  assert.equal(fields.service, 'command-and-control');
  assert.equal(fields.client_name, 'ws-042');
  assert.equal(toJsonFields(base, 'open').event, 'open');
});

/** The line pino writes for the same fields and message, with the logger's settings of the ops log. */
function pinoLine(fields: Record<string, unknown>, message: string, time: number): string {
  let line = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      line += chunk.toString();
      done();
    },
  });
  const logger = pino(
    {
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"time":"${new Date(time).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  logger.info(fields, message);
  return line;
}

test('a JSON access line is byte for byte the line pino writes (field order, nulls, escapes, newline)', () => {
  const time = Date.UTC(2026, 0, 2, 3, 4, 6, 789);
  const records: AccessRecord[] = [
    base,
    { ...base, catalog: MDE_C2, clientName: 'ws-042', sni: 'winatp-gw-eus.microsoft.com' },
    {
      ...base,
      method: 'GET',
      path: '/a"b\\c\u0001\u2028é',
      decision: 'deny',
      reason: 'DENY_HOST_NOT_ALLOWED',
      detail: 'line\nbreak\ttab',
      upstream: null,
      setupMs: null,
    },
    // Nothing to escape, but not ASCII: written as is, as JSON.stringify writes it.
    { ...base, path: '/\u2028\u007fé😀', detail: 'ü', rule: '*.Example.test' },
    // One of each kind of escape alone.
    { ...base, path: '/x', detail: '"', rule: '\\', sni: '\u001f' },
  ];
  for (const record of records) {
    assert.equal(toJsonLine(record, 'close', time), pinoLine(toJsonFields(record), 'access', time));
    assert.equal(toJsonLine(record, 'open', time), pinoLine(toJsonFields(record, 'open'), 'open', time));
  }
});

test('a lone surrogate is escaped as JSON.stringify escapes it (pino would write it raw): the line stays valid JSON', () => {
  const record: AccessRecord = { ...base, path: '/\ud800x', detail: 'a\udc00' };
  const line = toJsonLine(record, 'close', 0);
  assert.ok(line.includes('"path":"/\\ud800x"'), line);
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed.path, record.path);
  assert.equal(parsed.detail, record.detail);
});

test('log times are what toISOString writes, within a second, across seconds and outside the fast range', () => {
  const times = [
    0,
    999,
    Date.UTC(2026, 0, 2, 3, 4, 5, 0),
    Date.UTC(2026, 0, 2, 3, 4, 5, 7),
    Date.UTC(2026, 0, 2, 3, 4, 5, 42),
    Date.UTC(2026, 0, 2, 3, 4, 5, 999),
    Date.UTC(2026, 0, 2, 3, 4, 6, 0),
    // Back to an earlier second (a tunnel's start, then the time of its line).
    Date.UTC(2026, 0, 2, 3, 4, 5, 100),
    Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    Date.UTC(10000, 0, 1),
    -1,
    Date.UTC(1969, 6, 20, 20, 17, 40, 5),
    1.5,
  ];
  for (const ms of times) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
  for (let ms = Date.UTC(2026, 5, 1); ms < Date.UTC(2026, 5, 1) + 3000; ms += 7) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
  }
});
