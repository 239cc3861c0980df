/**
 * Plain-text layout for terminals: tables whose columns shrink to a width (a cell too long for
 * its column is wrapped onto more lines or cut), and prose lines wrapped with a hanging indent.
 * Pure: text in, text out. Widths are counted in UTF-16 code units, which is one terminal column
 * for everything the commands print (names, URLs, reason codes, Latin punctuation).
 */

export interface Column {
  readonly header: string;
  /** A cell wider than its column: `wrap` onto more lines (the default) or `truncate` with "…". */
  readonly overflow?: 'wrap' | 'truncate';
  /** The column is never made narrower than this (default: its header, at least 8 characters). */
  readonly min?: number;
}

export interface TableOptions {
  /** The widest a line may be; `Infinity` (the default) lays every column out at its natural width. */
  readonly width?: number;
  /** A line of dashes under the header (default true). */
  readonly rule?: boolean;
  /** Written before every line, and counted in the width. */
  readonly indent?: string;
}

const GAP = 2;
const ELLIPSIS = '…';
/** Words longer than this may be broken before the columns are narrowed to their minimums. */
const MAX_WORD = 24;
/** Below this, a table that has to cut words is printed as blocks instead. */
const MIN_WORD = 12;
/** How far ahead the layout looks when widening a column (a wrapped cell may need several more characters to lose a line). */
const MAX_GROW = 32;

/**
 * Breaks `text` into lines of at most `width` characters: at spaces and after the commas and
 * semicolons of a list where it can, inside a word (after a `/`, `.` or `-` if there is one)
 * where it must.
 */
export function wrapText(text: string, width: number): string[] {
  const limit = Math.max(1, Math.floor(width));
  if (text.length <= limit) return [text];
  const lines: string[] = [];
  let line = '';
  for (const token of tokens(text)) {
    const word = token.trimEnd();
    if (line === '' || (line + word).length <= limit) {
      line += line === '' ? token.trimStart() : token;
    } else {
      lines.push(line.trimEnd());
      line = token.trimStart();
    }
    while (line.trimEnd().length > limit) {
      const cut = breakPoint(line, limit);
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line.trimEnd() !== '' || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}

/** Pieces a line may break after: a word with its following space, or a list item with its comma. */
function tokens(text: string): string[] {
  return text.match(/[^ ,;]*(?:[,;]+ *| +|$)/g)?.filter((t) => t !== '') ?? [text];
}

/** The longest piece of `text` wrapText will not break, up to `cap`. */
function longestToken(text: string, cap: number): number {
  let longest = 0;
  for (const t of tokens(text)) longest = Math.max(longest, Math.min(cap, t.trimEnd().length));
  return longest;
}

/** Where to cut a word longer than the line: after a separator a URL or a name has, else at the limit. */
function breakPoint(word: string, limit: number): number {
  for (let i = limit; i > limit / 2; i--) {
    if ('/.&?=-_:'.includes(word[i - 1]!)) return i;
  }
  return limit;
}

export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}${ELLIPSIS}`;
}

/**
 * A line of prose fitted to `width`: continuation lines line up under the text after the line's
 * indentation and list marker (`1. `, `- `, `! `), or two spaces in, so a wrapped item still
 * reads as one.
 */
export function wrapLine(line: string, width: number): string[] {
  if (!Number.isFinite(width) || line.length <= width) return [line];
  const indent = /^ */.exec(line)![0];
  const marker = /^(?:\d+\.|[-*!x]|ok) /.exec(line.slice(indent.length))?.[0] ?? '';
  const hanging = ' '.repeat(indent.length + (marker === '' ? 2 : marker.length));
  const text = line.slice(indent.length + marker.length);
  const head = wrapText(text, Math.max(1, width - indent.length - marker.length))[0] ?? '';
  // The rest as written (a word cut at the end of the first line stays one word).
  const rest = wrapText(
    text.slice(head.length).replace(/^ +/, ''),
    Math.max(1, width - hanging.length),
  ).filter((l) => l !== '');
  return [`${indent}${marker}${head}`, ...rest.map((l) => `${hanging}${l}`)];
}

/** Every line of `text` fitted to `width` (see wrapLine); a trailing newline is kept. */
export function wrapLines(text: string, width: number): string {
  if (!Number.isFinite(width)) return text;
  const trailing = text.endsWith('\n');
  const lines = (trailing ? text.slice(0, -1) : text).split('\n').flatMap((l) => wrapLine(l, width));
  return `${lines.join('\n')}${trailing ? '\n' : ''}`;
}

const sum = (widths: readonly number[]): number => widths.reduce((a, b) => a + b, 0);

/**
 * Column widths that fit `available`. Columns that truncate give way first; the others start at
 * their longest word (the longest words giving way first, down to the column's minimum) and the
 * room left goes where it saves the most wrapped lines. Null when the minimums do not fit, or
 * when words would be cut to fewer than 12 characters.
 */
function fitWidths(
  cols: readonly Column[],
  rows: readonly (readonly string[])[],
  natural: readonly number[],
  available: number,
): number[] | null {
  if (sum(natural) <= available) return [...natural];
  const hard = cols.map((c, i) => Math.min(natural[i]!, c.min ?? Math.max(c.header.length, 8)));
  const wraps = cols.map((c) => c.overflow !== 'truncate');
  const words = cols.map((_, i) => Math.max(0, ...rows.map((r) => longestToken(r[i] ?? '', MAX_WORD))));
  const comfortable = hard.map((h, i) => (wraps[i] ? Math.min(natural[i]!, Math.max(h, words[i]!)) : h));
  if (sum(hard) > available) return null;
  // Keep whole words where the room allows: the longest words give way first, never below the minimum.
  const floorsAt = (cap: number): number[] => comfortable.map((c, i) => Math.max(hard[i]!, Math.min(c, cap)));
  let cap = Math.max(...comfortable);
  while (sum(floorsAt(cap)) > available) cap--;
  // Words cut into short pieces in several columns read worse than one block per row.
  if (cap < MIN_WORD && comfortable.some((c) => c > cap)) return null;
  const widths = floorsAt(cap);
  let spare = available - sum(widths);

  // Lines each row needs in column i at width w, computed once per width tried.
  const heights = cols.map(() => new Map<number, number[]>());
  const linesAt = (i: number, w: number): number[] => {
    let h = heights[i]!.get(w);
    if (h === undefined) {
      h = rows.map((r) => (wraps[i] ? cellLines(r[i] ?? '', w, cols[i]!).length : 1));
      heights[i]!.set(w, h);
    }
    return h;
  };
  while (spare > 0) {
    const current = cols.map((_, i) => linesAt(i, widths[i]!));
    let best: { column: number; grow: number; rate: number } | null = null;
    for (let i = 0; i < cols.length; i++) {
      if (!wraps[i]) continue;
      const others = rows.map((_, r) => Math.max(1, ...current.map((h, j) => (j === i ? 1 : h[r]!))));
      const total = (h: readonly number[]): number => others.reduce((t, o, r) => t + Math.max(o, h[r]!), 0);
      const now = total(current[i]!);
      for (let grow = 1; grow <= Math.min(spare, natural[i]! - widths[i]!, MAX_GROW); grow++) {
        const saved = now - total(linesAt(i, widths[i]! + grow));
        if (saved > 0 && (best === null || saved / grow > best.rate))
          best = { column: i, grow, rate: saved / grow };
      }
    }
    if (best === null) break;
    widths[best.column]! += best.grow;
    spare -= best.grow;
  }
  // What is left shows more of the truncated cells, then widens the rest, left to right.
  for (const pass of [false, true]) {
    for (let i = 0; i < widths.length && spare > 0; i++) {
      if (wraps[i] !== pass) continue;
      const grow = Math.min(spare, natural[i]! - widths[i]!);
      widths[i]! += grow;
      spare -= grow;
    }
  }
  return widths;
}

function cellLines(text: string, width: number, column: Column): string[] {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  if (flat.length <= width) return [flat];
  return column.overflow === 'truncate' ? [truncate(flat, width)] : wrapText(flat, width);
}

/**
 * Rows under a header, columns two spaces apart. With a finite width the widest columns are
 * narrowed first (never below their minimum) and long cells wrap or are cut; when even the
 * minimums do not fit, each row is printed as a block of `HEADER  value` lines instead. No
 * line is ever wider than the width. Returns the lines, without newlines.
 */
export function renderTable(
  columns: readonly (Column | string)[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string[] {
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const indent = options.indent ?? '';
  const width = options.width ?? Infinity;
  const natural = cols.map((c, i) =>
    Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').replace(/\s*\n\s*/g, ' ').length)),
  );
  const available = width - indent.length - GAP * (cols.length - 1);
  const widths = Number.isFinite(width) ? fitWidths(cols, rows, natural, available) : natural;
  if (widths === null) return renderBlocks(cols, rows, width, indent);

  const line = (cells: readonly string[]): string =>
    `${indent}${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join(' '.repeat(GAP))}`.trimEnd();
  const out = [line(cols.map((c, i) => truncate(c.header, widths[i]!)))];
  if (options.rule !== false) out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) {
    const wrapped = cols.map((c, i) => cellLines(row[i] ?? '', widths[i]!, c));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) out.push(line(wrapped.map((w) => w[k] ?? '')));
  }
  return out;
}

/** The narrow-terminal form: one block per row, `HEADER  value` per column, values wrapped. */
function renderBlocks(
  cols: readonly Column[],
  rows: readonly (readonly string[])[],
  width: number,
  indent: string,
): string[] {
  const label = Math.max(...cols.map((c) => c.header.length));
  const out: string[] = [];
  rows.forEach((row, r) => {
    if (r > 0) out.push('');
    cols.forEach((c, i) => {
      const text = (row[i] ?? '').replace(/\s*\n\s*/g, ' ');
      if (text === '') return;
      const head = `${indent}${c.header.padEnd(label)}  `;
      if (head.length + 8 > width) {
        out.push(...wrapLine(`${indent}${c.header}: ${text}`, width));
        return;
      }
      const parts = wrapText(text, width - head.length);
      out.push(`${head}${parts[0] ?? ''}`.trimEnd());
      for (const part of parts.slice(1)) out.push(`${' '.repeat(head.length)}${part}`);
    });
  });
  return out;
}

/**
 * Reads back a table another module already laid out at its natural width (a header whose
 * titles are separated by two or more spaces, an optional line of dashes, rows padded to the
 * same columns), so it can be fitted to a width by renderTable. Returns null when `lines` does
 * not start with such a header.
 */
export function parseAlignedTable(
  lines: readonly string[],
): { headers: string[]; rows: string[][]; rule: boolean } | null {
  const header = lines[0];
  if (header === undefined || !/\S {2,}\S/.test(header)) return null;
  const starts: number[] = [];
  const re = /(^|\s{2,})(\S)/g;
  for (let m = re.exec(header); m !== null; m = re.exec(header)) starts.push(m.index + m[1]!.length);
  const split = (line: string): string[] =>
    starts.map((start, i) =>
      line.slice(start, i + 1 < starts.length ? starts[i + 1]! - GAP : undefined).trim(),
    );
  const rule = lines[1] !== undefined && /^-+( {2}-+)*$/.test(lines[1]);
  return {
    headers: split(header),
    rows: lines.slice(rule ? 2 : 1).map(split),
    rule,
  };
}

/**
 * Fits text that holds a table laid out at its natural width (see parseAlignedTable) to
 * `width`: the `rows` lines under the header at line `header` are laid out again by
 * renderTable, every other line is wrapped by wrapLine. `columns` sets a column's overflow
 * or minimum by its header title.
 */
export function fitAlignedTable(
  text: string,
  at: { readonly header: number; readonly rows: number },
  width: number,
  columns: Readonly<Record<string, Omit<Column, 'header'>>> = {},
): string {
  if (!Number.isFinite(width)) return text;
  const trailing = text.endsWith('\n');
  const lines = (trailing ? text.slice(0, -1) : text).split('\n');
  const rule = /^-+( {2}-+)*$/.test(lines[at.header + 1] ?? '');
  const end = at.header + 1 + (rule ? 1 : 0) + at.rows;
  const parsed = parseAlignedTable(lines.slice(at.header, end));
  if (parsed === null) return wrapLines(text, width);
  const table = renderTable(
    parsed.headers.map((h) => ({ header: h, ...columns[h] })),
    parsed.rows,
    { width, rule: parsed.rule },
  );
  const wrap = (part: readonly string[]): string[] => part.flatMap((l) => wrapLine(l, width));
  const out = [...wrap(lines.slice(0, at.header)), ...table, ...wrap(lines.slice(end))];
  return `${out.join('\n')}${trailing ? '\n' : ''}`;
}
