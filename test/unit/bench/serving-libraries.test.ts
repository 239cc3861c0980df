import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { libraryLoads, packageOf, referenceScript } from '../../../bench/serving-libraries.js';

test('packageOf names the package of a bare specifier', () => {
  assert.equal(packageOf('zod'), 'zod');
  assert.equal(packageOf('zod/mini'), 'zod');
  assert.equal(packageOf('@scope/pkg/sub/path'), '@scope/pkg');
});

test('libraryLoads follows static relative imports, not dynamic ones, and keeps only dependencies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'serving-libraries-'));
  try {
    mkdirSync(join(dir, 'cli'));
    mkdirSync(join(dir, 'deps'));
    writeFileSync(
      join(dir, 'cli/main.js'),
      [
        "import { a } from '../core.js';",
        "import {\n  b,\n  c,\n} from '../deps/lib.js';",
        "import 'node:fs';",
        "const lazy = await import('../lazy.js');",
        " * import { fromAComment } from 'commented';",
        "export { d } from '../reexport.js';",
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'core.js'),
      "import { z } from 'zod';\nimport x from 'zod/mini';\nimport { cycle } from './cli/main.js';\n",
    );
    writeFileSync(
      join(dir, 'deps/lib.js'),
      "import { createRequire } from 'node:module';\nconst p = createRequire(import.meta.url)('pino');\nimport y from 'not-a-dependency';\n",
    );
    writeFileSync(join(dir, 'lazy.js'), "import e from 'exceljs';\n");
    writeFileSync(join(dir, 'reexport.js'), "export * from 'yaml';\n");
    const loads = libraryLoads([join(dir, 'cli/main.js')], ['zod', 'pino', 'exceljs', 'yaml', 'commented']);
    assert.deepEqual(loads, [
      { specifier: 'pino', via: 'require' },
      { specifier: 'yaml', via: 'import' },
      { specifier: 'zod', via: 'import' },
      { specifier: 'zod/mini', via: 'import' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('referenceScript loads each library the way it was found, then idles', () => {
  const text = referenceScript([
    { specifier: 'pino', via: 'require' },
    { specifier: 'zod', via: 'import' },
  ]);
  assert.match(text, /^require\("pino"\);$/m);
  assert.match(text, /^await import\("zod"\);$/m);
  assert.match(text, /setInterval\(/);
});

test('the built gateway: serve loads its libraries, and not the ones its other commands load lazily', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const loads = libraryLoads(
    [join(root, 'dist/src/cli/main.js'), join(root, 'dist/src/cli/commands/serve.js')],
    ['commander', 'exceljs', 'pac-resolver', 'pino', 'prom-client', 'zod'],
  ).map((l) => `${l.specifier} ${l.via}`);
  for (const expected of ['commander require', 'pino require', 'prom-client require', 'zod import'])
    assert.ok(loads.includes(expected), `${expected} in ${loads.join(', ')}`);
  assert.ok(!loads.some((l) => l.startsWith('exceljs') || l.startsWith('pac-resolver')), loads.join(', '));
});
