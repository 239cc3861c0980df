import type { Socket } from 'node:net';
import type { ReasonCode } from '../errors/index.js';
import { normalizeHost } from '../policy/index.js';
import type { ClientIdentity } from './admission.js';
import { ForwardSession } from './forward-session.js';
import { parseRequestHead, type RequestHead } from './http-head.js';
import type { GatewayParts } from './parts.js';
import { own, type ReadPort } from './read-port.js';
import { parseConnectTarget, parseHttpTarget } from './request-target.js';
import { localResponse, responseFor } from './responses.js';
import { Registry } from '../collections/registry.js';
import { Refusal } from './session.js';
import { TunnelSession } from './tunnel-session.js';

const enum Phase {
  /** Waiting for (or reading) a request head. */
  Head,
  /** A forwarded exchange is in flight; further bytes are its body, then the next request. */
  Exchange,
  /** Handed to a tunnel, or closing: no more requests are read here. */
  Gone,
}

/** Most header fields in one request head. */
const MAX_HEADERS = 100;

/**
 * A client's connection while it speaks HTTP to the gateway: reads one request head at a
 * time, strictly, and starts the session it asks for. A CONNECT hands the socket to its
 * tunnel. A forwarded request is served to its end before the next head is read (pipelined
 * requests wait in a bounded buffer, and reading stops when it is full), so one connection
 * never has more than one exchange in flight.
 *
 * The bytes `onData` receives are borrowed (see ReadPort): a head is parsed where it lies, and
 * only what must wait (a partial head, a pipelined request, a body piece to write) is copied.
 */
export class ClientConnection {
  private phase = Phase.Head;
  private buffered: Buffer | null = null;
  private scanned = 0;
  private requests = 0;
  private exchange: ForwardSession | null = null;
  private ended = false;
  /** When the head being waited for must have arrived (ms since epoch); 0 while not waiting. */
  deadline = 0;
  /** Whether any byte of the awaited head has arrived (a silent keep-alive connection is not logged). */
  private headStarted = false;
  /** Its place among the gateway's connections; -1 while it is not there. */
  connected = -1;
  /** Its place among the connections HeadDeadlines watches; -1 while it is not there. */
  awaiting = -1;

  constructor(
    private readonly parts: GatewayParts,
    readonly socket: Socket,
    readonly client: ClientIdentity,
    private readonly watch: HeadDeadlines,
    /** Set when the socket is read through a port instead of 'data' events. */
    private readonly reads: ReadPort | null = null,
  ) {}

  /** Starts reading; `initial` are bytes already read (after a PROXY protocol header). */
  start(initial: Buffer | null): void {
    const socket = this.socket;
    if (this.reads !== null) this.reads.deliver = this.onData;
    else socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', ignore);
    socket.on('close', this.onClose);
    this.awaitHead(this.parts.timeouts.requestHead);
    if (initial !== null && initial.length > 0) this.onData(initial);
  }

  private awaitHead(ms: number): void {
    this.phase = Phase.Head;
    this.headStarted = this.buffered !== null;
    this.deadline = Date.now() + ms;
    this.watch.add(this);
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.phase === Phase.Exchange) {
        const rest = this.exchange!.onClientData(chunk);
        if (rest !== null) this.keep(rest);
        return;
      }
      if (this.phase !== Phase.Head) return;
      if (this.buffered === null) return this.readHead(chunk, true);
      this.keep(chunk);
      this.readHead(this.buffered, false);
    } catch (error) {
      this.internalError(error);
    }
  };

  /** Holds (a copy of) bytes that belong to the next request; stops reading when too many wait. */
  private keep(chunk: Buffer): void {
    this.buffered = this.buffered === null ? own(chunk) : Buffer.concat([this.buffered, chunk]);
    if (this.phase === Phase.Exchange && this.buffered.length > this.parts.limits.maxRequestHeadBytes)
      this.socket.pause();
  }

  /** Reads a head from `data`: the bytes held (`buffered`), or borrowed ones when none were. */
  private readHead(data: Buffer, borrowed: boolean): void {
    if (!this.headStarted) {
      this.headStarted = true;
      // From the first byte on, the head has timeouts.requestHead to arrive (not the keep-alive time).
      if (this.requests > 0) this.deadline = Date.now() + this.parts.timeouts.requestHead;
    }
    const result = parseRequestHead(
      data,
      { maxBytes: this.parts.limits.maxRequestHeadBytes, maxHeaders: MAX_HEADERS },
      this.scanned,
    );
    if (result.status === 'incomplete') {
      if (borrowed) this.buffered = own(data);
      this.scanned = data.length;
      return;
    }
    this.watch.delete(this);
    if (result.status === 'error') return this.refuseAndClose(result.reason);
    const head = result.head;
    const rest = data.length > head.length ? data.subarray(head.length) : null;
    this.buffered = rest !== null && borrowed ? own(rest) : rest;
    this.scanned = 0;
    this.requests++;
    const start = Date.now();
    if (head.method === 'CONNECT') return this.connect(head, start);
    this.forward(head, start);
  }

  private connect(head: RequestHead, start: number): void {
    const target = parseConnectTarget(head.target);
    if ('error' in target) return this.refuseAndClose(target.error, { method: 'CONNECT', host: head.target });
    // The tunnel takes the socket (and its slot) from here on.
    this.phase = Phase.Gone;
    this.parts.connections.delete(this);
    const socket = this.socket;
    socket.pause();
    if (this.reads !== null) this.reads.emitData(socket);
    else socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onClose);
    const early = this.buffered ?? Buffer.alloc(0);
    this.buffered = null;
    new TunnelSession(this.parts, this.client, socket, target.host, target.port, early, start).open();
  }

  private forward(head: RequestHead, start: number): void {
    const parts = this.parts;
    const target = parseHttpTarget(head.target);
    if ('error' in target) {
      if (target.error === 'BAD_ORIGIN_FORM' && this.answerLocally(head)) return;
      return this.refuseAndClose(target.error, { method: head.method });
    }
    const request = { method: head.method, host: target.host, port: target.port, path: target.path };
    if (normalizeHost(target.host).kind === 'invalid') return this.refuseAndClose('BAD_HOST', request);
    if (head.host !== null && !sameAuthority(head.host, target.host, target.port))
      return this.refuseAndClose('BAD_HOST_MISMATCH', request);
    // A GET or HEAD body must have a length; a chunked one is refused (RFC 9110 §9.3.1).
    if (head.chunked && (head.method === 'GET' || head.method === 'HEAD'))
      return this.refuseAndClose('BAD_FRAMING', request);
    if (parts.closing) return this.refuseAndClose('SHUTTING_DOWN', request);
    this.phase = Phase.Exchange;
    const exchange = new ForwardSession(parts, this, head, target, start);
    this.exchange = exchange;
    exchange.open();
  }

  /** Bytes after the head that belong to the exchange in flight (its body, then the next request). */
  takeBuffered(): Buffer | null {
    const data = this.buffered;
    this.buffered = null;
    // Reading stopped while too many bytes waited for the upstream connection (keep): they
    // are taken now, so the rest of the body can come.
    if (data !== null && this.socket.isPaused()) this.socket.resume();
    return data;
  }

  /**
   * Bytes taken with `takeBuffered` that were not the exchange's (a pipelined request after its
   * body): held again, ahead of anything read since, with the same limit on what may wait.
   */
  putBack(bytes: Buffer): void {
    const later = this.buffered;
    this.buffered = null;
    this.keep(bytes);
    if (later !== null) this.keep(later);
  }

  /** Whether the connection can serve another request after the current one. */
  canContinue(head: RequestHead): boolean {
    return (
      head.keepAlive &&
      !this.ended &&
      !this.parts.closing &&
      this.requests < this.parts.limits.maxRequestsPerConnection
    );
  }

  /** The exchange in flight is over: read the next request, or close. */
  exchangeDone(keepOpen: boolean): void {
    this.exchange = null;
    if (this.phase === Phase.Gone) return;
    if (!keepOpen) return this.closeGracefully();
    this.socket.resume();
    this.awaitHead(this.parts.timeouts.clientKeepAlive);
    // A pipelined request may already be here (read on the next turn: no recursion however
    // many requests a client pipelines).
    if (this.buffered !== null) {
      setImmediate(this.readBuffered);
    } else if (this.ended) {
      this.closeGracefully();
    }
  }

  private readonly readBuffered = (): void => {
    if (this.phase !== Phase.Head || this.buffered === null || this.socket.destroyed) return;
    try {
      this.readHead(this.buffered, false);
    } catch (error) {
      this.internalError(error);
    }
  };

  private closeGracefully(): void {
    this.phase = Phase.Gone;
    this.watch.delete(this);
    this.socket.end();
    this.socket.setTimeout(2000, () => this.socket.destroy());
  }

  /** Answers origin-form requests the gateway serves itself (the PAC file). */
  private answerLocally(head: RequestHead): boolean {
    const answer = this.parts.originForm?.(head.method, head.target, head.host ?? undefined) ?? null;
    if (answer === null) return false;
    this.watch.delete(this);
    const keep = this.canContinue(head) && head.contentLength === null && !head.chunked;
    this.socket.write(localResponse(answer, head.method === 'HEAD', !keep));
    this.phase = Phase.Exchange;
    this.exchangeDone(keep);
    return true;
  }

  /** A malformed or refused request whose connection cannot be trusted further: answer, log, close. */
  private refuseAndClose(
    reason: ReasonCode,
    request: { method?: string; host?: string; port?: number; path?: string | null } = {},
  ): void {
    const response = responseFor(reason);
    new Refusal(this.parts, this.client, reason, response.status, shownRequest(request));
    this.phase = Phase.Gone;
    this.watch.delete(this);
    this.socket.end(response.raw);
    this.socket.setTimeout(2000, () => this.socket.destroy());
  }

  /** The head did not arrive in time. */
  headTimedOut(): void {
    if (this.phase !== Phase.Head) return;
    if (!this.headStarted) {
      // An idle keep-alive connection, or one that never spoke: closed without a log line.
      this.phase = Phase.Gone;
      this.socket.destroy();
      return;
    }
    this.refuseAndClose('HEAD_TIMEOUT');
  }

  /** Shutdown: a connection between requests closes now; one in an exchange closes after it. */
  closeIfIdle(): void {
    if (this.phase === Phase.Head && !this.headStarted) {
      this.phase = Phase.Gone;
      this.watch.delete(this);
      this.socket.destroy();
    }
  }

  private readonly onEnd = (): void => {
    this.ended = true;
    if (this.phase === Phase.Exchange) this.exchange!.onClientEnd();
    else if (this.phase === Phase.Head) {
      this.phase = Phase.Gone;
      this.watch.delete(this);
      this.socket.end();
    }
  };

  private readonly onClose = (): void => {
    this.watch.delete(this);
    this.parts.admission.release(this.client.address);
    this.parts.connections.delete(this);
    const exchange = this.exchange;
    this.exchange = null;
    this.phase = Phase.Gone;
    exchange?.onClientClose();
  };

  private internalError(error: unknown): void {
    this.parts.faults.report(error);
    if (this.exchange !== null) this.exchange.abort('INTERNAL_ERROR');
    this.socket.destroy();
  }
}

/**
 * Connections waiting for a request head, with their deadlines: one sweep for all of them
 * instead of a timer per connection.
 */
export class HeadDeadlines {
  private readonly waiting = new Registry<'awaiting', ClientConnection>('awaiting');
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
  }

  add(connection: ClientConnection): void {
    this.waiting.add(connection);
  }

  delete(connection: ClientConnection): void {
    this.waiting.delete(connection);
  }

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.waiting) {
      if (connection.deadline <= now) {
        this.waiting.delete(connection);
        connection.headTimedOut();
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function ignore(): void {}

function shownRequest(request: { method?: string; host?: string; port?: number; path?: string | null }): {
  method?: string;
  host?: string;
  port?: number;
  path?: string | null;
} {
  if (request.host === undefined) return request;
  const host = normalizeHost(request.host);
  return {
    ...request,
    host: host.kind === 'name' ? host.name : host.kind === 'ip' ? host.address : request.host,
  };
}

/** Does a Host header name the same host and port as the absolute request target? */
function sameAuthority(hostHeader: string, targetHost: string, targetPort: number): boolean {
  const bracketEnd = hostHeader.lastIndexOf(']');
  const colon = hostHeader.lastIndexOf(':');
  let host = hostHeader;
  let port = 80;
  if (colon > bracketEnd) {
    host = hostHeader.slice(0, colon);
    const text = hostHeader.slice(colon + 1);
    if (text !== '') {
      if (!/^[0-9]{1,5}$/.test(text)) return false;
      port = Number(text);
    }
  }
  if (port !== targetPort) return false;
  const a = normalizeHost(host);
  const b = normalizeHost(targetHost);
  if (a.kind === 'name' && b.kind === 'name') return a.name === b.name;
  if (a.kind === 'ip' && b.kind === 'ip') return a.address === b.address;
  return false;
}
