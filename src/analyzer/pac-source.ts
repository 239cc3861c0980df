import { readFile } from 'node:fs/promises';

/**
 * Fetches a PAC script the way a client does: straight from its URL (never through a proxy),
 * or from a file. A URL that cannot be fetched is a finding for the report, not bad input.
 * The server may be anyone's (a WPAD server answers whoever asks), so a script over the limit
 * is refused as soon as that is known, from its Content-Length or else once more than the limit
 * has arrived, and the download is stopped there rather than read to the end.
 */

export type PacSource =
  | { readonly ok: true; readonly text: string; readonly source: string }
  | { readonly ok: false; readonly error: string; readonly source: string; readonly input: boolean };

const MAX_PAC_BYTES = 1024 * 1024;

/**
 * The body of `response` as text, read chunk by chunk and kept only while it fits in `limit`
 * bytes; null as soon as it passes them, after `stop` has been called to end the download.
 */
async function readAtMost(response: Response, limit: number, stop: () => void): Promise<string | null> {
  if (response.body === null) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      stop();
      return null;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

export async function loadPacScript(ref: string, timeoutMs: number): Promise<PacSource> {
  if (/^https?:\/\//i.test(ref)) {
    const download = new AbortController();
    const tooLarge: PacSource = {
      ok: false,
      error: `PAC download failed: ${ref} is larger than 1 MiB`,
      source: ref,
      input: false,
    };
    try {
      const response = await fetch(ref, {
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), download.signal]),
        redirect: 'follow',
      });
      if (!response.ok) {
        // The error page is of no use, and it need not end either.
        download.abort();
        return {
          ok: false,
          error: `PAC download failed: ${ref} answered ${response.status}`,
          source: ref,
          input: false,
        };
      }
      if (Number(response.headers.get('content-length') ?? 0) > MAX_PAC_BYTES) {
        download.abort();
        return tooLarge;
      }
      const text = await readAtMost(response, MAX_PAC_BYTES, () => download.abort());
      if (text === null) return tooLarge;
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
