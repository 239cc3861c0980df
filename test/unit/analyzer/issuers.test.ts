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
const SSCA_2011_SPKI = '2C67859DF5D5650D894BD25D55AE0F6BECD39E745186D70AF14D21E034898276';
const MS_ROOT_2011_SPKI = '02376D0908AC23041CC7D666D9DAF192554F7FC36317AA9CB800908616B28AF8';

const cert = (subject: string, issuer: string, sha256 = '00', spkiSha256?: string): CertSummary => ({
  subject,
  issuer,
  sha256,
  ...(spkiSha256 === undefined ? {} : { spkiSha256 }),
  validTo: 'Jan  1 00:00:00 2030 GMT',
});

const microsoftChain = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011', '01', SSCA_2011_SPKI),
  cert(
    'Microsoft Root Certificate Authority 2011',
    'Microsoft Root Certificate Authority 2011',
    '02',
    MS_ROOT_2011_SPKI,
  ),
];
const intermediateOnly = microsoftChain.slice(0, 2);
const inspected = [
  cert('winatp-gw-cus.microsoft.com', 'Contoso Inspection CA'),
  cert('Contoso Inspection CA', 'Contoso Inspection CA'),
];
const namesOnly = [
  cert('winatp-gw.microsoft.com', 'Microsoft Secure Server CA 2011'),
  cert('Microsoft Secure Server CA 2011', 'Microsoft Root Certificate Authority 2011', '03', 'EE'.repeat(32)),
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

test('judgeChain: anchors match by key, not by name; each anchor is dated', () => {
  const pinned = issuerClassFor(builtinIssuerData(), new URL('https://winatp-gw-cus.microsoft.com/'))!;
  const before = '2026-06-01T00:00:00.000Z';
  const after = '2026-11-01T00:00:00.000Z';
  assert.equal(judgeChain(pinned, microsoftChain, before).matches, true);
  assert.equal(judgeChain(pinned, inspected, before).matches, false);
  assert.equal(
    judgeChain(pinned, namesOnly, before).matches,
    false,
    'the right names with another key do not count',
  );
  // The intermediate expired on 2026-10-18: a chain up to the root still matches the root, the
  // intermediate alone vouches for nothing any more and the judgement says which anchor is outdated.
  assert.deepEqual(
    { ...judgeChain(pinned, microsoftChain, after), outdated: undefined },
    { matches: true, anchor: 'Microsoft Root Certificate Authority 2011', outdated: undefined },
  );
  assert.equal(judgeChain(pinned, intermediateOnly, before).anchor, 'Microsoft Secure Server CA 2011');
  const late = judgeChain(pinned, intermediateOnly, after);
  assert.equal(late.matches, false);
  assert.deepEqual(
    late.outdated.map((a) => a.name),
    ['Microsoft Secure Server CA 2011'],
  );
  // A root found by certificate fingerprint counts, whatever it is called.
  const byPrint = [cert('x', 'y'), cert('y', 'z', MS_ROOT_SHA256.replaceAll(':', '').toLowerCase())];
  assert.equal(judgeChain(pinned, byPrint, after).matches, true);
  const storeOnly = issuerClassFor(builtinIssuerData(), new URL('https://go.microsoft.com/'))!;
  assert.equal(judgeChain(storeOnly, inspected, before).matches, null);
  for (const cls of builtinIssuerData().classes) {
    for (const anchor of cls.anchors) {
      assert.ok(anchor.checked !== undefined, `${cls.id}/${anchor.name} is dated`);
      assert.ok(anchor.source.length > 0, `${cls.id}/${anchor.name} names its sources`);
    }
  }
});

test('issuerDataNotes says when the check runs after an anchor expired', () => {
  const data = builtinIssuerData();
  assert.deepEqual(issuerDataNotes(data, '2025-05-01T00:00:00.000Z'), []);
  const notes = issuerDataNotes(data, '2026-10-19T00:00:00.000Z');
  assert.ok(notes.some((n) => /Microsoft Secure Server CA 2011" expired on 2026-10-18/.test(n)));
  assert.ok(notes.some((n) => /Baltimore CyberTrust Root" expired on 2025-05-12/.test(n)));
  assert.ok(notes.every((n) => /still reported as inspection/.test(n)));
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
          anchors: [{ name: 'Microsoft TLS G2', spkiSha256: '12'.repeat(32) }],
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
  // An anchor without a key is refused with the reason.
  const byName = parseIssuerData(
    JSON.stringify({
      version: 1,
      reviewed: '2026-01-01',
      classes: [
        { id: 'gw', description: 'd', hosts: ['x.example'], pinned: true, anchors: [{ name: 'Some CA' }] },
      ],
    }),
    'byname.json',
  );
  assert.ok('errors' in byName);
  assert.ok(
    byName.errors.some(
      (e) => e.startsWith('byname.json: classes[0].anchors[0]') && /matched by key, not by its name/.test(e),
    ),
    byName.errors.join('\n'),
  );
});
