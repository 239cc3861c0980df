import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  GATEWAY_ENV,
  GATEWAY_NODE_FLAGS,
  withGatewayEnv,
  withGatewayFlags,
} from '../../../src/supervisor/index.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string): string => readFileSync(`${repo}${path}`, 'utf8');

describe('the Node.js flags of gateway processes', () => {
  test('added to an execArgv without them, after what was there', () => {
    assert.deepEqual(withGatewayFlags([], ''), [...GATEWAY_NODE_FLAGS]);
    assert.deepEqual(withGatewayFlags(['--inspect'], ''), ['--inspect', ...GATEWAY_NODE_FLAGS]);
  });

  test('an explicit value is kept, in either spelling, and nothing is doubled', () => {
    assert.deepEqual(withGatewayFlags(['--max-semi-space-size=8'], ''), [
      '--max-semi-space-size=8',
      '--expose-gc',
    ]);
    assert.deepEqual(withGatewayFlags(['--max-semi-space-size', '8'], ''), [
      '--max-semi-space-size',
      '8',
      '--expose-gc',
    ]);
    assert.deepEqual(withGatewayFlags(['--expose-gc'], ''), ['--expose-gc', '--max-semi-space-size=4']);
    assert.deepEqual(withGatewayFlags(withGatewayFlags([], ''), ''), [...GATEWAY_NODE_FLAGS]);
  });

  test('a value in NODE_OPTIONS, which the workers inherit, is not overridden', () => {
    assert.deepEqual(withGatewayFlags([], '--enable-source-maps --max-semi-space-size=8'), ['--expose-gc']);
    assert.deepEqual(withGatewayFlags([], '--max-semi-space-size=8 --expose-gc'), []);
    assert.deepEqual(withGatewayFlags([], '--enable-source-maps'), [...GATEWAY_NODE_FLAGS]);
  });

  test('npm start, the sample unit and the Docker image pass them, and the environment', () => {
    const flags = GATEWAY_NODE_FLAGS.join(' ');
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const defaults = Object.entries(GATEWAY_ENV)
      .map(([name, value]) => `${name}=\${${name}:-${value}} `)
      .join('');
    assert.equal(scripts.start, `${defaults}node ${flags} dist/src/cli/main.js serve`);
    const unit = read('deploy/systemd/airlock.service');
    assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${flags} `, 'm'));
    const docker = read('deploy/docker/Dockerfile');
    assert.match(
      docker,
      new RegExp(`^ENTRYPOINT \\["node", ${GATEWAY_NODE_FLAGS.map((f) => `"${f}"`).join(', ')},`, 'm'),
    );
    for (const [name, value] of Object.entries(GATEWAY_ENV)) {
      assert.match(unit, new RegExp(`^Environment=${name}=${value}$`, 'm'));
      assert.match(docker, new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
    }
  });

  test('the environment is added where unset; a value given stays', () => {
    const name = Object.keys(GATEWAY_ENV)[0]!;
    assert.equal(withGatewayEnv({ PATH: '/bin' })[name], GATEWAY_ENV[name]);
    assert.equal(withGatewayEnv({ PATH: '/bin' }).PATH, '/bin');
    assert.equal(withGatewayEnv({ [name]: '8' })[name], '8');
    assert.equal(withGatewayEnv({ [name]: '' })[name], '');
  });
});
