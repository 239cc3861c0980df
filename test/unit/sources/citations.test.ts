import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import {
  DISAGREEMENTS,
  READING_VALUES,
  explainMachine,
  renderExplanation,
  type MachineDescription,
} from '../../../src/advisor/index.js';
import { builtinIssuerData } from '../../../src/analyzer/index.js';
import {
  renderHtml,
  renderJson,
  renderJunit,
  renderTable,
  renderText,
} from '../../../src/analyzer/report/index.js';
import type { CheckReport } from '../../../src/analyzer/index.js';
import { catalogExport, catalogList } from '../../../src/cli/commands/catalog.js';
import { clients } from '../../../src/cli/commands/clients.js';
import { explain } from '../../../src/cli/commands/explain.js';
import { loadConfig } from '../../../src/supervisor/index.js';
import { pacFor } from '../../../src/admin/index.js';
import { SOURCE_KEYS, isSourceKey, source, sourceText, type Source } from '../../../src/sources/index.js';

/**
 * Every command that prints or writes a citation, run for real, and its output held to one rule:
 * a citation names a public source by title and address. Research notes are never cited (no
 * `domain.md`, no "seed 0…"), no bracketed key is left unresolved, and every numbered reference
 * `[n]` has its `[n] Title (Publisher): URL` line in the same output.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const fixture = (path: string): string => join(ROOT, 'test/fixtures', path);

/** Keys in the research notes' style (`R5`, `X1`, `S3`): never table keys, so never resolvable. */
const NOTE_KEY = /^[A-Z]{1,2}\d{1,3}$/;
/**
 * Numbered-list lines: `[3] Title (Publisher): https://…`, possibly behind a comment marker, or a
 * Markdown list item `3. Title (Publisher): <https://…>`.
 */
const LIST_LINE = /\[(\d+)\] (.+?)\s*$|^(\d+)\. (.+?)\s*$/;
const RENDERED = new Set(SOURCE_KEYS.map((key) => sourceText(key)));

interface Checked {
  /** Numbered references that resolved to a listed source. */
  readonly refs: number;
  /** Sources listed with title and address. */
  readonly listed: number;
}

/** Asserts the citation rules on one output; `label` names the command and variant. */
function checkCitations(label: string, text: string): Checked {
  assert.doesNotMatch(text, /domain\.md/i, `${label}: cites the research notes (domain.md)`);
  assert.doesNotMatch(text, /\bseeds?[ _-]?0\d*/i, `${label}: cites a research seed`);
  assert.doesNotMatch(text, /research notes?|domain notes/i, `${label}: cites the research notes`);
  for (const match of text.matchAll(/\[([^\]\n]{1,80})\]/g)) {
    for (const part of match[1]!.split(/[\s,;]+/).filter(Boolean)) {
      assert.ok(
        !NOTE_KEY.test(part),
        `${label}: bracketed key "${match[0]}" has no entry in the sources table`,
      );
      assert.ok(
        !isSourceKey(part),
        `${label}: bare key "${match[0]}" instead of the source's title and address`,
      );
    }
  }
  // An unbracketed list of note keys, as a table column once showed them (`R1,R2,X1`).
  assert.doesNotMatch(text, /\b[A-Z]\d{1,2}(?:,[A-Z]\d{1,2})+\b/, `${label}: a list of note keys`);

  const listed = new Map<number, string>();
  const citing: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = LIST_LINE.exec(line);
    const body =
      m === null ? '' : (m[2] ?? m[4]!).replace(/\s*(-->|\*\/|")$/, '').replace(/<(https:\/\/[^>]+)>$/, '$1');
    if (m !== null && RENDERED.has(body)) listed.set(Number(m[1] ?? m[3]), body);
    else citing.push(line);
  }
  let refs = 0;
  for (const match of citing.join('\n').matchAll(/\[(\d+)\]/g)) {
    const n = Number(match[1]);
    assert.ok(listed.has(n), `${label}: reference [${n}] has no "[${n}] title (publisher): address" line`);
    refs++;
  }
  return { refs, listed: listed.size };
}

/** Every string value of a JSON document, for checks that must not be fooled by escaping. */
function jsonStrings(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const v of value) jsonStrings(v, into);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value)) jsonStrings(v, into);
  return into;
}

/** Every value under a `source`/`sources` key must be a key of the table. */
function sourceKeysKnown(label: string, value: unknown, path = ''): number {
  let count = 0;
  if (Array.isArray(value)) value.forEach((v, i) => (count += sourceKeysKnown(label, v, `${path}[${i}]`)));
  else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if ((key === 'source' || key === 'sources') && Array.isArray(v)) {
        for (const k of v) {
          if (typeof k !== 'string') continue;
          assert.ok(
            isSourceKey(k),
            `${label}: ${path}.${key} cites "${k}", which is not in the sources table`,
          );
          count++;
        }
      } else count += sourceKeysKnown(label, v, `${path}.${key}`);
    }
  }
  return count;
}

/** A command's streams: standard output for the checks, warnings kept apart (and checked too). */
function capture() {
  const chunks: string[] = [];
  const warnings: string[] = [];
  return {
    io: {
      out: (text: string | Uint8Array) =>
        void chunks.push(typeof text === 'string' ? text : Buffer.from(text).toString()),
      err: (text: string) => void warnings.push(text),
    },
    text: () => chunks.join(''),
    warnings: () => warnings.join(''),
  };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-citations-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('explain', () => {
  const inputs = [
    'netsh-proxy.txt',
    'netsh-direct.txt',
    'netsh-advproxy.txt',
    'netsh-advproxy-bypass.txt',
    'policies-utf16.reg',
    'reg-query-defender.txt',
    'reg-query-wininet.txt',
    'mppreference-full.txt',
    'mdatp-config.txt',
    'mdatp-health.txt',
    'mdatp-managed.json',
    'machine-lab-static-wininet.yaml',
  ];
  for (const format of ['text', 'json', 'markdown'] as const) {
    test(`explain --format ${format} over every kind of pasted output`, async () => {
      let refs = 0;
      for (const name of inputs) {
        let out = '';
        await explain({
          from: [fixture(`advisor/${name}`)],
          format,
          output: { write: (t: string) => (out += t) },
        });
        const label = `explain --from ${name} --format ${format}`;
        if (format === 'json') {
          const parsed = JSON.parse(out) as {
            sources: { number: number; key: string; url: string | null; text: string }[];
          };
          sourceKeysKnown(label, parsed);
          for (const s of parsed.sources) {
            assert.ok(isSourceKey(s.key), `${label}: source ${s.key}`);
            assert.equal(s.text, sourceText(s.key), label);
          }
          for (const s of jsonStrings(parsed)) checkCitations(label, s);
          refs += parsed.sources.length;
        } else refs += checkCitations(label, out).refs;
      }
      assert.ok(refs > 0, 'the outputs cite something');
    });
  }

  const machines: Record<string, MachineDescription> = {
    'windows, user on WinINET only': {
      machine: { platform: 'windows', role: 'workstation', userLoggedOn: true },
      windows: { wininet: { proxy: '10.0.0.6:8080' } },
      network: { proxies: [{ address: '10.0.0.6:8080' }] },
    },
    'windows, settings in formats the product rejects': {
      machine: { platform: 'windows' },
      windows: {
        telemetryProxy: { server: 'http://10.0.0.6:8080' },
        antivirus: { proxyServer: '10.0.0.6:8080' },
      },
      network: { proxies: [{ address: '10.0.0.6:8080', authentication: 'required' }] },
    },
    'linux installed by the Azure extension without a proxy': {
      machine: { platform: 'linux' },
      linux: { installedBy: 'azure-extension' },
      network: { proxies: [{ address: '10.0.0.6:8080' }] },
    },
  };
  test('every disagreement under each of its readings, in every format', () => {
    for (const [name, machine] of Object.entries(machines)) {
      const readings: Record<string, string>[] = [{}];
      for (const d of DISAGREEMENTS)
        for (const value of READING_VALUES[d.id]) readings.push({ [d.id]: value });
      for (const reading of readings) {
        const explanation = explainMachine(machine, { readings: reading });
        for (const format of ['text', 'json', 'markdown'] as const) {
          const out = renderExplanation(explanation, format);
          const label = `explain ${name} ${JSON.stringify(reading)} ${format}`;
          if (format === 'json') for (const s of jsonStrings(JSON.parse(out))) checkCitations(label, s);
          else checkCitations(label, out);
        }
      }
    }
  });
});

describe('clients', () => {
  const runs = [
    { os: ['windows'], product: ['mde', 'mdav', 'mdi', 'mma', 'ama', 'arc'] },
    { os: ['linux'], product: ['mde', 'ama', 'mma', 'arc'] },
    { os: ['macos'], product: ['mde'] },
  ];
  const gateway = ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'];

  test('clients --out: every generated file, decoded as a user opens it', async () => {
    let refs = 0;
    let files = 0;
    for (const [i, run] of runs.entries()) {
      const out = join(dir, `clients-${i}`);
      const { io } = capture();
      assert.equal(await clients({ ...run, gateway, out }, io), 0);
      for (const entry of await readdir(out, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const path = join(entry.parentPath, entry.name);
        const bytes = await readFile(path);
        const text =
          bytes[0] === 0xff && bytes[1] === 0xfe
            ? bytes.subarray(2).toString('utf16le')
            : bytes.toString('utf8');
        const label = `clients ${run.os.join(',')}: ${path.slice(out.length + 1)}`;
        if (path.endsWith('.json')) {
          for (const s of jsonStrings(JSON.parse(text))) refs += checkCitations(label, s).refs;
        } else refs += checkCitations(label, text).refs;
        files++;
      }
    }
    assert.ok(files > 20, `${files} files`);
    assert.ok(refs > 20, `${refs} references resolved`);
  });

  test('clients --format text and json print the same citations', async () => {
    for (const run of runs) {
      for (const format of ['text', 'json']) {
        const { io, text, warnings } = capture();
        assert.equal(await clients({ ...run, gateway, format }, io), 0);
        const label = `clients --os ${run.os.join(',')} --format ${format}`;
        checkCitations(`${label} (warnings)`, warnings());
        if (format === 'json') {
          for (const file of (
            JSON.parse(text()) as { files: { path: string; contents: string; encoding: string }[] }
          ).files) {
            const body =
              file.encoding === 'base64'
                ? Buffer.from(file.contents, 'base64').subarray(2).toString('utf16le')
                : file.contents;
            checkCitations(`${label}: ${file.path}`, body);
          }
        } else {
          // Printed one after another, each file keeps its own numbering: check them one by one.
          for (const part of text().split(/\n==> /)) checkCitations(`${label}: ${part.slice(0, 40)}`, part);
        }
      }
    }
  });

  test('clients --format pac', async () => {
    const { io, text } = capture();
    assert.equal(await clients({ gateway, product: ['mde', 'mdi'], format: 'pac' }, io), 0);
    assert.ok(checkCitations('clients --format pac', text()).refs > 0);
  });
});

describe('catalog', () => {
  test('catalog list: table, --wide and json', async () => {
    for (const wide of [false, true]) {
      const { io, text } = capture();
      await catalogList({ format: 'table', wide }, io);
      const checked = checkCitations(`catalog list${wide ? ' --wide' : ''}`, text());
      assert.ok(checked.listed > 5, `${checked.listed} sources listed`);
    }
    const { io, text } = capture();
    await catalogList({ format: 'json' }, io);
    const entries = JSON.parse(text()) as unknown[];
    assert.ok(sourceKeysKnown('catalog list --format json', entries) > entries.length);
    for (const s of jsonStrings(entries)) checkCitations('catalog list --format json', s);
  });

  test('catalog export: json, csv, xlsx, pac and squid', async () => {
    for (const format of ['json', 'csv', 'pac', 'squid']) {
      const { io, text, warnings } = capture();
      await catalogExport(
        { format, all: format === 'json' || format === 'csv', proxy: ['gw1.contoso.test:3128'] },
        io,
      );
      const label = `catalog export --format ${format}`;
      checkCitations(`${label} (warnings)`, warnings());
      if (format === 'json') {
        const parsed = JSON.parse(text()) as { sources: Record<string, string> };
        for (const [key, rendered] of Object.entries(parsed.sources)) {
          assert.ok(isSourceKey(key), `${label}: ${key}`);
          assert.equal(rendered, sourceText(key), `${label}: ${key} renders as title and address`);
        }
        sourceKeysKnown(label, parsed);
        for (const s of jsonStrings(parsed)) checkCitations(label, s);
      } else checkCitations(label, text());
    }
    const path = join(dir, 'catalog.xlsx');
    await catalogExport({ format: 'xlsx', all: true, output: path }, capture().io);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(path);
    const cells: string[] = [];
    workbook.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((cell) => void cells.push(cell.text))));
    assert.ok(cells.length > 100);
    checkCitations('catalog export --format xlsx', cells.join('\n'));
  });
});

test('the PAC file the gateway serves', async () => {
  const { policy } = await loadConfig({});
  const pac = pacFor(
    policy,
    { proxies: ['gw1.contoso.test:3128', 'gw2.contoso.test:3128'], otherwise: 'DIRECT' },
    3128,
    undefined,
  );
  assert.ok(pac !== null);
  const served = pacFor(policy, { proxies: [], otherwise: 'DIRECT' }, 3128, 'airlock.contoso.test:8080');
  assert.ok(served !== null);
  for (const [label, text] of [
    ['configured proxies', pac],
    ['named by the request', served],
  ] as const) {
    assert.ok(checkCitations(`served PAC (${label})`, text).refs > 0, 'the PAC cites its sources');
  }
});

test('check reports in every format', () => {
  const report = JSON.parse(readFileSync(fixture('analyzer/report.json'), 'utf8')) as CheckReport;
  for (const [format, text] of [
    ['text', renderText(report)],
    ['table', renderTable(report, 200)],
    ['json', renderJson(report)],
    ['junit', renderJunit(report)],
    ['html', renderHtml(report)],
  ] as const) {
    checkCitations(`check --format ${format}`, text);
  }
});

describe('shipped data', () => {
  test('expected issuers: every class and anchor cites table keys, no research notes', () => {
    const raw = JSON.parse(
      readFileSync(join(ROOT, 'src/analyzer/data/expected-issuers.json'), 'utf8'),
    ) as unknown;
    assert.ok(sourceKeysKnown('expected-issuers.json', raw) > 5);
    for (const s of jsonStrings(raw)) checkCitations('expected-issuers.json', s);
    for (const cls of builtinIssuerData().classes) {
      assert.ok(cls.source.length > 0, `class ${cls.id} names its source`);
      for (const anchor of cls.anchors) {
        assert.ok(anchor.source.length > 0, `${cls.id}: anchor ${anchor.name} names its source`);
        assert.ok(anchor.checked !== undefined, `${cls.id}: anchor ${anchor.name} is dated`);
      }
    }
  });

  test('catalog data and public roots cite table keys, no research notes', () => {
    for (const file of ['src/catalog/data/catalog.json', 'src/analyzer/data/public-roots.json']) {
      const raw = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as unknown;
      assert.ok(sourceKeysKnown(file, raw) > 0, `${file} cites its sources`);
      for (const s of jsonStrings(raw)) checkCitations(file, s);
    }
  });

  test('the table itself: every source has a title, a publisher, a read date and an address or a note', () => {
    for (const key of SOURCE_KEYS) {
      const s: Source = source(key);
      assert.match(key, /^[a-z0-9]+(?:-[a-z0-9]+)*$/, key);
      assert.ok(s.title.length > 0 && s.publisher.length > 0, key);
      assert.match(s.read, /^\d{4}-\d{2}-\d{2}$/, key);
      if (s.url === null) assert.ok((s.note ?? '').length > 0, `${key}: no address needs a note`);
      else assert.match(s.url, /^https:\/\/\S+$/, key);
      checkCitations(key, sourceText(key));
    }
  });
});

test('the checker catches what it is for', () => {
  const cases: [string, RegExp][] = [
    ['see domain.md §4.4', /domain\.md/],
    ['# Sources: [R5][R6][seed 004]', /seed/],
    ['// [R5][R6]', /has no entry/],
    ['SOURCE R1,R2,X1', /list of note keys/],
    ['[mde-proxy]', /bare key/],
    ['works [2]\n[1] ' + sourceText('mde-proxy'), /reference \[2\]/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => checkCitations('sample', text), message, text);
  }
  assert.equal(checkCitations('sample', `works [1]\n[1] ${sourceText('mde-proxy')}`).refs, 1);
});
