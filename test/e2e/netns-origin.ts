/**
 * Origin servers for the network-namespace end-to-end test, run inside the "internet"
 * namespace with `ip netns exec`. Every accepted connection, every TLS server name and every
 * request is appended as one JSON line to a log file the test reads.
 *
 *   node netns-origin.js serve CONFIG.json     start the servers; prints {"event":"ready"} once all listen
 *   node netns-origin.js resolve SERVER NAME   one A lookup of NAME at SERVER; prints the addresses as JSON
 */
import { promises as dns } from 'node:dns';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';

export interface OriginConfig {
  readonly logFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** "ADDRESS:PORT" for each TLS (HTTPS) origin. */
  readonly tls: readonly string[];
  /** "ADDRESS:PORT" for each plain-HTTP origin. */
  readonly http: readonly string[];
}

export type OriginEvent =
  | {
      readonly event: 'connection';
      readonly kind: 'tls' | 'http';
      readonly local: string;
      readonly remote: string;
    }
  | { readonly event: 'sni'; readonly local: string; readonly servername: string }
  | {
      readonly event: 'tls_established';
      readonly local: string;
      readonly remote: string;
      readonly servername: string | null;
    }
  | {
      readonly event: 'tls_error';
      readonly local: string;
      /** Null when the peer had already gone. */
      readonly remote: string | null;
      readonly error: string;
    }
  | {
      readonly event: 'request';
      readonly kind: 'tls' | 'http';
      readonly local: string;
      readonly remote: string;
      readonly method: string;
      readonly url: string;
      readonly host: string | null;
      readonly servername: string | null;
    };

function endpoint(address: string | undefined, port: number | undefined): string {
  return `${address ?? '?'}:${port ?? 0}`;
}

function splitHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon), port: Number(text.slice(colon + 1)) };
}

function listen(server: Server, where: string): Promise<void> {
  const { host, port } = splitHostPort(where);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

async function serve(configFile: string): Promise<void> {
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as OriginConfig;
  const log = (event: OriginEvent): void => {
    appendFileSync(config.logFile, `${JSON.stringify({ time: Date.now(), ...event })}\n`);
  };
  const cert = readFileSync(config.certFile);
  const key = readFileSync(config.keyFile);
  const context = createSecureContext({ cert, key });
  const ends = (socket: Socket): { local: string; remote: string } => ({
    local: endpoint(socket.localAddress, socket.localPort),
    remote: endpoint(socket.remoteAddress, socket.remotePort),
  });
  const answer =
    (kind: 'tls' | 'http') =>
    (req: IncomingMessage, res: ServerResponse): void => {
      const socket = req.socket as Socket & Partial<Pick<TLSSocket, 'servername'>>;
      const servername = typeof socket.servername === 'string' ? socket.servername : null;
      log({
        event: 'request',
        kind,
        ...ends(socket),
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host ?? null,
        servername,
      });
      const body = `origin ${ends(socket).local} ${req.method ?? ''} ${req.url ?? ''}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(body);
    };

  const servers: Server[] = [];
  for (const where of config.tls) {
    const server = createHttpsServer(
      {
        cert,
        key,
        SNICallback: (servername, callback) => {
          // The socket is not handed to the callback: the name is logged here with the listening
          // address, and again with both endpoints once the handshake is done.
          log({ event: 'sni', local: where, servername });
          callback(null, context);
        },
      },
      answer('tls'),
    );
    server.on('connection', (socket: Socket) => log({ event: 'connection', kind: 'tls', ...ends(socket) }));
    server.on('secureConnection', (socket: TLSSocket) => {
      const servername = typeof socket.servername === 'string' ? socket.servername : null;
      log({ event: 'tls_established', ...ends(socket), servername });
    });
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      const remote =
        socket.remoteAddress === undefined ? null : endpoint(socket.remoteAddress, socket.remotePort);
      log({ event: 'tls_error', local: where, remote, error: error.message });
    });
    server.keepAliveTimeout = 1000;
    servers.push(server);
    await listen(server, where);
  }
  for (const where of config.http) {
    const server = createHttpServer(answer('http'));
    server.on('connection', (socket: Socket) => log({ event: 'connection', kind: 'http', ...ends(socket) }));
    server.keepAliveTimeout = 1000;
    servers.push(server);
    await listen(server, where);
  }
  const listening = servers.map((s) => {
    const a = s.address() as AddressInfo;
    return endpoint(a.address, a.port);
  });
  // SIGTERM keeps its default action: the process ends at once.
  process.stdout.write(`${JSON.stringify({ event: 'ready', listening })}\n`);
}

async function resolveOnce(server: string, name: string): Promise<void> {
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([server]);
  try {
    process.stdout.write(`${JSON.stringify(await resolver.resolve4(name))}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as NodeJS.ErrnoException).code ?? 'ERROR' })}\n`);
    process.exitCode = 1;
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'serve' && args[0] !== undefined) {
  await serve(args[0]);
} else if (mode === 'resolve' && args[0] !== undefined && args[1] !== undefined) {
  await resolveOnce(args[0], args[1]);
} else {
  process.stderr.write('usage: netns-origin.js serve CONFIG.json | resolve SERVER NAME\n');
  process.exitCode = 2;
}
