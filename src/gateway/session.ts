import type { ReasonCode } from '../errors/index.js';
import { newRecordId, type AccessRecord } from '../observe/index.js';
import { catalogRefFor, type Decision } from '../policy/index.js';
import type { ClientIdentity } from './admission.js';
import type { GatewayParts } from './parts.js';
import { Registry } from '../collections/registry.js';

/** Everything in flight that shutdown waits for or cuts. */
export type SessionRegistry = Registry<'registered', Session>;

export function sessionRegistry(): SessionRegistry {
  return new Registry('registered');
}

/**
 * One request's life: opened (head read) → decided (policy) → connected (upstream) →
 * closed, with one access record at the end. A refusal is a session too, closed at once.
 * Subclasses supply the mechanism (a tunnel, a forwarded exchange); the bookkeeping and the
 * record live here, once.
 */
export abstract class Session {
  readonly id = newRecordId();
  /** Its place in the gateway's SessionRegistry; -1 while it is not there. */
  registered = -1;
  readonly start: number;
  protected decision: Decision | null = null;
  /** Destination as the log shows it: normalised once decided, as written before. */
  protected host: string;
  protected status = 0;
  /** A refusal by the policy or the protocol (logged as deny). */
  protected refusal: ReasonCode | null = null;
  /** The gateway could not do what was allowed (logged as error). */
  protected failure: ReasonCode | null = null;
  /** How an established session ended. */
  protected end: ReasonCode | null = null;
  protected wouldDeny: ReasonCode | null = null;
  protected sni: string | null = null;
  protected upstream: string | null = null;
  protected connectMs: number | null = null;
  protected setupMs: number | null = null;
  protected bytesFromClient = 0;
  protected bytesToClient = 0;
  /** The failure's or refusal's own words (an AirlockError's message), for the log. */
  protected detail: string | null = null;
  private closed = false;

  constructor(
    protected readonly parts: GatewayParts,
    protected client: ClientIdentity,
    protected readonly method: string,
    host: string,
    protected readonly port: number,
    protected readonly path: string | null,
    start: number,
  ) {
    this.host = host;
    this.start = start;
  }

  /** Ends the session at once (shutdown deadline), logging `reason` as how it ended. */
  abstract abort(reason: ReasonCode): void;

  protected decided(decision: Decision): void {
    this.decision = decision;
    this.host = decision.host;
    this.wouldDeny = decision.wouldDeny;
    if (decision.verdict === 'deny') this.refusal = decision.reason;
  }

  /**
   * Records a failure: DENY_* codes (the address guard) are refusals, the rest errors.
   * `detail` is what the failing AirlockError said (which server, which address).
   */
  protected failed(reason: ReasonCode, detail: string | null = null): void {
    if (this.refusal === null && this.failure === null) this.detail = detail;
    if (reason.startsWith('DENY_')) this.refusal ??= reason;
    else this.failure ??= reason;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes the access record (once) and leaves the registry. */
  protected close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parts.sessions.delete(this);
    this.parts.log.write(this.toRecord());
  }

  toRecord(): AccessRecord {
    const decision: AccessRecord['decision'] =
      this.refusal !== null
        ? 'deny'
        : this.failure !== null
          ? 'error'
          : this.wouldDeny !== null
            ? 'would_deny'
            : 'allow';
    const rule = this.decision?.rule ?? null;
    return {
      id: this.id,
      start: this.start,
      durationMs: Date.now() - this.start,
      client: this.client.address,
      clientPort: this.client.port,
      // Named by the sink from observe.clientNames.
      clientName: null,
      method: this.method,
      host: this.host,
      port: this.port,
      path: this.path,
      decision,
      reason: this.refusal ?? this.failure ?? this.wouldDeny ?? this.decision?.reason ?? 'INTERNAL_ERROR',
      end: this.refusal === null && this.failure === null ? (this.end ?? 'CLOSED') : null,
      rule: rule?.text ?? null,
      ruleOrigin: rule?.origin.where ?? null,
      catalog: catalogRefFor(rule, this.host),
      sni: this.sni,
      upstream: this.upstream,
      status: this.status,
      bytesFromClient: this.bytesFromClient,
      bytesToClient: this.bytesToClient,
      upstreamConnectMs: this.connectMs,
      setupMs: this.setupMs,
      detail: this.detail,
    };
  }
}

/**
 * A request refused before it could be served: limits at accept, an untrusted PROXY header,
 * a malformed or oversized head, or a policy denial. Logged at once.
 */
export class Refusal extends Session {
  constructor(
    parts: GatewayParts,
    client: ClientIdentity,
    reason: ReasonCode,
    status: number,
    request: {
      readonly method?: string;
      readonly host?: string;
      readonly port?: number;
      readonly path?: string | null;
      readonly decision?: Decision | null;
    } = {},
    start = Date.now(),
  ) {
    super(
      parts,
      client,
      request.method ?? '-',
      request.host ?? '-',
      request.port ?? 0,
      request.path ?? null,
      start,
    );
    if (request.decision) this.decided(request.decision);
    this.refusal = reason;
    this.status = status;
    this.close();
  }

  abort(): void {}
}
