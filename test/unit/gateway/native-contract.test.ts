import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { contractMismatch, loadNative, NATIVE_CONTRACT } from '../../../src/gateway/native.js';
import { requirement } from '../../helpers/skip.js';

test('an addon numbering its events or ends otherwise is refused, saying what differs', () => {
  assert.equal(contractMismatch(NATIVE_CONTRACT), null);
  assert.match(contractMismatch(undefined)!, /does not say how it numbers/);
  // A build from before the last event kind was added.
  const older = NATIVE_CONTRACT.replace(' grant_gone=8', '');
  assert.match(contractMismatch(older)!, /expected grant_gone=8$/);
  // Two kinds swapped.
  const swapped = NATIVE_CONTRACT.replace('head=1', 'head=2').replace('adopt=2', 'adopt=1');
  assert.match(contractMismatch(swapped)!, /expected head=1, adopt=2; it has head=2, adopt=1$/);
  // A build from newer sources, with a kind this module does not know.
  assert.match(contractMismatch(`${NATIVE_CONTRACT} later=9`)!, /: it has later=9$/);
  assert.match(contractMismatch(42)!, /does not say how it numbers/);
  assert.match(contractMismatch('nothing')!, /expected closed=0, client_error=1, upstream_error=2, …$/);
});

// Read past loadNative, which would refuse a mismatched build instead of showing it.
let built: { contract?: string } | null = null;
let missing: string | null = null;
try {
  built = createRequire(import.meta.url)('../../../../build/Release/airlock_native.node') as {
    contract?: string;
  };
} catch (error) {
  missing = `the native addon is not built (${(error as Error).message.split('\n')[0]})`;
}
test(
  'the built addon numbers its events and ends as this module does, and loads',
  { skip: requirement('the built addon’s contract', missing) },
  () => {
    assert.equal(built!.contract, NATIVE_CONTRACT);
    assert.equal(loadNative().why, null);
  },
);
