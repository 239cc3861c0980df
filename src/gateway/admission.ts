import type { ReasonCode } from '../errors/index.js';
import { formatWords, parseAddress, type ParsedAddress } from '../policy/index.js';
import { ConnectionRate } from './connection-rate.js';
import { RELAY_PIPES_MAX } from './native.js';
import type { GatewayLimits } from './parts.js';
import { SlotMap } from '../collections/slot-map.js';

/** Who is on the other end of a client connection, as the policy and the log see it. */
export interface ClientIdentity {
  /** Address as the ACL and logs see it (IPv4-mapped IPv6 shown as IPv4). */
  readonly address: string;
  readonly parsed: ParsedAddress | null;
  readonly port: number;
}

/** The client of a socket: its peer, or the address a trusted PROXY protocol header carried. */
export function identify(
  remoteAddress: string | undefined,
  remotePort: number | undefined,
  proxied?: { readonly address: string; readonly port: number } | null,
): ClientIdentity {
  const raw = proxied?.address ?? remoteAddress ?? '';
  const parsed = parseAddress(raw);
  const address = parsed === null ? raw || '-' : formatWords(parsed.family, parsed.words);
  return { address, parsed, port: proxied?.port ?? remotePort ?? 0 };
}

/**
 * Descriptors a process keeps for itself: listeners, log file, DNS, IPC, the relay, stdio (48),
 * and the pipes the native relay splices bulk transfers through.
 */
export const RESERVED_DESCRIPTORS = 48 + 2 * RELAY_PIPES_MAX;

/**
 * Refused connections may linger on at most 1/8 of the descriptor budget, and as many
 * connections may wait for their PROXY protocol header.
 */
const LINGERING_SHARE = 8;

/**
 * Connection slots: the gateway-wide and per-client limits, the per-client rate, and the
 * process's open-files limit. A slot is taken at accept and given back when the client's
 * connection is over, including tunnels the native relay carries after their sockets left
 * this process. Refusing at accept, with a 503 while a descriptor is still free, is what
 * keeps one client from exhausting descriptors for everybody else.
 */
export class Admission {
  /** Slots taken: connections, and reservations of repeat grants. */
  private open = 0;
  /** Of those, slots reserved for repeat grants (no connection yet). */
  private reservedSlots = 0;
  private readonly perClient = new SlotMap<string, number>();
  private readonly rate: ConnectionRate;
  private readonly descriptorBudget: number;
  /** Descriptors held outside client connections (idle pooled upstream sockets, lingering refusals). */
  private extraDescriptors = 0;
  /** Refused connections kept open while the client reads its answer. */
  private lingering = 0;
  private readonly maxLingering: number;
  /** Connections on PROXY protocol listeners whose header has not arrived yet. */
  private awaitingHeader = 0;

  constructor(
    private readonly limits: GatewayLimits,
    /** The process's open-files limit (RLIMIT_NOFILE), or null when unknown. */
    openFilesLimit: number | null,
  ) {
    this.rate = new ConnectionRate(limits.newConnectionsPerClientPerSecond);
    this.descriptorBudget =
      openFilesLimit === null ? Number.POSITIVE_INFINITY : Math.max(8, openFilesLimit - RESERVED_DESCRIPTORS);
    this.maxLingering = Math.max(1, Math.floor(this.descriptorBudget / LINGERING_SHARE));
  }

  /** Takes a slot for `client`; the refusal's reason when none is given. */
  admit(client: string, closing: boolean): ReasonCode | null {
    if (closing) return 'SHUTTING_DOWN';
    if (this.open >= this.limits.maxConnections) return 'LIMIT_CONNECTIONS';
    // A client connection may hold two descriptors (its own and its upstream's).
    if (2 * (this.open + 1) + this.extraDescriptors > this.descriptorBudget) return 'LIMIT_DESCRIPTORS';
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.maxConnectionsPerClient) return 'LIMIT_CLIENT_CONNECTIONS';
    if (!this.rate.admit(client)) return 'LIMIT_CONNECTION_RATE';
    this.open++;
    this.perClient.set(client, mine + 1);
    return null;
  }

  /**
   * Takes a slot and a rate token now for a connection `client` may make soon (a repeat grant
   * of the native front), only while the process and the client are below half of every limit:
   * a reserved slot counts as an open connection until `unreserve`, so a limit is never
   * exceeded; the price is that a client which goes from under half its limit to all of it
   * within a grant's lifetime (1 s) is refused one connection early.
   */
  reserve(client: string): boolean {
    const limits = this.limits;
    if (2 * (this.open + 1) > limits.maxConnections) return false;
    if (2 * (2 * (this.open + 1) + this.extraDescriptors) > this.descriptorBudget) return false;
    const mine = this.perClient.get(client) ?? 0;
    if (2 * (mine + 1) > limits.maxConnectionsPerClient) return false;
    if (!this.rate.admit(client, limits.newConnectionsPerClientPerSecond / 2)) return false;
    this.open++;
    this.reservedSlots++;
    this.perClient.set(client, mine + 1);
    return true;
  }

  /** Gives back a slot `reserve` took; `refund`: and its rate token (no connection was made on it). */
  unreserve(client: string, refund: boolean): void {
    this.reservedSlots--;
    this.release(client);
    if (refund) this.rate.refund(client);
  }

  /** Gives back the slot `admit` took for `client`. */
  release(client: string): void {
    this.open--;
    const left = (this.perClient.get(client) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(client);
    else this.perClient.set(client, left);
  }

  /**
   * Whether a connection refused at accept may stay open a moment (until the client closes,
   * within 2 s) so that it reads its answer before the close; `lingered` gives it back. A
   * refused connection the client keeps open holds a descriptor the slots do not count: these
   * are counted here, and kept to a share of the budget, so that a client opening connections
   * faster than they are refused cannot run the process out of descriptors. Without room the
   * answer is written and the connection closed at once.
   */
  linger(): boolean {
    if (this.lingering >= this.maxLingering || this.descriptorsLeft() < 1) return false;
    this.lingering++;
    this.extraDescriptors++;
    return true;
  }

  lingered(): void {
    this.lingering--;
    this.extraDescriptors--;
  }

  /**
   * Whether a connection on a PROXY protocol listener may wait for its header (the client it
   * names is known only then, so it has no slot yet); `headerEnded` gives it back. Such a
   * connection holds a descriptor as long as the sender keeps it silent, up to
   * timeouts.requestHead: these are counted, and kept to a share of the budget with room left
   * for the connections that do send, so that a trusted sender holding connections open cannot
   * run the process out of descriptors for every listener.
   */
  awaitHeader(): boolean {
    if (this.awaitingHeader >= this.maxLingering || this.descriptorsLeft() < 3) return false;
    this.awaitingHeader++;
    this.extraDescriptors++;
    return true;
  }

  headerEnded(): void {
    this.awaitingHeader--;
    this.extraDescriptors--;
  }

  /** Descriptors that come and go outside client connections (idle pooled sockets). */
  holdDescriptors(delta: number): void {
    this.extraDescriptors += delta;
  }

  /** Room for one more upstream socket outside a client slot. */
  descriptorsLeft(): number {
    return this.descriptorBudget - 2 * this.open - this.extraDescriptors;
  }

  /** Client connections holding a slot (reservations not included). */
  get connections(): number {
    return this.open - this.reservedSlots;
  }

  /** Slots reserved for repeat grants of the native front. */
  get reserved(): number {
    return this.reservedSlots;
  }

  get clients(): number {
    return this.perClient.size;
  }
}
