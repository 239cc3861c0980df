import type { ReasonCode } from '../errors/index.js';

/**
 * Strict HTTP/1.x message heads (RFC 9112), for requests from clients and responses from
 * upstreams. Pure and total: any bytes give a result, never an exception. Strict where
 * leniency lets two parsers disagree about where a message ends (request smuggling): bare LF,
 * obs-fold, whitespace before a colon, control characters, a Content-Length that is not one
 * plain number, Transfer-Encoding other than exactly `chunked`, both at once, and a
 * Connection header that names a framing header are all refused.
 */

/** What both kinds of head share. */
export interface HeadFields {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  /** Raw header list as received: [name, value, name, value, ...] (values trimmed). */
  readonly headers: readonly string[];
  /** Content-Length, when the message has one. */
  readonly contentLength: number | null;
  /** True when the body is chunked (Transfer-Encoding: chunked). */
  readonly chunked: boolean;
  /** Lower-cased tokens of the Connection header(s). */
  readonly connection: readonly string[];
  /** Whether the sender wants the connection kept open after this message. */
  readonly keepAlive: boolean;
  /** Bytes of the head, final CRLF included. */
  readonly length: number;
}

export interface RequestHead extends HeadFields {
  readonly method: string;
  readonly target: string;
  /** The Host header's value, null when absent. */
  readonly host: string | null;
}

export interface ResponseHead extends HeadFields {
  readonly status: number;
  readonly reason: string;
}

export type HeadResult<T> =
  | { readonly status: 'incomplete' }
  | { readonly status: 'ok'; readonly head: T }
  | { readonly status: 'error'; readonly reason: ReasonCode; readonly why: string };

export interface HeadLimits {
  /** Largest head accepted, in bytes. */
  readonly maxBytes: number;
  /** Most header fields accepted. */
  readonly maxHeaders: number;
}

const INCOMPLETE = { status: 'incomplete' } as const;

/** Longest method accepted (the longest registered HTTP method is 17 characters). */
const MAX_METHOD = 32;

function error(reason: ReasonCode, why: string): { status: 'error'; reason: ReasonCode; why: string } {
  return { status: 'error', reason, why };
}

/** tchar (RFC 9110 §5.6.2): the characters of methods and header names. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Field-value characters: VCHAR, obs-text, SP and HTAB. */
const VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
VALUE[0x09] = 1;

/** Request-target characters: visible ASCII only (no spaces, no controls, no obs-text). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

/** Where the head ends (index after CRLF CRLF), or -1 if not yet. */
function headEnd(data: Buffer, from: number): number {
  const end = data.indexOf('\r\n\r\n', from, 'latin1');
  return end === -1 ? -1 : end + 4;
}

/** A bare LF (not after a CR) in data[from..], which no valid head can contain. */
function bareLf(data: Buffer, from: number): boolean {
  for (let lf = data.indexOf(0x0a, from); lf !== -1; lf = data.indexOf(0x0a, lf + 1)) {
    if (lf === 0 || data[lf - 1] !== 0x0d) return true;
  }
  return false;
}

interface Fields {
  headers: string[];
  contentLength: number | null;
  chunked: boolean;
  connection: string[];
  hosts: number;
  host: string | null;
}

/**
 * Parses the header lines of `text` from `pos` to the blank line. Returns the fields, or an
 * error. `text` ends with the head's CRLF CRLF.
 */
function parseFields(
  text: string,
  pos: number,
  limits: HeadLimits,
  request: boolean,
): Fields | { status: 'error'; reason: ReasonCode; why: string } {
  const bad: ReasonCode = request ? 'BAD_REQUEST' : 'FAIL_UPSTREAM_PROTOCOL';
  const framing: ReasonCode = request ? 'BAD_FRAMING' : 'FAIL_UPSTREAM_PROTOCOL';
  const out: Fields = {
    headers: [],
    contentLength: null,
    chunked: false,
    connection: [],
    hosts: 0,
    host: null,
  };
  let transferEncodings = 0;
  const n = text.length;
  while (pos < n) {
    const eol = text.indexOf('\r\n', pos);
    if (eol === pos) return out; // the blank line
    if (out.headers.length >= limits.maxHeaders * 2)
      return error(request ? 'HEAD_TOO_LARGE' : bad, `more than ${limits.maxHeaders} header fields`);
    const first = text.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) return error(bad, 'obsolete line folding');
    let i = pos;
    while (i < eol && TCHAR[text.charCodeAt(i)] === 1) i++;
    if (i === pos || text.charCodeAt(i) !== 0x3a /* : */)
      return error(bad, 'malformed header line (name must be a token followed directly by a colon)');
    const name = text.slice(pos, i);
    i++;
    // Value: OWS, content, OWS; only value characters (a CR or LF here is a bare one).
    let start = i;
    while (start < eol && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
    let end = eol;
    while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
    for (let k = start; k < end; k++) {
      if (VALUE[text.charCodeAt(k)] !== 1) return error(bad, `control character in header ${name}`);
    }
    const value = text.slice(start, end);
    out.headers.push(name, value);
    switch (name.length) {
      case 4:
        if (request && name.toLowerCase() === 'host') {
          out.hosts++;
          out.host = value;
        }
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          for (const token of value.split(',')) {
            const t = token.trim().toLowerCase();
            if (t !== '') out.connection.push(t);
          }
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (out.contentLength !== null) return error(framing, 'more than one Content-Length');
          if (tabAfter(text, end, eol)) return error(framing, 'a tab after the Content-Length value');
          if (!/^[0-9]{1,15}$/.test(value))
            return error(framing, `Content-Length "${value}" is not a number`);
          out.contentLength = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncodings++;
          if (tabAfter(text, end, eol)) return error(framing, 'a tab after the Transfer-Encoding value');
          if (transferEncodings > 1 || value.toLowerCase() !== 'chunked')
            return error(framing, `Transfer-Encoding "${value}" (only a single "chunked" is accepted)`);
          out.chunked = true;
        }
        break;
    }
    pos = eol + 2;
  }
  return error(bad, 'head ended without a blank line');
}

/**
 * Whitespace after a framing field's value holds a tab. HTTP allows a tab there, but llhttp
 * (Node.js's parser, and so many origins) refuses Content-Length and Transfer-Encoding with one:
 * a gateway that framed such a message would read it where they refuse it, so it refuses too.
 */
function tabAfter(text: string, end: number, eol: number): boolean {
  for (let k = end; k < eol; k++) if (text.charCodeAt(k) === 0x09) return true;
  return false;
}

/** Framing rules both directions share; null when the fields are consistent. */
function framingError(
  fields: Fields,
  minor: 0 | 1,
  request: boolean,
): { status: 'error'; reason: ReasonCode; why: string } | null {
  const framing: ReasonCode = request ? 'BAD_FRAMING' : 'FAIL_UPSTREAM_PROTOCOL';
  if (fields.chunked && fields.contentLength !== null)
    return error(framing, 'both Content-Length and Transfer-Encoding');
  if (fields.chunked && minor === 0) return error(framing, 'Transfer-Encoding in an HTTP/1.0 message');
  for (const token of fields.connection) {
    if (token === 'content-length' || token === 'transfer-encoding' || token === 'host')
      return error(framing, `Connection header names ${token}, which is never hop-by-hop`);
  }
  return null;
}

function keepAlive(minor: 0 | 1, connection: readonly string[]): boolean {
  if (connection.includes('close')) return false;
  return minor === 1 || connection.includes('keep-alive');
}

/** Reads "HTTP/1.x" at `pos`; returns the minor version, or -1 (not HTTP/1.x), or -2 (another major). */
function version(text: string, pos: number): number {
  if (!text.startsWith('HTTP/', pos)) return -1;
  const major = text.charCodeAt(pos + 5);
  const dot = text.charCodeAt(pos + 6);
  const minor = text.charCodeAt(pos + 7);
  if (major < 0x30 || major > 0x39 || dot !== 0x2e || minor < 0x30 || minor > 0x39) return -1;
  if (major !== 0x31) return -2;
  return minor - 0x30;
}

/**
 * A request head at the start of `data`. Up to four empty lines before the request line are
 * skipped (RFC 9112 §2.2). `incomplete` until the blank line arrives, or an error once the
 * head cannot be valid or exceeds the limits. `scanned` is how many bytes an earlier call
 * already saw incomplete: the search resumes there, so a head that trickles in byte by byte
 * costs linear time, not quadratic.
 */
export function parseRequestHead(data: Buffer, limits: HeadLimits, scanned = 0): HeadResult<RequestHead> {
  let skip = 0;
  while (skip < 8 && data[skip] === 0x0d && data[skip + 1] === 0x0a) skip += 2;
  const end = headEnd(data, Math.max(skip, scanned - 3));
  if (end === -1) {
    if (data.length > limits.maxBytes) return error('HEAD_TOO_LARGE', `head over ${limits.maxBytes} bytes`);
    // What can never become valid is refused now rather than at the size limit or the
    // timeout: a bare LF, or a method that is not a short token (TLS sent to the proxy port).
    if (bareLf(data, Math.max(skip, scanned - 1))) return error('BAD_REQUEST', 'bare LF');
    if (scanned <= skip + MAX_METHOD) {
      for (let k = skip; k < data.length && k <= skip + MAX_METHOD; k++) {
        const c = data[k]!;
        if (c === 0x20 && k > skip) break;
        if (TCHAR[c] !== 1 || k === skip + MAX_METHOD) return error('BAD_REQUEST', 'malformed request line');
      }
    }
    return INCOMPLETE;
  }
  if (end > limits.maxBytes) return error('HEAD_TOO_LARGE', `head over ${limits.maxBytes} bytes`);
  const text = data.toString('latin1', 0, end);
  const lineEnd = text.indexOf('\r\n', skip);
  // Request line: method SP target SP HTTP/1.x
  let i = skip;
  while (i < lineEnd && TCHAR[text.charCodeAt(i)] === 1) i++;
  if (i === skip || text.charCodeAt(i) !== 0x20) return error('BAD_REQUEST', 'malformed request line');
  const method = text.slice(skip, i);
  const targetStart = ++i;
  while (i < lineEnd && TARGET[text.charCodeAt(i)] === 1) i++;
  if (i === targetStart || text.charCodeAt(i) !== 0x20) return error('BAD_REQUEST', 'malformed request line');
  // A string of its own, not a slice of the head's text: a CONNECT host cut from it may live as
  // long as the tunnel, and a slice would keep the whole head alive with it.
  const target = data.toString('latin1', targetStart, i);
  const v = version(text, i + 1);
  if (v === -2) return error('BAD_VERSION', 'only HTTP/1.0 and HTTP/1.1 are spoken here');
  if (v < 0 || i + 9 !== lineEnd) return error('BAD_REQUEST', 'malformed request line');
  if (v > 1) return error('BAD_VERSION', 'only HTTP/1.0 and HTTP/1.1 are spoken here');
  const minor = v as 0 | 1;
  const fields = parseFields(text, lineEnd + 2, limits, true);
  if ('status' in fields) return fields;
  if (fields.hosts > 1) return error('BAD_HOST_HEADER', 'more than one Host header');
  const framing = framingError(fields, minor, true);
  if (framing !== null) return framing;
  return {
    status: 'ok',
    head: {
      method,
      target,
      minor,
      headers: fields.headers,
      host: fields.host,
      contentLength: fields.contentLength,
      chunked: fields.chunked,
      connection: fields.connection,
      keepAlive: keepAlive(minor, fields.connection),
      length: end,
    },
  };
}

/**
 * A response head at the start of `data`: HTTP/1.x, a three-digit status from 100 to 599, a
 * reason phrase of printable characters only. Anything else is FAIL_UPSTREAM_PROTOCOL, so no
 * upstream can make the gateway write a malformed status line to its client.
 */
export function parseResponseHead(data: Buffer, limits: HeadLimits): HeadResult<ResponseHead> {
  const end = headEnd(data, 0);
  if (end === -1) {
    if (data.length > limits.maxBytes)
      return error('FAIL_UPSTREAM_PROTOCOL', `response head over ${limits.maxBytes} bytes`);
    return INCOMPLETE;
  }
  if (end > limits.maxBytes)
    return error('FAIL_UPSTREAM_PROTOCOL', `response head over ${limits.maxBytes} bytes`);
  const text = data.toString('latin1', 0, end);
  const lineEnd = text.indexOf('\r\n');
  const v = version(text, 0);
  if (v < 0 || v > 1 || text.charCodeAt(8) !== 0x20)
    return error('FAIL_UPSTREAM_PROTOCOL', 'malformed status line');
  const digits = text.slice(9, 12);
  if (!/^[1-5][0-9][0-9]$/.test(digits)) return error('FAIL_UPSTREAM_PROTOCOL', `status "${digits}"`);
  let reason = '';
  if (lineEnd > 12) {
    if (text.charCodeAt(12) !== 0x20) return error('FAIL_UPSTREAM_PROTOCOL', 'malformed status line');
    reason = text.slice(13, lineEnd);
    for (let k = 0; k < reason.length; k++) {
      const c = reason.charCodeAt(k);
      if (VALUE[c] !== 1) return error('FAIL_UPSTREAM_PROTOCOL', 'control character in the reason phrase');
    }
  }
  const minor = v as 0 | 1;
  const fields = parseFields(text, lineEnd + 2, limits, false);
  if ('status' in fields) return fields;
  const framing = framingError(fields, minor, false);
  if (framing !== null) return framing;
  return {
    status: 'ok',
    head: {
      status: Number(digits),
      reason,
      minor,
      headers: fields.headers,
      contentLength: fields.contentLength,
      chunked: fields.chunked,
      connection: fields.connection,
      keepAlive: keepAlive(minor, fields.connection),
      length: end,
    },
  };
}
