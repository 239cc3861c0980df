import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, createServer, type Server, type Socket } from 'node:net';

/** One question the server received. */
export interface DnsQuery {
  readonly name: string;
  /** 1 (A), 28 (AAAA), or another type number. */
  readonly type: number;
  readonly transport: 'udp' | 'tcp';
  readonly at: number;
}

/** What the server does with a query. */
export type DnsReply =
  /** Answers with these addresses (those of the query's family; none: NOERROR with no data). */
  | { readonly addresses: readonly string[]; readonly ttl?: number }
  /** Answers with this response code and no records (2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED). */
  | { readonly rcode: number }
  /** Sets the TC bit with no records: the client must ask again over TCP. */
  | { readonly truncated: true }
  /** Answers later. */
  | { readonly delayMs: number; readonly then: DnsReply }
  /** Never answers. */
  | 'drop';

export interface DnsServer {
  /** "127.0.0.1:PORT", for `dns.servers`. */
  readonly address: string;
  readonly port: number;
  readonly queries: DnsQuery[];
  /** Replaces the behaviour (answers already scheduled keep theirs). */
  answer: (query: DnsQuery) => DnsReply;
  close(): Promise<void>;
}

const A = 1;
const AAAA = 28;

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, and TCP on the same port unless `tcp` is
 * false) whose every answer is decided by `answer`: addresses with a TTL, an error code, a
 * truncated answer, a late one, or none at all. Enough of RFC 1035 for c-ares, nothing more.
 */
export async function startDnsServer(
  answer: (query: DnsQuery) => DnsReply,
  options: { tcp?: boolean } = {},
): Promise<DnsServer> {
  let udp: UdpSocket | null = null;
  let tcp: Server | null = null;
  const timers = new Set<NodeJS.Timeout>();
  const tcpSockets = new Set<Socket>();
  const queries: DnsQuery[] = [];
  const server: DnsServer = {
    address: '',
    port: 0,
    queries,
    answer,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of tcpSockets) s.destroy();
      await new Promise<void>((resolve) => udp!.close(() => resolve()));
      if (tcp !== null) await new Promise<void>((resolve) => tcp!.close(() => resolve()));
    },
  };

  /** Runs the behaviour for one message; `send` gets the response bytes. */
  const handle = (message: Buffer, transport: 'udp' | 'tcp', send: (reply: Buffer) => void): void => {
    const question = parseQuestion(message);
    if (question === null) return;
    const query: DnsQuery = { name: question.name, type: question.type, transport, at: Date.now() };
    queries.push(query);
    const reply = (what: DnsReply): void => {
      if (what === 'drop') return;
      if ('delayMs' in what) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          reply(what.then);
        }, what.delayMs);
        timers.add(timer);
        return;
      }
      // Over TCP nothing is truncated: the full answer goes out.
      if ('truncated' in what && transport === 'tcp') return;
      send(encodeResponse(message, question, what));
    };
    reply(server.answer(query));
  };

  /** DNS over TCP: each message has a two-byte length in front. */
  const serveTcp = (socket: Socket): void => {
    tcpSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => tcpSockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        handle(message, 'tcp', (reply) => {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length);
          if (!socket.destroyed) socket.write(Buffer.concat([length, reply]));
        });
      }
    });
  };

  // UDP and TCP on one port: a port free for UDP may be taken for TCP; try a few (bounded).
  for (let attempt = 0; attempt < 20 && tcp === null; attempt++) {
    const u = createSocket('udp4');
    u.on('message', (message, remote) => {
      handle(message, 'udp', (reply) => u.send(reply, remote.port, remote.address));
    });
    await new Promise<void>((resolve) => u.bind(0, '127.0.0.1', resolve));
    udp = u;
    if (options.tcp === false) break;
    const t = createServer((socket) => serveTcp(socket));
    const listening = await new Promise<boolean>((resolve) => {
      t.once('error', () => resolve(false));
      t.listen(u.address().port, '127.0.0.1', () => resolve(true));
    });
    if (listening) tcp = t;
    else await new Promise<void>((resolve) => u.close(() => resolve()));
  }
  if (udp === null || (options.tcp !== false && tcp === null))
    throw new Error('no free port for UDP and TCP');
  const port = udp.address().port;
  (server as { address: string }).address = `127.0.0.1:${port}`;
  (server as { port: number }).port = port;
  return server;
}

function parseQuestion(message: Buffer): { name: string; type: number; end: number } | null {
  if (message.length < 12 || message.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = message[offset];
    if (length === undefined || length > 63) return null;
    offset++;
    if (length === 0) break;
    labels.push(message.subarray(offset, offset + length).toString('latin1'));
    offset += length;
  }
  if (offset + 4 > message.length) return null;
  return { name: labels.join('.').toLowerCase(), type: message.readUInt16BE(offset), end: offset + 4 };
}

function encodeResponse(
  query: Buffer,
  question: { type: number; end: number },
  reply: Exclude<DnsReply, 'drop' | { delayMs: number }>,
): Buffer {
  const records: Buffer[] = [];
  let rcode = 0;
  let truncated = false;
  if ('rcode' in reply) rcode = reply.rcode;
  else if ('truncated' in reply) truncated = true;
  else {
    for (const address of reply.addresses) {
      const family = isIP(address);
      if ((family === 4 && question.type !== A) || (family === 6 && question.type !== AAAA)) continue;
      const rdata = family === 4 ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(question.type, 2);
      rr.writeUInt16BE(1, 4); // class IN
      rr.writeUInt32BE(reply.ttl ?? 60, 6);
      rr.writeUInt16BE(rdata.length, 10);
      records.push(rr, rdata);
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, opcode 0, AA, TC as asked, RD copied, RA; then the response code.
  const rd = query[2]! & 0x01;
  header[2] = 0x80 | 0x04 | (truncated ? 0x02 : 0) | rd;
  header[3] = 0x80 | (rcode & 0x0f);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length / 2, 6);
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
