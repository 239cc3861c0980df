import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { ipv6Only, listenFailure, nativeFor, type NativeAddon } from '../gateway/index.js';
import type { Logger } from '../deps/pino.js';
import type { LoadedConfig } from './load-config.js';
import type { WorkerMember } from './members.js';

/** An SO_REUSEPORT socket for listener `index` on `port` (bound, and listening when `listen`). */
export function nativeListen(
  addon: NativeAddon,
  loaded: LoadedConfig,
  index: number,
  port: number,
  listen: boolean,
): number {
  const listener = loaded.listeners[index]!;
  try {
    return addon.listen(listener.host, port, ipv6Only(loaded.listeners, index), 4096, listen, true);
  } catch (error) {
    throw listenFailure(listener.text, error);
  }
}

/**
 * How the workers share the listeners. reuseport: the supervisor reserves each port with a
 * socket that is bound but never listens (after checking nobody else holds the port), and every
 * worker listens on a SO_REUSEPORT socket of its own; the kernel spreads connections by flow
 * hash and no connection passes through the supervisor. handoff: the supervisor accepts and
 * passes each socket to the next worker over IPC.
 */
export type Listening =
  | {
      readonly mode: 'reuseport';
      readonly holders: number[];
      readonly ports: number[];
      readonly addon: NativeAddon;
    }
  | { readonly mode: 'handoff'; readonly servers: TcpServer[] };

export function reservePorts(loaded: LoadedConfig, addon: NativeAddon): Listening {
  const holders: number[] = [];
  const ports: number[] = [];
  try {
    for (const [index, listener] of loaded.listeners.entries()) {
      // A plain bind first: another process on the port (even another reuseport group) fails it.
      let probe: number;
      try {
        probe = addon.listen(
          listener.host,
          listener.port,
          ipv6Only(loaded.listeners, index),
          0,
          false,
          false,
        );
      } catch (error) {
        throw listenFailure(listener.text, error);
      }
      const port = addon.boundPort(probe);
      addon.closeFd(probe);
      holders.push(nativeListen(addon, loaded, index, port, false));
      ports.push(port);
    }
  } catch (error) {
    for (const fd of holders) addon.closeFd(fd);
    throw error;
  }
  return { mode: 'reuseport', holders, ports, addon };
}

export async function acceptForWorkers(
  loaded: LoadedConfig,
  pick: () => WorkerMember | null,
  ops: Logger,
): Promise<Listening> {
  const servers: TcpServer[] = [];
  for (const [index, listener] of loaded.listeners.entries()) {
    const server = createTcpServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      socket.on('error', () => undefined);
      if (pick()?.handOff(index, socket) !== true) socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(listenFailure(listener.text, error)));
      server.listen(
        {
          host: listener.host,
          port: listener.port,
          ipv6Only: ipv6Only(loaded.listeners, index),
          backlog: 4096,
        },
        () => resolve(),
      );
    })
      .then(() => {
        // Accept failures once listening (out of descriptors, EMFILE) leave the listener open:
        // reported, at most every 10 s, and never fatal.
        let reportedAt = 0;
        server.on('error', (error: NodeJS.ErrnoException) => {
          const now = Date.now();
          if (now - reportedAt < 10_000) return;
          reportedAt = now;
          ops.error(
            { event: 'accept_failed', code: error.code },
            `${listener.text}: accepting failed: ${error.message}`,
          );
        });
      })
      .catch((error: unknown) => {
        for (const s of servers) s.close();
        throw error;
      });
  }
  return { mode: 'handoff', servers };
}

export function listeningMode(
  loaded: LoadedConfig,
): { mode: 'reuseport'; addon: NativeAddon } | { mode: 'handoff' } {
  const wanted = loaded.config.file.engine.listen;
  const addon = nativeFor(
    'engine.listen: reuseport',
    wanted === 'handoff' ? 'off' : wanted === 'reuseport' ? 'required' : 'auto',
  );
  return addon === null ? { mode: 'handoff' } : { mode: 'reuseport', addon };
}

/** Stops the supervisor's own listening: hand-off servers close, reserved ports are released. */
export function closeListening(listening: Listening | null): void {
  if (listening === null) return;
  if (listening.mode === 'handoff') for (const server of listening.servers) server.close();
  else for (const fd of listening.holders.splice(0)) listening.addon.closeFd(fd);
}
