import { posix } from 'node:path';
import { CONTROL, QUOTING, SPACE, shown } from '../text/printable.js';

/**
 * Checks for the values `airlock install` writes into files that root runs or reads (the systemd
 * unit, the logrotate file): paths from the configuration and from the command line. A value
 * that could end a line, split a word, open a quote or escape a character would let whoever wrote
 * it add directives or commands to those files, so such values are refused with the option and
 * the character named; what each file format expands (`%` and `$` in a unit) is escaped where it
 * is written.
 */

const QUOTES: Readonly<Record<string, string>> = {
  '"': 'a double quote (")',
  "'": "a single quote (')",
  '`': 'a backquote (`)',
  '\\': 'a backslash (\\)',
};
const NAMED: Readonly<Record<string, string>> = {
  '\0': 'a NUL byte',
  '\t': 'a tab',
  '\n': 'a line feed',
  '\r': 'a carriage return',
  '\v': 'a vertical tab',
  '\f': 'a form feed',
  '\x1b': 'an escape character',
  ' ': 'a space',
  '\u00a0': 'a no-break space',
  '\u2028': 'a line separator',
  '\u2029': 'a paragraph separator',
};

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** "a line feed (U+000A)", "a double quote (\")", "a control character (U+0085)". */
export function describeCharacter(char: string): string {
  const quote = QUOTES[char];
  if (quote !== undefined) return quote;
  const named = NAMED[char];
  if (named !== undefined) return `${named} (${codePoint(char)})`;
  if (SPACE.test(char)) return `a space character (${codePoint(char)})`;
  if (/\p{Cf}/u.test(char)) return `an invisible formatting character (${codePoint(char)})`;
  if (CONTROL.test(char)) return `a control character (${codePoint(char)})`;
  return `"${char}" (${codePoint(char)})`;
}

/**
 * The first character of `value` that may not be written into a generated file: a control or
 * formatting character, whitespace, a quote or a backslash, or one of `extra`. Undefined when
 * there is none.
 */
export function forbiddenCharacter(value: string, extra = ''): string | undefined {
  for (const char of value) {
    if (CONTROL.test(char) || SPACE.test(char) || QUOTING.test(char) || extra.includes(char)) {
      return char;
    }
  }
  return undefined;
}

export interface PathRules {
  /** Characters refused besides controls, whitespace, quotes and backslash. */
  readonly extra?: string;
  /** What the file format makes of them, for the message ("logrotate reads them as a pattern"). */
  readonly extraWhy?: string;
  /** Where the value ends up, for the message ("the systemd unit"). */
  readonly writtenTo: string;
}

/**
 * Why `value`, given as `option`, may not be written into `rules.writtenTo` because of a
 * character in it; undefined when every character may be written.
 */
export function characterProblem(option: string, value: string, rules: PathRules): string | undefined {
  const char = forbiddenCharacter(value, rules.extra);
  if (char === undefined) return undefined;
  const why =
    rules.extra?.includes(char) === true && rules.extraWhy !== undefined
      ? rules.extraWhy
      : 'it could end a line, split a word or open a quote there';
  return `${option} ${shown(value)} contains ${describeCharacter(char)}, which may not be written into ${rules.writtenTo}: ${why}`;
}

/**
 * Why the path `value`, given as `option`, may not be written into `rules.writtenTo`; undefined
 * when it may. It must be free of the characters above, absolute, and in normal form (no `.`
 * or `..` segments, no repeated or trailing `/`), so that it names what it seems to name.
 */
export function pathProblem(option: string, value: string, rules: PathRules): string | undefined {
  const problem = characterProblem(option, value, rules);
  if (problem !== undefined) return problem;
  if (!posix.isAbsolute(value)) return `${option} ${shown(value)} is not an absolute path`;
  const normal = normalPath(value);
  if (normal !== value) {
    return `${option} ${shown(value)} is not in normal form: write ${shown(normal)}, without ".", ".." or repeated "/"`;
  }
  return undefined;
}

/** The path with `.` and `..` segments resolved and repeated or trailing `/` removed. */
export function normalPath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}
