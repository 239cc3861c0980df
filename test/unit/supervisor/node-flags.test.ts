import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { GATEWAY_NODE_FLAGS, withGatewayFlags } from '../../../src/supervisor/index.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string): string => readFileSync(`${repo}${path}`, 'utf8');

describe('the Node.js flags of gateway processes', () => {
  test('added to an execArgv without them, after what was there', () => {
    assert.deepEqual(withGatewayFlags([], ''), [...GATEWAY_NODE_FLAGS]);
    assert.deepEqual(withGatewayFlags(['--inspect'], ''), ['--inspect', ...GATEWAY_NODE_FLAGS]);
  });

  test('an explicit value is kept, in either spelling, and nothing is doubled', () => {
    assert.deepEqual(withGatewayFlags(['--max-semi-space-size=8'], ''), ['--max-semi-space-size=8']);
    assert.deepEqual(withGatewayFlags(['--max-semi-space-size', '8'], ''), ['--max-semi-space-size', '8']);
    assert.deepEqual(withGatewayFlags(withGatewayFlags([], ''), ''), [...GATEWAY_NODE_FLAGS]);
  });

  test('a value in NODE_OPTIONS, which the workers inherit, is not overridden', () => {
    assert.deepEqual(withGatewayFlags([], '--enable-source-maps --max-semi-space-size=8'), []);
    assert.deepEqual(withGatewayFlags([], '--enable-source-maps'), [...GATEWAY_NODE_FLAGS]);
  });

  test('npm start and the sample unit pass them', () => {
    const flags = GATEWAY_NODE_FLAGS.join(' ');
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts.start, `node ${flags} dist/src/cli/main.js serve`);
    assert.match(
      read('deploy/systemd/airlock.service'),
      new RegExp(`^ExecStart=/usr/bin/node ${flags} `, 'm'),
    );
  });
});
