import { normalizeHost, splitAuthority } from '../policy/index.js';
import { hostPort } from '../text/host-port.js';

/**
 * A gateway as endpoints must name it. Every generated file embeds these strings in a
 * quoting context (registry strings, PowerShell and shell literals, cmd lines, JSON), so
 * they are validated here once, strictly, instead of being escaped differently everywhere.
 */
export interface GatewayAddress {
  /** Host name in lowercase, or an IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[v6]:port`): the form TelemetryProxyServer, netsh and PAC files take. */
  readonly authority: string;
  /** `http://host:port`: the gateway listens for plain HTTP proxy requests. */
  readonly url: string;
}

/** Characters a host:port may contain at all; anything else is named in the error. */
const AUTHORITY_CHARS = /^[A-Za-z0-9._:[\]-]+$/;

/** Describes the first character outside `allowed`, for error messages. */
function firstForbidden(text: string, allowed: RegExp): string | null {
  for (const ch of text) {
    if (!allowed.test(ch)) {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === ' ') return 'a space';
      if (ch === '"') return 'a double quote (")';
      if (ch === "'") return "a single quote (')";
      if (ch === '`') return 'a backtick (`)';
      if (code < 0x20 || code === 0x7f) return `control character U+${code.toString(16).padStart(4, '0')}`;
      return `"${ch}"`;
    }
  }
  return null;
}

export type ParseResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/**
 * Parses `host:port` (a DNS name, an IPv4 literal or a bracketed IPv6 literal, port 1-65535).
 * Quotes, `$`, backticks, `%`, spaces and every other character that means something to
 * a shell, cmd, PowerShell or the registry are refused, with the input named.
 */
export function parseGatewayAddress(text: string, flag = '--gateway'): ParseResult<GatewayAddress> {
  const shown = JSON.stringify(text);
  const example = 'host:port, e.g. gw1.contoso.com:3128';
  if (text.length === 0) return { ok: false, error: `${flag} ${shown}: empty; expected ${example}` };
  const bad = firstForbidden(text, /[A-Za-z0-9._:[\]-]/);
  if (bad !== null || !AUTHORITY_CHARS.test(text)) {
    return {
      ok: false,
      error: `${flag} ${shown}: ${bad ?? 'a character'} is not allowed in a gateway address; expected ${example}`,
    };
  }
  const split = splitAuthority(text);
  if (split === null) {
    return {
      ok: false,
      error: `${flag} ${shown}: not host:port with a port from 1 to 65535; expected ${example}`,
    };
  }
  const host = normalizeHost(split.host);
  if (host.kind === 'invalid') return { ok: false, error: `${flag} ${shown}: ${host.why}` };
  if (host.kind === 'name' && host.name.includes('_')) {
    return { ok: false, error: `${flag} ${shown}: "_" is not allowed in a proxy host name` };
  }
  const name = host.kind === 'ip' ? host.address : host.name;
  const authority = hostPort(name, split.port);
  return { ok: true, value: { host: name, port: split.port, authority, url: `http://${authority}` } };
}

/**
 * A proxy bypass entry as WinHTTP and Defender Antivirus take it: a host name, a leading
 * `*.` wildcard, an IPv4 address or prefix with `*`, or `<local>` (names without a dot).
 */
export function parseBypassEntry(text: string, flag = '--bypass'): ParseResult<string> {
  const shown = JSON.stringify(text);
  if (text === '<local>') return { ok: true, value: text };
  const expected = 'expected a host name, *.domain, an IPv4 pattern such as 10.*, or <local>';
  if (text.length === 0) return { ok: false, error: `${flag} ${shown}: empty; ${expected}` };
  const bad = firstForbidden(text, /[A-Za-z0-9.*_-]/);
  if (bad !== null) return { ok: false, error: `${flag} ${shown}: ${bad} is not allowed; ${expected}` };
  const name = /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
  const ipv4 = /^[0-9]{1,3}(\.([0-9]{1,3}|\*)){0,3}$/;
  if (!name.test(text) && !ipv4.test(text)) {
    return {
      ok: false,
      error: `${flag} ${shown}: a wildcard is only allowed as a leading "*." label or an IPv4 octet, and labels cannot be empty`,
    };
  }
  return { ok: true, value: text.toLowerCase() };
}

const URL_CHARS = /[A-Za-z0-9._~:/?#@&=+,;!*()[\]-]/;

/** An http(s) URL for Defender Antivirus' ProxyPacUrl: no quotes, `$`, `%`, backticks or spaces. */
export function parsePacUrl(text: string, flag = '--pac-url'): ParseResult<string> {
  const shown = JSON.stringify(text);
  const bad = firstForbidden(text, URL_CHARS);
  if (bad !== null) return { ok: false, error: `${flag} ${shown}: ${bad} is not allowed in the PAC URL` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: `${flag} ${shown}: not a URL (e.g. http://gw1.contoso.com:8081/proxy.pac)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `${flag} ${shown}: must start with http:// or https://` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, error: `${flag} ${shown}: credentials do not belong in a PAC URL` };
  }
  return { ok: true, value: text };
}

/** Azure Arc proxy bypass groups (arc-proxy). */
export const ARC_BYPASS_GROUPS = ['AAD', 'ARM', 'Arc', 'AMA', 'ArcData'] as const;
export type ArcBypassGroup = (typeof ARC_BYPASS_GROUPS)[number];

export function parseArcBypass(text: string, flag = '--arc-bypass'): ParseResult<ArcBypassGroup> {
  const found = ARC_BYPASS_GROUPS.find((g) => g.toLowerCase() === text.trim().toLowerCase());
  if (found === undefined) {
    return {
      ok: false,
      error: `${flag} ${JSON.stringify(text)}: not an Azure Arc bypass group (one of ${ARC_BYPASS_GROUPS.join(', ')})`,
    };
  }
  return { ok: true, value: found };
}
