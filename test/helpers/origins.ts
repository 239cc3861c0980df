import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly sni: string | null;
  readonly remotePort: number;
}

export interface TestOrigin {
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted, whatever happened next. */
  connections: number;
  /** Server names of every TLS ClientHello that reached this origin (HTTPS origins only). */
  readonly snis: string[];
  close(): Promise<void>;
}

/** Deterministic bytes so a download can be checked without storing it. */
export function patternBytes(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function handler(requests: RecordedRequest[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket as Socket & Partial<TLSSocket>;
    const sni = typeof socket.servername === 'string' ? socket.servername : null;
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      sni,
      remotePort: socket.remotePort ?? 0,
    });
    const url = new URL(req.url ?? '/', 'http://origin');
    if (url.pathname === '/echo-body') {
      // Streams the body back as it arrives, and reports its checksum in a trailer.
      const hash = createHash('sha256');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', Trailer: 'X-Body-Sha256' });
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        res.write(chunk);
      });
      req.on('end', () => {
        res.addTrailers({ 'X-Body-Sha256': hash.digest('hex') });
        res.end();
      });
      return;
    }
    if (url.pathname === '/bytes') {
      const body = patternBytes(Number(url.searchParams.get('n') ?? '0'));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, sni });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** An origin on loopback: plain HTTP, or HTTPS when given a key and certificate. */
export async function startOrigin(
  tls?: { key: string; cert: string },
  host = '127.0.0.1',
): Promise<TestOrigin> {
  const requests: RecordedRequest[] = [];
  const snis: string[] = [];
  const server = tls
    ? createHttpsServer(
        {
          key: tls.key,
          cert: tls.cert,
          SNICallback: (name, cb) => {
            snis.push(name);
            cb(null);
          },
        },
        handler(requests),
      )
    : createHttpServer(handler(requests));
  const sockets = new Set<Socket>();
  const origin: TestOrigin = { port: 0, requests, connections: 0, snis, close: closer(server, sockets) };
  server.on('connection', (socket: Socket) => {
    origin.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  (origin as { port: number }).port = await listen(server, host);
  return origin;
}

/** A TCP echo server: whatever arrives is sent back. */
export async function startTcpEcho(host = '127.0.0.1'): Promise<TestOrigin> {
  const sockets = new Set<Socket>();
  const server = createTcpServer({ allowHalfOpen: true }, (socket) => {
    origin.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  const origin: TestOrigin = {
    port: 0,
    requests: [],
    connections: 0,
    snis: [],
    close: closer(server, sockets),
  };
  (origin as { port: number }).port = await listen(server, host);
  return origin;
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RawOrigin {
  readonly port: number;
  /** Connections accepted, whatever happened next. */
  connections: number;
  /** Connections open now. */
  readonly open: number;
  /** Everything each connection received, in order of arrival. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/**
 * A TCP origin that answers every request head (each CRLF CRLF) with `reply` bytes written
 * as they are, so a test can send what no well-behaved HTTP library would; `null` never
 * answers (an origin that accepts and hangs).
 */
export async function startRawOrigin(reply: Buffer | null, host = '127.0.0.1'): Promise<RawOrigin> {
  const sockets = new Set<Socket>();
  const received: Buffer[] = [];
  const server = createTcpServer((socket) => {
    origin.connections++;
    sockets.add(socket);
    const index = received.push(Buffer.alloc(0)) - 1;
    let pending = '';
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      received[index] = Buffer.concat([received[index]!, chunk]);
      if (reply === null) return;
      pending += chunk.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        pending = pending.slice(end + 4);
        socket.write(reply);
      }
    });
  });
  const origin: RawOrigin = {
    port: 0,
    connections: 0,
    get open() {
      return sockets.size;
    },
    received,
    close: closer(server, sockets),
  };
  (origin as { port: number }).port = await listen(server, host);
  return origin;
}
