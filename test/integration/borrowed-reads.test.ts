import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { captureClientHello } from '../helpers/client-hello.js';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import {
  sha256,
  startOrigin,
  startRawOrigin,
  startTcpEcho,
  type RawOrigin,
  type TestOrigin,
} from '../helpers/origins.js';

/**
 * Plain-HTTP reads land in one buffer that every such socket of the gateway shares, and the
 * next read of any socket overwrites it. These tests hold bytes back at each place where the
 * gateway must keep or write a copy (a partial request head, a pipelined request, a partial
 * response head, request and response body pieces a slow peer has not taken yet) while other
 * connections are read, and check that every byte arrives as it was sent.
 */

const HOST = 'borrowed.example.test';

/**
 * Bodies are random: a repeating pattern whose period divides the read size would look the same
 * whether or not one piece was overwritten by the next.
 */
const DOWNLOAD = randomBytes(16 * 1024 * 1024);
const MEDIUM = randomBytes(256 * 1024);
/** Sent by its origin in pieces of 4 KiB, each on a turn of its own: many short reads. */
const TRICKLED = randomBytes(8 * 1024 * 1024);

interface Response {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** A raw client connection that reads Content-Length-framed responses in order. */
class Client {
  /** What arrived and was not taken yet, in pieces (joined only when looked at). */
  private pieces: Buffer[] = [];
  private length = 0;
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pieces.push(chunk);
      this.length += chunk.length;
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** The next whole response (within 10 s). */
  async response(): Promise<Response> {
    let end = -1;
    await this.until(() => (end = this.data().indexOf('\r\n\r\n')) !== -1);
    const lines = this.data().subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const size = end + 4 + Number(headers.get('content-length') ?? 0);
    await this.until(() => this.length >= size);
    const data = this.data();
    this.pieces = [data.subarray(size)];
    this.length = data.length - size;
    return { status: Number(lines[0]!.slice(9, 12)), headers, body: data.subarray(end + 4, size) };
  }

  /** Everything received once `done(data)` holds (checked as bytes arrive); taken, not kept. */
  async take(done: (data: Buffer) => boolean): Promise<Buffer> {
    await this.until(() => done(this.data()));
    const data = this.data();
    this.pieces = [];
    this.length = 0;
    return data;
  }

  /** What arrived and was not taken yet, as one buffer. */
  private data(): Buffer {
    if (this.pieces.length !== 1) this.pieces = [Buffer.concat(this.pieces, this.length)];
    return this.pieces[0]!;
  }

  private async until(done: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!done()) {
      if (this.closed)
        throw new Error(`connection closed; received: ${this.data().toString('latin1', 0, 200)}`);
      if (Date.now() > deadline) throw new Error('not received within 10 s');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A point a scripted origin reports reaching, and waits at until the test opens it. */
interface Gate {
  readonly reached: Promise<void>;
  readonly opened: Promise<void>;
  reach(): void;
  open(): void;
}

function gate(): Gate {
  let reach = (): void => undefined;
  let open = (): void => undefined;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { reached, opened, reach, open };
}

function get(port: number, path: string, extra = ''): string {
  return `GET http://${HOST}:${port}${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\n${extra}\r\n`;
}

/**
 * Other traffic through the gateway: `count` GETs on a connection of their own, taking turns
 * between the origins on `ports` (one of them answers 256 KiB: a read that fills the whole
 * shared buffer).
 */
async function otherTraffic(gatewayPort: number, ports: readonly number[], count: number): Promise<void> {
  const client = await Client.open(gatewayPort);
  try {
    for (let i = 0; i < count; i++) {
      await client.write(get(ports[i % ports.length]!, `/other-${i}`, `X-Filler: ${'z'.repeat(2000)}\r\n`));
      const reply = await client.response();
      assert.equal(reply.status, 200);
    }
  } finally {
    client.close();
  }
}

/**
 * A TCP server for hand-written exchanges: `onHead` gets the first request head of each
 * connection and its socket (its answers say `Connection: close`, so none is reused).
 */
async function startScripted(
  onHead: (socket: Socket, head: string, rest: Buffer) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      onHead(socket, pending.subarray(0, end).toString('latin1'), pending.subarray(end + 4));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describeEachEngine('bytes read into the shared buffer are copied before they are kept', (engine) => {
  let origin: TestOrigin;
  let echo: TestOrigin;
  let splitHead: Awaited<ReturnType<typeof startScripted>>;
  let slowReader: Awaited<ReturnType<typeof startScripted>>;
  let download: Awaited<ReturnType<typeof startScripted>>;
  let medium: RawOrigin;
  let trickle: Awaited<ReturnType<typeof startScripted>>;
  /** The origins other traffic takes turns between. */
  let others: number[];
  let gw: RunningGateway;
  /** Set by a test before its request: where the split-head origin and the slow origin wait. */
  let splitHeadGate = gate();
  let uploadGate = gate();
  let hello: Buffer;

  before(async () => {
    origin = await startOrigin();
    echo = await startTcpEcho();
    // Sends the first part of a response head, waits for the test, then the rest and a body.
    splitHead = await startScripted((socket) => {
      const at = splitHeadGate;
      socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\nX-Part: first-half-', () =>
        at.reach(),
      );
      void at.opened.then(() => socket.write('second-half\r\n\r\nhello world'));
    });
    // Reads nothing of a request body until the test says so, then answers with its SHA-256.
    slowReader = await startScripted((socket, head, rest) => {
      const at = uploadGate;
      at.reach();
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      socket.pause();
      const hash = createHash('sha256');
      let seen = rest.length;
      hash.update(rest);
      void at.opened.then(() => {
        const finish = (): void => {
          const digest = hash.digest('hex');
          socket.write(
            `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${digest.length}\r\n\r\n${digest}`,
          );
        };
        if (seen >= length) return finish();
        socket.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          seen += chunk.length;
          if (seen >= length) finish();
        });
        socket.resume();
      });
    });
    download = await startScripted((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${DOWNLOAD.length}\r\n\r\n`);
      socket.write(DOWNLOAD);
    });
    medium = await startRawOrigin(
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${MEDIUM.length}\r\n\r\n`), MEDIUM]),
    );
    trickle = await startScripted((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${TRICKLED.length}\r\n\r\n`);
      let at = 0;
      const next = (): void => {
        if (at >= TRICKLED.length || socket.destroyed) return;
        socket.write(TRICKLED.subarray(at, at + 4096));
        at += 4096;
        setImmediate(next);
      };
      next();
    });
    others = [origin.port, medium.port];
    gw = await startGateway(`
${engineConfig(engine)}
policy:
  sources: [127.0.0.1/32]
  destinations: [${HOST}]
  ports: { connect: [${echo.port}], http: [${origin.port}, ${splitHead.port}, ${slowReader.port}, ${download.port}, ${medium.port}, ${trickle.port}] }
hosts:
  ${HOST}: 127.0.0.1
tls: { ports: [${echo.port}] }
`);
    hello = await captureClientHello(HOST);
  });

  after(async () => {
    await gw.close();
    await Promise.all([
      origin.close(),
      echo.close(),
      splitHead.close(),
      slowReader.close(),
      download.close(),
      medium.close(),
      trickle.close(),
    ]);
  });

  /**
   * A client connection past its first request: the native front reads a connection's first
   * request itself and hands it over with its bytes; what follows is read through the shared
   * buffer, which is what these tests are about.
   */
  async function servedClient(): Promise<Client> {
    const client = await Client.open(gw.port);
    try {
      await client.write(get(origin.port, '/first'));
      assert.equal((await client.response()).status, 200);
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  test('a request head that arrives in two parts, with other connections read in between', async () => {
    const client = await servedClient();
    try {
      const head = get(origin.port, '/split-head', 'X-Marker: first-part-second-part\r\n');
      const cut = head.indexOf('second-part');
      await client.write(head.slice(0, cut));
      await delay(50);
      await otherTraffic(gw.port, others, 3);
      await client.write(head.slice(cut));
      const reply = await client.response();
      assert.equal(reply.status, 200);
      const seen = JSON.parse(reply.body.toString()) as { url: string; rawHeaders: string[] };
      assert.equal(seen.url, '/split-head');
      assert.equal(seen.rawHeaders[seen.rawHeaders.indexOf('X-Marker') + 1], 'first-part-second-part');
    } finally {
      client.close();
    }
  });

  test('pipelined requests wait intact while the first is served', async () => {
    const client = await servedClient();
    try {
      const filler = `X-Filler: ${'f'.repeat(3000)}\r\n`;
      await client.write(
        get(origin.port, '/pipelined-1', filler) +
          get(origin.port, '/pipelined-2', filler) +
          get(origin.port, '/pipelined-3', filler),
      );
      for (const n of [1, 2, 3]) {
        const reply = await client.response();
        assert.equal(reply.status, 200);
        const seen = JSON.parse(reply.body.toString()) as { url: string; rawHeaders: string[] };
        assert.equal(seen.url, `/pipelined-${n}`);
        assert.equal(seen.rawHeaders[seen.rawHeaders.indexOf('X-Filler') + 1], 'f'.repeat(3000));
      }
    } finally {
      client.close();
    }
  });

  test('a response head that arrives in two parts, with other connections read in between', async () => {
    const client = await Client.open(gw.port);
    try {
      splitHeadGate = gate();
      await client.write(get(splitHead.port, '/'));
      await splitHeadGate.reached;
      await delay(50);
      await otherTraffic(gw.port, others, 3);
      splitHeadGate.open();
      const reply = await client.response();
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('x-part'), 'first-half-second-half');
      assert.equal(reply.body.toString(), 'hello world');
    } finally {
      client.close();
    }
  });

  test('a request body the origin is slow to take reaches it byte for byte, other traffic beside it', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    const client = await servedClient();
    try {
      const head =
        `POST http://${HOST}:${slowReader.port}/upload HTTP/1.1\r\nHost: ${HOST}:${slowReader.port}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`;
      uploadGate = gate();
      await client.write(head);
      // The connection to the origin is up: every body byte is read here and written on at once.
      await uploadGate.reached;
      const written = client.write(body);
      // The gateway's writes to the origin queue up while other connections are read.
      await delay(100);
      await otherTraffic(gw.port, others, 20);
      uploadGate.open();
      await written;
      const reply = await client.response();
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), sha256(body));
    } finally {
      client.close();
    }
  });

  test('a response body the client is slow to take arrives byte for byte, other traffic beside it', async () => {
    const client = await servedClient();
    try {
      client.socket.pause();
      await client.write(get(download.port, '/'));
      // The gateway's writes to this client queue up while other connections are read.
      await delay(100);
      await otherTraffic(gw.port, others, 20);
      client.socket.resume();
      const reply = await client.response();
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, DOWNLOAD.length);
      assert.equal(sha256(reply.body), sha256(DOWNLOAD));
    } finally {
      client.close();
    }
  });

  test('a request pipelined after a POST body, all in one write before the upstream is connected', async () => {
    const client = await Client.open(gw.port);
    try {
      const body = 'name=value&other=thing';
      await client.write(
        `POST http://${HOST}:${origin.port}/posted HTTP/1.1\r\nHost: ${HOST}:${origin.port}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}` +
          get(origin.port, '/after-the-post'),
      );
      const first = await client.response();
      assert.equal(first.status, 200);
      assert.equal((JSON.parse(first.body.toString()) as { url: string }).url, '/posted');
      const second = await client.response();
      assert.equal(second.status, 200);
      assert.equal((JSON.parse(second.body.toString()) as { url: string }).url, '/after-the-post');
    } finally {
      client.close();
    }
  });

  test('a ClientHello in three parts after a plain request, other connections read in between', async () => {
    const client = await servedClient();
    try {
      const third = Math.floor(hello.length / 3);
      // The first part comes with the CONNECT head (kept while the gateway connects), the
      // second is read on its own (kept while the hello is incomplete), then other traffic.
      await client.write(
        Buffer.concat([
          Buffer.from(`CONNECT ${HOST}:${echo.port} HTTP/1.1\r\nHost: ${HOST}:${echo.port}\r\n\r\n`),
          hello.subarray(0, third),
        ]),
      );
      const established = await client.take((data) => data.includes('\r\n\r\n'));
      assert.match(established.toString('latin1'), /^HTTP\/1\.1 200/);
      await client.write(hello.subarray(third, 2 * third));
      await delay(50);
      await otherTraffic(gw.port, others, 6);
      const payload = randomBytes(64 * 1024);
      await client.write(Buffer.concat([hello.subarray(2 * third), payload]));
      const echoed = await client.take((data) => data.length >= hello.length + payload.length);
      assert.equal(sha256(echoed), sha256(Buffer.concat([hello, payload])));
    } finally {
      client.close();
    }
  });

  test('a POST body over the head limit, sent whole before the upstream is connected, then a GET', async () => {
    const client = await Client.open(gw.port);
    try {
      const body = randomBytes(1024 * 1024);
      uploadGate = gate();
      const written = client.write(
        Buffer.concat([
          Buffer.from(
            `POST http://${HOST}:${slowReader.port}/upload HTTP/1.1\r\nHost: ${HOST}:${slowReader.port}\r\n` +
              `Content-Length: ${body.length}\r\n\r\n`,
          ),
          body,
          Buffer.from(get(origin.port, '/after-the-upload')),
        ]),
      );
      await uploadGate.reached;
      uploadGate.open();
      await written;
      const first = await client.response();
      assert.equal(first.status, 200);
      assert.equal(first.body.toString(), sha256(body));
      const second = await client.response();
      assert.equal((JSON.parse(second.body.toString()) as { url: string }).url, '/after-the-upload');
    } finally {
      client.close();
    }
  });

  test('a body that arrives in many short reads reaches a slow client byte for byte', async () => {
    const client = await servedClient();
    try {
      client.socket.pause();
      await client.write(get(trickle.port, '/'));
      await delay(1000);
      client.socket.resume();
      const reply = await client.response();
      assert.equal(reply.body.length, TRICKLED.length);
      assert.equal(sha256(reply.body), sha256(TRICKLED));
    } finally {
      client.close();
    }
  });

  test('a CONNECT after a plain request on the same connection: its ClientHello is judged, then relayed', async () => {
    const client = await servedClient();
    try {
      await client.write(`CONNECT ${HOST}:${echo.port} HTTP/1.1\r\nHost: ${HOST}:${echo.port}\r\n\r\n`);
      const established = await client.take((data) => data.includes('\r\n\r\n'));
      assert.match(established.toString('latin1'), /^HTTP\/1\.1 200/);
      // The ClientHello is read here (the SNI judgement), as a stream: then the tunnel relays.
      const payload = Buffer.concat([hello, randomBytes(256 * 1024)]);
      await client.write(payload);
      const echoed = await client.take((data) => data.length >= payload.length);
      assert.equal(sha256(echoed), sha256(payload));
    } finally {
      client.close();
    }
  });
});
