import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { test } from 'node:test';
import { anchorOf, publishedRoots, spkiSha256 } from '../../../src/analyzer/trust-anchors.js';
import { createPki } from '../../helpers/pki.js';

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const nodeRoot = (cn: string): string => {
  const pem = rootCertificates.find((p) => new X509Certificate(p).subject.split('\n').includes(`CN=${cn}`));
  assert.ok(pem, `Node bundles ${cn}`);
  return pem;
};

test("Microsoft's published roots: the shipped certificate is the one its fingerprints name", () => {
  for (const root of publishedRoots().roots) {
    const cert = new X509Certificate(root.pem);
    assert.equal(cert.fingerprint256.replaceAll(':', ''), root.sha256, root.name);
    assert.equal(spkiSha256(cert), root.spkiSha256, root.name);
    assert.ok(cert.subject.includes(`CN=${root.name}`), root.name);
  }
});

test('a chain anchors in a public root by key: the root itself, or a signature its key verifies', () => {
  const g2 = nodeRoot('DigiCert Global Root G2');
  assert.equal(anchorOf([der(g2)])?.name, 'DigiCert Global Root G2');
  const microsoft = publishedRoots().roots[0]!;
  assert.equal(anchorOf([der(microsoft.pem)])?.program, 'Microsoft');
});

test('a private CA named like a public root anchors nowhere, even with the real root appended', () => {
  const impostor = createPki(['winatp-gw-cus.microsoft.com'], 'DigiCert Global Root G2');
  const chain = [der(impostor.cert), der(impostor.ca)];
  assert.equal(anchorOf(chain), null, 'same name, other key');
  assert.equal(
    anchorOf([...chain, der(nodeRoot('DigiCert Global Root G2'))]),
    null,
    'the real root does not sign it',
  );
  const plain = createPki(['example.test']);
  assert.equal(anchorOf([der(plain.cert), der(plain.ca)]), null);
  assert.equal(anchorOf([der(plain.cert)]), null, 'a leaf alone from a private CA');
});
