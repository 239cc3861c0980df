import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { rawExchange } from './run.js';

/** How a connection ended, seen from its client. */
export interface Ending {
  /** Everything received (after what the caller already read). */
  readonly data: Buffer;
  /** `fin`: an orderly close; `reset`: ECONNRESET; `error`: another socket error (`code`). */
  readonly how: 'fin' | 'reset' | 'error';
  readonly code: string | null;
  /** Milliseconds from the call to the close. */
  readonly ms: number;
}

/**
 * Reads `socket` to its end and says how it ended: a FIN, a reset, or another error. Bounded:
 * after `timeoutMs` the socket is destroyed and the promise rejects. The socket is destroyed
 * once it has ended.
 */
export function ending(socket: Socket, timeoutMs = 10_000): Promise<Ending> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let how: Ending['how'] = 'fin';
    let code: string | null = null;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      code = error.code ?? null;
      how = code === 'ECONNRESET' ? 'reset' : 'error';
    });
    const done = (): void => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), how, code, ms: Date.now() - started });
    };
    // A FIN ends it (a half-open socket would otherwise wait for our side to end too).
    socket.on('end', () => {
      done();
      socket.destroy();
    });
    socket.on('close', done);
    socket.resume();
  });
}

/** Sends a request and resolves with the socket once the response head has arrived (rest in `rest`). */
export function request(
  port: number,
  text: string,
  timeoutMs = 10_000,
): Promise<{ socket: Socket; head: string; rest: Buffer; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      resolve({
        socket,
        head: got.subarray(0, end).toString('latin1'),
        rest: got.subarray(end + 4),
        ms: Date.now() - started,
      });
    };
    socket.on('data', onData);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before a response head: ${got.toString('latin1')}`));
    });
    socket.write(text);
  });
}

/** A TCP server on 127.0.0.1 running `behaviour` for every connection; `close` destroys them all. */
export async function startTcpServer(
  behaviour: (socket: Socket) => void,
): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    handle.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    behaviour(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return handle;
}

/** Open descriptors of a process (Linux /proc), by kind: sockets, files, other. */
export function descriptors(pid: number): { total: number; sockets: number; files: string[] } {
  const dir = `/proc/${pid}/fd`;
  let sockets = 0;
  const files: string[] = [];
  const entries = readdirSync(dir);
  for (const entry of entries) {
    let target: string;
    try {
      target = readlinkSync(`${dir}/${entry}`);
    } catch {
      continue; // closed while listing
    }
    if (target.startsWith('socket:')) sockets++;
    else if (target.startsWith('/')) files.push(target);
  }
  return { total: entries.length, sockets, files };
}

/** Resident set size of a process in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

/** CPU time (user + system) a process has used, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

let ticksPerSecond: number | null = null;
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Child process ids of `pid` (the workers of a supervisor); none while it has none. */
export function childPids(pid: number): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString();
  } catch (error) {
    // ps exits 1 when no process matched.
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The admin listener's port from a gateway's "listening" line. */
export function adminPortOf(stderr: string): number {
  const port = Number(/"admin":"127\.0\.0\.1:(\d+)"/.exec(stderr)?.[1]);
  if (!(port > 0)) throw new Error(`no admin listener in: ${stderr}`);
  return port;
}

/** GET from the admin listener: the body (empty on failure). */
export async function adminGet(port: number, path: string): Promise<string> {
  const reply = await rawExchange(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    2000,
  );
  return reply.slice(reply.indexOf('\r\n\r\n') + 4);
}

/** The sum of every series of `name` in Prometheus text (0 when there is none). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest.startsWith(' ') || rest.startsWith('{')) sum += Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * The lines of a JSON log file, each parsed (throws, naming the line, at the first that does not
 * parse). `whole`: the file must end with a whole line (no write in progress); otherwise a last
 * line being written is left out.
 */
export function jsonLines(file: string, whole = true): Record<string, unknown>[] {
  let text = readFileSync(file, 'utf8');
  if (whole) assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  else text = text.slice(0, text.lastIndexOf('\n') + 1);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`line ${i + 1} of ${file} does not parse: ${line.slice(0, 200)}`);
      }
    });
}

/**
 * The sections of a gateway configuration that let clients on 127.0.0.0/8 reach the echo
 * server (CONNECT) and the web origin (plain HTTP) on 127.0.0.1, plus `allow`; `names` are
 * other hosts mapped to 127.0.0.1 (reachable once a policy allows them). No DNS, no TLS check.
 */
export function localOrigins(o: {
  echoPort: number;
  webPort: number;
  allow?: readonly string[];
  names?: readonly string[];
}): string {
  const allowed = ['echo.example.test', 'web.example.test', ...(o.allow ?? [])];
  const mapped = [...new Set([...allowed, ...(o.names ?? [])])];
  return `policy:
  sources: [127.0.0.0/8]
  destinations: [${allowed.join(', ')}]
  ports: { connect: [${o.echoPort}], http: [${o.webPort}] }
hosts: { ${mapped.map((h) => `${h}: 127.0.0.1`).join(', ')} }
dns: { servers: ["127.0.0.1:9"], hostsFile: null }
tls: { sniCheck: false }
`;
}

/** A sample's value in Prometheus text (the first series of `name` whose labels match); NaN if absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    return Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return Number.NaN;
}

/**
 * Sends `n` plain-HTTP requests the policy refuses (each answered 403, each an access-log
 * line), pipelined on keep-alive connections of 1,000 requests each; resolves with the number
 * answered once all are.
 */
export async function deniedRequests(
  port: number,
  n: number,
  host = 'denied.invalid',
  timeoutMs = 20_000,
): Promise<number> {
  const until = Date.now() + timeoutMs;
  let answered = 0;
  while (answered < n) {
    answered += await refusalsOnOneConnection(port, Math.min(1000, n - answered), host, until - Date.now());
  }
  return answered;
}

function refusalsOnOneConnection(port: number, n: number, host: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const one = `GET http://${host}/x HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    let answered = 0;
    let sent = 0;
    let tail = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${answered} of ${n} refusals answered within ${timeoutMs} ms`));
    }, timeoutMs);
    // Pipelined in batches of 50, so the gateway's buffer for waiting requests never fills.
    const send = (): void => {
      const batch = Math.min(50, n - sent);
      if (batch > 0) socket.write(one.repeat(batch));
      sent += batch;
    };
    socket.on('data', (c: Buffer) => {
      const text = tail + c.toString('latin1');
      const before = answered;
      answered += text.split('HTTP/1.1 403 ').length - 1;
      // Shorter than the marker: a marker split over two chunks is counted once.
      tail = text.slice(-12);
      if (answered >= n) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answered);
      } else if (answered - before > 0 && answered >= sent) send();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('connect', send);
  });
}

/** Socket inodes a process holds (Linux /proc). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out; // the process is gone
  }
  for (const entry of entries) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${entry}`);
      if (target.startsWith('socket:[')) out.add(target.slice(8, -1));
    } catch {
      // closed while listing
    }
  }
  return out;
}

/**
 * The inodes of IPv4 TCP sockets by their ports: `local:remote` → inode, from /proc/net/tcp
 * (this network namespace).
 */
export function tcpInodes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Inode 0: no process holds it (TIME_WAIT and the like); it must not hide a live socket.
    if (f.length < 10 || f[9] === '0') continue;
    const local = parseInt(f[1]!.split(':')[1]!, 16);
    const remote = parseInt(f[2]!.split(':')[1]!, 16);
    out.set(`${local}:${remote}`, f[9]!);
  }
  return out;
}

/**
 * TCP connections established (this network namespace) to 127.0.0.1:`port`: to a server of the
 * test's own there, whatever other processes on the machine do on other loopback addresses.
 */
export function established(port: number): number {
  const to = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && f[3] === '01' && f[2] === to) n++;
  }
  return n;
}

/**
 * Which of `pids` holds the gateway side of each client connection (the socket whose local port
 * is `gatewayPort` and remote port is the client's): client port → pid, or absent if none.
 */
export function ownersOf(
  gatewayPort: number,
  clientPorts: readonly number[],
  pids: readonly number[],
): Map<number, number> {
  const inodes = tcpInodes();
  const held = pids.map((pid) => ({ pid, inodes: socketInodes(pid) }));
  const out = new Map<number, number>();
  for (const port of clientPorts) {
    const inode = inodes.get(`${gatewayPort}:${port}`);
    if (inode === undefined) continue;
    const owner = held.find((h) => h.inodes.has(inode));
    if (owner !== undefined) out.set(port, owner.pid);
  }
  return out;
}
