/**
 * Load for the fault tests and the soak: clients that open, use and close connections through a
 * gateway on loopback, each checking what comes back byte for byte, and recording every failure
 * with when it happened and on which local port (so that a test can tell whose connection it
 * was). Every loop is bounded in time (`maxMs`) and in iterations (`maxIterations` per loop).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { patternBytes } from './origins.js';
import { waitFor } from './wait.js';

export type Kind = 'long' | 'tunnel' | 'http' | 'denied' | 'probe' | 'slowloris' | 'abort';

export interface Failure {
  readonly kind: Kind;
  /** The client's local port; 0 when the connection never opened. */
  readonly port: number;
  /** When the connection was started (ms since the epoch). */
  readonly startedAt: number;
  readonly at: number;
  /** The socket error's code (ECONNRESET, ECONNREFUSED, ...) or what was wrong: CLOSED, TIMEOUT, MISMATCH, STATUS. */
  readonly code: string;
  readonly message: string;
}

export interface TrafficOptions {
  readonly gatewayPort: number;
  /** Source address of every client connection (default: the system's choice, 127.0.0.1). */
  readonly localAddress?: string;
  /** CONNECT target of a TCP echo server, "host:port". */
  readonly tunnelTarget: string;
  /** A plain-HTTP origin serving `/bytes?n=N` (`patternBytes`), "host:port". */
  readonly httpTarget?: string;
  /** A host the policy refuses. */
  readonly deniedHost?: string;
  /** Tunnels opened at the start and exercised until the end. */
  readonly longTunnels?: number;
  /** A long tunnel is closed and replaced by a new one after this long (default: never). */
  readonly longTunnelMs?: number;
  /** Loops opening a tunnel, echoing once and closing it. */
  readonly tunnelClients?: number;
  /** Loops opening a keep-alive connection and sending 1-8 plain-HTTP requests on it. */
  readonly httpClients?: number;
  /** Loops sending a request the policy refuses, on a connection of its own. */
  readonly deniedClients?: number;
  /** Loops that connect and close at once: a refused connection means the port was lost. */
  readonly probers?: number;
  /** Loops sending half a request head and stopping (the gateway must time them out: 408 or a close). */
  readonly slowlorisClients?: number;
  /** Loops abandoning connections: mid-head, after the 200, in the middle of a response. */
  readonly abortClients?: number;
  /** Every loop ends this long after `start` at the latest. */
  readonly maxMs: number;
  /** Iterations of one loop at most (default 100,000). */
  readonly maxIterations?: number;
  /** Pause between two iterations of a loop (default 10 ms). */
  readonly pauseMs?: number;
  /** Bound on one exchange: connect, request, answer (default 5 s). */
  readonly exchangeTimeoutMs?: number;
  /** How long a slowloris client holds its half head at most (default 15 s). */
  readonly slowlorisHoldMs?: number;
}

/** A long tunnel: exercised with random payloads, each echoed back byte for byte. */
export interface LongTunnel {
  readonly port: number;
  rounds: number;
  bytes: number;
  /** Set when it stopped working (it is not reopened). */
  failure: Failure | null;
  socket: Socket;
}

class SocketFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads what a socket receives, in the pieces a protocol needs, with a deadline per piece. */
class Reader {
  private buffer: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended: SocketFailure | null = null;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.ended ??= new SocketFailure(error.code ?? 'ERROR', error.message);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended ??= new SocketFailure('CLOSED', 'the gateway closed the connection');
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended ??= new SocketFailure('CLOSED', 'the connection closed');
      this.wake?.();
    });
  }

  /** Waits until `cut` finds a whole piece at the start of the buffer (its length), and returns it. */
  async take(cut: (buffer: Buffer) => number, timeoutMs: number, what: string): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = cut(this.buffer);
      if (n >= 0) {
        const piece = this.buffer.subarray(0, n);
        this.buffer = this.buffer.subarray(n);
        return piece;
      }
      if (this.ended !== null) {
        throw new SocketFailure(this.ended.code, `${this.ended.message} while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SocketFailure('TIMEOUT', `no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  exactly(n: number, timeoutMs: number, what: string): Promise<Buffer> {
    return this.take((b) => (b.length >= n ? n : -1), timeoutMs, what);
  }

  /** A response head (through CRLF CRLF), as text. */
  async head(timeoutMs: number): Promise<string> {
    const head = await this.take(
      (b) => {
        const end = b.indexOf('\r\n\r\n');
        return end < 0 ? -1 : end + 4;
      },
      timeoutMs,
      'a response head',
    );
    return head.toString('latin1');
  }

  /** Whatever arrives until the connection ends (bounded). */
  async rest(timeoutMs: number): Promise<Buffer> {
    try {
      await this.take(() => -1, timeoutMs, 'the end');
    } catch (error) {
      if (error instanceof SocketFailure && error.code === 'TIMEOUT') throw error;
    }
    return this.buffer;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function statusOf(head: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
}

export class Traffic {
  readonly failures: Failure[] = [];
  /** Completed operations by kind (echo rounds of long tunnels, tunnels, requests, ...). */
  readonly done: Record<Kind, number> = {
    long: 0,
    tunnel: 0,
    http: 0,
    denied: 0,
    probe: 0,
    slowloris: 0,
    abort: 0,
  };
  /** Answers by status, for the loops that read one (denied, slowloris). */
  readonly statuses = new Map<string, number>();
  readonly tunnels: LongTunnel[] = [];
  /** Connections open now, by socket: kind, local port, start. */
  private readonly live = new Map<Socket, { kind: Kind; port: number; startedAt: number }>();
  private stopped = false;
  private deadline = 0;
  private loops: Promise<void>[] = [];
  private readonly timeoutMs: number;

  constructor(private readonly options: TrafficOptions) {
    this.timeoutMs = options.exchangeTimeoutMs ?? 5000;
  }

  /** Opens the long tunnels (every one must open) and starts every loop. */
  async start(): Promise<void> {
    this.deadline = Date.now() + this.options.maxMs;
    for (let i = 0; i < (this.options.longTunnels ?? 0); i++) {
      const startedAt = Date.now();
      const { socket, reader } = await this.openTunnel('long', startedAt);
      const tunnel: LongTunnel = { port: socket.localPort!, rounds: 0, bytes: 0, failure: null, socket };
      this.tunnels.push(tunnel);
      this.loops.push(this.longLoop(tunnel, reader));
    }
    const o = this.options;
    const spawn = (n: number | undefined, loop: () => Promise<void>): void => {
      for (let i = 0; i < (n ?? 0); i++) this.loops.push(this.repeat(loop));
    };
    spawn(o.tunnelClients, () => this.shortTunnel());
    if (o.httpTarget !== undefined) spawn(o.httpClients, () => this.httpConnection());
    if (o.deniedHost !== undefined) spawn(o.deniedClients, () => this.denied());
    spawn(o.probers, () => this.probe());
    if (o.httpTarget !== undefined) spawn(o.slowlorisClients, () => this.slowloris());
    if (o.httpTarget !== undefined) spawn(o.abortClients, () => this.abort());
  }

  /** Stops every loop, waits for them (each is bounded), and closes the long tunnels. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Half heads wait for the gateway's deadline: end them now.
    for (const [socket, c] of this.live) if (c.kind === 'slowloris') socket.destroy();
    await Promise.all(this.loops);
    for (const t of this.tunnels) t.socket.destroy();
    for (const socket of this.live.keys()) socket.destroy();
  }

  /** Waits until `n` more short tunnels and plain-HTTP requests are done than now (bounded). */
  async more(n: number, what: string, timeoutMs = 10_000): Promise<void> {
    const now = this.done.tunnel + this.done.http;
    await waitFor(what, () => this.done.tunnel + this.done.http >= now + n, {
      timeoutMs,
      context: () => `done: ${JSON.stringify(this.done)}; failures: ${this.failures.length}`,
    });
  }

  /** Local ports of the connections open now (those that got one), with their kind. */
  open(): { kind: Kind; port: number; startedAt: number }[] {
    return [...this.live.values()].filter((c) => c.port > 0);
  }

  /** The long tunnels still working. */
  working(): LongTunnel[] {
    return this.tunnels.filter((t) => t.failure === null);
  }

  private running(): boolean {
    return !this.stopped && Date.now() < this.deadline;
  }

  private async repeat(loop: () => Promise<void>): Promise<void> {
    const max = this.options.maxIterations ?? 100_000;
    for (let i = 0; i < max && this.running(); i++) {
      await loop();
      await sleep(this.options.pauseMs ?? 10);
    }
  }

  private fail(kind: Kind, port: number, startedAt: number, error: unknown): Failure {
    const failure: Failure = {
      kind,
      port,
      startedAt,
      at: Date.now(),
      code: error instanceof SocketFailure ? error.code : ((error as NodeJS.ErrnoException).code ?? 'ERROR'),
      message: (error as Error).message,
    };
    this.failures.push(failure);
    return failure;
  }

  /** A connection to the gateway; rejects with the connect error (the caller records it). */
  private dial(kind: Kind, startedAt: number): Promise<{ socket: Socket; reader: Reader }> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port: this.options.gatewayPort,
        ...(this.options.localAddress === undefined ? {} : { localAddress: this.options.localAddress }),
      });
      const reader = new Reader(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SocketFailure('TIMEOUT', `no connection within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        this.live.delete(socket);
        reject(error);
      });
      socket.once('close', () => this.live.delete(socket));
      socket.once('connect', () => {
        clearTimeout(timer);
        this.live.set(socket, { kind, port: socket.localPort ?? 0, startedAt });
        resolve({ socket, reader });
      });
    });
  }

  /** Sends a CONNECT for the echo target on an open connection; resolves at its 200. */
  private async connect(socket: Socket, reader: Reader): Promise<void> {
    const target = this.options.tunnelTarget;
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    const head = await reader.head(this.timeoutMs);
    if (statusOf(head) !== 200)
      throw new SocketFailure('STATUS', `CONNECT answered ${head.split('\r\n')[0]}`);
  }

  private async openTunnel(kind: Kind, startedAt: number): Promise<{ socket: Socket; reader: Reader }> {
    const opened = await this.dial(kind, startedAt);
    try {
      await this.connect(opened.socket, opened.reader);
    } catch (error) {
      opened.socket.destroy();
      throw error;
    }
    return opened;
  }

  /** Sends random bytes and checks that exactly they come back. */
  private async echo(socket: Socket, reader: Reader, size: number): Promise<void> {
    const data = randomBytes(size);
    socket.write(data);
    const back = await reader.exactly(size, this.timeoutMs, `${size} echoed bytes`);
    if (!back.equals(data)) throw new SocketFailure('MISMATCH', `${size} bytes came back altered`);
  }

  private async longLoop(tunnel: LongTunnel, reader: Reader): Promise<void> {
    let current = reader;
    let openedAt = Date.now();
    const lifetime = this.options.longTunnelMs ?? Number.POSITIVE_INFINITY;
    const max = this.options.maxIterations ?? 100_000;
    for (let i = 0; i < max && this.running(); i++) {
      try {
        if (Date.now() - openedAt > lifetime) {
          tunnel.socket.end();
          const next = await this.openTunnel('long', Date.now());
          (tunnel as { port: number }).port = next.socket.localPort!;
          tunnel.socket = next.socket;
          current = next.reader;
          openedAt = Date.now();
        }
        const size = 1 + Math.floor(Math.random() * 16 * 1024);
        await this.echo(tunnel.socket, current, size);
        tunnel.rounds++;
        tunnel.bytes += size;
        this.done.long++;
      } catch (error) {
        tunnel.failure = this.fail('long', tunnel.port, openedAt, error);
        tunnel.socket.destroy();
        return;
      }
      await sleep(this.options.pauseMs ?? 10);
    }
  }

  /**
   * One connection of `kind`: `use` works with it (and counts what it got done); what it throws
   * is recorded as a failure; the socket is closed after.
   */
  private async connection(
    kind: Kind,
    use: (opened: { socket: Socket; reader: Reader }) => Promise<void>,
  ): Promise<void> {
    const startedAt = Date.now();
    let port = 0;
    let socket: Socket | null = null;
    try {
      const opened = await this.dial(kind, startedAt);
      socket = opened.socket;
      port = socket.localPort ?? 0;
      await use(opened);
    } catch (error) {
      // A half head cut short by the end of the run is not the gateway's failure.
      if (!(kind === 'slowloris' && this.stopped)) this.fail(kind, port, startedAt, error);
    } finally {
      socket?.destroy();
    }
  }

  private shortTunnel(): Promise<void> {
    return this.connection('tunnel', async ({ socket, reader }) => {
      await this.connect(socket, reader);
      await this.echo(socket, reader, 1 + Math.floor(Math.random() * 4096));
      socket.end();
      await reader.rest(this.timeoutMs);
      this.done.tunnel++;
    });
  }

  private request(path: string): string {
    const target = this.options.httpTarget!;
    return `GET http://${target}${path} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;
  }

  private httpConnection(): Promise<void> {
    return this.connection('http', async ({ socket, reader }) => {
      const requests = 1 + Math.floor(Math.random() * 8);
      for (let i = 0; i < requests && this.running(); i++) {
        const n = Math.floor(Math.random() * 32 * 1024);
        socket.write(this.request(`/bytes?n=${n}`));
        const head = await reader.head(this.timeoutMs);
        if (statusOf(head) !== 200) throw new SocketFailure('STATUS', head.split('\r\n')[0]!);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
        if (length !== n) throw new SocketFailure('MISMATCH', `Content-Length ${length}, asked for ${n}`);
        const body = await reader.exactly(n, this.timeoutMs, `a body of ${n} bytes`);
        if (!body.equals(patternBytes(n)))
          throw new SocketFailure('MISMATCH', `the body of ${n} bytes differs`);
        this.done.http++;
      }
      socket.end();
    });
  }

  private count(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  private denied(): Promise<void> {
    return this.connection('denied', async ({ socket, reader }) => {
      const host = this.options.deniedHost!;
      socket.write(`GET http://${host}/x HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      const head = await reader.head(this.timeoutMs);
      this.count(`denied ${statusOf(head)}`);
      if (statusOf(head) !== 403) throw new SocketFailure('STATUS', head.split('\r\n')[0]!);
      this.done.denied++;
    });
  }

  private probe(): Promise<void> {
    return this.connection('probe', () => {
      this.done.probe++;
      return Promise.resolve();
    });
  }

  /** Half a head, then nothing: the gateway's head deadline must end it (a 408, or a close). */
  private slowloris(): Promise<void> {
    return this.connection('slowloris', async ({ socket, reader }) => {
      const target = this.options.httpTarget!;
      socket.write(`GET http://${target}/slow HTTP/1.1\r\nHost: ${target}\r\nX-Slow: `);
      const hold = this.options.slowlorisHoldMs ?? 15_000;
      // Still open when the hold runs out (TIMEOUT): the gateway did not time it out.
      const rest = await reader.rest(Math.max(0, Math.min(hold, this.deadline - Date.now() + 1000)));
      if (this.stopped) return;
      const status = statusOf(rest.toString('latin1'));
      this.count(`slowloris ${status === 0 ? 'closed' : status}`);
      this.done.slowloris++;
    });
  }

  /** Walks away: mid-head, right after a tunnel's 200, or a few bytes into a large response. */
  private abort(): Promise<void> {
    return this.connection('abort', async ({ socket, reader }) => {
      const how = Math.floor(Math.random() * 3);
      if (how === 0) {
        socket.write('CONNECT ');
      } else if (how === 1) {
        await this.connect(socket, reader);
        socket.write(randomBytes(512));
      } else {
        socket.write(this.request(`/bytes?n=${1024 * 1024}`));
        await reader.head(this.timeoutMs);
      }
      socket.resetAndDestroy();
      this.done.abort++;
    });
  }
}
