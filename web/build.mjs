// Builds the dashboard into dist/dashboard/: index.html, and under assets/ the bundled script and
// stylesheet (content-hashed names), the icon and the licences of the bundled libraries.
// Everything the page loads is in that folder: no CDN, no external font or asset.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'dashboard');
const assets = join(out, 'assets');

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['web/src/main.tsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari15.6', 'edge109'],
  outdir: assets,
  entryNames: 'app-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: 'web/tsconfig.json',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => relative(assets, join(root, p)));
const script = outputs.find((p) => p.endsWith('.js'));
const style = outputs.find((p) => p.endsWith('.css'));
if (script === undefined || style === undefined) {
  throw new Error(`web/build.mjs: esbuild produced no script or stylesheet (${outputs.join(', ')})`);
}

const html = readFileSync(join(root, 'web', 'index.html'), 'utf8')
  .replace('%SCRIPT%', `assets/${script}`)
  .replace('%STYLE%', `assets/${style}`);
writeFileSync(join(out, 'index.html'), html);
copyFileSync(join(root, 'web', 'icon.svg'), join(assets, 'icon.svg'));

// The bundle contains Preact and uPlot (both MIT): their notices ship beside it.
const notices = ['preact', 'uplot'].map((name) => {
  const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
  const license = readFileSync(join(root, 'node_modules', name, 'LICENSE'), 'utf8').trim();
  return `${pkg.name} ${pkg.version} (${pkg.license})\n\n${license}\n`;
});
writeFileSync(join(assets, 'licenses.txt'), notices.join('\n----------------------------------------\n\n'));

const sizes = outputs.map(
  (p) =>
    `${basename(p)} ${((result.metafile.outputs[relative(root, join(assets, p))]?.bytes ?? 0) / 1024) | 0} KiB`,
);
console.log(`dashboard: dist/dashboard (${sizes.join(', ')})`);
