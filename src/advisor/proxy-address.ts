/**
 * Proxy addresses as Windows and Linux settings write them: `host:port` (TelemetryProxyServer,
 * netsh), `http://host:port` (Defender Antivirus ProxyServer, mdatp), and WinHTTP/WinINET proxy
 * lists with per-scheme entries (`http=a:80;https=b:88`). Bypass lists use `;` between entries,
 * `*` wildcards and `<local>` for names without a dot (netsh-winhttp in the sources table).
 */

import { hostPort } from '../text/host-port.js';
import { quoted } from './parse-result.js';

export interface ProxyAddress {
  readonly scheme: 'http' | 'https' | null;
  /** Lower-case host name or IP literal, without brackets. */
  readonly host: string;
  readonly port: number;
  /** False when the text gave no port and the scheme's default was used. */
  readonly portGiven: boolean;
  /** True when the text carried `user:password@`. */
  readonly credentials: boolean;
}

export type AddressResult = { ok: true; value: ProxyAddress } | { ok: false; message: string };

const HOST_NAME = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/i;

export function parseProxyAddress(input: string): AddressResult {
  const text = input.trim();
  if (text === '') return { ok: false, message: 'the proxy address is empty' };
  if (/\s/.test(text)) return { ok: false, message: `${quoted(text)} contains spaces` };
  let rest = text;
  let scheme: ProxyAddress['scheme'] = null;
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (schemeMatch) {
    const name = (schemeMatch[1] ?? '').toLowerCase();
    if (name !== 'http' && name !== 'https') {
      return {
        ok: false,
        message: `${quoted(text)}: only http:// and https:// proxies are supported, not ${name}://`,
      };
    }
    scheme = name;
    rest = rest.slice(schemeMatch[0].length);
  }
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    if (rest.slice(slash) !== '/')
      return { ok: false, message: `${quoted(text)} has a path; give host:port only` };
    rest = rest.slice(0, slash);
  }
  let credentials = false;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    credentials = true;
    rest = rest.slice(at + 1);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return { ok: false, message: `${quoted(text)}: unterminated [IPv6] literal` };
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':'))
      return { ok: false, message: `${quoted(text)} is not host:port` };
    portText = after === '' ? undefined : after.slice(1);
    if (!/^[0-9a-f:.]+$/i.test(host))
      return { ok: false, message: `${quoted(text)}: ${quoted(host)} is not an IPv6 address` };
  } else {
    const parts = rest.split(':');
    if (parts.length > 2)
      return { ok: false, message: `${quoted(text)} is not host:port (IPv6 needs [brackets])` };
    host = parts[0] ?? '';
    portText = parts[1];
    if (!HOST_NAME.test(host))
      return { ok: false, message: `${quoted(text)}: ${quoted(host)} is not a host name or IP address` };
  }
  let port: number;
  if (portText === undefined) {
    port = scheme === 'https' ? 443 : 80;
  } else {
    if (!/^[0-9]{1,5}$/.test(portText))
      return { ok: false, message: `${quoted(text)}: ${quoted(portText)} is not a port` };
    port = Number(portText);
    if (port < 1 || port > 65535)
      return { ok: false, message: `${quoted(text)}: port ${port} is out of range` };
  }
  return {
    ok: true,
    value: { scheme, host: host.toLowerCase(), port, portGiven: portText !== undefined, credentials },
  };
}

/** `host:port`, with IPv6 literals in brackets: the key proxies are matched on. */
export function formatProxyAddress(address: ProxyAddress): string {
  return hostPort(address.host, address.port);
}

/** Normalises any accepted address text to `host:port`, or returns null when it does not parse. */
export function proxyKey(text: string): string | null {
  const parsed = parseProxyAddress(text);
  return parsed.ok ? formatProxyAddress(parsed.value) : null;
}

export type ProxyListResult =
  { ok: true; value: ProxyAddress | null; note: string | null } | { ok: false; message: string };

/**
 * Picks the proxy a WinHTTP or WinINET proxy list uses for HTTPS requests. A list of
 * per-scheme entries without an `https=` entry sends HTTPS direct; a plain entry serves every
 * scheme. Only the first plain entry is used.
 */
export function selectHttpsProxy(list: string): ProxyListResult {
  const entries = list
    .split(/[;\s]+/)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return { ok: false, message: 'the proxy list is empty' };
  const scoped = entries.filter((e) => /^[a-z]+=/i.test(e));
  if (scoped.length > 0) {
    const https = scoped.find((e) => e.toLowerCase().startsWith('https='));
    const plain = entries.find((e) => !/^[a-z]+=/i.test(e));
    const chosen = https ? https.slice('https='.length) : plain;
    if (chosen === undefined) {
      return {
        ok: true,
        value: null,
        note: `${quoted(list)} has no https= entry, so HTTPS requests go direct`,
      };
    }
    const parsed = parseProxyAddress(chosen);
    return parsed.ok ? { ok: true, value: parsed.value, note: null } : { ok: false, message: parsed.message };
  }
  const parsed = parseProxyAddress(entries[0] ?? '');
  if (!parsed.ok) return { ok: false, message: parsed.message };
  const note =
    entries.length > 1 ? `${quoted(list)} names ${entries.length} proxies; only the first is modelled` : null;
  return { ok: true, value: parsed.value, note };
}

/** Splits a bypass list (`;`, `,` or spaces between entries); `(none)` and empty mean no entries. */
export function parseBypassList(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === '(none)') return [];
  return trimmed
    .split(/[;,\s]+/)
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** The bypass entry that sends `host` around the proxy, or null. */
export function bypassEntryFor(host: string, entries: readonly string[]): string | null {
  const name = host.toLowerCase();
  for (const raw of entries) {
    const entry = raw.toLowerCase();
    if (entry === '<local>') {
      if (!name.includes('.')) return raw;
      continue;
    }
    const pattern = entry.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '');
    if (wildcardMatches(pattern, name)) return raw;
  }
  return null;
}

/**
 * Whether `name` is `pattern` with each `*` standing for any run of characters. On a mismatch
 * only the last `*` seen takes one more character: it can absorb whatever an earlier one would
 * have taken, so the time is at most the product of the two lengths. The regular expression an
 * entry used to become (each `*` as `.*`) tried every way of sharing the name between the stars,
 * which for an entry of a few dozen stars does not end.
 */
function wildcardMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  // The last `*` seen, and where in the name the run it stands for ends for now.
  let star = -1;
  let starEnd = 0;
  while (n < name.length) {
    if (pattern[p] === '*') {
      star = p++;
      starEnd = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++starEnd;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
