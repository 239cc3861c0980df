import { shown } from '../text/printable.js';

/** Where a parser choked, or what it noticed without failing. Lines are 1-based. */
export interface ParseIssue {
  readonly line: number;
  readonly message: string;
}

/** What every parser returns: a value with warnings, or the first error with its line. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T; readonly warnings: readonly ParseIssue[] }
  | { readonly ok: false; readonly error: ParseIssue };

export function parseFailure(line: number, message: string): { ok: false; error: ParseIssue } {
  return { ok: false, error: { line, message } };
}

/**
 * Splits pasted text into lines, dropping a byte-order mark and Windows line ends. The parsers
 * recognise their input line by line too: in a multi-line pattern `^\s*` runs across line
 * breaks, so on a paste of many blank lines it scanned all the rest from each of them.
 */
export function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
}

/**
 * A shell prompt pasted along with the output (`C:\>`, `PS C:\>`, `$ `, `# `, `user@host:~$ `).
 * The `user@host:` form is matched at the first `@` and the first `:` after it that can serve,
 * since they match whenever any later pair does: `\S+@\S+:` tried every pair and scanned the
 * rest of the line for each, 6.5 seconds for a line of 4,096 characters of `@:` and eight times
 * that for twice as many.
 */
export function isPromptLine(line: string): boolean {
  return (
    /^\s*(PS\s+)?[A-Za-z]:\\[^>]*>/.test(line) ||
    /^\s*[$#]\s/.test(line) ||
    /^\s*\S[^\s@]*@\S[^\s:]*:.*[$#]\s/.test(line)
  );
}

/**
 * The most characters of a value a message quotes. A pasted line can be a megabyte long: quoting
 * all of it helps no reader, and escaping it again for each message that names the value (one
 * per component for a proxy list) took seconds.
 */
const QUOTED_LENGTH = 300;

/**
 * A pasted value as a message quotes it: in double quotes, with quotes, backslashes and every
 * control character escaped by `shown`, so that escape sequences pasted along with the output
 * cannot recolour, retitle or clear the terminal the message is printed on. A value longer than
 * QUOTED_LENGTH is cut, and its length given.
 */
export function quoted(value: string): string {
  if (value.length > QUOTED_LENGTH) {
    // Not between the two halves of a surrogate pair.
    const end = /[\uD800-\uDBFF]/.test(value[QUOTED_LENGTH - 1] ?? '') ? QUOTED_LENGTH - 1 : QUOTED_LENGTH;
    return `${quoted(value.slice(0, end))}… (${value.length} characters)`;
  }
  const text = shown(value);
  return text.startsWith('"') ? text : `"${text}"`;
}
