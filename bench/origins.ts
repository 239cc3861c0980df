/**
 * Local origin servers for the held-tunnel and bulk scenarios, each role in processes of its own
 * (a process may hold at most 20,000 open files, and 50k tunnels end in 50k origin sockets):
 *
 * - echo: two raw TCP ports per process. `hold` echoes everything and keeps the connection until
 *   told to close it. `plain` echoes until the client closes. The first echo process also runs a
 *   real TLS echo server (the functional check).
 * - bulk: after the first bytes from the client, streams without end.
 *
 * The rate scenarios' origins (echo-then-close, the HTTP server) are part of the C generator.
 *
 * The proxies never decrypt, so to them a tunnel that carries a recorded ClientHello and gets it
 * echoed looks like any TLS tunnel's first flight; the generator and the origins spend no CPU
 * on handshakes, which keeps them from becoming the bottleneck on a small machine.
 *
 * This file is both the orchestrator's handle (`startOrigins`) and the child's entry point.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type OriginRole = 'echo' | 'bulk';

export const HTTP_OBJECTS: Readonly<Record<string, number>> = { '/1k': 1024, '/1m': 1024 * 1024 };

type ToOrigin =
  | {
      readonly t: 'init';
      readonly role: OriginRole;
      readonly host: string;
      readonly tls: { readonly key: string; readonly cert: string } | null;
    }
  | { readonly t: 'close-held' }
  | { readonly t: 'exit' };

interface RolePorts {
  hold?: number;
  plain?: number;
  tls?: number;
  bulk?: number;
}

type FromOrigin =
  | { readonly t: 'ready'; readonly ports: RolePorts }
  | { readonly t: 'closed-held'; readonly count: number }
  | { readonly t: 'failed'; readonly message: string };

const noop = (): void => undefined;

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host, backlog: 4096 }, () => resolve((server.address() as AddressInfo).port));
  });
}

// ---------------------------------------------------------------- child side

const held = new Set<Socket>();

async function runEcho(tls: { key: string; cert: string } | null, host: string): Promise<RolePorts> {
  const hold = createServer({ noDelay: true }, (s) => {
    s.on('error', noop);
    held.add(s);
    s.once('close', () => held.delete(s));
    s.on('data', (d: Buffer) => s.write(d));
  });
  const plain = createServer({ noDelay: true }, (s) => {
    s.on('error', noop);
    s.on('data', (d: Buffer) => s.write(d));
  });
  const ports: RolePorts = {
    hold: await listen(hold, host),
    plain: await listen(plain, host),
  };
  if (tls !== null) {
    const secure = createTlsServer({ key: tls.key, cert: tls.cert }, (s) => {
      s.on('error', noop);
      s.on('data', (d: Buffer) => s.write(d));
    });
    secure.on('tlsClientError', noop);
    ports.tls = await listen(secure, host);
  }
  return ports;
}

async function runBulk(host: string): Promise<RolePorts> {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const server = createServer({ noDelay: true }, (s) => {
    s.on('error', noop);
    s.once('data', () => {
      const pump = (): void => {
        let more = true;
        while (more && !s.destroyed && s.writable) more = s.write(chunk);
      };
      s.on('drain', pump);
      pump();
    });
  });
  return { bulk: await listen(server, host) };
}

function childMain(): void {
  const send = (m: FromOrigin): void => {
    process.send?.(m);
  };
  process.on('message', (m: ToOrigin) => {
    switch (m.t) {
      case 'init': {
        const started = m.role === 'echo' ? runEcho(m.tls, m.host) : runBulk(m.host);
        started.then(
          (ports) => send({ t: 'ready', ports }),
          (error: unknown) => send({ t: 'failed', message: String(error) }),
        );
        return;
      }
      case 'close-held': {
        const count = held.size;
        for (const s of held) s.end();
        send({ t: 'closed-held', count });
        return;
      }
      case 'exit':
        process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------- orchestrator side

export interface OriginPorts {
  /** Raw echo-and-hold ports (one per echo process). */
  readonly hold: readonly number[];
  /** Raw echo ports, not treated as TLS ports by the proxies. */
  readonly plain: readonly number[];
  /** Real TLS echo server. */
  readonly tls: number;
  readonly bulk: readonly number[];
}

export interface Origins {
  readonly host: string;
  readonly ports: OriginPorts;
  readonly pids: readonly number[];
  /** Every TLS-shaped port (where a tunnel starts with a ClientHello). */
  readonly tlsPorts: readonly number[];
  /** Every port a CONNECT may reach. */
  readonly connectPorts: readonly number[];
  /** Has every echo process end its held connections; returns how many there were. */
  closeHeld(): Promise<number>;
  stop(): Promise<void>;
}

interface Child {
  readonly process: ChildProcess;
  readonly ports: RolePorts;
}

async function startChild(
  role: OriginRole,
  host: string,
  tls: { key: string; cert: string } | null,
): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<RolePorts>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`origin ${role} did not start within 10 s`)), 10_000);
    child.once('exit', (code) => reject(new Error(`origin ${role} exited (code ${String(code)})`)));
    child.on('message', (m: FromOrigin) => {
      if (m.t === 'ready') {
        clearTimeout(timer);
        resolve(m.ports);
      } else if (m.t === 'failed') {
        clearTimeout(timer);
        reject(new Error(`origin ${role}: ${m.message}`));
      }
    });
    child.send({ t: 'init', role, host, tls } satisfies ToOrigin);
  });
  child.removeAllListeners('exit');
  return { process: child, ports };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) child.kill('SIGKILL');
    }, 3_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (child.connected) child.send({ t: 'exit' } satisfies ToOrigin);
    else child.kill('SIGTERM');
  });
}

export async function startOrigins(options: {
  readonly host: string;
  readonly echoProcesses: number;
  readonly bulkProcesses: number;
  readonly tls: { readonly key: string; readonly cert: string };
}): Promise<Origins> {
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c.process)));
  };
  try {
    for (let i = 0; i < options.echoProcesses; i++)
      children.push(await startChild('echo', options.host, i === 0 ? options.tls : null));
    for (let i = 0; i < options.bulkProcesses; i++)
      children.push(await startChild('bulk', options.host, null));
  } catch (error) {
    await stop();
    throw error;
  }
  const echo = children.filter((c) => c.ports.hold !== undefined);
  const ports: OriginPorts = {
    hold: echo.map((c) => c.ports.hold!),
    plain: echo.map((c) => c.ports.plain!),
    tls: echo[0]!.ports.tls!,
    bulk: children.filter((c) => c.ports.bulk !== undefined).map((c) => c.ports.bulk!),
  };
  const tlsPorts = [...ports.hold, ports.tls, ...ports.bulk];
  return {
    host: options.host,
    ports,
    pids: children.map((c) => c.process.pid!),
    tlsPorts,
    connectPorts: [...tlsPorts, ...ports.plain],
    async closeHeld(): Promise<number> {
      const counts = await Promise.all(
        echo.map(
          (c) =>
            new Promise<number>((resolve) => {
              const timer = setTimeout(() => resolve(0), 10_000);
              const on = (m: FromOrigin): void => {
                if (m.t !== 'closed-held') return;
                clearTimeout(timer);
                c.process.off('message', on);
                resolve(m.count);
              };
              c.process.on('message', on);
              c.process.send({ t: 'close-held' } satisfies ToOrigin);
            }),
        ),
      );
      return counts.reduce((a, b) => a + b, 0);
    },
    stop,
  };
}

/** A throw-away self-signed certificate for `name`, made with openssl. */
export function createCertificate(dir: string, name: string): { key: string; cert: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'origin.key',
      '-out',
      'origin.pem',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=DNS:${name}`,
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return {
    key: readFileSync(join(dir, 'origin.key'), 'utf8'),
    cert: readFileSync(join(dir, 'origin.pem'), 'utf8'),
  };
}

/**
 * Records the first TLS record (the ClientHello, with `servername` as SNI) that Node's TLS client
 * sends, by letting it connect to a TCP server that reads it and hangs up.
 */
export async function recordClientHello(servername: string, saveTo?: string): Promise<Buffer> {
  const server = createServer();
  const port = await listen(server, '127.0.0.1');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello within 5 s')), 5_000);
      server.on('connection', (s) => {
        s.on('error', noop);
        let data = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          data = Buffer.concat([data, d]);
          if (data.length < 5) return;
          if (data[0] !== 0x16) {
            clearTimeout(timer);
            reject(new Error('the first record is not a TLS handshake'));
            return;
          }
          const length = 5 + data.readUInt16BE(3);
          if (data.length < length) return;
          clearTimeout(timer);
          const hello = Buffer.from(data.subarray(0, length));
          if (saveTo !== undefined) writeFileSync(saveTo, hello);
          s.destroy();
          resolve(hello);
        });
      });
      const client = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
      client.on('error', noop);
    });
  } finally {
    server.close();
  }
}

/** A raw TCP connection (used by the functional checks). */
export function rawConnect(host: string, port: number, localAddress?: string): Socket {
  return netConnect({ host, port, ...(localAddress === undefined ? {} : { localAddress }), noDelay: true });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) childMain();
