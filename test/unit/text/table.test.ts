import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fitAlignedTable,
  parseAlignedTable,
  renderTable,
  truncate,
  wrapLine,
  wrapText,
} from '../../../src/text/table.js';

const widest = (lines: readonly string[]): number => Math.max(...lines.map((l) => l.length));

describe('wrapping', () => {
  test('breaks at spaces and after list commas, inside a word only when it must', () => {
    assert.deepEqual(wrapText('the gateway cannot resolve names', 12), [
      'the gateway',
      'cannot',
      'resolve',
      'names',
    ]);
    assert.deepEqual(wrapText('mde,mde-streamlined,mdav,mdi', 16), ['mde,', 'mde-streamlined,', 'mdav,mdi']);
    assert.deepEqual(wrapText('https://winatp-gw-cus.microsoft.com/commands/test', 20), [
      'https://winatp-gw-',
      'cus.microsoft.com/',
      'commands/test',
    ]);
    assert.deepEqual(wrapText('short', 10), ['short']);
  });

  test('a wrapped line keeps its indentation and lines up under its list marker', () => {
    assert.deepEqual(wrapLine('  1. error: the gateway cannot resolve names', 24), [
      '  1. error: the gateway',
      '     cannot resolve',
      '     names',
    ]);
    assert.deepEqual(wrapLine('  fix: check dns.servers and the firewall', 24), [
      '  fix: check dns.servers',
      '    and the firewall',
    ]);
    assert.deepEqual(wrapLine('fits', Infinity), ['fits']);
    // A word cut at the end of a line stays one word: no space is put into it.
    const url = 'http://ctldl.windowsupdate.com/msdownload/v3/static/list.cab';
    const lines = wrapLine(`  e.g. ${url} and 9 more`, 44);
    assert.ok(lines.every((l) => l.length <= 44));
    assert.equal(lines.map((l) => l.trim()).join(''), `e.g.${url} and 9 more`);
  });

  test('truncation ends with an ellipsis and keeps the width', () => {
    assert.equal(truncate('mde,mde-streamlined', 8), 'mde,mde…');
    assert.equal(truncate('mde', 8), 'mde');
  });
});

describe('renderTable', () => {
  const rows = [
    ['crl.microsoft.com', '80', 'catalog: mde:crl.microsoft.com'],
    [
      'winatp-gw-eus.microsoft.com',
      '443',
      'catalog: mde:winatp-gw-eus.microsoft.com@US; mde:winatp-gw-eus3.microsoft.com@US',
    ],
  ];

  test('at full width: columns padded to their widest cell, a rule under the header', () => {
    assert.deepEqual(renderTable(['RULE', 'PORTS', 'WHERE'], rows.slice(0, 1)), [
      'RULE               PORTS  WHERE',
      '-----------------  -----  ------------------------------',
      'crl.microsoft.com  80     catalog: mde:crl.microsoft.com',
    ]);
  });

  test('no line is wider than the width, down to one block per row', () => {
    for (const width of [20, 30, 45, 60, 80, 200]) {
      const lines = renderTable(['RULE', 'PORTS', { header: 'WHERE', min: 16 }], rows, { width });
      assert.ok(widest(lines) <= width, `${width}: ${lines.join('\n')}`);
      if (width >= 30)
        assert.ok(lines.join('\n').includes('crl.microsoft.com'), `${width}: the content is kept`);
    }
    assert.deepEqual(renderTable(['RULE', 'PORTS', 'WHERE'], rows.slice(0, 1), { width: 30 }), [
      'RULE   crl.microsoft.com',
      'PORTS  80',
      'WHERE  catalog:',
      '       mde:crl.microsoft.com',
    ]);
  });

  test('the room goes where it saves wrapped lines', () => {
    const lines = renderTable(['RULE', 'PORTS', 'WHERE'], rows, { width: 80 });
    assert.deepEqual(lines.slice(0, 4), [
      'RULE                         PORTS  WHERE',
      '---------------------------  -----  --------------------------------------------',
      'crl.microsoft.com            80     catalog: mde:crl.microsoft.com',
      'winatp-gw-eus.microsoft.com  443    catalog: mde:winatp-gw-eus.microsoft.com@US;',
    ]);
  });

  test('a truncating column gives way first', () => {
    const lines = renderTable(
      [
        { header: 'HOST', min: 10 },
        { header: 'PRODUCTS', overflow: 'truncate' },
      ],
      [['crl.microsoft.com', 'mde,mde-streamlined,mdav,mdi,ama,mma,arc']],
      { width: 30 },
    );
    assert.deepEqual(lines, [
      'HOST               PRODUCTS',
      '-----------------  -----------',
      'crl.microsoft.com  mde,mde-st…',
    ]);
  });
});

describe('tables laid out by other modules', () => {
  const aligned = [
    'HOST                         PORTS  SOURCE',
    '---------------------------  -----  ----------------',
    'crl.microsoft.com            80     R1,R2,R20,R35,X1',
    'winatp-gw-eus.microsoft.com  443    R1',
    '2 entries',
  ].join('\n');

  test('are read back cell by cell', () => {
    assert.deepEqual(parseAlignedTable(aligned.split('\n').slice(0, 4)), {
      headers: ['HOST', 'PORTS', 'SOURCE'],
      rows: [
        ['crl.microsoft.com', '80', 'R1,R2,R20,R35,X1'],
        ['winatp-gw-eus.microsoft.com', '443', 'R1'],
      ],
      rule: true,
    });
    assert.equal(parseAlignedTable(['one line of prose']), null);
  });

  test('are fitted to a width, the lines around them wrapped', () => {
    const fitted = fitAlignedTable(`${aligned}\n`, { header: 0, rows: 2 }, 40);
    assert.ok(widest(fitted.split('\n')) <= 40, fitted);
    assert.match(fitted, /2 entries\n$/);
    assert.equal(fitAlignedTable(aligned, { header: 0, rows: 2 }, Infinity), aligned);
  });
});
