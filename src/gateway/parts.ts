import type { Policy, TlsRules } from '../policy/index.js';
import type { AccessLogSink } from '../observe/index.js';
import type { Admission } from './admission.js';
import type { ClientConnection } from './client-connection.js';
import type { Dialer } from './dialer.js';
import type { Relay } from './native.js';
import type { SessionRegistry } from './session.js';
import type { Registry } from '../collections/registry.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface GatewayTimeouts {
  readonly requestHead: number;
  readonly connect: number;
  /** 0: no idle timeout. */
  readonly tunnelIdle: number;
  readonly upstreamResponse: number;
  readonly clientKeepAlive: number;
  readonly upstreamKeepAlive: number;
  readonly drain: number;
}

export type GatewayTls = TlsRules;

export interface GatewayLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly maxRequestHeadBytes: number;
  readonly upstreamSocketsPerOrigin: number;
  readonly upstreamIdleSocketsPerOrigin: number;
  /** Upstream connections of plain-HTTP forwarding in this process, busy, idle and connecting. */
  readonly upstreamSockets: number;
  readonly maxRequestsPerConnection: number;
  readonly newConnectionsPerClientPerSecond: number;
}

/** A complete answer the gateway writes itself (the PAC file on the proxy port). */
export interface LocalAnswer {
  readonly status: number;
  /** [name, value, ...] without framing headers. */
  readonly headers: readonly string[];
  readonly body: Buffer;
}

/** Answers origin-form requests that are not proxy requests (e.g. GET /proxy.pac); null when it does not. */
export type OriginFormResponder = (
  method: string,
  path: string,
  host: string | undefined,
) => LocalAnswer | null;

/**
 * What sessions work with: plain objects with one job each, built once per gateway. Nothing
 * here calls back into the Gateway; the gateway only swaps `policy` on reload.
 */
export interface GatewayParts {
  /** The policy in force; new sessions read it once, at their decision. */
  policy: Policy;
  readonly mode: 'enforce' | 'audit';
  readonly timeouts: GatewayTimeouts;
  readonly tls: GatewayTls;
  readonly limits: GatewayLimits;
  readonly admission: Admission;
  readonly dialer: Dialer;
  readonly pool: UpstreamPool;
  readonly sessions: SessionRegistry;
  readonly log: AccessLogSink;
  /** Carries established tunnels natively; null: tunnels are spliced in JavaScript. */
  readonly relay: Relay | null;
  readonly originForm: OriginFormResponder | null;
  /** Client connections reading requests (tunnels leave it when they take their socket). */
  readonly connections: Registry<'connected', ClientConnection>;
  /** Where an unexpected exception inside a session goes (logged, counted); the session ends. */
  readonly faults: FaultReporter;
  /** Set at shutdown: new requests are refused, kept-alive connections close after their exchange. */
  closing: boolean;
  /** Tunnels of this gateway the native relay carries now. */
  relayed: number;
  /** ClientHellos the native front passed itself (they named the CONNECT host), since start. */
  hellosPassedInFront: number;
}

/** Receives exceptions no session expected: the gateway keeps serving everybody else. */
export interface FaultReporter {
  report(error: unknown): void;
}
