import type { Socket } from 'node:net';
import type { HelloObservation } from '../policy/index.js';
import { parseClientHello } from './tls-client-hello.js';

/** The bytes read while peeking (they go to the upstream first) and what they were. */
export interface Peeked {
  readonly bytes: Buffer;
  readonly hello: HelloObservation;
}

/**
 * Reads a tunnel's first bytes until the TLS ClientHello is complete, refused, or time runs
 * out, then pauses the socket. Nothing is decrypted and nothing is forwarded meanwhile.
 */
export function peekClientHello(
  socket: Socket,
  early: Buffer,
  timeoutMs: number,
  done: (peeked: Peeked) => void,
): void {
  const first = parseClientHello(early);
  if (first.status !== 'incomplete') return done({ bytes: early, hello: first });
  let bytes = early;
  let finished = false;
  const finish = (hello: HelloObservation): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    socket.pause();
    done({ bytes, hello });
  };
  const onData = (chunk: Buffer): void => {
    bytes = bytes.length === 0 ? chunk : Buffer.concat([bytes, chunk]);
    const hello = parseClientHello(bytes);
    if (hello.status !== 'incomplete') finish(hello);
  };
  const onEnd = (): void => finish({ status: 'incomplete' });
  const timer = setTimeout(onEnd, timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.resume();
}
