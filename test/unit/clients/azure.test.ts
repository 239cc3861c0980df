import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  amaPolicyParameters,
  amaSettings,
  jsonFile,
  mmaLinuxProtectedSettings,
  mmaPolicyParameters,
  mmaWindowsSettings,
  parseGatewayAddress,
  type GatewayAddress,
} from '../../../src/clients/index.js';
import { assertGolden } from './golden.js';

function gateway(text: string): GatewayAddress {
  const parsed = parseGatewayAddress(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
const GW = gateway('gw1.contoso.test:3128');

/** Parses a generated JSON file and returns its value; the text must be exactly what JSON.stringify writes. */
function parse(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  assert.equal(text, `${JSON.stringify(value, null, 2)}\n`);
  return value;
}

test('AMA settings: golden file; proxy.mode/address/auth as documented, nothing else', () => {
  const text = jsonFile(amaSettings(GW));
  assertGolden('azure/ama-settings.json', text);
  const value = parse(text) as { proxy: Record<string, unknown> };
  assert.deepEqual(Object.keys(value), ['proxy']);
  assert.deepEqual(Object.keys(value.proxy).sort(), ['address', 'auth', 'mode']);
  assert.equal(value.proxy.mode, 'application');
  assert.equal(value.proxy.address, 'http://gw1.contoso.test:3128');
  assert.equal(value.proxy.auth, 'false');
});

test('MMA settings: golden files; Windows proxyUri host:port, Linux protectedSettings proxy host:port', () => {
  const windows = jsonFile(mmaWindowsSettings(GW));
  const linux = jsonFile(mmaLinuxProtectedSettings(GW));
  assertGolden('azure/mma-windows-settings.json', windows);
  assertGolden('azure/mma-linux-protected-settings.json', linux);
  assert.deepEqual(parse(windows), { proxyUri: 'gw1.contoso.test:3128' });
  assert.deepEqual(parse(linux), { proxy: 'gw1.contoso.test:3128' });
});

test('Azure Policy parameter fragments: golden files; Object parameters whose default is the settings', () => {
  const ama = jsonFile(amaPolicyParameters(GW));
  const mma = jsonFile(mmaPolicyParameters(GW));
  assertGolden('azure/ama-policy-parameters.json', ama);
  assertGolden('azure/mma-policy-parameters.json', mma);
  const check = (text: string, expected: Record<string, unknown>): void => {
    const params = parse(text) as Record<
      string,
      { type: string; metadata: Record<string, string>; defaultValue: unknown }
    >;
    assert.deepEqual(Object.keys(params), Object.keys(expected));
    for (const [name, value] of Object.entries(expected)) {
      const p = params[name]!;
      assert.deepEqual(Object.keys(p), ['type', 'metadata', 'defaultValue']);
      assert.equal(p.type, 'Object');
      assert.ok(p.metadata.displayName!.length > 0);
      assert.match(
        p.metadata.description!,
        /Sources: [^:]+ \([^)]+\): https:\/\/\S+/,
        'the description cites its sources by title and address',
      );
      assert.deepEqual(p.defaultValue, value);
    }
  };
  check(ama, { amaProxySettings: amaSettings(GW) });
  check(mma, {
    mmaWindowsSettings: mmaWindowsSettings(GW),
    mmaLinuxProtectedSettings: mmaLinuxProtectedSettings(GW),
  });
});
