import { AirlockError, type ReasonCode } from '../errors/index.js';
import { createRequire } from 'node:module';
import { SlotMap } from '../collections/slot-map.js';

/** The compiled addon (`native/airlock_native.c`, built by `npm ci` through node-gyp). */
export interface NativeAddon {
  start(onDone: (records: Float64Array) => void, onFront?: (events: FrontEvents) => void): void;
  add(
    clientFd: number,
    upstreamFd: number,
    toUpstream: Buffer | null,
    toClient: Buffer | null,
    idleMs: number,
  ): number;
  abort(id?: number): void;
  ref(on: boolean): void;
  /** Relays by recv/send through one buffer, as where the kernel refuses splice (tests). */
  relayCopy(on: boolean): void;
  /**
   * Since the start: bytes the relay wrote by splice and by send, the pipes open now, the
   * requests the front connected on a repeat grant, and the nanoseconds the relay thread busy
   * polled before events came and before it slept after all.
   */
  relayStats(): [
    spliced: number,
    copied: number,
    pipesOpen: number,
    granted: number,
    polledFoundNs: number,
    polledSleptNs: number,
  ];
  /** The relay thread polls for up to `maxUs` microseconds before it sleeps (0: never; `engine.busyPollUs`). */
  busyPoll(maxUs: number): void;
  listen(
    address: string,
    port: number,
    ipv6Only: boolean,
    backlog: number,
    listen: boolean,
    reusePort: boolean,
  ): number;
  boundPort(fd: number): number;
  closeFd(fd: number): void;
  frontListen(fd: number, index: number, maxHeadBytes: number, headTimeoutMs: number): void;
  frontUnlisten(index: number): void;
  frontConnect(
    id: number,
    address: string,
    port: number,
    timeoutMs: number,
    peek: boolean,
    idleMs: number,
    /** A lowercase DNS name: a ClientHello in one record naming it passes in the front itself. */
    passName?: string | null,
  ): void;
  /** Writes a refusal and closes; `linger` (default): only once the client has closed too, within 2 s. */
  frontRespond(id: number, bytes: Buffer, linger?: boolean): void;
  frontVerdict(id: number, pass: boolean): void;
  /**
   * A repeat grant: the next request head equal to `head` from `client` (as reported at accept)
   * on `listener`, within `ttlMs`, is connected at once as `frontConnect` with these arguments
   * would; its head event says so. A grant is used once, or reported gone (`EV_GRANT_GONE`).
   */
  frontGrant(
    listener: number,
    client: string,
    head: Buffer,
    address: string,
    port: number,
    timeoutMs: number,
    peek: boolean,
    idleMs: number,
    passName: string | null,
    ttlMs: number,
  ): void;
  /** Every grant goes; each is reported gone. */
  frontRevokeGrants(): void;
  /**
   * What the front reads in a tunnel's first bytes: the host_name it would pass them on, or 0
   * (a valid start: wait for more) or 2 (JavaScript's reader judges them).
   */
  scanClientHello(bytes: Buffer): string | 0 | 2;
  /** Gives malloc's free pages back to the system (malloc_trim); returns the microseconds it took. */
  trimMemory(): number;
  /** The addon's end reasons and event kinds with their numbers (`contractMismatch`). */
  readonly contract?: unknown;
}

/** Front events, six slots each: kind, id, a, b, bytes or null, address or null. */
export type FrontEvents = readonly (number | Buffer | string | null)[];

/** The kinds of front events, as the addon numbers them (checked against its `contract` at load). */
export const FRONT_EVENTS = {
  head: 1,
  adopt: 2,
  connected: 3,
  connect_failed: 4,
  peek: 5,
  accept: 6,
  hello_passed: 7,
  grant_gone: 8,
} as const;
const EV_HEAD = FRONT_EVENTS.head;
const EV_ADOPT = FRONT_EVENTS.adopt;
const EV_CONNECTED = FRONT_EVENTS.connected;
const EV_CONNECT_FAILED = FRONT_EVENTS.connect_failed;
const EV_PEEK = FRONT_EVENTS.peek;
const EV_ACCEPT = FRONT_EVENTS.accept;
const EV_HELLO_PASSED = FRONT_EVENTS.hello_passed;
const EV_GRANT_GONE = FRONT_EVENTS.grant_gone;

/** Where the native front hands what it accepted: one per listening socket it owns. */
export interface FrontListener {
  /** A connection was accepted (its head is being read): admit it or refuse it now. */
  onAccept(id: number, peer: { address: string; port: number }): void;
  /**
   * A request head that starts with "CONNECT " (with any bytes after it), or what arrived before
   * the head timed out. `granted`: the front is connecting it already, on this listener's grant
   * for the client.
   */
  onHead(id: number, bytes: Buffer, timedOut: boolean, granted: boolean): void;
  /** The front dropped the grant for `client` (as reported at accept) unused. */
  onGrantGone(client: string): void;
  /** The front stops listening for it: its grants go with the listener (no events follow). */
  onUnlisten(): void;
  /** A connection that is not a CONNECT: its descriptor (now JavaScript's) and the bytes read. */
  onAdopt(id: number, fd: number, bytes: Buffer | null): void;
}

/** A front tunnel JavaScript has taken on: the front tells it how its connect and peek go. */
export interface FrontTunnel extends RelayedTunnel {
  /**
   * The upstream connect succeeded and the 200 is written. `sinceMs`: how long ago (the front
   * reports a connect that is followed by a ClientHello check together with the first bytes).
   */
  connected(connectMs: number, sinceMs: number): void;
  connectFailed(errno: number): void;
  peeked(bytes: Buffer): void;
  /** The front passed the ClientHello itself: one record, well formed, naming the `passName` given. */
  helloPassed(): void;
}

/**
 * Pipes the relay may hold open at once (`PIPES_MAX` in the addon): a bulk transfer moves by
 * splice(2) through a pipe it borrows while bytes are in flight. Two descriptors each, reserved
 * in admission's descriptor budget.
 */
export const RELAY_PIPES_MAX = 32;

let loaded: { addon: NativeAddon | null; why: string | null } | null = null;

/** The addon, or null with the reason it could not be loaded (not built, not Linux). */
export function loadNative(): { addon: NativeAddon | null; why: string | null } {
  if (loaded !== null) return loaded;
  if (process.platform !== 'linux') {
    loaded = { addon: null, why: `the native relay is Linux-only (this is ${process.platform})` };
    return loaded;
  }
  try {
    // dist/src/gateway/native.js -> <package>/build/Release; AIRLOCK_NATIVE_ADDON names another
    // build of the addon (or a missing one, to run as on a machine without a C compiler).
    const require = createRequire(import.meta.url);
    const path = process.env.AIRLOCK_NATIVE_ADDON || '../../../build/Release/airlock_native.node';
    const addon = require(path) as NativeAddon;
    const mismatch = contractMismatch(addon.contract);
    loaded =
      mismatch === null
        ? { addon, why: null }
        : {
            addon: null,
            why: `the native relay was built from other sources than this gateway (${mismatch}); run "npm rebuild"`,
          };
  } catch (error) {
    loaded = {
      addon: null,
      why: `the native relay is not built (${(error as Error).message.split('\n')[0]}); run "npm rebuild" with a C compiler`,
    };
  }
  return loaded;
}

/** How a tunnel in the relay ended (matches `enum end_reason` in the addon). */
export type RelayEnd =
  | 'closed'
  | 'client_error'
  | 'upstream_error'
  | 'idle'
  | 'aborted'
  | 'client_gone'
  | 'peek_timeout'
  | 'cut'
  | 'responded';
const ENDS: readonly RelayEnd[] = [
  'closed',
  'client_error',
  'upstream_error',
  'idle',
  'aborted',
  'client_gone',
  'peek_timeout',
  'cut',
  'responded',
];

/** The contract this module expects of the addon: its end reasons and event kinds, numbered. */
export const NATIVE_CONTRACT = `ends ${ENDS.map((end, i) => `${end}=${i}`).join(' ')}; events ${Object.entries(
  FRONT_EVENTS,
)
  .map(([kind, n]) => `${kind}=${n}`)
  .join(' ')}; stats 6`;

/**
 * Why an addon reporting `contract` cannot serve this module (a build left over from other
 * sources numbers its events or ends differently), or null when it can.
 */
export function contractMismatch(contract: unknown): string | null {
  if (typeof contract !== 'string') return 'it does not say how it numbers its events';
  if (contract === NATIVE_CONTRACT) return null;
  const terms = (text: string): string[] => text.split(/;? /).filter((item) => item.includes('='));
  const list = (items: string[]): string => `${items.slice(0, 3).join(', ')}${items.length > 3 ? ', …' : ''}`;
  const ours = terms(NATIVE_CONTRACT);
  const theirs = terms(contract);
  const missing = ours.filter((item) => !theirs.includes(item));
  const extra = theirs.filter((item) => !ours.includes(item));
  const parts = [
    ...(missing.length > 0 ? [`expected ${list(missing)}`] : []),
    ...(extra.length > 0 ? [`it has ${list(extra)}`] : []),
  ];
  return `it numbers differently: ${parts.length > 0 ? parts.join('; ') : 'the same terms in another order'}`;
}

/** How an end the relay reports reads in the access log. */
export const RELAY_ENDS: Record<RelayEnd, ReasonCode> = {
  closed: 'CLOSED',
  client_error: 'CLIENT_ABORTED',
  upstream_error: 'FAIL_UPSTREAM_RESET',
  idle: 'IDLE_TIMEOUT',
  aborted: 'DRAIN_DEADLINE',
  client_gone: 'CLIENT_ABORTED',
  peek_timeout: 'TLS_HELLO_TIMEOUT',
  cut: 'CLOSED',
  responded: 'CLOSED',
};

/** What the relay reports when a tunnel is over: bytes written each way after the hand-over. */
export interface RelayResult {
  readonly toUpstream: number;
  readonly toClient: number;
  readonly end: RelayEnd;
  /** errno of the failing side, 0 if none. */
  readonly errno: number;
}

export interface RelayedTunnel {
  finished(result: RelayResult): void;
}

/** How often a relay trims malloc's free memory (when connections came or went since). */
export const TRIM_INTERVAL_MS = 30_000;

/**
 * The native relay of one process: established tunnels are handed over with their two file
 * descriptors; the relay thread moves the bytes and reports each tunnel once when it is over.
 */
export class Relay {
  private readonly tunnels = new SlotMap<number, RelayedTunnel>();
  private readonly listeners: (FrontListener | null)[] = [];
  /** Connections taken on or finished since the last trim. */
  private churn = 0;

  constructor(
    readonly addon: NativeAddon,
    trimIntervalMs = TRIM_INTERVAL_MS,
  ) {
    addon.start(
      (records) => this.onDone(records),
      (events) => this.onFront(events),
    );
    if (trimIntervalMs > 0) setInterval(() => this.trim(), trimIntervalMs).unref();
  }

  /**
   * Gives the memory freed since the last trim back to the system, when connections came or
   * went meanwhile; false when nothing changed. Run by a timer: a relay that took on and let go
   * of thousands of connections otherwise keeps their freed memory resident while it holds
   * the rest (about 0.5 KiB per idle tunnel held, measured at 9,000).
   */
  trim(): boolean {
    if (this.churn === 0) return false;
    this.churn = 0;
    this.addon.trimMemory();
    return true;
  }

  get size(): number {
    return this.tunnels.size;
  }

  /** The front accepts on `fd` (a listening socket it owns from here) for `listener`; returns its slot. */
  listen(fd: number, listener: FrontListener, maxHeadBytes: number, headTimeoutMs: number): number {
    let slot = this.listeners.indexOf(null);
    if (slot === -1) slot = this.listeners.length;
    if (slot >= 16)
      throw new AirlockError('LISTEN_FAILED', 'the native front takes at most 16 listeners per process');
    this.listeners[slot] = listener;
    this.addon.frontListen(fd, slot, maxHeadBytes, headTimeoutMs);
    this.updateRef();
    return slot;
  }

  /** Stops accepting on `slot` (the front closes its socket). */
  unlisten(slot: number): void {
    this.addon.frontUnlisten(slot);
    this.listeners[slot]?.onUnlisten();
    this.listeners[slot] = null;
    this.updateRef();
  }

  /** A front connection JavaScript took on: its events and its end reach `tunnel`. */
  track(id: number, tunnel: FrontTunnel): void {
    this.churn++;
    this.tunnels.set(id, tunnel);
    this.updateRef();
  }

  private referenced = false;

  /** The event loop stays alive while the relay carries tunnels or the front listens. */
  private updateRef(): void {
    const wanted = this.tunnels.size > 0 || this.listeners.some((l) => l !== null);
    if (wanted !== this.referenced) {
      this.referenced = wanted;
      this.addon.ref(wanted);
    }
  }

  /**
   * One batch of front events. Those a client is waiting on and that lead to a command (an
   * accept with its head, a connection to adopt, a failed connect to retry) are taken first, in
   * order; the rest (connects that finished, ClientHellos) follow, in order. At low concurrency
   * a batch holds the next tunnel's head together with what the previous tunnel reported
   * lazily, and that tunnel's record must not delay this one's connect. No tunnel's own events
   * are reordered: its accept, head and adoption come before anything else it reports, and a
   * connect that failed is retried before the next connect can finish.
   */
  private onFront(events: FrontEvents): void {
    const later = this.later;
    for (let i = 0; i + 5 < events.length; i += 6) {
      const kind = events[i] as number;
      if (kind === EV_CONNECTED || kind === EV_PEEK || kind === EV_HELLO_PASSED) later.push(i);
      else this.onFrontEvent(events, i, kind);
    }
    for (let j = 0; j < later.length; j++) {
      const i = later[j] as number;
      this.onFrontEvent(events, i, events[i] as number);
    }
    later.length = 0;
  }

  /** Indexes of the events `onFront` takes second (kept between batches). */
  private readonly later: number[] = [];

  private onFrontEvent(events: FrontEvents, i: number, kind: number): void {
    const id = events[i + 1] as number;
    const a = events[i + 2] as number;
    const b = events[i + 3] as number;
    const bytes = events[i + 4] as Buffer | null;
    const address = events[i + 5] as string | null;
    try {
      switch (kind) {
        case EV_ACCEPT:
          this.listeners[Math.floor(a / 65536)]?.onAccept(id, { address: address ?? '', port: a % 65536 });
          break;
        case EV_HEAD:
          this.listeners[Math.floor(a / 65536)]?.onHead(id, bytes ?? Buffer.alloc(0), b === 1, b === 2);
          break;
        case EV_GRANT_GONE:
          this.listeners[a]?.onGrantGone(address ?? '');
          break;
        case EV_ADOPT: {
          // No end will be reported for it: the connection is JavaScript's now.
          this.tunnels.delete(id);
          const listener = this.listeners[Math.floor(b / 65536)];
          if (listener) listener.onAdopt(id, a, bytes);
          else this.addon.closeFd(a);
          break;
        }
        case EV_CONNECTED:
          (this.tunnels.get(id) as FrontTunnel | undefined)?.connected(a, b);
          break;
        case EV_CONNECT_FAILED:
          (this.tunnels.get(id) as FrontTunnel | undefined)?.connectFailed(a);
          break;
        case EV_PEEK:
          if (bytes !== null) (this.tunnels.get(id) as FrontTunnel | undefined)?.peeked(bytes);
          break;
        case EV_HELLO_PASSED:
          (this.tunnels.get(id) as FrontTunnel | undefined)?.helloPassed();
          break;
      }
    } catch (error) {
      // One tunnel's fault must not stop the events of the others.
      this.fault(error);
    }
  }

  /** Where exceptions from front callbacks go (the process's fault reporter). */
  fault: (error: unknown) => void = () => undefined;

  /**
   * Takes over a tunnel: the relay holds its own descriptors from here on (the caller destroys
   * its sockets without ending them). `toUpstream`/`toClient` are bytes already read and not
   * yet written. Throws (EMFILE) when descriptors run out; the caller keeps the tunnel then.
   */
  add(
    clientFd: number,
    upstreamFd: number,
    toUpstream: Buffer | null,
    toClient: Buffer | null,
    idleMs: number,
    tunnel: RelayedTunnel,
  ): number {
    const id = this.addon.add(clientFd, upstreamFd, toUpstream, toClient, idleMs);
    this.churn++;
    this.tunnels.set(id, tunnel);
    this.updateRef();
    return id;
  }

  abort(id: number): void {
    this.addon.abort(id);
  }

  abortAll(): void {
    this.addon.abort();
  }

  /** Every repeat grant goes (a reload, a shutdown): the front reports each one gone. */
  revokeGrants(): void {
    this.addon.frontRevokeGrants();
  }

  /** Stops keeping the event loop alive for tunnels still in the relay (shutdown). */
  letGo(): void {
    this.referenced = false;
    this.addon.ref(false);
  }

  private onDone(records: Float64Array): void {
    this.churn += records.length / 5;
    for (let i = 0; i + 4 < records.length; i += 5) {
      const id = records[i]!;
      const tunnel = this.tunnels.get(id);
      if (tunnel === undefined) continue;
      this.tunnels.delete(id);
      tunnel.finished({
        toUpstream: records[i + 1]!,
        toClient: records[i + 2]!,
        end: ENDS[records[i + 3]!] ?? 'closed',
        errno: records[i + 4]!,
      });
    }
    if (this.tunnels.size === 0) this.updateRef();
  }
}

/** The file descriptor behind a net.Socket, or -1 (not a plain TCP handle). */
export function socketFd(socket: object): number {
  const handle = (socket as { _handle?: { fd?: unknown } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

/**
 * The addon for a setting that uses it: `off` never, `auto` when it is built, `required` or an
 * error naming the setting and why the addon is missing.
 */
export function nativeFor(setting: string, wanted: 'off' | 'auto' | 'required'): NativeAddon | null {
  if (wanted === 'off') return null;
  const { addon, why } = loadNative();
  if (addon === null && wanted === 'required')
    throw new AirlockError('CONFIG_INVALID', `${setting}: ${why ?? ''}`);
  return addon;
}

let relay: Relay | null = null;

/** The process's relay for `engine.tunnels` (one per process: the addon runs one thread), or null. */
export function relayFor(mode: 'auto' | 'native' | 'js'): Relay | null {
  const addon = nativeFor(
    'engine.tunnels: native',
    mode === 'js' ? 'off' : mode === 'native' ? 'required' : 'auto',
  );
  if (addon === null) return null;
  relay ??= new Relay(addon);
  return relay;
}
