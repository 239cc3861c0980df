/**
 * A scanner for the PowerShell the generators write: it follows comments (`#`, `<# #>`),
 * single-quoted strings (a doubled quote escapes one; typographic quotes count), double-quoted strings (backtick escapes,
 * `$( )` subexpressions holding code) and the three bracket pairs. It reports unbalanced or
 * crossed brackets and unterminated strings, and separates what is code from what is literal,
 * so a test can check where a value ended up. Here-strings are refused (none are generated).
 */

export interface PowerShellScan {
  /** Code outside strings and comments (subexpression code included). */
  readonly code: string;
  /** Contents of single-quoted literals, unescaped. */
  readonly singleQuoted: readonly string[];
  /** Literal text of double-quoted strings (subexpressions left out). */
  readonly doubleQuoted: readonly string[];
  readonly comments: readonly string[];
}

const OPEN: Readonly<Record<string, string>> = { '(': ')', '{': '}', '[': ']' };
const CLOSE = new Set([')', '}', ']']);

/** PowerShell takes the typographic single quotes as quote characters too. */
function isSingleQuote(ch: string | undefined): boolean {
  return ch === "'" || ch === '\u2018' || ch === '\u2019' || ch === '\u201a' || ch === '\u201b';
}

export function scanPowerShell(source: string): PowerShellScan {
  let i = 0;
  let code = '';
  const singleQuoted: string[] = [];
  const doubleQuoted: string[] = [];
  const comments: string[] = [];
  const where = (): string => `offset ${i} (line ${source.slice(0, i).split('\n').length})`;

  /** Code until `stop` (a closing bracket at depth 0) or the end; returns at the stop character. */
  const scanCode = (stop: string | null): void => {
    const stack: string[] = [];
    while (i < source.length) {
      const ch = source[i]!;
      if (ch === '<' && source[i + 1] === '#') {
        const end = source.indexOf('#>', i + 2);
        if (end === -1) throw new Error(`unterminated block comment at ${where()}`);
        comments.push(source.slice(i + 2, end));
        i = end + 2;
        continue;
      }
      if (ch === '#') {
        const end = source.indexOf('\n', i);
        comments.push(source.slice(i + 1, end === -1 ? source.length : end));
        i = end === -1 ? source.length : end;
        continue;
      }
      if (ch === '@' && (source[i + 1] === "'" || source[i + 1] === '"')) {
        throw new Error(`here-string at ${where()}: not expected in generated scripts`);
      }
      if (isSingleQuote(ch)) {
        i++;
        let value = '';
        for (;;) {
          if (i >= source.length) throw new Error(`unterminated single-quoted string at ${where()}`);
          if (isSingleQuote(source[i])) {
            if (isSingleQuote(source[i + 1])) {
              value += source[i + 1];
              i += 2;
              continue;
            }
            i++;
            break;
          }
          value += source[i];
          i++;
        }
        singleQuoted.push(value);
        code += "''";
        continue;
      }
      if (ch === '"') {
        i++;
        let literal = '';
        for (;;) {
          if (i >= source.length) throw new Error(`unterminated double-quoted string at ${where()}`);
          const c = source[i]!;
          if (c === '`') {
            literal += source.slice(i, i + 2);
            i += 2;
            continue;
          }
          if (c === '"') {
            if (source[i + 1] === '"') {
              literal += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '$' && source[i + 1] === '(') {
            i += 2;
            code += '$(';
            scanCode(')');
            if (source[i] !== ')') throw new Error(`unterminated subexpression at ${where()}`);
            code += ')';
            i++;
            continue;
          }
          literal += c;
          i++;
        }
        doubleQuoted.push(literal);
        code += '""';
        continue;
      }
      if (ch in OPEN) stack.push(OPEN[ch]!);
      else if (CLOSE.has(ch)) {
        if (stack.length === 0) {
          if (ch === stop) return;
          throw new Error(`unbalanced "${ch}" at ${where()}`);
        }
        const expected = stack.pop();
        if (expected !== ch) throw new Error(`"${ch}" closes "${expected ?? ''}" at ${where()}`);
      }
      code += ch;
      i++;
    }
    if (stack.length > 0) throw new Error(`unclosed ${stack.join('')} at the end`);
    if (stop !== null) throw new Error(`missing "${stop}" at the end`);
  };

  scanCode(null);
  return { code, singleQuoted, doubleQuoted, comments };
}
