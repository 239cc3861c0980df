import type { Policy } from '../policy/index.js';
import type { Admission } from './admission.js';
import type { NativeAddon } from './native.js';
import type { ResolvedAddress } from './resolver.js';
import { SlotMap } from '../collections/slot-map.js';

/**
 * How long a repeat grant holds: a client that reconnects with the same request within this
 * time skips the wait for JavaScript; after it the next request is decided here again.
 */
export const GRANT_TTL_MS = 1000;

/** Most grants one listener holds at once (one per client address). */
export const GRANTS_MAX = 4096;

/**
 * Longest request head a grant is made for (an agent's CONNECT head is a few hundred bytes): the
 * front keeps a copy of the head with each grant, so this bounds their memory (4 MiB a listener).
 */
export const GRANT_HEAD_MAX = 1024;

/** An outstanding grant, as kept here. */
export interface Grant {
  /** The client's address as the front reported it at accept (the grant's key). */
  readonly peer: string;
  /** The client's address as admission counts it. */
  readonly client: string;
  /** The policy that decided the tunnel that earned the grant. */
  readonly policy: Policy;
  /** The address the front connects to. */
  readonly address: ResolvedAddress;
}

/** The connect a grant repeats: what `frontConnect` was given for the tunnel that earned it. */
export interface GrantedConnect extends Grant {
  /** The request head the client sent, without any bytes after it (the front keeps a copy). */
  readonly head: Buffer;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly peek: boolean;
  readonly idleMs: number;
  readonly passName: string | null;
}

/**
 * The repeat grants of one native listener. After a tunnel was decided here, connected and
 * passed its ClientHello check, the front may be told to connect the client's next identical
 * request at once, the same way (`frontGrant`): the same request head byte for byte, from the
 * same address, to the address just connected, within `GRANT_TTL_MS`. The session and its
 * record are still made here when the head arrives; only the round trip to this thread before
 * the connect is saved.
 *
 * The limits stay exact: a grant holds a reserved admission slot (and a rate token) from the
 * moment it is made until the front reports it used (a granted head) or gone (expired,
 * revoked, its listener closed), and is made only while the client and the process are below
 * half their limits. A grant is revoked on every reload, so no request is connected on a
 * decision, a static host answer or a limit that is no longer in force; a DNS answer is relied
 * on only while it is fresh for longer than the grant.
 */
export class FrontGrants {
  /** Outstanding grants by the client's address as the front reports it. */
  private readonly byPeer = new SlotMap<string, Grant>();
  /**
   * Clients whose last granted connect failed: a tunnel that came on a grant makes the next
   * grant only once one of theirs has connected again (`offer` from a connected tunnel).
   */
  private readonly failed = new Set<string>();

  constructor(
    private readonly addon: Pick<NativeAddon, 'frontGrant'>,
    private readonly admission: Admission,
    private readonly listener: () => number,
  ) {}

  /** Whether a grant for `peer` could be made now: none is outstanding for it and there is room. */
  canOffer(peer: string): boolean {
    return !this.byPeer.has(peer) && this.byPeer.size < GRANTS_MAX;
  }

  /** Makes a grant for `connect` if `canOffer` its client and admission reserves a slot for it. */
  offer(connect: GrantedConnect): boolean {
    if (!this.canOffer(connect.peer)) return false;
    this.failed.delete(connect.peer);
    if (!this.admission.reserve(connect.client)) return false;
    const { peer, client, policy, address } = connect;
    this.byPeer.set(peer, { peer, client, policy, address });
    this.addon.frontGrant(
      this.listener(),
      connect.peer,
      connect.head,
      connect.address.address,
      connect.port,
      connect.connectTimeoutMs,
      connect.peek,
      connect.idleMs,
      connect.passName,
      GRANT_TTL_MS,
    );
    return true;
  }

  /**
   * The front connected a head from `peer` on its grant. `admitted`: the connection holds a slot
   * of its own (taken at accept), so the reservation and its rate token go back; otherwise the
   * caller cuts the connection and the token stays spent. The grant, or undefined when none is
   * known for `peer` (the caller cuts the connection).
   */
  used(peer: string, admitted: boolean): Grant | undefined {
    const grant = this.byPeer.get(peer);
    if (grant === undefined) return undefined;
    this.byPeer.delete(peer);
    this.admission.unreserve(grant.client, admitted);
    return grant;
  }

  /** A connect on `peer`'s grant failed. */
  broken(peer: string): void {
    if (this.failed.size >= GRANTS_MAX) this.failed.clear();
    this.failed.add(peer);
  }

  isBroken(peer: string): boolean {
    return this.failed.has(peer);
  }

  /** The front dropped `peer`'s grant unused: its slot and token go back. */
  gone(peer: string): void {
    const grant = this.byPeer.get(peer);
    if (grant === undefined) return;
    this.byPeer.delete(peer);
    this.admission.unreserve(grant.client, true);
  }

  /** The listener closed: the front dropped every grant, and reports none of them. */
  clear(): void {
    for (const grant of this.byPeer.values()) this.admission.unreserve(grant.client, true);
    this.byPeer.clear();
  }

  get size(): number {
    return this.byPeer.size;
  }
}
