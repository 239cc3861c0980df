/**
 * Signals at the edges of a gateway's life: the moment it says it is listening, every signal
 * it documents must already be handled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serve } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

test('a SIGHUP sent on the "listening" line reloads; it does not end the gateway', async () => {
  const gw = await serve(['--listen', '127.0.0.1:0']);
  try {
    // serve() resolves on the very chunk that carried the listening line: no delay here.
    gw.child.kill('SIGHUP');
    await waitFor('the reload to be logged', () => /"event":"reloaded"/.test(gw.stderr), {
      timeoutMs: 10_000,
    });
    assert.equal(gw.child.exitCode, null, gw.stderr);
    assert.equal(gw.child.signalCode, null, gw.stderr);
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exited;
  }
});

test('a second SIGTERM cuts at once and "stopped" is logged once; the process exits right after', async () => {
  const gw = await serve(['--listen', '127.0.0.1:0']);
  gw.child.kill('SIGTERM');
  gw.child.kill('SIGTERM');
  const code = await gw.exited;
  assert.equal(code, 0, gw.stderr);
  assert.equal(gw.stderr.match(/"event":"stopped"/g)?.length, 1, gw.stderr);
});
