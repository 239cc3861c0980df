import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCsv, parseCsv } from '../../../src/catalog/tools.js';

const cases: { name: string; text: string; records: string[][] }[] = [
  {
    name: 'plain fields, CRLF',
    text: 'a,b,c\r\n1,2,3\r\n',
    records: [
      ['a', 'b', 'c'],
      ['1', '2', '3'],
    ],
  },
  {
    name: 'LF line ends, no final newline',
    text: 'a,b\n1,2',
    records: [
      ['a', 'b'],
      ['1', '2'],
    ],
  },
  { name: 'quoted comma and doubled quote', text: '"x,y","say ""hi"""\n', records: [['x,y', 'say "hi"']] },
  {
    name: 'line break inside quotes',
    text: 'a,"two\nlines"\r\nb,c\r\n',
    records: [
      ['a', 'two\nlines'],
      ['b', 'c'],
    ],
  },
  { name: 'byte-order mark dropped', text: '\uFEFFService,Port\n', records: [['Service', 'Port']] },
  {
    name: 'semicolon separator detected',
    text: 'a;b;c\n1;2,5;3\n',
    records: [
      ['a', 'b', 'c'],
      ['1', '2,5', '3'],
    ],
  },
  {
    name: 'empty fields kept',
    text: 'a,,c\n,,\n',
    records: [
      ['a', '', 'c'],
      ['', '', ''],
    ],
  },
];

for (const c of cases) {
  test(`parseCsv: ${c.name}`, () => {
    const result = parseCsv(c.text);
    assert.ok(result.ok);
    assert.deepEqual(result.records, c.records);
  });
}

test('parseCsv: an unclosed quote is an error naming the record', () => {
  const result = parseCsv('a,b\n"open,c\n');
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.record === 2 && /not closed/.test(result.error));
});

test('parseCsv: a quote in the middle of an unquoted field is an error', () => {
  const result = parseCsv('ab"c,d\n');
  assert.ok(!result.ok && /quote inside an unquoted field/.test(result.error));
});

test('formatCsv → parseCsv returns the same records', () => {
  const records = [
    ['Endpoint/URL', 'Comments'],
    ['crl.microsoft.com', 'plain'],
    ['x', 'has, comma and "quotes"\nand a line break'],
    [' padded ', ''],
  ];
  const text = formatCsv(records);
  assert.ok(text.endsWith('\r\n'));
  const parsed = parseCsv(text);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.records, records);
});
