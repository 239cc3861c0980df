import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startTcpServer } from '../helpers/faults.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/**
 * Many keep-alive connections through the gateway at once, each a random mix of pipelined GETs,
 * HEADs and POSTs, bodies framed by length or in chunks, written in pieces of random size with
 * pauses, read by clients that stop reading now and then. Every body is a slice of one random
 * pool at an offset of its own (or, for an upload, bytes the client chose), and every response
 * names the request it answers: a byte one connection's read overwrote in another's, a response
 * delivered on the wrong connection or a request merged into its neighbour fails the check.
 *
 * The mix is drawn from a seed, printed in every failure; AIRLOCK_MIXED_SEED=N replays one.
 */

const HOST = 'mixed.example.test';
const POOL = randomBytes(8 * 1024 * 1024);
const CONNECTIONS = 24;
/**
 * Of them, the first few also move a few bodies of 5–7 MB that their reader holds back for a
 * while: more than the kernel buffers between the gateway and that reader take (a sender's
 * buffer grows to 4 MiB here), so the gateway keeps what it has written and not yet sent
 * while the others' reads go on.
 */
const HEAVY = 2;
const REQUESTS_PER_CONNECTION = 30;
const SEED = Number(process.env.AIRLOCK_MIXED_SEED ?? randomInt(2 ** 31));

/** mulberry32: a small seeded generator, so that a failing mix can be replayed. */
function generator(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * A size: mostly small, often a few reads long, sometimes several times the shared buffer
 * (64 KiB), now and then up to three times `large`.
 */
function size(rand: (n: number) => number, large: number): number {
  const pick = rand(100);
  if (pick < 45) return rand(2048);
  if (pick < 83) return 2048 + rand(70_000);
  if (pick < 97) return 70_000 + rand(large);
  return large + rand(2 * large);
}

interface Message {
  readonly start: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/**
 * Reads HTTP/1.1 messages off a byte stream in order: bodies framed by Content-Length or
 * chunked; `bodiless()` says whether the next message can have none (a response to HEAD).
 */
class MessageReader {
  private pieces: Buffer[] = [];
  private length = 0;
  /** Bytes the message under way needs before it can be complete (a length-framed body). */
  private need = 0;

  constructor(private readonly bodiless: () => boolean = () => false) {}

  /** The head of a message whose head has arrived and whose body has not (lower case). */
  headUnderWay(): string | null {
    if (this.length === 0) return null;
    const data = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.length);
    const end = data.indexOf('\r\n\r\n');
    return end === -1 ? null : data.toString('latin1', 0, end).toLowerCase();
  }

  feed(chunk: Buffer): void {
    this.pieces.push(chunk);
    this.length += chunk.length;
  }

  next(): Message | null {
    if (this.length === 0 || this.length < this.need) return null;
    const data = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.length);
    this.pieces = [data];
    const end = data.indexOf('\r\n\r\n');
    if (end === -1) return null;
    const lines = data.toString('latin1', 0, end).split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let at = end + 4;
    let body: Buffer;
    if (this.bodiless()) body = Buffer.alloc(0);
    else if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at);
        if (lineEnd === -1) return null;
        const chunk = parseInt(data.toString('latin1', at, lineEnd).split(';')[0]!, 16);
        assert.ok(
          Number.isInteger(chunk) && chunk >= 0,
          `chunk size line: ${data.toString('latin1', at, lineEnd)}`,
        );
        if (chunk === 0) {
          // No trailers are sent here: the last chunk is followed by the empty line.
          if (data.length < lineEnd + 4) return null;
          assert.equal(data.toString('latin1', lineEnd, lineEnd + 4), '\r\n\r\n', 'end of the chunked body');
          at = lineEnd + 4;
          break;
        }
        if (data.length < lineEnd + 2 + chunk + 2) return null;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + chunk));
        assert.equal(data.toString('latin1', lineEnd + 2 + chunk, lineEnd + 4 + chunk), '\r\n', 'chunk end');
        at = lineEnd + 4 + chunk;
      }
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers.get('content-length') ?? 0);
      if (data.length < at + length) {
        this.need = at + length;
        return null;
      }
      body = data.subarray(at, at + length);
      at += length;
    }
    this.need = 0;
    const rest = data.subarray(at);
    this.pieces = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return { start: lines[0]!, headers, body: Buffer.from(body) };
  }
}

/** `body` framed in chunks of random sizes. */
function chunked(body: Buffer, rand: (n: number) => number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length;) {
    const n = Math.min(body.length - at, 1 + rand(rand(2) === 0 ? 300 : 40_000));
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes `bytes` in pieces of random size, some after a turn of the event loop; `small`: every
 * piece under 8 KiB, each after a turn (many short reads on the other side).
 */
async function writeInPieces(
  socket: Socket,
  bytes: Buffer,
  rand: (n: number) => number,
  small = false,
): Promise<void> {
  for (let at = 0; at < bytes.length && !socket.destroyed;) {
    const n = Math.min(bytes.length - at, 1 + rand(small ? 8000 : rand(3) === 0 ? 200 : 90_000));
    const drained = socket.write(bytes.subarray(at, at + n));
    at += n;
    if (!drained) await new Promise((resolve) => socket.once('drain', resolve));
    else if (small || rand(3) === 0) await turn();
  }
}

/**
 * The origin. `GET|HEAD /pool/OFFSET/LENGTH` answers that slice of the pool; `POST /echo`
 * answers the request body, which it starts to read only after a pause. Each answer carries
 * the request's X-Req, and is framed, cut into pieces and sometimes followed by a close as the
 * request's X-Shape says (a number that seeds it).
 */
function startOrigin(): ReturnType<typeof startTcpServer> {
  return startTcpServer((socket) => {
    const reader = new MessageReader();
    let answering = Promise.resolve();
    let closing = false;
    /** The request whose body the origin held back last (one hold each). */
    let held: string | null = null;
    socket.on('data', (chunk: Buffer) => {
      reader.feed(chunk);
      for (let request = reader.next(); request !== null && !closing; request = reader.next()) {
        const message = request;
        closing = generator(Number(message.headers.get('x-shape')) ^ 0x5bd1e995)(8) === 0;
        const last = closing;
        answering = answering
          .then(() => answer(socket, message, last))
          .catch(() => {
            socket.destroy();
          });
      }
      // A request body the origin does not read for a while waits in the gateway meanwhile.
      const head = closing ? null : reader.headUnderWay();
      if (head !== null && head !== held && !socket.isPaused()) {
        held = head;
        socket.pause();
        setTimeout(() => socket.resume(), head.includes('\r\nx-hold:') ? 300 : 20 + randomInt(60));
      }
    });
  });
}

async function answer(socket: Socket, request: Message, last: boolean): Promise<void> {
  const [method, target] = request.start.split(' ') as [string, string];
  const rand = generator(Number(request.headers.get('x-shape')));
  let body: Buffer;
  if (method === 'POST') body = request.body;
  else {
    const [, , offset, length] = target.split('/');
    body = POOL.subarray(Number(offset), Number(offset) + Number(length));
  }
  const framedInChunks = rand(2) === 0;
  const head = [
    'HTTP/1.1 200 OK',
    `X-Req: ${request.headers.get('x-req')}`,
    framedInChunks ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
    ...(last ? ['Connection: close'] : []),
    '',
    '',
  ].join('\r\n');
  const payload = method === 'HEAD' ? Buffer.alloc(0) : framedInChunks ? chunked(body, rand) : body;
  const small = request.headers.has('x-hold') || rand(4) === 0;
  await writeInPieces(socket, Buffer.concat([Buffer.from(head), payload]), rand, small);
  if (last) socket.end();
}

interface Sent {
  readonly id: string;
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly expected: Buffer;
}

/** A client connection to the gateway that reads answers in order, pausing now and then. */
class MixClient {
  readonly outstanding: Sent[] = [];
  private readonly reader = new MessageReader(() => this.outstanding[0]?.method === 'HEAD');
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(
    readonly socket: Socket,
    pauses: (n: number) => number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.feed(chunk);
      // A reader that stops now and then: what the gateway has for it waits meanwhile.
      const pause = pauses(60);
      if (pause < 5) {
        socket.pause();
        setTimeout(() => socket.resume(), pause === 0 ? 150 + pauses(150) : pauses(40));
      }
      this.wake?.();
    });
    socket.on('error', (error) => {
      this.failure = error;
      this.wake?.();
    });
    socket.on('close', () => {
      this.failure ??= new Error('the gateway closed the connection');
      this.wake?.();
    });
  }

  /** Reads nothing for `ms`. */
  hold(ms: number): void {
    this.socket.pause();
    setTimeout(() => this.socket.resume(), ms);
  }

  static open(port: number, pauses: (n: number) => number): Promise<MixClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new MixClient(socket, pauses)));
      socket.once('error', reject);
    });
  }

  /** The next answer, checked against the oldest request outstanding (within 20 s). */
  async answer(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const reply = this.reader.next();
      if (reply !== null) {
        const sent = this.outstanding.shift()!;
        assert.equal(reply.start.slice(0, 12), 'HTTP/1.1 200', `${sent.id}: ${reply.start}`);
        assert.equal(
          reply.headers.get('x-req'),
          sent.id,
          `${sent.id}: answered as ${reply.headers.get('x-req')}`,
        );
        if (!reply.body.equals(sent.expected)) {
          let at = 0;
          while (at < reply.body.length && reply.body[at] === sent.expected[at]) at++;
          assert.fail(
            `${sent.id} (${sent.method}): body of ${reply.body.length} bytes, ${sent.expected.length} expected, first difference at byte ${at}`,
          );
        }
        return;
      }
      if (this.failure !== null) throw this.failure;
      assert.ok(Date.now() < deadline, `no answer to ${this.outstanding[0]!.id} within 20 s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

/**
 * One client's whole run: batches of pipelined requests, each answer checked, on a connection
 * that it now and then replaces with a new one (new connections start with small socket
 * buffers, so that a pause of either reader leaves bytes waiting in the gateway).
 */
async function client(gatewayPort: number, originPort: number, index: number): Promise<number> {
  const rand = generator(SEED + index * 7919);
  // Pauses depend on how the bytes arrive: a generator of their own keeps the mix replayable.
  const pauses = generator(SEED ^ ((index + 1) * 104_729));
  const url = (path: string): string => `http://${HOST}:${originPort}${path}`;
  let answered = 0;
  while (answered < REQUESTS_PER_CONNECTION) {
    const connection = await MixClient.open(gatewayPort, pauses);
    try {
      do {
        const depth = Math.min(1 + rand(3), REQUESTS_PER_CONNECTION - answered);
        const bytes: Buffer[] = [];
        let holdFor = 0;
        for (let k = 0; k < depth; k++) {
          const id = `${index}.${answered + k}`;
          const shape = rand(2 ** 31);
          const heavy = index < HEAVY && (answered + k) % 5 === 4;
          const kind = heavy ? ((answered + k) % 2) * 5 : rand(10);
          const fields =
            `Host: ${HOST}:${originPort}\r\nX-Req: ${id}\r\nX-Shape: ${shape}\r\n` +
            (heavy ? 'X-Hold: 1\r\n' : '');
          if (heavy) holdFor = 300;
          if (kind < 3) {
            const length = heavy ? 5_000_000 + rand(2_000_000) : size(rand, 200_000);
            const body =
              rand(2) === 0 ? randomBytes(length) : POOL.subarray(rand(1 << 20)).subarray(0, length);
            const framedInChunks = rand(2) === 0;
            bytes.push(
              Buffer.from(
                `POST ${url('/echo')} HTTP/1.1\r\n${fields}` +
                  (framedInChunks
                    ? 'Transfer-Encoding: chunked\r\n\r\n'
                    : `Content-Length: ${body.length}\r\n\r\n`),
              ),
              framedInChunks ? chunked(body, rand) : body,
            );
            connection.outstanding.push({ id, method: 'POST', expected: body });
          } else {
            const method = kind === 3 ? 'HEAD' : 'GET';
            const length = heavy ? 5_000_000 + rand(2_000_000) : size(rand, 400_000);
            const offset = rand(POOL.length - length);
            bytes.push(
              Buffer.from(`${method} ${url(`/pool/${offset}/${length}`)} HTTP/1.1\r\n${fields}\r\n`),
            );
            connection.outstanding.push({
              id,
              method,
              expected: method === 'HEAD' ? Buffer.alloc(0) : POOL.subarray(offset, offset + length),
            });
          }
        }
        await writeInPieces(connection.socket, Buffer.concat(bytes), rand);
        if (holdFor > 0) connection.hold(holdFor);
        while (connection.outstanding.length > 0) {
          await connection.answer();
          answered++;
        }
      } while (answered < REQUESTS_PER_CONNECTION && rand(3) !== 0);
    } finally {
      connection.socket.destroy();
    }
  }
  return answered;
}

describeEachEngine('mixed plain-HTTP traffic on many connections at once', (engine) => {
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let gw: RunningGateway;

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway(`
${engineConfig(engine)}
policy:
  sources: [127.0.0.1/32]
  destinations: [${HOST}]
  ports: { http: [${origin.port}] }
hosts:
  ${HOST}: 127.0.0.1
`);
  });

  after(async () => {
    await gw.close();
    await origin.close();
  });

  test(
    `every byte reaches the connection that asked for it (seed ${SEED})`,
    { timeout: 90_000 },
    async () => {
      const counts = await Promise.all(
        Array.from({ length: CONNECTIONS }, (_, i) => client(gw.port, origin.port, i)).map((run, i) =>
          run.catch((error: Error) => {
            throw new Error(`connection ${i}, seed ${SEED}: ${error.message}`);
          }),
        ),
      );
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        CONNECTIONS * REQUESTS_PER_CONNECTION,
      );
      // Every exchange was logged as forwarded, none as anything else.
      const total = CONNECTIONS * REQUESTS_PER_CONNECTION;
      for (let i = 0; i < 40 && gw.records.length < total; i++) await new Promise((r) => setTimeout(r, 50));
      const forwarded = gw.records.filter((r) => r.method !== 'CONNECT');
      assert.equal(forwarded.length, total);
      assert.deepEqual(
        forwarded.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.reason}`),
        [],
      );
    },
  );
});
