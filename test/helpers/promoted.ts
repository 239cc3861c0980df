import { execFileSync } from 'node:child_process';
import { GATEWAY_NODE_FLAGS } from '../../src/supervisor/node-flags.js';

/**
 * Bytes V8 moved from the young generation to the old one while `script` (an ES module's text)
 * ran in a Node.js process of its own, with the gateway's Node.js flags; summed from
 * V8's trace of every young-generation collection. Throws when the trace shows none (nothing
 * was measured) or the script exits with an error.
 */
export function promotedBytes(script: string): number {
  const trace = execFileSync(
    process.execPath,
    [...GATEWAY_NODE_FLAGS, '--trace-gc-nvp', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 60_000 },
  );
  let promoted = 0;
  let collections = 0;
  for (const m of trace.matchAll(/gc=s .*? promoted=(\d+)/g)) {
    promoted += Number(m[1]);
    collections++;
  }
  if (collections === 0) throw new Error('the trace shows no young-generation collection');
  return promoted;
}
