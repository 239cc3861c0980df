import { Socket } from 'node:net';
import { AirlockError, type ReasonCode } from '../errors/index.js';
import type { ResolvedAddress } from './resolver.js';

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

function connectOnce(target: ResolvedAddress, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        Object.assign(new Error(`connect to ${target.address}:${port} timed out`), { code: 'ETIMEDOUT' }),
      );
    }, timeoutMs);
    const onError = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.connect({ host: target.address, port, family: target.family, noDelay: true }, () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

export interface UpstreamConnection {
  readonly socket: Socket;
  readonly address: ResolvedAddress;
  /** From the first connect attempt to the connection (ms): DNS excluded, failed attempts included. */
  readonly connectMs: number;
}

/**
 * Connects to the first address that accepts, in order; each attempt has its own timeout.
 * The socket returned is connected to an address from `addresses` and nothing else: there is
 * no second lookup between the policy's view of the addresses and the connect.
 * `signal.aborted` stops further attempts (the client went away).
 */
export async function connectUpstream(
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  signal?: { readonly aborted: boolean },
): Promise<UpstreamConnection> {
  let last: NodeJS.ErrnoException | undefined;
  const started = performance.now();
  for (const address of addresses) {
    if (signal?.aborted) throw new AirlockError('CLIENT_ABORTED', 'client closed during connect');
    try {
      const socket = await connectOnce(address, port, timeoutMs);
      if (signal?.aborted) {
        socket.destroy();
        throw new AirlockError('CLIENT_ABORTED', 'client closed during connect');
      }
      return { socket, address, connectMs: performance.now() - started };
    } catch (error) {
      if (error instanceof AirlockError) throw error;
      last = error as NodeJS.ErrnoException;
    }
  }
  if (last === undefined) throw new AirlockError('FAIL_DNS', 'no address to connect to');
  const code = classifyConnectError(last);
  throw new AirlockError(code, `${last.message}`, { cause: last });
}
