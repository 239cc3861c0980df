import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinCatalog, type Catalog } from '../../../src/catalog/index.js';
import { diffCatalogs, renderDiffText } from '../../../src/catalog/tools.js';

const before = builtinCatalog();

test('identical catalogs and reordered set fields give no difference', () => {
  const reordered: Catalog = {
    ...before,
    entries: before.entries.map((e) => ({
      ...e,
      products: [...e.products].reverse(),
      os: [...e.os].reverse(),
    })),
  };
  const diff = diffCatalogs(before, reordered);
  assert.deepEqual([diff.added.length, diff.removed.length, diff.changed.length], [0, 0, 0]);
  assert.equal(renderDiffText(diff), '0 added, 0 removed, 0 changed\n');
});

test('added, removed and changed entries, with the fields that changed', () => {
  const [first, second, ...rest] = before.entries;
  const added = { ...second!, id: 'mde:winatp-gw-new.microsoft.com@US', host: 'winatp-gw-new.microsoft.com' };
  const after: Catalog = {
    ...before,
    entries: [{ ...first!, ports: [80, 443], required: false }, ...rest, added],
  };
  const diff = diffCatalogs(before, after);
  assert.deepEqual(
    diff.added.map((e) => e.id),
    [added.id],
  );
  assert.deepEqual(
    diff.removed.map((e) => e.id),
    [second!.id],
  );
  assert.equal(diff.changed.length, 1);
  assert.equal(diff.changed[0]!.id, first!.id);
  assert.deepEqual(
    diff.changed[0]!.fields.map((f) => [f.field, f.before, f.after]),
    [
      ['ports', '80', '443, 80'],
      ['required', 'true', 'false'],
    ],
  );
  const text = renderDiffText(diff);
  const escape = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(text, new RegExp(`^\\+ ${escape(added.id)}  \\(`, 'm'));
  assert.match(
    text,
    new RegExp(`^- ${escape(second!.id)}  \\(${second!.geo} ${second!.service} ports `, 'm'),
  );
  assert.match(text, /^ {4}required: true -> false$/m);
  assert.match(text, /1 added, 1 removed, 1 changed\n$/);
});
