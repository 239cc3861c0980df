import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AirlockError } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';
import { AdminAccess, checkAdminExposure, TOKEN_COOKIE } from './admin-access.js';
import { DashboardAssets, isDashboardPath } from './dashboard.js';

export interface AdminState {
  /** True once every listener is open and until shutdown starts. */
  ready(): boolean;
  stats(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The PAC file for a client that asked through `host` (its Host header), or null when PAC is off. */
  pac(requestHost: string | undefined): string | null;
}

/** Where /metrics comes from: one registry, or the workers' registries aggregated. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** A change of configuration the admin API asked for, and how it went. */
export interface ReloadOutcome {
  readonly ok: boolean;
  readonly error: string | null;
}

/** The JSON API and event stream behind /api/* and /events (the operator view). */
export interface AdminApi {
  status(): Promise<Record<string, unknown>>;
  /** Null when the operator view's state is off (observe.state: false). */
  clients(query: URLSearchParams): unknown;
  client(address: string): unknown;
  services(): unknown;
  denials(query: URLSearchParams): unknown;
  tunnels(query: URLSearchParams): unknown;
  history(): unknown;
  policy(): unknown;
  reload(trigger: string): Promise<ReloadOutcome>;
  /** Server-sent events: `listener(event, data)` until the returned function is called. */
  subscribe(listener: (event: string, data: unknown) => void): () => void;
}

export interface AdminOptions {
  readonly api?: AdminApi | undefined;
  /** The bearer token; null on a loopback listener without one. */
  readonly token?: string | null | undefined;
  /** The dashboard's files (default: the build output, read at the first request for them). */
  readonly dashboard?: DashboardAssets | undefined;
  /** The operational log, told when the listener refuses connections (default: nothing is logged). */
  readonly log?: AdminLog | undefined;
}

/** What the listener needs of the operational log (the supervisor's pino logger has it). */
export interface AdminLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

const PAC_TYPE = 'application/x-ns-proxy-autoconfig';
const MAX_EVENT_STREAMS = 32;
/**
 * Connections the listener holds at once; more are closed as they arrive. Its clients are few: a
 * dashboard holds one event stream and at most six connections for the views (a browser's limit
 * per host), `airlock top` four, Prometheus one, so even MAX_EVENT_STREAMS dashboards stay below
 * it. Each connection is a descriptor of the supervisor, which also accepts the proxy's
 * connections (engine.listen: handoff): 256 leaves it three quarters of a 1,024 limit.
 */
const MAX_CONNECTIONS = 256;
/**
 * How long a connection may take to send its request head. Every client of the listener sends
 * it in its first packet; a connection that sends nothing only holds a place under
 * MAX_CONNECTIONS, so it goes within seconds.
 */
const HEADERS_TIMEOUT_MS = 5_000;
/**
 * How often Node looks for connections past HEADERS_TIMEOUT_MS: its default, 30 s, would let a
 * silent connection stay six times as long as the timeout says.
 */
const CONNECTIONS_CHECK_MS = 1_000;
/** At most one warning about refused connections in this time. */
const REFUSALS_LOG_MS = 60_000;
/**
 * Output an event stream may have waiting for its client (beyond what the kernel holds) before
 * the stream is ended. A client that reads keeps it near zero; 1 MiB is about eight seconds of the
 * heaviest flood of denials seen (~750 a second made ~125 KB of events a second), time enough
 * for a slow link or a busy browser to catch up, and MAX_EVENT_STREAMS stalled clients hold
 * 32 MiB at most.
 */
const MAX_UNSENT_EVENT_BYTES = 1024 * 1024;
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/proxy.pac', '/wpad.dat']);

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res
    .writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
    })
    .end(body);
}

function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end(`${text}\n`);
}

/** Reads a small request body (the login form); null when it is larger than `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

/**
 * The admin listener: liveness and readiness for orchestrators, Prometheus metrics, the PAC/WPAD
 * file, the operator view's JSON API and event stream (docs/admin-api.md) and the dashboard that
 * shows them in a browser. GET never changes anything; POST /api/reload does, and needs the
 * token or a same-origin browser request.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly access: AdminAccess;
  private readonly api: AdminApi | null;
  private dashboard: DashboardAssets | null;
  private readonly log: AdminLog | null;
  private streams = 0;
  /** Connections refused since the last warning, and when the next warning may be written. */
  private refused = 0;
  private quietUntil = 0;

  constructor(
    private readonly listen: ListenAddress,
    private readonly state: AdminState,
    private readonly metrics: MetricsSource,
    options: AdminOptions = {},
  ) {
    this.access = new AdminAccess(options.token ?? null);
    this.api = options.api ?? null;
    this.dashboard = options.dashboard ?? null;
    this.log = options.log ?? null;
    this.server = createServer(
      {
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: 30_000,
        connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on('drop', () => this.refusedOne());
  }

  /** A connection was closed because MAX_CONNECTIONS were open: said once, not once per connection. */
  private refusedOne(): void {
    this.refused++;
    const now = Date.now();
    if (now < this.quietUntil) return;
    this.quietUntil = now + REFUSALS_LOG_MS;
    this.log?.warn(
      { event: 'admin_connections_refused', refused: this.refused, maxConnections: MAX_CONNECTIONS },
      `the admin listener (${this.listen.text}) holds ${MAX_CONNECTIONS} connections, its most: new ones are closed until some end (clients opening connections without sending requests?)`,
    );
    this.refused = 0;
  }

  /** Answers a PAC/WPAD request (also used by the proxy port when it serves the PAC). Returns false if not a PAC path. */
  static servePac(state: AdminState, req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/proxy.pac' && path !== '/wpad.dat') return false;
    const pac = state.pac(req.headers.host);
    if (pac === null) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('PAC is not configured (admin.pac.proxies)\n');
      return true;
    }
    res.writeHead(200, {
      'Content-Type': PAC_TYPE,
      'Cache-Control': 'max-age=300',
      'Content-Length': Buffer.byteLength(pac),
    });
    res.end(req.method === 'HEAD' ? undefined : pac);
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const post = path === '/api/reload' || path === '/api/login';
    if (post ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: post ? 'POST' : 'GET, HEAD' }).end();
      return;
    }
    if (OPEN_PATHS.has(path)) {
      this.serveOpen(path, req, res);
      return;
    }
    if (isDashboardPath(path) && this.api !== null) {
      // Static files without data, for anyone who can reach the listener: the page logs in itself.
      this.dashboard ??= DashboardAssets.load();
      this.dashboard.serve(path, req, res);
      return;
    }
    if (path === '/api/login') {
      await this.login(req, res);
      return;
    }
    const credential = this.access.credential(req);
    if (credential === null) {
      if (this.access.required) {
        sendText(res, 401, 'the admin API needs the token: Authorization: Bearer <token>', {
          'WWW-Authenticate': 'Bearer realm="airlock"',
        });
      } else {
        sendText(
          res,
          403,
          'the admin API answers requests to a loopback host name only (127.0.0.1, [::1], localhost)',
        );
      }
      return;
    }
    if (path === '/metrics') {
      const body = await this.metrics.metrics();
      res
        .writeHead(200, {
          'Content-Type': this.metrics.contentType,
          'Content-Length': Buffer.byteLength(body),
        })
        .end(body);
      return;
    }
    if (path === '/api/status') {
      sendJson(res, 200, this.api === null ? await this.state.stats() : await this.api.status());
      return;
    }
    const api = this.api;
    if (api === null) {
      sendText(res, 404, 'not found');
      return;
    }
    if (path === '/api/reload') {
      if (!this.access.mayChange(req, credential)) {
        sendText(res, 403, "reload: a browser may ask for it only from the admin listener's own pages");
        return;
      }
      const outcome = await api.reload('admin API');
      sendJson(res, outcome.ok ? 200 : 422, outcome);
      return;
    }
    if (path === '/events') {
      this.stream(req, res, api);
      return;
    }
    const view = this.view(path, url.searchParams, api);
    if (view === undefined) sendText(res, 404, 'not found');
    else if (view === null) sendText(res, 503, 'the operator view is off (observe.state: false)');
    else sendJson(res, 200, view);
  }

  private view(path: string, query: URLSearchParams, api: AdminApi): unknown {
    switch (path) {
      case '/api/clients':
        return api.clients(query);
      case '/api/services':
        return api.services();
      case '/api/denials':
        return api.denials(query);
      case '/api/tunnels':
        return api.tunnels(query);
      case '/api/history':
        return api.history();
      case '/api/policy':
        return api.policy();
      default:
        if (path.startsWith('/api/clients/')) {
          const row = api.client(decodeURIComponent(path.slice('/api/clients/'.length)));
          return row === null ? undefined : row;
        }
        return undefined;
    }
  }

  private serveOpen(path: string, req: IncomingMessage, res: ServerResponse): void {
    if (AdminServer.servePac(this.state, req, res)) return;
    if (path === '/healthz') {
      sendText(res, 200, 'ok');
      return;
    }
    const ready = this.state.ready();
    sendText(res, ready ? 200 : 503, ready ? 'ready' : 'not ready');
  }

  /** POST /api/login (form field or JSON `token`): sets the cookie a browser's event stream needs. */
  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.access.required) {
      sendText(res, 404, 'no token is configured: nothing to log in to');
      return;
    }
    const body = await readBody(req, 4096);
    let token: string | null = null;
    if (body !== null) {
      if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
        try {
          const value = (JSON.parse(body) as { token?: unknown }).token;
          token = typeof value === 'string' ? value : null;
        } catch {
          token = null;
        }
      } else token = new URLSearchParams(body).get('token');
    }
    if (token === null || !this.access.matches(token)) {
      sendText(res, 401, 'wrong token');
      return;
    }
    res
      .writeHead(204, {
        'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      })
      .end();
  }

  /** GET /events: server-sent events until the client goes (docs/admin-api.md lists them). */
  private stream(req: IncomingMessage, res: ServerResponse, api: AdminApi): void {
    if (this.streams >= MAX_EVENT_STREAMS) {
      sendText(res, 503, `too many event streams (at most ${MAX_EVENT_STREAMS})`);
      return;
    }
    this.streams++;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    let id = 0;
    let ended = false;
    let unsubscribe = (): void => undefined;
    const keepAlive = setInterval(() => send(': keep-alive\n\n'), 15_000);
    keepAlive.unref();
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.streams--;
      clearInterval(keepAlive);
      unsubscribe();
    };
    // A client that stops reading would have every later event kept for it. Past the bound its
    // stream is cut instead: ending it politely would queue the end behind what it does not read.
    // The dashboard reconnects and loads the views again, as after any lost stream.
    const send = (text: string): void => {
      if (ended) return;
      res.write(text);
      if (res.writableLength > MAX_UNSENT_EVENT_BYTES) {
        end();
        res.destroy();
      }
    };
    unsubscribe = api.subscribe((event, data) => {
      send(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    });
    req.socket.setTimeout(0);
    res.on('close', end);
  }

  async start(): Promise<AddressInfo> {
    checkAdminExposure(this.listen, this.access.required ? 'set' : null);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new AirlockError(
            'LISTEN_FAILED',
            `cannot listen on ${this.listen.text} (admin.listen): ${error.code === 'EADDRINUSE' ? 'address already in use' : error.message}`,
          ),
        ),
      );
      this.server.listen({ host: this.listen.host, port: this.listen.port }, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  address(): AddressInfo | null {
    return (this.server.address() as AddressInfo | null) ?? null;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
