/**
 * Headers that never cross the gateway: hop-by-hop headers (RFC 9110 §7.6.1), the proxy's
 * own, the forwarding headers a client may have added (the gateway never reveals the client
 * behind it), Expect (the gateway sends bodies without waiting for 100-continue), and message
 * framing and Host, which the gateway always writes itself.
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
  'content-length',
  'transfer-encoding',
]);

/**
 * Copies raw headers ([name, value, name, value, ...]) for the next hop, without the headers
 * above, any Proxy-* header, and the headers `connection` (the message's Connection tokens)
 * names. Framing and Host are never taken from the sender: the caller writes them from the
 * parsed message, so no header list can change where a message ends or where it goes.
 */
export function forwardHeaders(raw: readonly string[], connection: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (ALWAYS_DROP.has(lower) || lower.startsWith('proxy-')) continue;
    if (connection.length > 0 && connection.includes(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}
