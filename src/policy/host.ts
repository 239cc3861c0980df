import { domainToASCII } from 'node:url';
import { ipaddr } from '../deps/ipaddr.js';

/** A destination host after normalisation: a DNS name in lowercase punycode, or an IP literal. */
export type NormalizedHost =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'ip'; readonly address: string; readonly family: 4 | 6 }
  | { readonly kind: 'invalid'; readonly why: string };

const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const ASCII_NAME = /^[a-z0-9._-]+$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;
/** ASCII characters other than letters, digits, dot, hyphen and underscore: never part of a name, never handed to the IDN converter. */
// eslint-disable-next-line no-control-regex -- control bytes are exactly what must be refused
const FORBIDDEN_ASCII = /[\u0000-\u002c\u002f\u003a-\u0040\u005b-\u005e\u0060\u007b-\u007f]/;
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/i;

function invalid(why: string): NormalizedHost {
  return { kind: 'invalid', why };
}

function ipLiteral(text: string): NormalizedHost {
  const parsed = ipaddr.parse(text);
  return parsed.kind() === 'ipv4'
    ? { kind: 'ip', address: parsed.toString(), family: 4 }
    : { kind: 'ip', address: parsed.toString(), family: 6 };
}

/**
 * Normalises a host as a client wrote it (request target, CONNECT authority, Host header,
 * allowlist entry): case folded, one trailing dot removed, IDN converted to punycode,
 * IPv4 in any inet_aton spelling and bracketed IPv6 recognised as IP literals, and every
 * label checked. A name whose last label is numeric is never treated as a DNS name,
 * because resolvers would read it as an address ("2130706433" is 127.0.0.1).
 */
export function normalizeHost(input: string): NormalizedHost {
  if (input.length === 0) return invalid('empty host');
  if (input.length > MAX_NAME_LENGTH + 4) return invalid('host is longer than 253 characters');

  if (input.charCodeAt(0) === 0x5b /* [ */) {
    if (!input.endsWith(']')) return invalid('unterminated IPv6 literal');
    const inner = input.slice(1, -1);
    if (inner.includes('%')) return invalid('IPv6 zone identifiers are not allowed');
    if (!ipaddr.IPv6.isValid(inner)) return invalid('malformed IPv6 literal');
    return ipLiteral(inner);
  }
  if (input.includes(':')) {
    if (ipaddr.IPv6.isValid(input) && !input.includes('%')) return ipLiteral(input);
    return invalid('unexpected ":" in host');
  }

  const host = input.endsWith('.') ? input.slice(0, -1) : input;
  if (host.length === 0 || host.endsWith('.')) return invalid('host ends with an empty label');

  let lower = host.toLowerCase();
  if (!ASCII_NAME.test(lower)) {
    if (FORBIDDEN_ASCII.test(host)) return invalid('host contains characters not allowed in a DNS name');
    const ascii = domainToASCII(host);
    if (ascii === '') return invalid('not a valid internationalised domain name');
    lower = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
    if (!ASCII_NAME.test(lower)) return invalid('host contains characters not allowed in a DNS name');
  }

  const lastDot = lower.lastIndexOf('.');
  const lastLabel = lastDot === -1 ? lower : lower.slice(lastDot + 1);
  if (NUMERIC_LABEL.test(lastLabel)) {
    if (ipaddr.IPv4.isValid(lower)) return ipLiteral(lower);
    return invalid('numeric host is not a valid IPv4 address');
  }

  if (lower.length > MAX_NAME_LENGTH) return invalid('host is longer than 253 characters');
  let start = 0;
  for (;;) {
    const dot = lower.indexOf('.', start);
    const end = dot === -1 ? lower.length : dot;
    const label = lower.slice(start, end);
    if (label.length === 0) return invalid('host has an empty label');
    if (label.length > MAX_LABEL_LENGTH) return invalid('a label is longer than 63 characters');
    if (!LABEL.test(label)) return invalid(`label "${label}" is not a valid DNS label`);
    if (dot === -1) break;
    start = dot + 1;
  }
  return { kind: 'name', name: lower };
}

/** Splits "host:port" / "[v6]:port" (authority form). Returns null unless both parts are present and the port is 1-65535. */
export function splitAuthority(authority: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1 || authority.charCodeAt(close + 1) !== 0x3a /* : */) return null;
    host = authority.slice(0, close + 1);
    portText = authority.slice(close + 2);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) return null;
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) return null;
  }
  const port = parsePort(portText);
  return port === null ? null : { host, port };
}

const PORT = /^[0-9]{1,5}$/;

export function parsePort(text: string): number | null {
  if (!PORT.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}
