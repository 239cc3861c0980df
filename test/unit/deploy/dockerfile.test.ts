import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { GATEWAY_NODE_FLAGS } from '../../../src/supervisor/index.js';

/**
 * hadolint is not packaged for Debian 12 and cannot be downloaded where these tests run, so the
 * Dockerfile is not linted by it here. This test checks the properties the image must have
 * instead: several stages, a pinned base image, a numeric non-root user, no ADD of URLs, a health
 * check, an exec-form entry point, and nothing in the build context that the ignore file leaves out.
 */
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const dockerDir = join(repo, 'deploy/docker');

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
}

/** Instructions with continuation lines joined and comments dropped; stage 0 is before the first FROM. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = 0;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(full);
    if (!match) continue;
    const op = match[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: match[2]!, stage });
  }
  return out;
}

let instructions: Instruction[];
let text: string;

before(async () => {
  text = await readFile(join(dockerDir, 'Dockerfile'), 'utf8');
  instructions = parseDockerfile(text);
});

const of = (op: string): Instruction[] => instructions.filter((i) => i.op === op);

describe('deploy/docker/Dockerfile', () => {
  test('multi-stage: a build stage and a runtime stage that copies from it', () => {
    const froms = of('FROM');
    assert.ok(froms.length >= 2);
    assert.match(froms[0]!.args, / AS build$/i);
    const last = froms.length;
    const fromBuild = instructions.filter(
      (i) => i.stage === last && i.op === 'COPY' && i.args.startsWith('--from=build'),
    );
    assert.ok(fromBuild.length > 0);
    assert.equal(
      instructions.some((i) => i.stage === last && i.op === 'RUN' && /npm (ci|install)/.test(i.args)),
      false,
      'no package installation in the runtime stage',
    );
  });

  test('the base image is pinned to an exact Node.js release the project supports', async () => {
    const args = new Map(
      of('ARG')
        .map((i) => /^(\w+)=(.*)$/.exec(i.args))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    for (const from of of('FROM')) {
      const image = from.args
        .split(/\s+/)[0]!
        .replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? '');
      const match = /^node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.exec(image);
      assert.ok(match, `${from.args}: a pinned node:X.Y.Z-<debian>-slim tag, never "latest"`);
      const engines = (
        JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { engines: { node: string } }
      ).engines.node;
      const [, major, minor] = /(\d+)\.(\d+)/.exec(engines) ?? [];
      assert.ok(
        Number(match[1]) > Number(major) ||
          (Number(match[1]) === Number(major) && Number(match[2]) >= Number(minor)),
        `${image} satisfies engines ${engines}`,
      );
    }
  });

  test('the runtime stage runs as a numeric, non-root user', () => {
    const last = of('FROM').length;
    const users = instructions.filter((i) => i.op === 'USER' && i.stage === last);
    assert.ok(users.length > 0, 'USER in the runtime stage');
    const user = users.at(-1)!.args;
    assert.match(user, /^[0-9]+(:[0-9]+)?$/, 'numeric, so that runAsNonRoot can check it');
    assert.notEqual(Number(user.split(':')[0]), 0);
  });

  test('no ADD (and so no ADD of a URL); sources come from the context or the build stage', () => {
    assert.deepEqual(of('ADD'), []);
    assert.doesNotMatch(text, /^\s*(ADD|COPY)\s+https?:/im);
    assert.doesNotMatch(text, /curl|wget/);
  });

  test('a health check, an exec-form entry point, and the configuration the command names', () => {
    assert.equal(of('HEALTHCHECK').length, 1);
    assert.match(of('HEALTHCHECK')[0]!.args, /\/healthz/);
    const entrypoint = JSON.parse(of('ENTRYPOINT')[0]!.args) as string[];
    assert.deepEqual(entrypoint, ['node', ...GATEWAY_NODE_FLAGS, '/app/dist/src/cli/main.js']);
    const cmd = JSON.parse(of('CMD')[0]!.args) as string[];
    assert.deepEqual(cmd, ['serve', '--config', '/etc/airlock/airlock.yaml']);
    assert.ok(of('COPY').some((i) => i.args === 'deploy/docker/airlock.yaml /etc/airlock/airlock.yaml'));
  });

  test('read-only root filesystem: the runtime stage declares nothing it writes to', () => {
    const last = of('FROM').length;
    assert.deepEqual(
      instructions.filter((i) => i.stage === last && (i.op === 'VOLUME' || i.op === 'RUN')),
      [],
      'no RUN in the runtime stage and no VOLUME: the image needs no writable path (tmpfs /tmp at most)',
    );
  });

  test('npm ci skips the prepare script (the sources are not copied yet)', () => {
    assert.ok(of('RUN').some((i) => /npm ci --ignore-scripts/.test(i.args)));
  });

  test('the Dockerfile-specific ignore file lets in exactly what COPY takes from the context', async () => {
    const ignore = (await readFile(join(dockerDir, 'Dockerfile.dockerignore'), 'utf8'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(ignore[0], '**', 'everything out by default');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const fromContext = of('COPY')
      .filter((i) => !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of fromContext)
      assert.ok(allowed.includes(source), `${source} is in the build context`);
  });
});
