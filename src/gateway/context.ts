import type { Socket } from 'node:net';
import type { AccessRecord } from '../observe/index.js';
import type { Policy } from '../policy/index.js';
import type { Relay } from './native.js';
import type { Session } from './session.js';
import type { UpstreamConnection } from './upstream-connect.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface GatewayTimeouts {
  readonly requestHead: number;
  readonly connect: number;
  readonly tunnelIdle: number;
  readonly upstreamResponse: number;
  readonly clientKeepAlive: number;
  readonly upstreamKeepAlive: number;
  readonly drain: number;
}

export interface GatewayTls {
  readonly sniCheck: boolean;
  readonly ports: readonly number[];
  readonly missingSni: 'deny' | 'allow';
  readonly nonTls: 'deny' | 'allow';
}

export interface GatewayLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxRequestHeadBytes: number;
  readonly upstreamSocketsPerOrigin: number;
  readonly upstreamIdleSocketsPerOrigin: number;
  readonly maxRequestsPerConnection: number;
  readonly newConnectionsPerClientPerSecond: number;
}

/** What request handlers need from the gateway; one object, built once. */
export interface GatewayContext {
  /** The policy in force; replaced by reference on reload. */
  readonly policy: () => Policy;
  readonly timeouts: GatewayTimeouts;
  readonly tls: GatewayTls;
  readonly audit: boolean;
  readonly sessions: Set<Session>;
  readonly pool: UpstreamPool;
  readonly connectUpstream: (
    host: string,
    port: number,
    signal?: { readonly aborted: boolean },
  ) => Promise<UpstreamConnection>;
  readonly log: (record: AccessRecord) => void;
  /** A tunnel is established (200 sent, and its ClientHello passed when it is checked): its first record. */
  readonly opened: (record: AccessRecord) => void;
  /** The native relay that carries established tunnels, or null (tunnels stay in JavaScript). */
  readonly relay: Relay | null;
  /** A client socket is handed to the relay: its connection slot stays taken; returns its client key. */
  readonly detach: (socket: Socket) => string;
  /** The hand-over failed: the socket counts as an ordinary connection again. */
  readonly reattach: (socket: Socket) => void;
  /** A relayed tunnel ended: its connection slot is free. */
  readonly released: (client: string) => void;
}
