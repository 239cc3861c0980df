import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../deps/pino.js';
import { AirlockError } from '../errors/index.js';
import type { LoadedConfig } from './load-config.js';
import { withGatewayEnv, withGatewayFlags } from './node-flags.js';
import { WorkerMember, type HandOffOptions, type Member } from './members.js';
import type { FromWorker, WorkerListen } from './worker-messages.js';

export interface Fleet {
  members: Member[];
  children: Set<ChildProcess>;
}

export function forkWorker(
  count: number,
  index: number,
  listen: WorkerListen,
  proxyPort: number,
  generation = 1,
): ChildProcess {
  return fork(process.argv[1]!, process.argv.slice(2), {
    execArgv: withGatewayFlags(process.execArgv),
    env: {
      ...withGatewayEnv(process.env),
      AIRLOCK_WORKERS: String(count),
      AIRLOCK_WORKER_INDEX: String(index),
      AIRLOCK_LISTEN: JSON.stringify(listen),
      AIRLOCK_PROXY_PORT: String(proxyPort),
      AIRLOCK_GENERATION: String(generation),
    },
  });
}

/** Forks `count` workers and waits until each is serving (or one fails: then all stop). */
export async function startWorkers(
  count: number,
  listen: WorkerListen,
  proxyPort: number,
  ops: Logger,
  inForce: () => LoadedConfig,
  onExit: (worker: ChildProcess, code: number | null, signal: string | null) => void,
  handOff: HandOffOptions = {},
): Promise<Fleet> {
  const fleet: Fleet = { members: [], children: new Set() };
  const starting: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const worker = forkWorker(count, i, listen, proxyPort);
    fleet.children.add(worker);
    fleet.members.push(new WorkerMember(worker, inForce, handOff));
    starting.push(
      new Promise<void>((resolve, reject) => {
        const onMessage = (message: FromWorker): void => {
          if (message.t === 'ready') {
            worker.off('message', onMessage);
            worker.off('exit', onEarlyExit);
            worker.on('exit', (code, signal) => onExit(worker, code, signal));
            resolve();
          } else if (message.t === 'failed') {
            reject(
              Object.assign(new AirlockError('LISTEN_FAILED', message.message), {
                exitOverride: message.exit,
              }),
            );
          }
        };
        const onEarlyExit = (code: number | null): void =>
          reject(
            new AirlockError('LISTEN_FAILED', `worker ${i} exited during startup (code ${String(code)})`),
          );
        worker.on('message', onMessage);
        worker.on('exit', onEarlyExit);
      }),
    );
  }
  try {
    await Promise.all(starting);
  } catch (error) {
    for (const child of fleet.children) child.kill('SIGKILL');
    throw error;
  }
  ops.debug({ event: 'workers_ready', count }, `${count} workers listening`);
  return fleet;
}
