import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  builtinIssuerData,
  hostMatchesGlob,
  issuerClassFor,
  issuerDataNotes,
  judgeChain,
  mergeIssuerData,
  parseIssuerData,
  type CertSummary,
} from '../../../src/analyzer/index.js';

const MS_ROOT_SHA256 =
  '84:7D:F6:A7:84:97:94:3F:27:FC:72:EB:93:F9:A6:37:32:0A:02:B5:61:D0:A9:1B:09:E8:7A:78:07:ED:7C:61';

const cert = (subject: string, issuer: string, sha256 = '00'): CertSummary => ({
  subject,
  issuer,
  sha256,
  validTo: 'Jan  1 00:00:00 2030 GMT',
});

const microsoftChain = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011'),
];
const leafOnly = [cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011')];
const inspected = [
  cert('winatp-gw-cus.microsoft.com', 'Contoso Inspection CA'),
  cert('Contoso Inspection CA', 'Contoso Inspection CA'),
];

test('host globs: a leading *. spans labels, another * stays within one label', () => {
  const cases: [string, string, boolean][] = [
    ['winatp-gw-cus.microsoft.com', 'winatp-gw-*.microsoft.com', true],
    ['winatp-gw-cus.x.microsoft.com', 'winatp-gw-*.microsoft.com', false],
    ['edr-cus.us.endpoint.security.microsoft.com', '*.endpoint.security.microsoft.com', true],
    ['endpoint.security.microsoft.com', '*.endpoint.security.microsoft.com', false],
    ['contoso-corpsensorapi.atp.azure.com', '*sensorapi.atp.azure.com', true],
    ['GO.Microsoft.com.', 'go.microsoft.com', true],
  ];
  for (const [host, glob, expected] of cases)
    assert.equal(hostMatchesGlob(host, glob), expected, `${host} ~ ${glob}`);
});

test('endpoint classes: first match wins, paths narrow, blob storage is not pinned', () => {
  const data = builtinIssuerData();
  const cls = (url: string): string | null => issuerClassFor(data, new URL(url))?.id ?? null;
  assert.equal(cls('https://winatp-gw-cus.microsoft.com/commands/test'), 'mde-pinned');
  assert.equal(cls('https://unitedstates.cp.wd.microsoft.com/wdcp.svc/bond/submitReport/test'), 'mde-pinned');
  assert.equal(cls('https://unitedstates.x.cp.wd.microsoft.com/api/report'), 'mde-system-store');
  assert.equal(
    cls('https://mdav.us.endpoint.security.microsoft.com/packages/?ostype=mac'),
    'mde-packages-cdn',
  );
  assert.equal(cls('https://mdav.us.endpoint.security.microsoft.com/mdav/test'), 'mde-pinned');
  assert.equal(cls('https://ussus1eastprod.blob.core.windows.net/'), 'azure-storage');
  assert.equal(issuerClassFor(data, new URL('https://ussus1eastprod.blob.core.windows.net/'))?.pinned, false);
  assert.equal(cls('https://www.example.org/'), null);
});

test('judgeChain: Microsoft chains are expected, re-signed ones are not; the pinned intermediate is dated data', () => {
  const pinned = issuerClassFor(builtinIssuerData(), new URL('https://winatp-gw-cus.microsoft.com/'))!;
  const before = '2026-06-01T00:00:00.000Z';
  const after = '2026-11-01T00:00:00.000Z';
  assert.deepEqual(judgeChain(pinned, microsoftChain, before), {
    matches: true,
    anchor: 'Microsoft Secure Server CA 2011',
  });
  assert.deepEqual(judgeChain(pinned, inspected, before), { matches: false, anchor: null });
  // The intermediate expired on 2026-10-18: a full chain still ends at the root, a bare leaf no longer vouches.
  assert.deepEqual(judgeChain(pinned, microsoftChain, after), {
    matches: true,
    anchor: 'Microsoft Root Certificate Authority 2011',
  });
  assert.deepEqual(judgeChain(pinned, leafOnly, before), {
    matches: true,
    anchor: 'Microsoft Secure Server CA 2011',
  });
  assert.deepEqual(judgeChain(pinned, leafOnly, after), { matches: false, anchor: null });
  // A root found by fingerprint counts, whatever it is called.
  const byPrint = [cert('x', 'y'), cert('y', 'z', MS_ROOT_SHA256.replaceAll(':', '').toLowerCase())];
  assert.equal(judgeChain(pinned, byPrint, after).matches, true);
  const storeOnly = issuerClassFor(builtinIssuerData(), new URL('https://go.microsoft.com/'))!;
  assert.deepEqual(judgeChain(storeOnly, inspected, before), { matches: null, anchor: null });
});

test('issuerDataNotes says when the check runs after an anchor expired', () => {
  const data = builtinIssuerData();
  assert.deepEqual(issuerDataNotes(data, '2026-06-01T00:00:00.000Z'), []);
  const notes = issuerDataNotes(data, '2026-10-19T00:00:00.000Z');
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /Microsoft Secure Server CA 2011" expired on 2026-10-18/);
});

test('operator issuer files are validated and tried first', () => {
  const mine = parseIssuerData(
    JSON.stringify({
      version: 1,
      reviewed: '2026-01-01',
      classes: [
        {
          id: 'gw',
          description: 'd',
          hosts: ['winatp-gw-*.microsoft.com'],
          pinned: true,
          anchors: [{ name: 'Microsoft TLS G2' }],
        },
      ],
    }),
    'mine.json',
  );
  assert.ok(!('errors' in mine));
  const merged = mergeIssuerData(mine, builtinIssuerData());
  assert.equal(merged.reviewed, '2026-01-01');
  assert.equal(issuerClassFor(merged, new URL('https://winatp-gw-cus.microsoft.com/'))?.id, 'gw');
  const broken = parseIssuerData('{"version":1,"reviewed":"soon","classes":[{"id":"X"}]}', 'broken.json');
  assert.ok('errors' in broken);
  assert.ok(
    broken.errors.some((e) => e.startsWith('broken.json: reviewed:')),
    broken.errors.join('\n'),
  );
  assert.ok('errors' in parseIssuerData('{', 'x.json'));
});
