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
/** Long after every dated anchor (the Microsoft root itself ends in 2036). */
const FAR = '2040-01-01T00:00:00.000Z';

/** Public-key hashes of the real CAs: anchors match on these, never on names. */
const SSCA_2011_SPKI = '2C67859DF5D5650D894BD25D55AE0F6BECD39E745186D70AF14D21E034898276';
const MS_ROOT_2011_SPKI = '02376D0908AC23041CC7D666D9DAF192554F7FC36317AA9CB800908616B28AF8';
const DIGICERT_G2_SPKI = '8BB593A93BE1D0E8A822BB887C547890C3E706AAD2DAB76254F97FB36B82FC26';
const MS_ROOT = 'Microsoft Root Certificate Authority 2011 (Microsoft)';
const G2_ROOT = 'DigiCert Global Root G2 (Mozilla (Node.js bundle))';

const cert = (subject: string, issuer: string, sha256: string, spkiSha256?: string): CertSummary => ({
  subject,
  issuer,
  sha256,
  ...(spkiSha256 === undefined ? {} : { spkiSha256 }),
  validTo: 'Jan  1 00:00:00 2030 GMT',
});
const MICROSOFT = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011', 'M1'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011', 'M2', SSCA_2011_SPKI),
  cert(
    'Microsoft Root Certificate Authority 2011',
    'Microsoft Root Certificate Authority 2011',
    'M3',
    MS_ROOT_2011_SPKI,
  ),
];
/** A chain from another public CA (the service may have moved to it, or not). */
const NEW_CHAIN = [
  cert('winatp-gw.microsoft.com', 'Microsoft TLS G2 RSA CA OCSP 04', 'N1'),
  cert('DigiCert Global Root G2', 'DigiCert Global Root G2', 'N2', DIGICERT_G2_SPKI),
];
const CONTOSO = [cert('winatp-gw-cus.microsoft.com', 'Contoso Inspection CA', 'C1')];
/** An inspection CA that calls itself by the expected names, with keys of its own. */
const IMPOSTOR = [
  cert('winatp-gw-cus.microsoft.com', 'Microsoft Secure Server CA 2011', 'I1'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011', 'I2', 'AB'.repeat(32)),
  cert(
    'Microsoft Root Certificate Authority 2011',
    'Microsoft Root Certificate Authority 2011',
    'I3',
    'CD'.repeat(32),
  ),
];

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
  extra: { trusted?: boolean; nameMatches?: boolean; status?: number; publicRoot?: string | null } = {},
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
      publicRoot:
        extra.publicRoot !== undefined
          ? extra.publicRoot
          : chain === MICROSOFT
            ? MS_ROOT
            : chain === NEW_CHAIN
              ? G2_ROOT
              : null,
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

test('after a pinned anchor expired, a chain from another public root is undecided until another method disagrees', () => {
  const alone = judgeTarget(target(CNC), [attempt('direct', seen(NEW_CHAIN))], builtinIssuerData(), AFTER);
  assert.equal(alone.methods[0]?.outcome, 'succeeded');
  assert.equal(alone.methods[0]?.tls?.verdict, 'unknown');
  assert.match(
    alone.methods[0]?.warnings[0] ?? '',
    /ends in the public root DigiCert Global Root G2.*expected-issuer data is out of date \("Microsoft Secure Server CA 2011" expired on 2026-10-18\)/,
  );

  const compared = judgeTarget(
    target(CNC),
    [attempt('env', seen(CONTOSO)), attempt('direct', seen(NEW_CHAIN))],
    builtinIssuerData(),
    AFTER,
  );
  assert.equal(compared.methods[0]?.error?.code, 'TLS_INSPECTED');
  assert.equal(compared.methods[1]?.outcome, 'succeeded');
});

test('a chain under the Microsoft root stays expected after its intermediate expired', () => {
  const r = judgeTarget(target(CNC), [attempt('gateway', seen(MICROSOFT))], builtinIssuerData(), AFTER);
  assert.equal(r.methods[0]?.tls?.verdict, 'expected');
  assert.equal(r.methods[0]?.outcome, 'succeeded');
});

test('an inspection CA using the expected issuer names, with keys of its own, is flagged', () => {
  for (const at of [BEFORE, AFTER]) {
    const r = judgeTarget(target(CNC), [attempt('env', seen(IMPOSTOR))], builtinIssuerData(), at);
    const env = r.methods[0]!;
    assert.equal(env.tls?.verdict, 'inspected', at);
    assert.equal(env.error?.code, 'TLS_INSPECTED', at);
    assert.match(
      env.error?.message ?? '',
      /ends in Microsoft Root Certificate Authority 2011, which is in no public root program/,
    );
  }
});

test('with the clock after every dated issuer, an unknown private root is still inspection', () => {
  for (const url of [
    CNC,
    'https://us-v20.events.data.microsoft.com/ping',
    'https://edr-cus.us.endpoint.security.microsoft.com/edr/commands/test',
    'https://unitedstates.x.cp.wd.microsoft.com/api/report',
  ]) {
    const r = judgeTarget(target(url), [attempt('direct', seen(CONTOSO))], builtinIssuerData(), FAR);
    assert.equal(r.methods[0]?.tls?.verdict, 'inspected', url);
    assert.equal(r.methods[0]?.error?.code, 'TLS_INSPECTED', url);
  }
  // Even a chain Node trusts (the operator added the inspection CA with --ca-file) is inspection.
  const trusted = judgeTarget(
    target(CNC),
    [attempt('direct', seen(CONTOSO, { trusted: true }))],
    builtinIssuerData(),
    FAR,
  );
  assert.equal(trusted.methods[0]?.error?.code, 'TLS_INSPECTED');
});

test('the cyber-data hosts have an issuer class: a public root passes, a private one is inspection', () => {
  const url = 'https://eu-v20.events.data.microsoft.com/ping';
  const good = judgeTarget(target(url), [attempt('direct', seen(NEW_CHAIN))], builtinIssuerData(), BEFORE);
  assert.equal(good.methods[0]?.tls?.issuerClass, 'mde-cyber-data');
  assert.equal(good.methods[0]?.tls?.verdict, 'expected');
  const bad = judgeTarget(target(url), [attempt('direct', seen(CONTOSO))], builtinIssuerData(), BEFORE);
  assert.equal(bad.methods[0]?.error?.code, 'TLS_INSPECTED');
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
