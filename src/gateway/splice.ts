import type { Socket } from 'node:net';

/**
 * Joins two sockets both ways: what one reads the other writes, with backpressure (a reader
 * pauses while its peer's write buffer is over its high-water mark) and half-close (an end on
 * one side ends the other's writing side).
 *
 * The handlers are module functions shared by every tunnel, not closures made per tunnel: an
 * idle tunnel costs the sockets themselves plus one table entry each, instead of the dozen
 * closures and once-wrappers that two `pipe()` calls allocate.
 */
const peers = new WeakMap<Socket, Socket>();

function onData(this: Socket, chunk: Buffer): void {
  const peer = peers.get(this);
  if (peer !== undefined && !peer.write(chunk)) this.pause();
}

function onDrain(this: Socket): void {
  peers.get(this)?.resume();
}

function onEnd(this: Socket): void {
  const peer = peers.get(this);
  if (peer !== undefined && !peer.writableEnded) peer.end();
}

export function splice(a: Socket, b: Socket): void {
  peers.set(a, b);
  peers.set(b, a);
  a.on('data', onData);
  b.on('data', onData);
  a.on('drain', onDrain);
  b.on('drain', onDrain);
  a.on('end', onEnd);
  b.on('end', onEnd);
  a.resume();
  b.resume();
}
