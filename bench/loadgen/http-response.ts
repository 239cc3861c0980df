/**
 * An incremental HTTP/1.x response reader for the load generator: it only frames responses
 * (status, body length, keep-alive) and counts body bytes; it keeps no body.
 */

export interface ResponseDone {
  readonly status: number;
  readonly bodyBytes: number;
  /** Whether the connection may carry another request. */
  readonly keepAlive: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 65_536;

type State =
  | { s: 'head' }
  | { s: 'length'; remaining: number }
  | { s: 'close' }
  | { s: 'chunk-size' }
  | { s: 'chunk-data'; remaining: number }
  | { s: 'chunk-crlf' }
  | { s: 'trailer' };

export class ResponseReader {
  private state: State = { s: 'head' };
  private pending: Buffer = Buffer.alloc(0);
  private status = 0;
  private keepAlive = true;
  private bodyBytes = 0;

  /** True between responses (nothing of the next one read yet). */
  get idle(): boolean {
    return this.state.s === 'head' && this.pending.length === 0;
  }

  /** Feeds bytes; returns every response they complete. Throws on a malformed response. */
  push(chunk: Buffer): ResponseDone[] {
    const done: ResponseDone[] = [];
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      const st = this.state;
      switch (st.s) {
        case 'head': {
          const end = data.indexOf(CRLFCRLF);
          if (end < 0) {
            if (data.length > MAX_HEAD) throw new Error('response head too large');
            this.pending = data;
            return done;
          }
          this.startResponse(data.subarray(0, end).toString('latin1'));
          data = data.subarray(end + 4);
          if (this.state.s === 'length' && this.state.remaining === 0) done.push(this.finish());
          break;
        }
        case 'length': {
          const take = Math.min(st.remaining, data.length);
          st.remaining -= take;
          this.bodyBytes += take;
          data = data.subarray(take);
          if (st.remaining === 0) done.push(this.finish());
          break;
        }
        case 'close':
          this.bodyBytes += data.length;
          return done;
        case 'chunk-size': {
          const eol = data.indexOf('\r\n');
          if (eol < 0) {
            if (data.length > 1024) throw new Error('chunk size line too long');
            this.pending = data;
            return done;
          }
          const size = Number.parseInt(data.subarray(0, eol).toString('latin1').split(';')[0]!.trim(), 16);
          if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
          data = data.subarray(eol + 2);
          this.state = size === 0 ? { s: 'trailer' } : { s: 'chunk-data', remaining: size };
          break;
        }
        case 'chunk-data': {
          const take = Math.min(st.remaining, data.length);
          st.remaining -= take;
          this.bodyBytes += take;
          data = data.subarray(take);
          if (st.remaining === 0) this.state = { s: 'chunk-crlf' };
          break;
        }
        case 'chunk-crlf': {
          if (data.length < 2) {
            this.pending = data;
            return done;
          }
          if (data[0] !== 13 || data[1] !== 10) throw new Error('missing CRLF after chunk');
          data = data.subarray(2);
          this.state = { s: 'chunk-size' };
          break;
        }
        case 'trailer': {
          const eol = data.indexOf('\r\n');
          if (eol < 0) {
            this.pending = data;
            return done;
          }
          data = data.subarray(eol + 2);
          if (eol === 0) done.push(this.finish());
          break;
        }
      }
    }
    return done;
  }

  /** The connection ended: completes a close-delimited body, or throws if a response was cut. */
  end(): ResponseDone | null {
    if (this.state.s === 'close') return this.finish(false);
    if (this.idle) return null;
    throw new Error('connection closed inside a response');
  }

  private startResponse(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error(`bad status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const minor = m[1]!;
    this.status = Number(m[2]);
    this.bodyBytes = 0;
    let length: number | null = null;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error('bad header line');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) throw new Error('bad content-length');
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === 'connection') connection = value.toLowerCase();
    }
    this.keepAlive = minor === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const bodiless = this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200);
    if (bodiless) this.state = { s: 'length', remaining: 0 };
    else if (chunked) this.state = { s: 'chunk-size' };
    else if (length !== null) this.state = { s: 'length', remaining: length };
    else {
      this.state = { s: 'close' };
      this.keepAlive = false;
    }
  }

  private finish(keepAlive = this.keepAlive): ResponseDone {
    const out = { status: this.status, bodyBytes: this.bodyBytes, keepAlive };
    this.state = { s: 'head' };
    this.status = 0;
    this.bodyBytes = 0;
    return out;
  }
}
