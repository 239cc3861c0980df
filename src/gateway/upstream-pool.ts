import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpstreamConnection } from './upstream-connect.js';

export type UpstreamConnector = (host: string, port: number) => Promise<UpstreamConnection>;

/**
 * The keep-alive pool for plain-HTTP forwarding: Node's Agent for pooling and queueing,
 * with every new connection made by the gateway's own connector (DNS cache, ordered
 * address attempts, connect timeout), so forwarding and tunnels reach upstreams the same way.
 */
export class UpstreamPool extends Agent {
  constructor(
    private readonly connector: UpstreamConnector,
    options: { maxSockets: number; maxFreeSockets: number; idleTimeoutMs: number },
  ) {
    super({
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxFreeSockets,
      timeout: options.idleTimeoutMs,
      scheduling: 'lifo',
    });
  }

  // Node's Agent accepts an asynchronous createConnection: return nothing, call back later.
  override createConnection(
    options: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): undefined {
    const host = String(options.host ?? '');
    const port = Number(options.port ?? 80);
    this.connector(host, port).then(
      (connection) => callback?.(null, connection.socket),
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
