import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AirlockError } from '../errors/index.js';
import type { ListenAddress } from '../config/index.js';

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

const PAC_TYPE = 'application/x-ns-proxy-autoconfig';

/**
 * The admin listener: liveness and readiness for orchestrators, Prometheus metrics, a JSON
 * status, and the PAC/WPAD file. Read-only: nothing here changes the gateway.
 */
export class AdminServer {
  private readonly server: Server;

  constructor(
    private readonly listen: ListenAddress,
    private readonly state: AdminState,
    private readonly metrics: MetricsSource,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
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
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (AdminServer.servePac(this.state, req, res)) return;
    const path = (req.url ?? '').split('?')[0];
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const ready = this.state.ready();
        res
          .writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' })
          .end(ready ? 'ready\n' : 'not ready\n');
        return;
      }
      case '/metrics': {
        const body = await this.metrics.metrics();
        res
          .writeHead(200, {
            'Content-Type': this.metrics.contentType,
            'Content-Length': Buffer.byteLength(body),
          })
          .end(body);
        return;
      }
      case '/api/status': {
        const body = JSON.stringify(await this.state.stats());
        res
          .writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
          .end(body);
        return;
      }
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  }

  async start(): Promise<AddressInfo> {
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
