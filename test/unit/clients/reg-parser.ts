/**
 * A small, strict reader for the .reg files regedit imports ("Windows Registry Editor Version
 * 5.00"): UTF-16LE with a byte-order mark, CRLF lines, `[key]` sections, `"name"="string"` and
 * `"name"=dword:xxxxxxxx` values, `;` comments. Anything else is an error, so a test that reads
 * a generated file back also checks that it has nothing regedit would trip over.
 */

export interface ParsedRegValue {
  readonly key: string;
  readonly name: string;
  readonly type: 'REG_SZ' | 'REG_DWORD';
  readonly data: string | number;
}

/** Reads a quoted .reg string starting at text[start] === '"'; returns its value and the index after it. */
function readQuoted(text: string, start: number, line: number): { value: string; end: number } {
  if (text[start] !== '"') throw new Error(`line ${line}: expected a quoted string`);
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next !== '\\' && next !== '"') throw new Error(`line ${line}: bad escape \\${next ?? ''}`);
      value += next;
      i++;
    } else if (ch === '"') {
      return { value, end: i + 1 };
    } else {
      value += ch;
    }
  }
  throw new Error(`line ${line}: unterminated string`);
}

export function parseRegFile(bytes: Buffer): ParsedRegValue[] {
  if (bytes[0] !== 0xff || bytes[1] !== 0xfe) throw new Error('no UTF-16LE byte-order mark');
  if ((bytes.length - 2) % 2 !== 0) throw new Error('odd number of bytes after the byte-order mark');
  const text = bytes.subarray(2).toString('utf16le');
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) throw new Error('a line does not end in CRLF');
  if (!text.endsWith('\r\n')) throw new Error('the last line does not end in CRLF');
  const lines = text.slice(0, -2).split('\r\n');
  if (lines[0] !== 'Windows Registry Editor Version 5.00')
    throw new Error(`bad header: ${JSON.stringify(lines[0])}`);
  const values: ParsedRegValue[] = [];
  let key: string | null = null;
  lines.slice(1).forEach((raw, index) => {
    const line = index + 2;
    if (raw === '' || raw.startsWith(';')) return;
    if (raw.startsWith('[')) {
      if (!raw.endsWith(']')) throw new Error(`line ${line}: unterminated key`);
      key = raw.slice(1, -1);
      if (!/^HKEY_(LOCAL_MACHINE|CURRENT_USER|USERS|CLASSES_ROOT|CURRENT_CONFIG)(\\[^\\]+)+$/.test(key)) {
        throw new Error(`line ${line}: bad key ${key}`);
      }
      return;
    }
    if (key === null) throw new Error(`line ${line}: value before any key`);
    const name = readQuoted(raw, 0, line);
    if (raw[name.end] !== '=') throw new Error(`line ${line}: expected "=" after the value name`);
    const rest = raw.slice(name.end + 1);
    if (rest.startsWith('"')) {
      const data = readQuoted(rest, 0, line);
      if (data.end !== rest.length) throw new Error(`line ${line}: text after the string`);
      values.push({ key, name: name.value, type: 'REG_SZ', data: data.value });
      return;
    }
    const dword = /^dword:([0-9a-f]{8})$/.exec(rest);
    if (dword === null) throw new Error(`line ${line}: unsupported value ${rest}`);
    values.push({ key, name: name.value, type: 'REG_DWORD', data: parseInt(dword[1]!, 16) });
  });
  return values;
}
