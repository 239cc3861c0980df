import type { Socket } from 'node:net';
import { isAirlockError } from '../errors/index.js';
import { loadNative } from '../gateway/index.js';
import { createOpsLogger, deltaToWire } from '../observe/index.js';
import { pacResponder } from '../admin/index.js';
import { GatewayProcess } from './gateway-process.js';
import { startQuietCollector } from './quiet-collector.js';
import { keepServingOnUncaught } from './last-resort.js';
import { STATE_REPORT_MS } from './members.js';
import { nativeListen } from './listening.js';
import { loadConfig, type FileText, type LoadedConfig } from './load-config.js';
import { perWorker, type ServeOptions } from './options.js';
import type { FromWorker, ToWorker, WorkerListen } from './worker-messages.js';

/** A worker process: one gateway, driven by the supervisor's messages. */
export async function runWorker(options: ServeOptions): Promise<number> {
  const workers = Number(process.env.AIRLOCK_WORKERS ?? '1');
  // One listener from the start: what arrives before the gateway runs (a reload) waits here.
  const early: { message: ToWorker; handle: unknown }[] = [];
  let handle: ((message: ToWorker, handle?: unknown) => void) | null = null;
  process.on('message', (message: ToWorker, h?: unknown) => {
    if (handle === null) early.push({ message, handle: h });
    else handle(message, h);
  });
  let current: LoadedConfig;
  try {
    // The configuration in force, as the supervisor read it: not the files as they are now,
    // which may have been edited since (and not reloaded) or refused by a reload.
    const texts = await new Promise<readonly FileText[]>((resolve) => {
      handle = (message, h) => {
        if (message.t !== 'config') {
          early.push({ message, handle: h });
          return;
        }
        handle = null;
        resolve(message.texts);
      };
      process.send?.({ t: 'hello' } satisfies FromWorker);
    });
    current = perWorker(await loadConfig(options, texts), workers);
  } catch (error) {
    process.send?.({
      t: 'failed',
      message: (error as Error).message,
      exit: isAirlockError(error) ? error.exitCode : 1,
    } satisfies FromWorker);
    return isAirlockError(error) ? error.exitCode : 1;
  }
  const file = current.config.file;
  const ops = createOpsLogger(file.log.level === 'info' ? 'warn' : file.log.level);
  let proxyPort = 0;
  const gp = new GatewayProcess(
    current,
    file.admin.servePacOnProxyPort
      ? pacResponder(
          () => ({ policy: current.policy, pac: current.config.file.admin.pac }),
          () => proxyPort,
        )
      : null,
    ops,
  );
  keepServingOnUncaught(ops, () => gp.metrics.internalError());
  gp.generation = Number(process.env.AIRLOCK_GENERATION ?? '1') || 1;
  const listen = JSON.parse(process.env.AIRLOCK_LISTEN ?? '{"mode":"handoff"}') as WorkerListen;
  const addon = loadNative().addon;
  try {
    await gp.start((index) => {
      if (listen.mode === 'handoff' || addon === null) return 'handoff';
      return { fd: nativeListen(addon, current, index, listen.ports[index]!, true) };
    });
  } catch (error) {
    process.send?.({
      t: 'failed',
      message: (error as Error).message,
      exit: isAirlockError(error) ? error.exitCode : 1,
    } satisfies FromWorker);
    return isAirlockError(error) ? error.exitCode : 1;
  }
  proxyPort = Number(process.env.AIRLOCK_PROXY_PORT ?? '0');
  process.send?.({ t: 'ready' } satisfies FromWorker);
  const report = (): void => {
    const delta = gp.takeState();
    if (delta !== null && process.connected)
      process.send?.({ t: 'state', delta: deltaToWire(delta) } satisfies FromWorker);
  };
  const reporting = setInterval(report, STATE_REPORT_MS);
  reporting.unref();
  const stopCollector = startQuietCollector();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (deadlineMs?: number): void => {
      if (stopping) {
        void gp.gateway.shutdown(0);
        return;
      }
      stopping = true;
      stopCollector();
      void gp.stop(deadlineMs, null).then((result) => {
        clearInterval(reporting);
        report();
        // The supervisor's `stopped` line sums what each worker drained and cut. The process
        // exits as soon as this resolves, so only once the report (and the state report before
        // it, in order on the channel) has been written, or after a second at most.
        if (!process.connected || process.send === undefined) return resolve(0);
        const timer = setTimeout(() => resolve(0), 1000);
        process.send({ t: 'stopped', drained: result.drained, cut: result.cut } satisfies FromWorker, () => {
          clearTimeout(timer);
          resolve(0);
        });
      });
    };
    handle = (message: ToWorker, socket?: unknown) => {
      switch (message.t) {
        case 'config':
          return;
        case 'reload':
          loadConfig(options, message.texts).then(
            (next) => {
              current = perWorker(next, workers);
              gp.apply(current, message.generation);
              process.send?.({
                t: 'reloaded',
                ok: true,
                message: '',
                generation: message.generation,
              } satisfies FromWorker);
            },
            (error: unknown) => {
              ops.error({ event: 'reload_failed', pid: process.pid }, (error as Error).message);
              process.send?.({
                t: 'reloaded',
                ok: false,
                message: (error as Error).message,
                generation: message.generation,
              } satisfies FromWorker);
            },
          );
          return;
        case 'reopen':
          gp.reopenLog();
          return;
        case 'shutdown':
          stop(message.deadlineMs);
          return;
        case 'stats':
          process.send?.({ t: 'stats', id: message.id, value: gp.stats() } satisfies FromWorker);
          return;
        case 'connection':
          process.send?.({ t: 'took', seq: message.seq } satisfies FromWorker);
          if (socket !== undefined) gp.gateway.accept(message.index, socket as Socket);
          return;
        case 'metrics':
          void gp.metrics.registry
            .getMetricsAsJSON()
            .then((value) => process.send?.({ t: 'metrics', id: message.id, value } satisfies FromWorker));
          return;
      }
    };
    for (const { message, handle: socket } of early.splice(0)) handle(message, socket);
    // A signal to the whole process group (terminal, service manager) reaches workers too.
    process.on('SIGTERM', () => stop());
    process.on('SIGINT', () => stop());
    process.on('SIGHUP', () => undefined);
    process.on('SIGUSR1', () => undefined);
    // The supervisor is gone: nothing will ever tell this worker to stop, so drain now.
    process.on('disconnect', () => stop());
  });
}
