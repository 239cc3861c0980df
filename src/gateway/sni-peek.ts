import type { Socket } from 'node:net';
import type { HelloObservation } from '../policy/index.js';
import { ClientHelloReader } from './tls-client-hello.js';

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
  const reader = new ClientHelloReader();
  const first = reader.push(early);
  if (first.status !== 'incomplete') return done({ bytes: early, hello: first });
  // Each byte is examined once; the chunks are joined once, at the end.
  const chunks = early.length === 0 ? [] : [early];
  let finished = false;
  const finish = (hello: HelloObservation): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', onEnd);
    socket.pause();
    done({ bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), hello });
  };
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    const hello = reader.push(chunk);
    if (hello.status !== 'incomplete') finish(hello);
  };
  const onEnd = (): void => finish({ status: 'incomplete' });
  const timer = setTimeout(onEnd, timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.resume();
}
