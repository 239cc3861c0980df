import { AirlockError } from '../errors/index.js';
import { createRequire } from 'node:module';

/** The compiled addon (`native/airlock_native.c`, built by `npm ci` through node-gyp). */
export interface NativeAddon {
  start(onDone: (records: Float64Array) => void): void;
  add(
    clientFd: number,
    upstreamFd: number,
    toUpstream: Buffer | null,
    toClient: Buffer | null,
    idleMs: number,
  ): number;
  abort(id?: number): void;
  ref(on: boolean): void;
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
}

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
    loaded = { addon: require(path) as NativeAddon, why: null };
  } catch (error) {
    loaded = {
      addon: null,
      why: `the native relay is not built (${(error as Error).message.split('\n')[0]}); run "npm rebuild" with a C compiler`,
    };
  }
  return loaded;
}

/** How a tunnel in the relay ended (matches `enum end_reason` in the addon). */
export type RelayEnd = 'closed' | 'client_error' | 'upstream_error' | 'idle' | 'aborted';
const ENDS: readonly RelayEnd[] = ['closed', 'client_error', 'upstream_error', 'idle', 'aborted'];

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

/**
 * The native relay of one process: established tunnels are handed over with their two file
 * descriptors; the relay thread moves the bytes and reports each tunnel once when it is over.
 */
export class Relay {
  private readonly tunnels = new Map<number, RelayedTunnel>();

  constructor(private readonly addon: NativeAddon) {
    addon.start((records) => this.onDone(records));
  }

  get size(): number {
    return this.tunnels.size;
  }

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
    if (this.tunnels.size === 0) this.addon.ref(true);
    this.tunnels.set(id, tunnel);
    return id;
  }

  abort(id: number): void {
    this.addon.abort(id);
  }

  abortAll(): void {
    this.addon.abort();
  }

  /** Stops keeping the event loop alive for tunnels still in the relay (shutdown). */
  letGo(): void {
    this.addon.ref(false);
  }

  private onDone(records: Float64Array): void {
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
    if (this.tunnels.size === 0) this.addon.ref(false);
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
