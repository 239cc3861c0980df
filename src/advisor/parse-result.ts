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

/** Splits pasted text into lines, dropping a byte-order mark and Windows line ends. */
export function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
}

/** A shell prompt pasted along with the output (`C:\>`, `PS C:\>`, `$ `, `# `). */
export function isPromptLine(line: string): boolean {
  return (
    /^\s*(PS\s+)?[A-Za-z]:\\[^>]*>/.test(line) || /^\s*[$#]\s/.test(line) || /^\s*\S+@\S+:.*[$#]\s/.test(line)
  );
}
