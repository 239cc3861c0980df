/**
 * Text from outside (a configuration value, a proxy's reason phrase, a PAC script's answer) made
 * safe to print on a terminal: every character that is invisible or breaks a line is written as
 * a visible escape, so that printing the text cannot move the cursor, change colours, retitle
 * the window or fake another line.
 */

/** Invisible and line-breaking characters: C0 and C1 controls, DEL, Unicode format characters, line and paragraph separators. */
export const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** Spaces of every kind (U+0020, no-break space, ideographic space, ...). */
export const SPACE = /\p{Zs}/u;
/** Quotes and the backslash: a value holding one is quoted by `shown`, so that it reads as one value. */
export const QUOTING = /["'`\\]/;

/** \x1b, \u{202e}: a character as a visible escape. */
function escaped(char: string): string {
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * A value as it can be shown on a terminal: as it is when it holds only visible characters other
 * than quotes and backslashes; otherwise in double quotes, with quotes, backslashes, spaces and
 * every invisible or line-breaking character escaped, so that printing it cannot move the
 * cursor, change colours or fake another line.
 */
export function shown(value: string): string {
  if (value !== '' && !CONTROL.test(value) && !SPACE.test(value) && !QUOTING.test(value)) return value;
  let out = '';
  for (const char of value) {
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (CONTROL.test(char) || (SPACE.test(char) && char !== ' ')) out += escaped(char);
    else out += char;
  }
  return `"${out}"`;
}

/** A line of output with its invisible and line-breaking characters escaped (\x1b, \u{202e}, ...). */
export function printable(line: string): string {
  if (!CONTROL.test(line)) return line;
  let out = '';
  for (const char of line) out += CONTROL.test(char) ? escaped(char) : char;
  return out;
}
