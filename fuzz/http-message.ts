/**
 * Fuzz target `http-message`: the gateway's own HTTP/1.1 message parsing (request heads,
 * response heads, bodies), judged against Node's llhttp as an independent oracle. Whatever the
 * gateway accepts, llhttp (in its strict default mode) must read the same way: the same method,
 * target, version, header fields and framing, and the same body ending at the same byte. A
 * message the gateway reads differently from a real HTTP implementation is where request
 * smuggling starts, so any such difference is a finding. The gateway may refuse more than
 * llhttp does; it may not accept anything llhttp reads differently.
 */
import { createRequire } from 'node:module';
import { parseConnectTarget, parseHttpTarget } from '../src/gateway/request-target.js';
import { normalizeHost } from '../src/policy/host.js';
import type * as BodyModule from '../src/gateway/http-body.js';
import type * as HeadModule from '../src/gateway/http-head.js';

export interface MessageViolation {
  readonly signature: string;
  readonly message: string;
}

interface LlhttpParser {
  initialize(type: number, resource: object): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  [key: number]: unknown;
}

interface LlhttpModule {
  HTTPParser: {
    new (): LlhttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kOnHeaders: number;
  };
  methods: string[];
}

const llhttp = createRequire(import.meta.url)('_http_common') as LlhttpModule;

interface OracleMessage {
  method: string | null;
  url: string | null;
  status: number | null;
  reason: string | null;
  minor: number;
  headers: string[];
  body: Buffer[];
  complete: boolean;
  /** Bytes llhttp consumed until the first message completed (-1 if it did not). */
  end: number;
}

/** llhttp's reading of `data`: the first message, with its head, body and where it ended. */
function oracle(kind: 'request' | 'response', data: Buffer, headOnlyRequest = false): OracleMessage | Error {
  const { HTTPParser } = llhttp;
  const parser = new HTTPParser();
  parser.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {});
  const message: OracleMessage = {
    method: null,
    url: null,
    status: null,
    reason: null,
    minor: 1,
    headers: [],
    body: [],
    complete: false,
    end: -1,
  };
  let headDone = false;
  // Called for header fields llhttp had to flush early, and for trailers (after the head).
  parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
    if (!headDone) message.headers.push(...headers);
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    status: number,
    reason: string | undefined,
  ): number => {
    if (headers) message.headers.push(...headers);
    headDone = true;
    message.minor = minor;
    message.method = method === undefined ? null : (llhttp.methods[method] ?? null);
    message.url = url ?? null;
    message.status = kind === 'response' ? status : null;
    message.reason = reason ?? null;
    // 1: the response to a HEAD request has no body.
    return headOnlyRequest ? 1 : 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => message.body.push(Buffer.from(chunk));
  parser[HTTPParser.kOnMessageComplete] = () => {
    message.complete = true;
  };
  // One byte at a time, to learn exactly where the first message ends.
  for (let i = 0; i < data.length; i++) {
    const result = parser.execute(data.subarray(i, i + 1));
    if (result instanceof Error) return message.complete ? message : result;
    if (message.complete) {
      message.end = i + 1;
      return message;
    }
  }
  return message;
}

/** Whether the gateway refuses this request target (it is never forwarded). */
function targetRefused(method: string, url: string): boolean {
  const target = method === 'CONNECT' ? parseConnectTarget(url) : parseHttpTarget(url);
  return 'error' in target || normalizeHost(target.host).kind === 'invalid';
}

const trimmed = (values: readonly string[]): string[] =>
  values.map((v, i) => (i % 2 === 1 ? v.replace(/^[ \t]+|[ \t]+$/g, '') : v.toLowerCase()));

/** Runs one input through every property; returns the first violation, or null. */
export function checkMessage(
  input: Buffer,
  head: typeof HeadModule,
  body: typeof BodyModule,
): MessageViolation | null {
  const limits = { maxBytes: 8192, maxHeaders: 100 };
  const asResponse = input[0] === 0x48 /* H */ && input[1] === 0x54; /* T */
  const parsed = asResponse ? head.parseResponseHead(input, limits) : head.parseRequestHead(input, limits);

  // Segmentation: a request head resumed from any earlier incomplete prefix reads the same.
  if (!asResponse && parsed.status !== 'incomplete') {
    for (const cut of [1, Math.floor(input.length / 2), input.length - 1]) {
      if (cut <= 0 || cut >= input.length) continue;
      const prefix = head.parseRequestHead(input.subarray(0, cut), limits);
      if (prefix.status !== 'incomplete') continue;
      const resumed = head.parseRequestHead(input, limits, cut);
      if (JSON.stringify(resumed) !== JSON.stringify(parsed))
        return {
          signature: 'head-resume',
          message: `resumed at ${cut}: ${JSON.stringify(resumed)} vs ${JSON.stringify(parsed)}`,
        };
    }
  }
  if (parsed.status !== 'ok') return null;
  const h = parsed.head;
  if (h.length > input.length)
    return { signature: 'head-length', message: `length ${h.length} > ${input.length}` };

  // Framing as the gateway will use it: what the body is and where it ends.
  const isRequest = !asResponse;
  const method = isRequest ? (h as HeadModule.RequestHead).method : 'GET';
  // llhttp knows a fixed list of methods; an unknown token is not a disagreement about framing.
  if (isRequest && !llhttp.methods.includes(method)) return null;
  const status = asResponse ? (h as HeadModule.ResponseHead).status : 0;
  // Interim responses are skipped by the gateway (the real one follows), not framed.
  if (asResponse && status < 200) return null;
  // 204 and 304 have no body whatever their headers say, as the forwarder frames them.
  const framing: BodyModule.BodyFraming =
    status === 204 || status === 304
      ? { kind: 'none' }
      : h.chunked
        ? { kind: 'chunked' }
        : h.contentLength !== null
          ? { kind: 'length', length: h.contentLength }
          : isRequest
            ? { kind: 'none' }
            : { kind: 'close' };
  const pieces: Buffer[] = [];
  const reader = new body.BodyReader(framing, (p) => pieces.push(Buffer.from(p)));
  const rest = input.subarray(h.length);
  const fed = reader.feed(rest);
  const ours = Buffer.concat(pieces);

  const theirs = oracle(isRequest ? 'request' : 'response', input);
  if (theirs instanceof Error) {
    // Ours accepted a head llhttp refuses: a disagreement unless ours then refused the body too,
    // or the gateway refuses the request target anyway (llhttp checks URL syntax, the head
    // parser leaves that to the target parser).
    if (fed.error !== null) return null;
    const code = String((theirs as { code?: string }).code);
    if (/HPE_INVALID_METHOD/.test(code)) return null;
    if (
      isRequest &&
      /HPE_INVALID_URL/.test(code) &&
      targetRefused(method, (h as HeadModule.RequestHead).target)
    )
      return null;
    return {
      signature: 'accepted-refused',
      message: `llhttp: ${code} ${theirs.message}; ours: ${JSON.stringify(h)}`,
    };
  }
  if (isRequest) {
    const r = h as HeadModule.RequestHead;
    if (theirs.method !== r.method || theirs.url !== r.target)
      return {
        signature: 'request-line',
        message: `${theirs.method} ${theirs.url} vs ${r.method} ${r.target}`,
      };
  } else {
    const r = h as HeadModule.ResponseHead;
    if (theirs.status !== r.status)
      return { signature: 'status', message: `${String(theirs.status)} vs ${r.status}` };
  }
  if (theirs.minor !== h.minor) return { signature: 'version', message: `${theirs.minor} vs ${h.minor}` };
  if (JSON.stringify(trimmed(theirs.headers)) !== JSON.stringify(trimmed(h.headers)))
    return {
      signature: 'headers',
      message: `${JSON.stringify(theirs.headers)} vs ${JSON.stringify(h.headers)}`,
    };
  // After a CONNECT head the bytes are the tunnel's, never a body: the gateway reads no framing
  // there, and llhttp stops at the head (an upgrade). Nothing to compare.
  if (isRequest && method === 'CONNECT') return null;
  if (fed.error !== null) return null; // ours refused the body: nothing was passed on
  if (!fed.done) return null; // more bytes would be needed (or until close): nothing to compare yet
  const theirBody = Buffer.concat(theirs.body);
  if (!theirs.complete)
    return {
      signature: 'body-end',
      message: `ours ended the body after ${fed.consumed} bytes; llhttp did not`,
    };
  if (!theirBody.equals(ours))
    return {
      signature: 'body-bytes',
      message: `${JSON.stringify(theirBody.toString('latin1'))} vs ${JSON.stringify(ours.toString('latin1'))}`,
    };
  if (theirs.end !== -1 && theirs.end !== h.length + fed.consumed)
    return {
      signature: 'message-end',
      message: `llhttp ended at ${theirs.end}, ours at ${h.length + fed.consumed}`,
    };
  return null;
}
