import { AirlockError } from './airlock-error.js';

/** Why a file could not be read, in words ("no such file", "permission denied"). */
export function fileErrorWords(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}

/** The error for a file that could not be read: `cannot read <what> <path>: <why>`. */
export function unreadableFile(path: string, error: unknown, what?: string): AirlockError {
  return new AirlockError(
    'FILE_UNREADABLE',
    `cannot read ${what === undefined ? '' : `${what} `}${path}: ${fileErrorWords(error)}`,
    { cause: error },
  );
}
