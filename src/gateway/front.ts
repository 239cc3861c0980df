import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { AirlockError, ReasonCode } from '../errors/index.js';
import {
  checkResolvedAddress,
  decide,
  judgeServerName,
  serverNameChecked,
  type Policy,
} from '../policy/index.js';
import { identify, type ClientIdentity } from './admission.js';
import type { DialTicket } from './dialer.js';
import { FrontGrants, GRANT_HEAD_MAX, GRANT_TTL_MS, type Grant } from './front-grants.js';
import { parseRequestHead } from './http-head.js';
import { RELAY_ENDS, type FrontListener, type FrontTunnel, type Relay, type RelayResult } from './native.js';
import type { GatewayParts } from './parts.js';
import { ReadPort } from './read-port.js';
import { parseConnectTarget } from './request-target.js';
import type { ResolvedAddress } from './resolver.js';
import { responseFor } from './responses.js';
import { Refusal, Session } from './session.js';
import { hostPort } from '../text/host-port.js';
import { keptText } from '../text/kept.js';
import { ClientHelloReader } from './tls-client-hello.js';
import { SlotMap } from '../collections/slot-map.js';

/** Most header fields in one request head (as for connections read in JavaScript). */
const MAX_HEADERS = 100;

/**
 * How the gateway takes a connection the front hands over because it is not a CONNECT; its
 * socket is read through `reads` (a ReadPort).
 */
export type AdoptConnection = (
  socket: Socket,
  client: ClientIdentity,
  initial: Buffer | null,
  reads: ReadPort,
) => void;

/**
 * A front connection between its accept and its head: it holds the client's slot, and gives
 * it back if the connection ends before a session takes it over.
 */
class Accepted implements FrontTunnel {
  constructor(
    private readonly parts: GatewayParts,
    private readonly waiting: SlotMap<number, Accepted>,
    private readonly id: number,
    readonly client: ClientIdentity,
    /** The client's address as the front reported it (the key of its repeat grant). */
    readonly peer: string,
  ) {}
  connected(): void {}
  connectFailed(): void {}
  peeked(): void {}
  helloPassed(): void {}
  finished(): void {
    this.waiting.delete(this.id);
    this.parts.admission.release(this.client.address);
  }
}

/**
 * One listening socket of the native front: the relay thread accepts and reads request heads;
 * here each connection is admitted at once, each CONNECT head parsed and decided, and
 * everything else becomes an ordinary JavaScript connection.
 */
export class FrontListenerSlot implements FrontListener {
  private readonly waiting = new SlotMap<number, Accepted>();
  /**
   * Connections refused at accept, with their answer, until the front reports them over or
   * hands them here; `done` gives back the admission's lingering descriptor (once).
   */
  private readonly refused = new SlotMap<
    number,
    { raw: Buffer; linger: boolean; done: () => void; peer: string }
  >();
  /** The front's slot for this listener, once it listens (the grants' listener). */
  index = -1;
  /** Null when repeat grants are off (`engine.grants: false`). */
  readonly grants: FrontGrants | null;

  constructor(
    private readonly parts: GatewayParts,
    private readonly relay: Relay,
    private readonly adoptConnection: AdoptConnection,
    grants = true,
  ) {
    this.grants = grants ? new FrontGrants(relay.addon, parts.admission, () => this.index) : null;
  }

  onAccept(id: number, peer: { address: string; port: number }): void {
    const parts = this.parts;
    const client = identify(peer.address, peer.port);
    const refusal = parts.admission.admit(client.address, parts.closing);
    if (refusal !== null) {
      const response = responseFor(refusal);
      const linger = parts.admission.linger();
      let held = linger;
      const done = (): void => {
        if (held) parts.admission.lingered();
        held = false;
      };
      // The front may already be handing the connection over (it was not a CONNECT): the answer
      // is then written here, in onAdopt.
      this.refused.set(id, { raw: response.raw, linger, done, peer: peer.address });
      this.relay.track(id, {
        connected: () => undefined,
        connectFailed: () => undefined,
        peeked: () => undefined,
        helloPassed: () => undefined,
        finished: () => {
          this.refused.delete(id);
          done();
        },
      });
      this.relay.addon.frontRespond(id, response.raw, linger);
      new Refusal(parts, client, refusal, response.status);
      return;
    }
    const accepted = new Accepted(parts, this.waiting, id, client, peer.address);
    this.waiting.set(id, accepted);
    this.relay.track(id, accepted);
  }

  onHead(id: number, bytes: Buffer, timedOut: boolean, granted = false): void {
    const accepted = this.waiting.get(id);
    let grant: Grant | null = null;
    if (granted) {
      const peer = accepted?.peer ?? this.refused.get(id)?.peer;
      grant = (peer === undefined ? undefined : this.grants?.used(peer, accepted !== undefined)) ?? null;
      if (accepted === undefined || grant === null) {
        // Refused at accept, but the front connected it on a grant before the refusal reached it
        // (the grant's reserved slot held it meanwhile): it is cut, its refusal logged already.
        this.relay.abort(id);
        return;
      }
    }
    // Refused at accept (answered already), or gone.
    if (accepted === undefined) return;
    // Until a session takes over, the slot is given back by `accepted` when the front reports the end.
    this.waiting.delete(id);
    const parts = this.parts;
    const client = accepted.client;
    const start = Date.now();
    const refuse = (
      reason: ReasonCode,
      request: { method?: string; host?: string; port?: number } = {},
    ): void => {
      const response = responseFor(reason);
      // A head the front connected on a grant cannot be answered any more: it is cut.
      if (grant !== null) this.relay.abort(id);
      else this.relay.addon.frontRespond(id, response.raw);
      new Refusal(parts, client, reason, response.status, request, start);
    };
    const parsed = parseRequestHead(bytes, {
      maxBytes: parts.limits.maxRequestHeadBytes,
      maxHeaders: MAX_HEADERS,
    });
    if (parsed.status === 'incomplete') return refuse(timedOut ? 'HEAD_TIMEOUT' : 'HEAD_TOO_LARGE');
    if (parsed.status === 'error') return refuse(parsed.reason);
    const head = parsed.head;
    if (head.method !== 'CONNECT') return refuse('BAD_REQUEST', { method: head.method });
    const target = parseConnectTarget(head.target);
    if ('error' in target) return refuse(target.error, { method: 'CONNECT', host: head.target });
    if (parts.closing)
      return refuse('SHUTTING_DOWN', { method: 'CONNECT', host: target.host, port: target.port });
    const early = bytes.length > head.length ? bytes.subarray(head.length) : null;
    const grants = this.grants;
    new FrontTunnelSession(
      parts,
      client,
      this.relay,
      id,
      target.host,
      target.port,
      early,
      start,
      grants === null ? null : { grants, peer: accepted.peer, head: bytes.subarray(0, head.length), grant },
    ).open();
  }

  onGrantGone(peer: string): void {
    this.grants?.gone(peer);
  }

  onUnlisten(): void {
    this.grants?.clear();
  }

  onAdopt(id: number, fd: number, bytes: Buffer | null): void {
    const accepted = this.waiting.get(id);
    this.waiting.delete(id);
    const refusal = this.refused.get(id);
    this.refused.delete(id);
    if (refusal !== undefined) {
      // Refused at accept: answer it on a socket of our own, then close.
      try {
        const socket = new Socket({ fd, readable: true, writable: true });
        socket.on('error', () => undefined);
        socket.once('close', refusal.done);
        // Read and drop what the client still sends, so closing does not reset the answer away.
        socket.resume();
        socket.end(refusal.raw);
        if (refusal.linger) socket.setTimeout(2000, () => socket.destroy());
        else socket.destroy();
      } catch {
        this.relay.addon.closeFd(fd);
        refusal.done();
      }
      return;
    }
    if (accepted === undefined) {
      this.relay.addon.closeFd(fd);
      return;
    }
    let socket: Socket;
    const reads = new ReadPort();
    try {
      socket = new Socket(reads.socketOptions({ fd, readable: true, writable: true, allowHalfOpen: true }));
    } catch (error) {
      this.relay.addon.closeFd(fd);
      this.parts.admission.release(accepted.client.address);
      this.parts.faults.report(error);
      return;
    }
    socket.setNoDelay(true);
    // The slot taken at accept goes with the connection.
    this.adoptConnection(socket, accepted.client, bytes, reads);
  }
}

const enum Phase {
  Resolving,
  Connecting,
  Peeking,
  Relayed,
  Over,
}

/**
 * A CONNECT tunnel whose bytes never enter JavaScript: the front connects to the address
 * chosen here, answers 200, collects the ClientHello for the judgement made here, and relays.
 * The same lifecycle and the same record as a tunnel on JavaScript sockets.
 */
export class FrontTunnelSession extends Session implements FrontTunnel {
  private phase = Phase.Resolving;
  /** Null once the tunnel relays or is refused. */
  private setup: Setup | null;

  constructor(
    parts: GatewayParts,
    client: ClientIdentity,
    private readonly relay: Relay,
    private readonly frontId: number,
    host: string,
    port: number,
    early: Buffer | null,
    start: number,
    repeat: RepeatSetup | null = null,
  ) {
    super(parts, client, 'CONNECT', host, port, null, start);
    this.setup = {
      ticket: { aborted: false },
      policy: parts.policy,
      addresses: NO_ADDRESSES,
      next: 0,
      lastErrno: 0,
      reader: null,
      early,
      address: null,
      repeat,
    };
  }

  open(): void {
    const parts = this.parts;
    parts.sessions.add(this);
    this.relay.track(this.frontId, this);
    const setup = this.setup!;
    const policy = setup.policy;
    const decision = decide(
      policy,
      { source: this.client.parsed, method: 'CONNECT', host: this.host, port: this.port },
      parts.mode,
    );
    this.decided(decision);
    const grant = setup.repeat?.grant ?? null;
    if (grant !== null) return this.granted(grant);
    if (decision.verdict === 'deny') return this.refuse(decision.reason);
    // A closure the dialer drops once it has answered, not a field the tunnel keeps.
    parts.dialer.permitted(decision.host, policy, setup.ticket, (error, addresses) =>
      this.onAddresses(error, addresses),
    );
  }

  /**
   * The front is connecting this head already, on a grant made for the same client and head
   * under the policy still in force: the decision just made is that grant's decision. Were the
   * policy reloaded before the front heard of it (grants are revoked on reload), the tunnel is
   * cut instead.
   */
  private granted(grant: Grant): void {
    const setup = this.setup!;
    const address = grant.address;
    const refusal =
      this.decision!.verdict === 'deny'
        ? this.decision!.reason
        : grant.policy !== setup.policy &&
            !address.pinned &&
            !checkResolvedAddress(setup.policy, address.address).allowed
          ? 'DENY_DESTINATION_ADDRESS'
          : null;
    if (refusal !== null) {
      this.failed(
        refusal,
        `${hostPort(address.address, this.port)}: connected on a grant made before a reload; cut`,
      );
      this.setupOver();
      this.relay.abort(this.frontId);
      return;
    }
    setup.addresses = [address];
    setup.next = 1;
    setup.address = address;
    this.phase = Phase.Connecting;
    this.upstream = keptText(hostPort(address.address, this.port));
    // The next identical request may come on a grant at once: waiting for this tunnel's connect
    // would leave a client that reconnects quickly without one.
    this.offerGrant();
  }

  private refuse(reason: ReasonCode, detail: string | null = null): void {
    const response = responseFor(reason);
    this.failed(reason, detail);
    this.status = response.status;
    this.setupOver();
    this.relay.addon.frontRespond(this.frontId, response.raw);
  }

  /** The tunnel relays or is refused: what only the setup needed is let go. */
  private setupOver(): void {
    this.phase = Phase.Over;
    this.release();
  }

  private release(): void {
    this.setup = null;
  }

  private onAddresses(
    error: AirlockError | null,
    addresses: readonly ResolvedAddress[] | null,
    next = 0,
  ): void {
    if (this.phase !== Phase.Resolving) return;
    if (addresses === null) return this.refuse(error?.code ?? 'INTERNAL_ERROR', error?.message ?? null);
    this.setup!.addresses = addresses;
    this.setup!.next = next;
    this.tryNext();
  }

  private tryNext(): void {
    const setup = this.setup!;
    const address = setup.addresses[setup.next++];
    if (address === undefined)
      return this.refuse(
        connectFailure(setup.lastErrno),
        connectDetail(setup.addresses, this.port, setup.lastErrno),
      );
    this.phase = Phase.Connecting;
    setup.address = address;
    this.upstream = keptText(hostPort(address.address, this.port));
    const checked = serverNameChecked(this.parts.tls, this.port);
    this.relay.addon.frontConnect(
      this.frontId,
      address.address,
      this.port,
      this.parts.timeouts.connect,
      checked,
      this.parts.timeouts.tunnelIdle,
      checked ? passName(this.decision!.host) : null,
    );
  }

  connectFailed(errno: number): void {
    if (this.phase !== Phase.Connecting) return;
    const setup = this.setup!;
    setup.lastErrno = errno;
    this.upstream = null;
    const grant = setup.repeat?.grant ?? null;
    if (grant !== null && setup.next === 1 && setup.addresses.length === 1) {
      // The granted address failed: no more grants for this client until a tunnel of its
      // connects again, and the rest of the host's addresses are tried as for any tunnel.
      setup.repeat!.grants.broken(grant.peer);
      this.phase = Phase.Resolving;
      const failed = grant.address;
      this.parts.dialer.permitted(this.decision!.host, setup.policy, setup.ticket, (error, addresses) =>
        this.onAddresses(
          error,
          addresses && [failed, ...addresses.filter((a) => a.address !== failed.address)],
          1,
        ),
      );
      return;
    }
    this.tryNext();
  }

  connected(connectMs: number, sinceMs: number): void {
    if (this.phase !== Phase.Connecting) return;
    this.status = 200;
    this.connectMs = connectMs;
    this.setupMs = Math.max(0, Date.now() - sinceMs - this.start);
    const setup = this.setup!;
    setup.addresses = NO_ADDRESSES;
    if (!serverNameChecked(this.parts.tls, this.port)) return this.relayed();
    this.phase = Phase.Peeking;
    const early = setup.early;
    setup.early = null;
    if (early !== null) this.peeked(early);
  }

  peeked(bytes: Buffer): void {
    if (this.phase !== Phase.Peeking) return;
    const setup = this.setup!;
    setup.reader ??= new ClientHelloReader();
    const hello = setup.reader.push(bytes);
    if (hello.status === 'incomplete') return;
    // The ClientHello's bytes are not needed past the judgement (the tunnel may live for days).
    setup.reader = null;
    const judged = judgeServerName(
      setup.policy,
      this.decision!,
      this.port,
      hello,
      this.parts.tls,
      this.parts.mode,
    );
    this.sni = judged.sni;
    if (judged.refusal !== null) {
      // Nothing of the client's bytes has reached the upstream: the front cuts both sides.
      this.refusal = judged.refusal;
      this.setupOver();
      this.relay.addon.frontVerdict(this.frontId, false);
      return;
    }
    this.wouldDeny ??= judged.wouldDeny;
    this.relay.addon.frontVerdict(this.frontId, true);
    this.relayed();
  }

  /**
   * The front passed the ClientHello: it named the CONNECT host, which `judgeServerName` passes
   * in either mode without consulting the policy, and normalises to the host itself.
   */
  helloPassed(): void {
    if (this.phase !== Phase.Peeking) return;
    this.sni = this.decision!.host;
    this.parts.hellosPassedInFront++;
    this.relayed();
  }

  private relayed(): void {
    this.phase = Phase.Relayed;
    this.offerGrant();
    this.release();
    // The policy is not asked again: the tunnel keeps its client's address and port for the
    // record, not the parsed address the decision used.
    this.client = { address: this.client.address, parsed: null, port: this.client.port };
    this.parts.relayed++;
    this.parts.log.opened(this.toRecord());
  }

  /**
   * The tunnel is up (or came on a grant itself) on a plain allow, under the policy in force and
   * a DNS answer that outlives the grant: the client's next identical request may be connected
   * by the front at once.
   */
  private offerGrant(): void {
    const setup = this.setup!;
    const repeat = setup.repeat;
    const parts = this.parts;
    if (
      repeat === null ||
      // First: at high concurrency a client's grant is usually outstanding already.
      !repeat.grants.canOffer(repeat.peer) ||
      repeat.head.length > GRANT_HEAD_MAX ||
      setup.address === null ||
      (repeat.grant !== null && repeat.grants.isBroken(repeat.peer)) ||
      this.wouldDeny !== null ||
      this.decision?.verdict !== 'allow' ||
      setup.policy !== parts.policy ||
      parts.closing ||
      parts.dialer.freshFor(this.decision.host) <= GRANT_TTL_MS
    )
      return;
    const checked = serverNameChecked(parts.tls, this.port);
    repeat.grants.offer({
      peer: repeat.peer,
      client: this.client.address,
      head: repeat.head,
      policy: setup.policy,
      address: setup.address,
      port: this.port,
      connectTimeoutMs: parts.timeouts.connect,
      peek: checked,
      idleMs: parts.timeouts.tunnelIdle,
      passName: checked ? passName(this.decision.host) : null,
    });
  }

  finished(result: RelayResult): void {
    if (this.phase === Phase.Relayed) this.parts.relayed--;
    if (this.phase === Phase.Peeking) {
      // The client went away or stayed silent before its ClientHello was complete.
      this.refusal ??= 'TLS_HELLO_TIMEOUT';
    }
    if (this.setup !== null) this.setup.ticket.aborted = true;
    this.setupOver();
    if (this.refusal === null && this.failure === null) this.end ??= RELAY_ENDS[result.end];
    this.bytesFromClient = result.toUpstream;
    this.bytesToClient = result.toClient;
    this.parts.admission.release(this.client.address);
    this.close();
  }

  abort(reason: ReasonCode): void {
    this.end ??= reason;
    if (this.setup !== null) this.setup.ticket.aborted = true;
    this.relay.abort(this.frontId);
  }
}

/**
 * What only a tunnel's setup needs, let go once it relays or is refused (a tunnel may live for
 * days, and tens of thousands are held at once): the dial's ticket, the policy the tunnel was
 * decided by (a reload must not leave it pinned), the answer's addresses, the bytes that came
 * with the CONNECT and the ClientHello read so far.
 */
interface Setup {
  readonly ticket: DialTicket;
  readonly policy: Policy;
  addresses: readonly ResolvedAddress[];
  next: number;
  lastErrno: number;
  reader: ClientHelloReader | null;
  early: Buffer | null;
  /** The address being connected to. */
  address: ResolvedAddress | null;
  /** A tunnel of a native listener: its grants, and the grant it came on, if any. */
  repeat: RepeatSetup | null;
}

/** What a tunnel needs to use or make a repeat grant (see `FrontGrants`). */
interface RepeatSetup {
  readonly grants: FrontGrants;
  /** The client's address as the front reported it. */
  readonly peer: string;
  /** The request head, without any bytes after it. */
  readonly head: Buffer;
  /** The grant the front connected this tunnel on, or null (decided here). */
  readonly grant: Grant | null;
}

const ERRNO = constants.errno;
const NO_ADDRESSES: readonly ResolvedAddress[] = Object.freeze([]);

/**
 * The name a ClientHello may carry to pass in the front: the CONNECT host when it is a DNS name
 * (a canonical IP literal has only digits and dots, or a colon); IP literals are judged here.
 */
function passName(host: string): string | null {
  return host.includes(':') || /^[\d.]+$/.test(host) ? null : host;
}

/** The access record's words for a connect that failed at every address. */
function connectDetail(addresses: readonly ResolvedAddress[], port: number, errno: number): string {
  const name = Object.entries(ERRNO).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`;
  const tried = addresses.map((a) => hostPort(a.address, port)).join(', ');
  return `connect ${name}: ${tried}`;
}

/** The reason for a connect that failed with `errno` (every address tried). */
function connectFailure(errno: number): ReasonCode {
  switch (errno) {
    case ERRNO.ECONNREFUSED:
      return 'FAIL_CONNECT_REFUSED';
    case ERRNO.ETIMEDOUT:
      return 'FAIL_CONNECT_TIMEOUT';
    case ERRNO.ENETUNREACH:
    case ERRNO.EHOSTUNREACH:
    case ERRNO.EADDRNOTAVAIL:
    case ERRNO.EAFNOSUPPORT:
      return 'FAIL_CONNECT_UNREACHABLE';
    default:
      return 'FAIL_UPSTREAM_RESET';
  }
}
