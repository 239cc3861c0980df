/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and proxy-only headers that never cross the gateway.
 * Content framing (Content-Length, Transfer-Encoding) is handled by Node's HTTP machinery.
 */
const ALWAYS_DROP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'host',
  'expect',
  'via',
  'x-forwarded-for',
  'forwarded',
]);

function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '') (tokens ??= new Set()).add(t);
      }
    }
  }
  return tokens;
}

/**
 * Copies raw headers ([name, value, name, value, ...]) without hop-by-hop headers, the
 * headers named in Connection, any Proxy-* header, and the forwarding headers a client may
 * have added (the gateway never reveals the client behind it).
 */
export function filterHeaders(raw: readonly string[], dropContentFraming: boolean): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (ALWAYS_DROP.has(lower) || lower.startsWith('proxy-')) continue;
    if (named !== null && named.has(lower)) continue;
    if (dropContentFraming && lower === 'transfer-encoding') continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}
