/**
 * Message bodies as the gateway reads them: a known length, chunked, or until the sender
 * closes. Incremental (bytes arrive in any pieces) and strict: a chunk-size line that is not
 * hex digits with an optional extension, a missing CRLF after chunk data, or an oversized
 * size line or trailer section is an error, never a guess. Pure and total.
 */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

export const NO_BODY: BodyFraming = { kind: 'none' };
export const CHUNKED: BodyFraming = { kind: 'chunked' };
export const UNTIL_CLOSE: BodyFraming = { kind: 'close' };

/** What one `feed` did with its input. */
export interface FeedResult {
  /** Bytes of the input that belong to this body (the rest is the next message's). */
  readonly consumed: number;
  /** The body is complete. */
  readonly done: boolean;
  /** Set when the body is malformed; nothing more can be read. */
  readonly error: string | null;
}

const MAX_SIZE_LINE = 1024;
const MAX_TRAILERS = 8192;
const MAX_CHUNK_HEX_DIGITS = 12;

const enum State {
  Size,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
  Failed,
}

/** Body bytes only (chunk framing removed) go to `onData`, in order, as sub-arrays of the input. */
export type BodyData = (piece: Buffer) => void;

/**
 * Reads one body with the given framing. `feed(chunk)` hands each data piece to `onData` and
 * says how much of `chunk` was the body's; `finish()` is called when the sender closed, and
 * says whether that was a proper end.
 */
export class BodyReader {
  private remaining: number;
  private state: State;
  private line = 0;
  private size = 0;
  private sizeDigits = 0;
  private ext = Ext.None;
  private trailerBytes = 0;
  private trailerPart = Trailer.Start;
  private trailerName = '';
  /** Body bytes delivered so far. */
  delivered = 0;

  constructor(
    readonly framing: BodyFraming,
    private readonly onData: BodyData,
  ) {
    this.remaining = framing.kind === 'length' ? framing.length : 0;
    this.state =
      framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)
        ? State.Done
        : framing.kind === 'chunked'
          ? State.Size
          : State.Data;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  feed(chunk: Buffer): FeedResult {
    switch (this.framing.kind) {
      case 'none':
        return { consumed: 0, done: true, error: null };
      case 'close':
        if (chunk.length > 0) this.deliver(chunk);
        return { consumed: chunk.length, done: false, error: null };
      case 'length': {
        if (this.state === State.Done) return { consumed: 0, done: true, error: null };
        const take = Math.min(this.remaining, chunk.length);
        if (take > 0) this.deliver(take === chunk.length ? chunk : chunk.subarray(0, take));
        this.remaining -= take;
        if (this.remaining === 0) this.state = State.Done;
        return { consumed: take, done: this.state === State.Done, error: null };
      }
      case 'chunked':
        return this.feedChunked(chunk);
    }
  }

  /** The sender closed: true when that ends the body properly. */
  finish(): boolean {
    if (this.framing.kind === 'close') this.state = State.Done;
    return this.state === State.Done;
  }

  private deliver(piece: Buffer): void {
    this.delivered += piece.length;
    this.onData(piece);
  }

  private extension(c: number): string | null {
    switch (this.ext) {
      case Ext.BeforeName:
        if (!isToken(c)) return 'malformed chunk extension';
        this.ext = Ext.Name;
        return null;
      case Ext.Name:
        if (isToken(c)) return null;
        if (c === 0x3d /* = */) this.ext = Ext.Equals;
        else if (c === 0x3b /* ; */) this.ext = Ext.BeforeName;
        else return 'malformed chunk extension';
        return null;
      case Ext.AfterValue:
        if (c === 0x3b) this.ext = Ext.BeforeName;
        else return 'malformed chunk extension';
        return null;
      case Ext.Equals:
        if (c === 0x22 /* " */) this.ext = Ext.Quoted;
        else if (isToken(c)) this.ext = Ext.Value;
        else return 'malformed chunk extension';
        return null;
      case Ext.Value:
        if (isToken(c)) return null;
        if (c === 0x3b) this.ext = Ext.BeforeName;
        else return 'malformed chunk extension';
        return null;
      case Ext.Quoted:
        if (c === 0x22) this.ext = Ext.AfterValue;
        else if (c === 0x5c /* backslash */) this.ext = Ext.QuotedEscape;
        else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return 'control character in a chunk extension';
        return null;
      case Ext.QuotedEscape:
        if ((c < 0x20 && c !== 0x09) || c === 0x7f) return 'control character in a chunk extension';
        this.ext = Ext.Quoted;
        return null;
      case Ext.None:
        return null;
    }
  }

  private fail(consumed: number, why: string): FeedResult {
    this.state = State.Failed;
    return { consumed, done: false, error: why };
  }

  private feedChunked(chunk: Buffer): FeedResult {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case State.Size: {
          const c = chunk[i]!;
          if (++this.line > MAX_SIZE_LINE) return this.fail(i, 'chunk size line too long');
          if (c === 0x0d) {
            if (this.sizeDigits === 0) return this.fail(i, 'chunk size missing');
            if (
              this.ext === Ext.BeforeName ||
              this.ext === Ext.Equals ||
              this.ext === Ext.Quoted ||
              this.ext === Ext.QuotedEscape
            )
              return this.fail(i, 'incomplete chunk extension');
            this.state = State.SizeLf;
          } else if (this.ext !== Ext.None) {
            const why = this.extension(c);
            if (why !== null) return this.fail(i, why);
          } else if (c === 0x3b /* ; */) {
            if (this.sizeDigits === 0) return this.fail(i, 'chunk size missing');
            this.ext = Ext.BeforeName;
          } else {
            const digit = hexValue(c);
            if (digit < 0) return this.fail(i, 'chunk size is not hexadecimal');
            if (++this.sizeDigits > MAX_CHUNK_HEX_DIGITS) return this.fail(i, 'chunk size too large');
            this.size = this.size * 16 + digit;
          }
          i++;
          break;
        }
        case State.SizeLf:
          if (chunk[i] !== 0x0a) return this.fail(i, 'bare CR after a chunk size');
          i++;
          this.line = 0;
          this.sizeDigits = 0;
          this.ext = Ext.None;
          if (this.size === 0) {
            this.state = State.Trailer;
            this.trailerPart = Trailer.Start;
          } else {
            this.remaining = this.size;
            this.state = State.Data;
          }
          this.size = 0;
          break;
        case State.Data: {
          const take = Math.min(this.remaining, n - i);
          this.deliver(chunk.subarray(i, i + take));
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (chunk[i] !== 0x0d) return this.fail(i, 'chunk data not followed by CRLF');
          this.state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (chunk[i] !== 0x0a) return this.fail(i, 'chunk data not followed by CRLF');
          this.state = State.Size;
          i++;
          break;
        case State.Trailer: {
          // Trailer fields are checked and dropped; an empty line ends the body.
          const c = chunk[i]!;
          if (++this.trailerBytes > MAX_TRAILERS) return this.fail(i, 'trailer section too large');
          if (c === 0x0d) {
            if (this.trailerPart === Trailer.Name) return this.fail(i, 'malformed trailer field');
            this.state = State.TrailerLf;
          } else if (this.trailerPart === Trailer.Value) {
            if ((c < 0x20 && c !== 0x09) || c === 0x7f) return this.fail(i, 'control character in a trailer');
          } else if (c === 0x3a /* : */ && this.trailerPart === Trailer.Name) {
            if (FORBIDDEN_TRAILERS.has(this.trailerName))
              return this.fail(i, `${this.trailerName} is not allowed in trailers`);
            this.trailerPart = Trailer.Value;
          } else if (isToken(c)) {
            if (this.trailerName.length < 32) this.trailerName += String.fromCharCode(c | 0x20);
            this.trailerPart = Trailer.Name;
          } else {
            return this.fail(i, 'malformed trailer field');
          }
          i++;
          break;
        }
        case State.TrailerLf:
          if (chunk[i] !== 0x0a) return this.fail(i, 'bare CR in the trailer section');
          i++;
          if (this.trailerPart === Trailer.Start) {
            this.state = State.Done;
            return { consumed: i, done: true, error: null };
          }
          this.trailerPart = Trailer.Start;
          this.trailerName = '';
          this.state = State.Trailer;
          break;
        case State.Done:
          return { consumed: i, done: true, error: null };
        case State.Failed:
          return { consumed: i, done: false, error: 'body already failed' };
      }
    }
    return { consumed: i, done: this.state === State.Done, error: null };
  }
}

/**
 * Where a chunk extension is: `*( ";" name [ "=" value ] )` with a token name and a token or
 * quoted-string value (RFC 9112 §7.1.1), without the optional whitespace that RFC allows:
 * like llhttp in its strict mode, the gateway reads no whitespace in a chunk-size line.
 */
const enum Ext {
  None,
  /** After ";", before the name. */
  BeforeName,
  Name,
  /** After "=", before the value. */
  Equals,
  Value,
  Quoted,
  QuotedEscape,
  /** After a quoted value: ";" or the line's end. */
  AfterValue,
}

const enum Trailer {
  Start,
  Name,
  Value,
}

/** Fields that say how to frame or route a message never come in a trailer (RFC 9110 §6.5.1). */
const FORBIDDEN_TRAILERS = new Set(['transfer-encoding', 'content-length', 'host', 'trailer', 'connection']);

function isToken(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * Body bytes to write, in one new buffer: `before` (a response head, or nothing), then the
 * piece as it is or as one chunk of a chunked body (size line, data, CRLF). The piece is copied,
 * so it may be borrowed.
 */
export function bodyOut(piece: Buffer, chunked: boolean, before = ''): Buffer {
  const size = chunked ? `${piece.length.toString(16)}\r\n` : '';
  const start = before.length + size.length;
  const out = Buffer.allocUnsafe(start + piece.length + (chunked ? 2 : 0));
  if (start > 0) out.write(before + size, 0, 'latin1');
  piece.copy(out, start);
  if (chunked) {
    out[out.length - 2] = 0x0d;
    out[out.length - 1] = 0x0a;
  }
  return out;
}

export { LAST_CHUNK };
