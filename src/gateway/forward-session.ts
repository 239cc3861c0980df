import type { AirlockError, ReasonCode } from '../errors/index.js';
import { decide } from '../policy/index.js';
import type { ClientConnection } from './client-connection.js';
import type { DialTicket } from './dialer.js';
import { forwardHeaders } from './headers.js';
import { BodyReader, bodyOut, LAST_CHUNK, type BodyFraming } from './http-body.js';
import { parseResponseHead, type RequestHead, type ResponseHead } from './http-head.js';
import type { GatewayParts } from './parts.js';
import { own } from './read-port.js';
import type { HttpTarget } from './request-target.js';
import { responseFor } from './responses.js';
import { Session } from './session.js';
import type { LinkUser, UpstreamLink } from './upstream-pool.js';

/** Most bytes of a response head, and most header fields, accepted from an upstream. */
const RESPONSE_HEAD_LIMITS = { maxBytes: 65_536, maxHeaders: 200 };

const enum Phase {
  Waiting,
  /** Request sent (or being sent), response head awaited. */
  Sent,
  /** Response head written to the client, body streaming. */
  Streaming,
  Over,
}

/** How the response body is framed towards the client. */
const enum Out {
  /** As received: no body, or Content-Length. */
  Same,
  /** Re-framed as chunked (the upstream's chunked or close-delimited body, HTTP/1.1 client). */
  Chunked,
  /** Until the connection closes (HTTP/1.0 client, unknown length). */
  Close,
}

/**
 * One plain-HTTP request forwarded to its origin on a pooled keep-alive connection. The
 * gateway writes the request head itself (origin-form target, Host from the target, hop-by-hop
 * headers removed) and frames every body explicitly from what it parsed, never from the
 * sender's headers, so no client can make the origin see a different message boundary than
 * the gateway did. The response head is parsed strictly before anything reaches the client.
 */
export class ForwardSession extends Session implements LinkUser {
  private phase = Phase.Waiting;
  private link: UpstreamLink | null = null;
  private readonly ticket: DialTicket = { aborted: false };
  private requestBody: BodyReader | null = null;
  private requestSent = false;
  /** The client half-closed before its request was sent whole: nothing more of it will come. */
  private clientEnded = false;
  private responseBuffer: Buffer | null = null;
  private responseBody: BodyReader | null = null;
  private response: ResponseHead | null = null;
  private out = Out.Same;
  private keepClient = false;
  private retried = false;
  private responseBytes = 0;
  private waitingUpstreamDrain = false;
  private waitingClientDrain = false;
  /** The response head, until it leaves with the first body bytes (or alone). */
  private headOut: string | null = null;
  /** Whether the upstream bytes being read are ours to keep (see ReadPort). */
  private upstreamOwned = false;

  constructor(
    parts: GatewayParts,
    private readonly connection: ClientConnection,
    private readonly head: RequestHead,
    private readonly target: HttpTarget,
    start: number,
  ) {
    super(parts, connection.client, head.method, target.host, target.port, target.path, start);
  }

  open(): void {
    const parts = this.parts;
    parts.sessions.add(this);
    const policy = parts.policy;
    const decision = decide(
      policy,
      { source: this.client.parsed, method: this.method, host: this.target.host, port: this.port },
      parts.mode,
    );
    this.decided(decision);
    if (decision.verdict === 'deny') return this.answerRefusal(decision.reason, true);
    parts.pool.acquire(decision.host, this.port, policy, this.ticket, this.onLink);
  }

  private readonly onLink = (error: AirlockError | null, link: UpstreamLink | null): void => {
    if (link === null) {
      if (this.phase === Phase.Over) return;
      return this.answerRefusal(error?.code ?? 'INTERNAL_ERROR', false, error?.message ?? null);
    }
    if (this.phase === Phase.Over) {
      this.parts.pool.release(link, false);
      return;
    }
    link.user = this;
    link.uses++;
    this.link = link;
    this.upstream = link.peer;
    this.connectMs = link.uses === 1 ? link.connectMs : 0;
    link.socket.setTimeout(this.parts.timeouts.upstreamResponse);
    this.phase = Phase.Sent;
    this.sendRequest(link);
  };

  private sendRequest(link: UpstreamLink): void {
    const head = this.head;
    const socket = link.socket;
    let text = `${head.method} ${this.target.path} HTTP/1.1\r\nHost: ${this.target.authority}\r\n`;
    const fields = forwardHeaders(head.headers, head.connection);
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    let framing: BodyFraming;
    if (head.chunked) {
      text += 'Transfer-Encoding: chunked\r\n';
      framing = { kind: 'chunked' };
    } else if (head.contentLength !== null) {
      text += `Content-Length: ${head.contentLength}\r\n`;
      framing = { kind: 'length', length: head.contentLength };
    } else {
      if (head.method === 'POST') text += 'Content-Length: 0\r\n';
      framing = { kind: 'none' };
    }
    socket.write(`${text}\r\n`, 'latin1');
    const chunked = head.chunked;
    // Pieces are borrowed (see ReadPort): bodyOut copies them.
    this.requestBody = new BodyReader(framing, (piece) => {
      this.bytesFromClient += piece.length;
      if (!socket.write(bodyOut(piece, chunked))) this.waitForUpstreamDrain();
    });
    if (this.requestBody.done) this.requestSent = true;
    else {
      const pending = this.connection.takeBuffered();
      if (pending !== null) {
        // What follows the body (a pipelined request) goes back to wait for its turn.
        const rest = this.feedRequest(pending);
        if (rest !== null) this.connection.putBack(rest);
      }
      if (!this.requestSent && this.clientEnded && this.phase === Phase.Sent) this.endIncomplete();
    }
  }

  private waitForUpstreamDrain(): void {
    const socket = this.link?.socket;
    if (this.waitingUpstreamDrain || socket === undefined || socket.destroyed) return;
    this.waitingUpstreamDrain = true;
    this.connection.socket.pause();
    socket.once('drain', () => {
      this.waitingUpstreamDrain = false;
      if (this.phase !== Phase.Over) this.connection.socket.resume();
    });
  }

  /**
   * Bytes from the client: this request's body, then whatever follows (returned, a part of
   * `chunk`). The bytes are borrowed (see ReadPort).
   */
  onClientData(chunk: Buffer): Buffer | null {
    if (this.requestBody === null || this.requestSent) return chunk;
    return this.feedRequest(chunk);
  }

  private feedRequest(chunk: Buffer): Buffer | null {
    const body = this.requestBody!;
    const result = body.feed(chunk);
    if (result.error !== null) {
      this.refusal = 'BAD_FRAMING';
      this.abortBoth();
      return null;
    }
    if (result.done) {
      if (body.framing.kind === 'chunked') this.link?.socket.write(LAST_CHUNK);
      this.requestSent = true;
    }
    return result.consumed < chunk.length ? chunk.subarray(result.consumed) : null;
  }

  /**
   * The client half-closed its side. A request already whole (no body, or all of it read) is
   * still answered, and the connection closes after the response. One whose body is not whole
   * cannot be completed; while the upstream connection is still coming, the body waits in the
   * client connection, so whether it arrived whole is known only once it is read (sendRequest).
   */
  onClientEnd(): void {
    if (this.requestSent || this.phase === Phase.Over) return;
    this.clientEnded = true;
    if (this.phase !== Phase.Waiting) this.endIncomplete();
  }

  private endIncomplete(): void {
    this.end ??= 'CLIENT_ABORTED';
    this.abortBoth();
  }

  onClientClose(): void {
    if (this.phase === Phase.Over) return;
    this.end ??= 'CLIENT_ABORTED';
    this.ticket.aborted = true;
    this.finish(false);
  }

  onUpstreamData(chunk: Buffer, owned: boolean): void {
    try {
      this.upstreamOwned = owned;
      this.upstreamData(chunk);
    } catch (error) {
      this.parts.faults.report(error);
      this.end ??= 'INTERNAL_ERROR';
      this.abortBoth();
    }
  }

  /** Unless `upstreamOwned`, `chunk` is borrowed (see ReadPort): what is kept or written is copied. */
  private upstreamData(chunk: Buffer): void {
    this.responseBytes += chunk.length;
    if (this.phase === Phase.Sent) {
      const held = this.responseBuffer;
      const borrowed = held === null && !this.upstreamOwned;
      const data = held === null ? chunk : Buffer.concat([held, chunk]);
      let offset = 0;
      for (;;) {
        const parsed = parseResponseHead(offset === 0 ? data : data.subarray(offset), RESPONSE_HEAD_LIMITS);
        if (parsed.status === 'incomplete') {
          const rest = offset === 0 ? data : data.subarray(offset);
          this.responseBuffer = borrowed ? own(rest) : rest;
          return;
        }
        if (parsed.status === 'error') return this.upstreamFailed('FAIL_UPSTREAM_PROTOCOL');
        offset += parsed.head.length;
        const status = parsed.head.status;
        if (status === 101) return this.upstreamFailed('FAIL_UPSTREAM_PROTOCOL');
        if (status < 200) continue; // interim responses (100 Continue, 103) are not passed on
        this.responseBuffer = null;
        const rest = data.subarray(offset);
        this.respond(parsed.head, rest.length);
        // (A response without a body completed in respond().)
        if (rest.length === 0 || (this.phase as Phase) !== Phase.Streaming) return this.flushHead();
        // The head leaves with the body bytes that came with it, in one buffer (a small
        // response: one write, one segment and one wake-up of the client); the end of a
        // chunked body joins them (corked).
        const client = this.connection.socket;
        const cork = this.out === Out.Chunked;
        if (cork) client.cork();
        try {
          this.feedResponse(rest);
          this.flushHead();
        } finally {
          if (cork) client.uncork();
        }
        return;
      }
    }
    if (this.phase === Phase.Streaming) this.feedResponse(chunk);
  }

  /** `following`: bytes that came after the head in the same read. */
  private respond(response: ResponseHead, following: number): void {
    const head = this.head;
    const client = this.connection.socket;
    this.response = response;
    const noBody = head.method === 'HEAD' || response.status === 204 || response.status === 304;
    const framing: BodyFraming = noBody
      ? { kind: 'none' }
      : response.chunked
        ? { kind: 'chunked' }
        : response.contentLength !== null
          ? { kind: 'length', length: response.contentLength }
          : { kind: 'close' };
    this.out =
      framing.kind === 'chunked' || framing.kind === 'close'
        ? head.minor === 1
          ? Out.Chunked
          : Out.Close
        : Out.Same;
    this.keepClient = this.requestSent && this.out !== Out.Close && this.connection.canContinue(head);
    let text = `HTTP/1.1 ${response.status} ${response.reason}\r\n`;
    const fields = forwardHeaders(response.headers, response.connection);
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
    if (framing.kind === 'length' || (noBody && response.contentLength !== null))
      text += `Content-Length: ${response.contentLength}\r\n`;
    else if (this.out === Out.Chunked) text += 'Transfer-Encoding: chunked\r\n';
    if (!this.keepClient) text += 'Connection: close\r\n';
    else if (head.minor === 0) text += 'Connection: keep-alive\r\n';
    this.headOut = `${text}\r\n`;
    this.status = response.status;
    this.phase = Phase.Streaming;
    const chunked = this.out === Out.Chunked;
    // A piece that is not ours (see ReadPort) is copied by bodyOut, the head joined before the
    // first; pieces of a body that streams over many reads are read into buffers of their own
    // and written as they are.
    this.responseBody = new BodyReader(framing, (piece) => {
      this.bytesToClient += piece.length;
      const before = this.headOut;
      this.headOut = null;
      const out =
        before === null && !chunked && this.upstreamOwned ? piece : bodyOut(piece, chunked, before ?? '');
      if (!client.write(out)) this.waitForClientDrain();
    });
    // Only a body written as it is gains from reads of its own (chunked pieces are copied).
    if (!chunked && framing.kind !== 'none') this.link!.reads.ownReads = true;
    if (this.responseBody.done) {
      // Bytes after a response without a body: the upstream is confused; never reuse it.
      if (following > 0) this.link?.socket.destroy();
      this.complete();
    }
  }

  /** Writes the response head if no body bytes took it along. */
  private flushHead(): void {
    const text = this.headOut;
    if (text === null) return;
    this.headOut = null;
    this.connection.socket.write(text, 'latin1');
  }

  private waitForClientDrain(): void {
    const upstream = this.link?.socket;
    const client = this.connection.socket;
    if (this.waitingClientDrain || upstream === undefined || client.destroyed) return;
    this.waitingClientDrain = true;
    upstream.pause();
    client.once('drain', () => {
      this.waitingClientDrain = false;
      if (this.phase !== Phase.Over) upstream.resume();
    });
  }

  private feedResponse(chunk: Buffer): void {
    const body = this.responseBody!;
    if (body.done) {
      // Bytes after a complete response: the upstream is confused; never reuse it.
      this.link?.socket.destroy();
      return;
    }
    const result = body.feed(chunk);
    if (result.error !== null) {
      // What was written (the head) goes out before the connection is cut.
      this.flushHead();
      this.connection.socket.uncork();
      this.end ??= 'FAIL_UPSTREAM_PROTOCOL';
      return this.abortBoth();
    }
    if (result.done) {
      if (result.consumed < chunk.length) this.link?.socket.destroy();
      this.complete();
    }
  }

  /** The whole response has been written to the client. */
  private complete(): void {
    this.flushHead();
    if (this.out === Out.Chunked) this.connection.socket.write(LAST_CHUNK);
    const response = this.response!;
    const reusable =
      this.requestSent &&
      response.keepAlive &&
      this.responseBody!.framing.kind !== 'close' &&
      !this.link!.socket.destroyed;
    this.end ??= 'CLOSED';
    this.finish(reusable);
  }

  onUpstreamEnd(): void {
    if (this.phase === Phase.Streaming && this.responseBody!.finish()) return this.complete();
    this.upstreamGone('FAIL_UPSTREAM_RESET', null);
  }

  onUpstreamError(error: NodeJS.ErrnoException): void {
    this.upstreamGone('FAIL_UPSTREAM_RESET', error);
  }

  onUpstreamClose(): void {
    this.upstreamGone('FAIL_UPSTREAM_RESET', null);
  }

  onUpstreamTimeout(): void {
    if (this.phase === Phase.Sent) return this.upstreamFailed('FAIL_UPSTREAM_TIMEOUT');
    this.end ??= 'FAIL_UPSTREAM_TIMEOUT';
    this.abortBoth();
  }

  /** The upstream connection failed or closed before the exchange was complete. */
  private upstreamGone(reason: ReasonCode, error: NodeJS.ErrnoException | null): void {
    if (this.phase === Phase.Over || this.phase === Phase.Waiting) return;
    if (this.phase === Phase.Sent) {
      // A reused keep-alive connection the origin had just closed: try once on a fresh one,
      // when nothing of the response arrived and the request can be sent again as it was.
      const link = this.link!;
      if (
        !this.retried &&
        link.uses > 1 &&
        this.responseBytes === 0 &&
        this.requestBody?.framing.kind === 'none' &&
        (this.method === 'GET' || this.method === 'HEAD')
      ) {
        this.retried = true;
        this.link = null;
        link.user = null;
        this.parts.pool.release(link, false);
        this.phase = Phase.Waiting;
        this.parts.pool.acquire(this.host, this.port, this.parts.policy, this.ticket, this.onLink);
        return;
      }
      return this.upstreamFailed(reason);
    }
    // Mid-body: the client cannot get the whole response; a reset is passed on as a reset.
    this.end ??= reason;
    if (error?.code === 'ECONNRESET') this.connection.socket.resetAndDestroy();
    this.abortBoth();
  }

  /** The upstream failed before a response head was sent on: answer the client with the reason. */
  private upstreamFailed(reason: ReasonCode): void {
    if (this.phase === Phase.Over) return;
    this.answerRefusal(reason, false);
  }

  /**
   * Answers with a prebuilt refusal (a policy denial, or a failure before any response bytes).
   * After a policy denial of a request without a body the connection stays open.
   */
  private answerRefusal(reason: ReasonCode, policyDenial: boolean, detail: string | null = null): void {
    const head = this.head;
    const response = responseFor(reason);
    const keep =
      policyDenial && head.contentLength === null && !head.chunked && this.connection.canContinue(head);
    const headOnly = head.method === 'HEAD';
    this.connection.socket.write(
      keep
        ? headOnly
          ? response.headOnlyKeepAlive
          : response.keepAlive
        : headOnly
          ? response.headOnly
          : response.raw,
    );
    this.failed(reason, detail);
    this.status = response.status;
    this.keepClient = keep;
    this.finish(false);
  }

  /** Ends the exchange at once on both sides. */
  private abortBoth(): void {
    this.link?.socket.destroy();
    this.connection.socket.destroy();
    this.finish(false);
  }

  abort(reason: ReasonCode): void {
    this.end ??= reason;
    this.ticket.aborted = true;
    this.abortBoth();
  }

  private finish(reusable: boolean): void {
    if (this.phase === Phase.Over) return;
    this.phase = Phase.Over;
    this.ticket.aborted = true;
    const link = this.link;
    this.link = null;
    if (link !== null) {
      // The response timeout stays armed into release(), which re-arms it for what comes next
      // (the idle timeout, or the next exchange's response timeout) or closes the connection.
      if (link.socket.isPaused()) link.socket.resume();
      this.parts.pool.release(link, reusable);
    }
    this.close();
    this.connection.exchangeDone(this.keepClient && !this.connection.socket.destroyed);
  }
}
