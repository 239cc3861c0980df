/**
 * Quoting for the languages the generators write. Inputs are validated before they get here
 * (see gateway-address.ts); these functions are the second line of defence and refuse what
 * they cannot represent safely rather than emitting it.
 */

/** A PowerShell single-quoted literal: nothing inside is expanded; quotes (ASCII and typographic) are doubled. */
export function psSingle(text: string): string {
  assertNoControl(text, 'PowerShell literal');
  return `'${text.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/** A POSIX shell single-quoted literal. */
export function shSingle(text: string): string {
  assertNoControl(text, 'shell literal');
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A string as regedit writes it between double quotes: backslash and quote escaped. */
export function regString(text: string): string {
  assertNoControl(text, 'registry string');
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * A value placed inside double quotes on a cmd.exe line. Quoting makes `&|<>^` literal, but cmd
 * still expands `%` (and `!` under delayed expansion) inside quotes, and a `"` would end the
 * quoting: those are refused.
 */
export function cmdQuoted(text: string): string {
  assertNoControl(text, 'cmd argument');
  if (/[%"!]/.test(text)) throw new Error(`cannot place ${JSON.stringify(text)} on a cmd line safely`);
  return `"${text}"`;
}

/** A literal for a sed basic regular expression (`/` as delimiter). */
export function sedPattern(text: string): string {
  assertNoControl(text, 'sed pattern');
  return text.replace(/[\\/.*[\]^$]/g, (c) => `\\${c}`);
}

function assertNoControl(text: string, what: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(text))
    throw new Error(`${what}: control character in ${JSON.stringify(text)}`);
}
