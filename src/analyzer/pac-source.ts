import { readFile } from 'node:fs/promises';

/**
 * Fetches a PAC script the way a client does: straight from its URL (never through a proxy),
 * or from a file. A URL that cannot be fetched is a finding for the report, not bad input.
 */

export type PacSource =
  | { readonly ok: true; readonly text: string; readonly source: string }
  | { readonly ok: false; readonly error: string; readonly source: string; readonly input: boolean };

const MAX_PAC_BYTES = 1024 * 1024;

export async function loadPacScript(ref: string, timeoutMs: number): Promise<PacSource> {
  if (/^https?:\/\//i.test(ref)) {
    try {
      const response = await fetch(ref, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      if (!response.ok)
        return {
          ok: false,
          error: `PAC download failed: ${ref} answered ${response.status}`,
          source: ref,
          input: false,
        };
      const text = await response.text();
      if (text.length > MAX_PAC_BYTES)
        return {
          ok: false,
          error: `PAC download failed: ${ref} is larger than 1 MiB`,
          source: ref,
          input: false,
        };
      return { ok: true, text, source: ref };
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, error: `PAC download failed: ${ref}: ${why}`, source: ref, input: false };
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref) && !/^file:\/\//i.test(ref)) {
    return {
      ok: false,
      error: `--pac: "${ref}": only http://, https:// and files are read`,
      source: ref,
      input: true,
    };
  }
  const path = ref.replace(/^file:\/\//i, '');
  try {
    const text = await readFile(path, 'utf8');
    if (text.length > MAX_PAC_BYTES)
      return { ok: false, error: `--pac: ${path} is larger than 1 MiB`, source: path, input: true };
    return { ok: true, text, source: `file ${path}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { ok: false, error: `--pac: cannot read ${path} (${code})`, source: path, input: true };
  }
}
