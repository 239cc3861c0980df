import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  builtinIssuerData,
  judgeTarget,
  type CertSummary,
  type CheckTarget,
  type MethodAttempt,
  type MethodId,
  type RouteProbe,
} from '../../../src/analyzer/index.js';

const BEFORE = '2026-06-01T00:00:00.000Z';
const AFTER = '2026-11-01T00:00:00.000Z';

const cert = (subject: string, issuer: string, sha256: string): CertSummary => ({
  subject,
  issuer,
  sha256,
  validTo: 'Jan  1 00:00:00 2030 GMT',
});
const MICROSOFT = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011', 'M1'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011', 'M2'),
];
const NEW_CHAIN = [cert('winatp-gw.microsoft.com', 'Microsoft TLS Issuing CA 99', 'N1')];
const CONTOSO = [cert('winatp-gw-cus.microsoft.com', 'Contoso Inspection CA', 'C1')];

const target = (url: string, extra: Partial<CheckTarget> = {}): CheckTarget => ({
  url,
  method: 'GET',
  expect: [200, 400, 404],
  services: ['command-and-control'],
  products: ['mde'],
  required: true,
  noInspect: true,
  entryIds: [],
  origin: 'test',
  ...extra,
});

function seen(
  chain: readonly CertSummary[],
  extra: { trusted?: boolean; nameMatches?: boolean; status?: number } = {},
): RouteProbe {
  return {
    stages: [],
    status: extra.status ?? 200,
    error: null,
    tls: {
      protocol: 'TLSv1.3',
      chain,
      trusted: extra.trusted ?? true,
      trustError: extra.trusted === false ? 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' : null,
      nameMatches: extra.nameMatches ?? true,
    },
    proxyAuth: null,
    proxyReason: null,
  };
}

const attempt = (method: MethodId, probe: RouteProbe): MethodAttempt => ({
  method,
  route: method,
  routeNote: null,
  probe,
});

const CNC = 'https://winatp-gw-cus.microsoft.com/commands/test';

test('a pinned host re-signed by another CA fails as inspected, even when that CA is trusted', () => {
  const r = judgeTarget(
    target(CNC),
    [attempt('env', seen(CONTOSO)), attempt('gateway', seen(MICROSOFT))],
    builtinIssuerData(),
    BEFORE,
  );
  const env = r.methods[0]!;
  assert.equal(env.outcome, 'failed');
  assert.equal(env.error?.code, 'TLS_INSPECTED');
  assert.equal(env.tls?.inspectedBy, 'Contoso Inspection CA');
  assert.equal(r.methods[1]?.tls?.verdict, 'expected');
  assert.equal(r.reachable, true);
  assert.ok(r.notes.some((n) => n.startsWith('Default proxy (env): TLS inspected by Contoso Inspection CA')));
});

test('an unpinned destination Microsoft does not exclude from inspection only warns about a trusted re-signing CA', () => {
  const url = 'https://ussus1eastprod.blob.core.windows.net/';
  const r = judgeTarget(
    target(url, { noInspect: false }),
    [attempt('env', seen(CONTOSO, { status: 400 }))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(r.methods[0]?.outcome, 'succeeded');
  assert.match(
    r.methods[0]?.warnings[0] ?? '',
    /re-signed by Contoso Inspection CA; the destination is not pinned/,
  );
  const strict = judgeTarget(
    target(url),
    [attempt('env', seen(CONTOSO, { status: 400 }))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(
    strict.methods[0]?.error?.code,
    'TLS_INSPECTED',
    'the MDE storage accounts must be excluded from inspection',
  );
});

test('after a pinned anchor expired, an unknown trusted chain is undecided until another method disagrees', () => {
  const alone = judgeTarget(target(CNC), [attempt('direct', seen(NEW_CHAIN))], builtinIssuerData(), AFTER);
  assert.equal(alone.methods[0]?.outcome, 'succeeded');
  assert.equal(alone.methods[0]?.tls?.verdict, 'unknown');
  assert.match(
    alone.methods[0]?.warnings[0] ?? '',
    /expected-issuer data is out of date \("Microsoft Secure Server CA 2011" expired on 2026-10-18\)/,
  );

  const before = judgeTarget(target(CNC), [attempt('direct', seen(NEW_CHAIN))], builtinIssuerData(), BEFORE);
  assert.equal(
    before.methods[0]?.error?.code,
    'TLS_INSPECTED',
    'while the data is current, a foreign chain is inspection',
  );

  const compared = judgeTarget(
    target(CNC),
    [attempt('env', seen(CONTOSO)), attempt('direct', seen(NEW_CHAIN))],
    builtinIssuerData(),
    AFTER,
  );
  assert.equal(compared.methods[0]?.error?.code, 'TLS_INSPECTED');
  assert.match(
    compared.methods[0]?.error?.message ?? '',
    /other methods see a certificate from Microsoft TLS Issuing CA 99/,
  );
  assert.equal(compared.methods[1]?.outcome, 'succeeded');
});

test('untrusted chains, wrong names and statuses the service does not send fail with their own reason', () => {
  const custom = 'https://intranet.corp.example/';
  const untrusted = judgeTarget(
    target(custom, { noInspect: false }),
    [attempt('direct', seen(CONTOSO, { trusted: false }))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(untrusted.methods[0]?.error?.code, 'TLS_UNTRUSTED');
  assert.match(
    untrusted.methods[0]?.error?.message ?? '',
    /UNABLE_TO_GET_ISSUER_CERT_LOCALLY\), issued by Contoso Inspection CA/,
  );
  const wrongName = judgeTarget(
    target(custom, { noInspect: false }),
    [attempt('direct', seen(CONTOSO, { nameMatches: false }))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(wrongName.methods[0]?.error?.code, 'TLS_NAME_MISMATCH');
  const teapot = judgeTarget(
    target(custom, { noInspect: false }),
    [attempt('direct', seen(CONTOSO, { status: 418 }))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(teapot.methods[0]?.error?.code, 'UNEXPECTED_STATUS');
  assert.equal(teapot.reachable, false);
});

test('comparison takes the direct connection as reference, not whichever method comes first', () => {
  const custom = 'https://intranet.corp.example/';
  const other = [cert('intranet.corp.example', 'Corp Issuing CA', 'O1')];
  const r = judgeTarget(
    target(custom, { noInspect: false }),
    [attempt('env', seen(CONTOSO)), attempt('direct', seen(other))],
    builtinIssuerData(),
    BEFORE,
  );
  assert.equal(r.methods[0]?.tls?.verdict, 'inspected');
  assert.equal(r.methods[0]?.tls?.inspectedBy, 'Contoso Inspection CA');
  assert.equal(r.methods[1]?.tls?.verdict, 'unknown');
  assert.equal(r.methods[0]?.outcome, 'succeeded', 'not pinned and trusted: a warning, not a failure');
  assert.match(r.methods[0]?.warnings[0] ?? '', /other methods see a certificate from Corp Issuing CA/);
});
