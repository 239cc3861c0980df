/**
 * Functional checks run against every target before it is measured: the numbers of a proxy that
 * does not carry the traffic, or lets through what the allowlist refuses, would mean nothing.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ResponseReader } from './loadgen/http-response.js';

export interface ConnectResult {
  /** HTTP status of the CONNECT answer (0: none). */
  readonly status: number;
  /** The tunnel, when the status was 200. */
  readonly socket: Socket | null;
  readonly error: string | null;
}

/** Sends CONNECT name:port to a proxy on loopback and reads the answer's head. */
export function proxyConnect(options: {
  readonly proxyPort: number;
  readonly name: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly localAddress?: string;
}): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port: options.proxyPort,
      noDelay: true,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    let head = Buffer.alloc(0);
    let settled = false;
    const finish = (r: ConnectResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      if (r.socket === null) socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ status: 0, socket: null, error: 'timeout' }), options.timeoutMs);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, 64).toString('latin1'))?.[1] ?? 0);
      // Nothing may follow the 200 before the client speaks: the origins wait for the client.
      if (status === 200 && head.length > end + 4)
        finish({ status, socket: null, error: 'bytes after the 200 before the client sent any' });
      else finish({ status, socket: status === 200 ? socket : null, error: null });
    };
    socket.on('data', onData);
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish({ status: 0, socket: null, error: e.code ?? e.message }),
    );
    socket.on('close', () => finish({ status: 0, socket: null, error: 'closed' }));
    socket.on('connect', () =>
      socket.write(
        `CONNECT ${options.name}:${options.port} HTTP/1.1\r\nHost: ${options.name}:${options.port}\r\n\r\n`,
      ),
    );
  });
}

/** Writes `data` and waits until as many bytes came back and equal it. */
export function echoes(socket: Socket, data: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length >= data.length) done(got.equals(data));
    };
    socket.on('data', onData);
    socket.once('close', () => done(got.equals(data)));
    socket.on('error', () => undefined);
    socket.write(data);
  });
}

/** One GET on a fresh connection; resolves the status and body length. */
export function httpGet(options: {
  readonly connectPort: number;
  /** Request target: absolute-form through a proxy, origin-form directly. */
  readonly target: string;
  readonly host: string;
  readonly timeoutMs: number;
}): Promise<{ status: number; bodyBytes: number; error: string | null }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: options.connectPort, noDelay: true });
    const reader = new ResponseReader();
    const finish = (r: { status: number; bodyBytes: number; error: string | null }): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ status: 0, bodyBytes: 0, error: 'timeout' }), options.timeoutMs);
    socket.on('connect', () =>
      socket.write(`GET ${options.target} HTTP/1.1\r\nHost: ${options.host}\r\nConnection: close\r\n\r\n`),
    );
    socket.on('data', (d: Buffer) => {
      try {
        const done = reader.push(d);
        if (done[0] !== undefined)
          finish({ status: done[0].status, bodyBytes: done[0].bodyBytes, error: null });
      } catch (error) {
        finish({ status: 0, bodyBytes: 0, error: (error as Error).message });
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish({ status: 0, bodyBytes: 0, error: e.code ?? 'error' }),
    );
    socket.on('close', () => {
      try {
        const last = reader.end();
        finish(last === null ? { status: 0, bodyBytes: 0, error: 'closed' } : { ...last, error: null });
      } catch (error) {
        finish({ status: 0, bodyBytes: 0, error: (error as Error).message });
      }
    });
  });
}

export interface CheckContext {
  readonly destName: string;
  readonly deniedName: string;
  readonly hello: Buffer;
  readonly ports: {
    readonly close: number;
    readonly hold: number;
    readonly plain: number;
    readonly tls: number;
    readonly http: number;
    readonly notAllowed: number;
  };
  readonly objects: Readonly<Record<string, number>>;
  /** PEM of the TLS origin's self-signed certificate. */
  readonly originCert: string;
}

/** Every failed check, as text; empty when the proxy behaves. */
export async function checkProxy(proxyPort: number, ctx: CheckContext): Promise<string[]> {
  const failures: string[] = [];
  const T = 5_000;
  const tunnel = (name: string, port: number): Promise<ConnectResult> =>
    proxyConnect({ proxyPort, name, port, timeoutMs: T });

  // A TLS-shaped tunnel as the generator makes it: recorded ClientHello out, echoed, origin closes.
  {
    const r = await tunnel(ctx.destName, ctx.ports.close);
    if (r.socket === null)
      failures.push(`CONNECT to the echo-close port: ${r.error ?? `status ${r.status}`}`);
    else {
      const closed = new Promise<void>((resolve) => r.socket!.once('close', () => resolve()));
      if (!(await echoes(r.socket, ctx.hello, T)))
        failures.push('ClientHello was not echoed through the tunnel');
      const timedOut = await Promise.race([closed.then(() => false), delay(T).then(() => true)]);
      if (timedOut) failures.push("the origin's close did not reach the client");
      r.socket.destroy();
    }
  }
  // A held tunnel answers a ping after the ClientHello.
  {
    const r = await tunnel(ctx.destName, ctx.ports.hold);
    if (r.socket === null) failures.push(`CONNECT to the hold port: ${r.error ?? `status ${r.status}`}`);
    else {
      if (!(await echoes(r.socket, ctx.hello, T))) failures.push('ClientHello not echoed on the hold port');
      else if (!(await echoes(r.socket, Buffer.from('p'), T)))
        failures.push('held tunnel did not echo a ping');
      r.socket.destroy();
    }
  }
  // A real TLS handshake with the origin, end to end (SNI = the CONNECT name).
  {
    const r = await tunnel(ctx.destName, ctx.ports.tls);
    if (r.socket === null) failures.push(`CONNECT to the TLS port: ${r.error ?? `status ${r.status}`}`);
    else {
      const ok = await new Promise<boolean>((resolve) => {
        const s = tlsConnect({ socket: r.socket!, servername: ctx.destName, ca: ctx.originCert });
        const timer = setTimeout(() => {
          s.destroy();
          resolve(false);
        }, T);
        s.on('error', () => {
          clearTimeout(timer);
          resolve(false);
        });
        s.on('secureConnect', () => {
          s.write('ping');
          s.once('data', (d: Buffer) => {
            clearTimeout(timer);
            s.destroy();
            resolve(d.toString() === 'ping');
          });
        });
      });
      if (!ok) failures.push('TLS handshake and echo through the tunnel failed');
    }
  }
  // A tunnel to a port that is not a TLS port.
  {
    const r = await tunnel(ctx.destName, ctx.ports.plain);
    if (r.socket === null)
      failures.push(`CONNECT to the plain echo port: ${r.error ?? `status ${r.status}`}`);
    else {
      if (!(await echoes(r.socket, Buffer.from('plain bytes'), T))) failures.push('plain echo failed');
      r.socket.destroy();
    }
  }
  for (const [path, size] of Object.entries(ctx.objects)) {
    const authority = `${ctx.destName}:${ctx.ports.http}`;
    const r = await httpGet({
      connectPort: proxyPort,
      target: `http://${authority}${path}`,
      host: authority,
      timeoutMs: T,
    });
    if (r.status !== 200 || r.bodyBytes !== size)
      failures.push(`GET ${path}: ${r.error ?? `status ${r.status}, ${r.bodyBytes} of ${size} bytes`}`);
  }
  // The allowlist is enforced: a name outside it, a port outside it, plain HTTP to a name outside it.
  for (const [what, name, port] of [
    ['a name outside the allowlist', ctx.deniedName, ctx.ports.close],
    ['a port outside the allowlist', ctx.destName, ctx.ports.notAllowed],
  ] as const) {
    const r = await tunnel(name, port);
    r.socket?.destroy();
    if (r.status === 200) failures.push(`CONNECT to ${what} was allowed`);
  }
  {
    const authority = `${ctx.deniedName}:${ctx.ports.http}`;
    const r = await httpGet({
      connectPort: proxyPort,
      target: `http://${authority}/1k`,
      host: authority,
      timeoutMs: T,
    });
    if (r.status === 200) failures.push('GET to a name outside the allowlist was allowed');
  }
  return failures;
}

/** The direct baseline's origins answer as the generator expects. */
export async function checkDirect(originHost: string, ctx: CheckContext): Promise<string[]> {
  const failures: string[] = [];
  const s = connect({ host: originHost, port: ctx.ports.close, noDelay: true });
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    s.once('connect', () => resolve());
    s.once('error', () => resolve());
  });
  if (!(await echoes(s, ctx.hello, 5_000))) failures.push('echo-close origin did not echo');
  s.destroy();
  const r = await httpGet({
    connectPort: ctx.ports.http,
    target: '/1k',
    host: `${ctx.destName}:${ctx.ports.http}`,
    timeoutMs: 5_000,
  });
  if (r.status !== 200 || r.bodyBytes !== 1024)
    failures.push(`direct GET /1k: ${r.error ?? `status ${r.status}`}`);
  return failures;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
