/**
 * One client tunnel of the load generator: TCP connect (bound to a given source address), then
 * through a proxy `CONNECT name:port` and the 200, then an optional small exchange.
 */
import { connect, type Socket } from 'node:net';
import type { Via } from './protocol.js';

export interface TunnelSpec {
  readonly via: Via;
  readonly destName: string;
  readonly originHost: string;
  readonly port: number;
  readonly localAddress: string;
  readonly timeoutMs: number;
}

/**
 * What happens once the tunnel is up:
 * - `none`: hand over the socket right after the 200 (bulk);
 * - `echo-hold`: send `hello`, read it echoed, hand over the socket (idle holds, storm).
 */
export type Exchange = 'none' | 'echo-hold';

export interface TunnelDone {
  /** Failure reason, null on success. */
  readonly error: string | null;
  /** The open socket on success; null on failure. */
  readonly socket: Socket | null;
  /** CONNECT written → 200 read (direct: TCP connect started → connected), ms. */
  readonly setupMs: number;
  /** Date.now() when the setup finished (the 200 arrived). */
  readonly setupAt: number;
  /** TCP connect started → exchange done, ms. */
  readonly totalMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

/** Opens one tunnel and runs the exchange; `done` is called exactly once. */
export function runTunnel(
  spec: TunnelSpec,
  exchange: Exchange,
  hello: Uint8Array,
  done: (result: TunnelDone) => void,
): void {
  const started = performance.now();
  const direct = spec.via.kind === 'direct';
  const socket = direct
    ? connect({ host: spec.originHost, port: spec.port, localAddress: spec.localAddress, noDelay: true })
    : connect({ host: spec.via.host, port: spec.via.port, localAddress: spec.localAddress, noDelay: true });
  let finished = false;
  let phase: 'connect' | 'head' | 'echo' = 'connect';
  let sentAt = started;
  let setupMs = 0;
  let setupAt = 0;
  let head: Buffer = Buffer.alloc(0);
  let echoed = 0;

  const timer = setTimeout(() => fail(`timeout-${phase}`), spec.timeoutMs);

  const detach = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onClose);
    socket.off('connect', onConnect);
  };
  const fail = (why: string): void => {
    if (finished) return;
    finished = true;
    detach();
    socket.on('error', () => undefined);
    socket.destroy();
    done({ error: why, socket: null, setupMs, setupAt, totalMs: performance.now() - started });
  };
  const succeed = (): void => {
    if (finished) return;
    finished = true;
    detach();
    done({
      error: null,
      socket,
      setupMs,
      setupAt,
      totalMs: performance.now() - started,
    });
  };
  const established = (): void => {
    setupAt = Date.now();
    if (exchange === 'none') return succeed();
    phase = 'echo';
    socket.write(hello);
  };
  function onConnect(): void {
    if (direct) {
      setupMs = performance.now() - started;
      established();
      return;
    }
    phase = 'head';
    sentAt = performance.now();
    socket.write(
      `CONNECT ${spec.destName}:${spec.port} HTTP/1.1\r\nHost: ${spec.destName}:${spec.port}\r\n\r\n`,
    );
  }
  function onData(chunk: Buffer): void {
    if (phase === 'head') {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end < 0) {
        if (head.length > 16_384) fail('bad-response');
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, Math.min(end, 64)).toString('latin1'));
      if (!status) return fail('bad-response');
      if (status[1] !== '200') return fail(`status-${status[1]}`);
      setupMs = performance.now() - sentAt;
      const rest = head.subarray(end + 4);
      head = Buffer.alloc(0);
      established();
      if (rest.length > 0 && !finished) onData(rest);
      return;
    }
    if (phase === 'echo') {
      echoed += chunk.length;
      if (echoed < hello.length) return;
      if (echoed > hello.length) return fail('echo-too-long');
      return succeed();
    }
  }
  function onError(error: unknown): void {
    fail(reason(error));
  }
  function onClose(): void {
    fail(`closed-${phase}`);
  }
  socket.on('connect', onConnect);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
}
