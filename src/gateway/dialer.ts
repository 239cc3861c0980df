import { Socket } from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import { checkResolvedAddress, normalizeHost, type Policy } from '../policy/index.js';
import type { ReadPort } from './read-port.js';
import type { ResolvedAddress, Resolver } from './resolver.js';

/** Maps a socket error to the reason a client and the log see. */
export function classifyConnectError(error: NodeJS.ErrnoException): ReasonCode {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'FAIL_CONNECT_REFUSED';
    case 'ETIMEDOUT':
      return 'FAIL_CONNECT_TIMEOUT';
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return 'FAIL_CONNECT_UNREACHABLE';
    default:
      return 'FAIL_UPSTREAM_RESET';
  }
}

/** A connected upstream socket and the address it is connected to. */
export interface Dialed {
  readonly socket: Socket;
  readonly address: ResolvedAddress;
  /** From the first connect attempt to the connection (ms). */
  readonly connectMs: number;
}

/** Set by the caller when it no longer wants the connection (the client went away). */
export interface DialTicket {
  aborted: boolean;
}

export type DialDone = (error: AirlockError | null, dialed: Dialed | null) => void;
export type PermittedDone = (
  error: AirlockError | null,
  addresses: readonly ResolvedAddress[] | null,
) => void;

/**
 * Resolve → address guard → connect, as one step: the addresses the guard judged are the
 * addresses connected to (no second lookup), tried in order, each with its own timeout.
 * Callback style, so a cached answer costs no promise and no extra turn of the event loop.
 */
export class Dialer {
  constructor(
    private readonly resolver: Resolver,
    private readonly timeoutMs: number,
  ) {}

  /** `reads`: the connection is read through this port instead of 'data' events. */
  dial(
    host: string,
    port: number,
    policy: Policy,
    ticket: DialTicket,
    done: DialDone,
    reads: ReadPort | null = null,
  ): void {
    this.permitted(host, policy, ticket, (error, addresses) => {
      if (addresses === null) return done(error, null);
      this.attempt(addresses, 0, port, Date.now(), ticket, null, done, reads);
    });
  }

  /**
   * Resolve and guard without connecting: the addresses a connection to `host` may use, in
   * the order to try them (for a connector of its own, such as the native front).
   */
  permitted(host: string, policy: Policy, ticket: DialTicket, done: PermittedDone): void {
    const literal = normalizeHost(host);
    if (literal.kind === 'ip') {
      return this.guard(
        host,
        [{ address: literal.address, family: literal.family, pinned: false }],
        policy,
        done,
      );
    }
    const name = literal.kind === 'name' ? literal.name : host;
    const known = this.resolver.known(name);
    if (known instanceof AirlockError) return done(known, null);
    if (known !== undefined) return this.guard(host, known, policy, done);
    this.resolver.resolve(name).then(
      (addresses) => {
        if (ticket.aborted) return done(aborted(), null);
        this.guard(host, addresses, policy, done);
      },
      (error: unknown) =>
        done(
          error instanceof AirlockError
            ? error
            : new AirlockError('FAIL_DNS', `${name}: ${(error as Error).message}`, { cause: error }),
          null,
        ),
    );
  }

  /**
   * How many more milliseconds `permitted(host)` is sure to give the answer it gives now
   * (Infinity for an IP literal or a static host; 0 when it would have to resolve).
   */
  freshFor(host: string): number {
    const literal = normalizeHost(host);
    if (literal.kind === 'ip') return Number.POSITIVE_INFINITY;
    return this.resolver.freshUntil(literal.kind === 'name' ? literal.name : host) - this.resolver.clock();
  }

  private guard(
    host: string,
    resolved: readonly ResolvedAddress[],
    policy: Policy,
    done: PermittedDone,
  ): void {
    let permitted: ResolvedAddress[] | null = null;
    let refused: string[] | null = null;
    for (const address of resolved) {
      // The operator's own `hosts:` answers are trusted; everything else faces the guard.
      if (address.pinned || checkResolvedAddress(policy, address.address).allowed) {
        (permitted ??= []).push(address);
      } else {
        (refused ??= []).push(
          `${address.address} (${checkResolvedAddress(policy, address.address).addressClass})`,
        );
      }
    }
    if (permitted === null) {
      const why = refused === null ? 'no address' : `only refused addresses: ${refused.join(', ')}`;
      return done(new AirlockError('DENY_DESTINATION_ADDRESS', `${host} resolved to ${why}`), null);
    }
    done(null, permitted);
  }

  private attempt(
    addresses: readonly ResolvedAddress[],
    index: number,
    port: number,
    started: number,
    ticket: DialTicket,
    last: NodeJS.ErrnoException | null,
    done: DialDone,
    reads: ReadPort | null,
  ): void {
    if (ticket.aborted) return done(aborted(), null);
    const target = addresses[index];
    if (target === undefined) {
      const error = last ?? Object.assign(new Error('no address to connect to'), { code: 'ENOTFOUND' });
      return done(new AirlockError(classifyConnectError(error), error.message, { cause: error }), null);
    }
    const socket = new Socket(reads?.socketOptions());
    const onError = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      socket.destroy();
      this.attempt(addresses, index + 1, port, started, ticket, error, done, reads);
    };
    const timer = setTimeout(() => {
      socket.removeListener('error', onError);
      socket.on('error', ignore);
      socket.destroy();
      const error = Object.assign(new Error(`connect to ${target.address}:${port} timed out`), {
        code: 'ETIMEDOUT',
      });
      this.attempt(addresses, index + 1, port, started, ticket, error, done, reads);
    }, this.timeoutMs);
    socket.once('error', onError);
    socket.connect({ host: target.address, port, family: target.family, noDelay: true }, () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (ticket.aborted) {
        socket.on('error', ignore);
        socket.destroy();
        return done(aborted(), null);
      }
      done(null, { socket, address: target, connectMs: Date.now() - started });
    });
  }
}

function aborted(): AirlockError {
  return new AirlockError('CLIENT_ABORTED', 'client closed during connect');
}

function ignore(): void {}
