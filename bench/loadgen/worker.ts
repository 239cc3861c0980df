/**
 * A load-generator process for the held-tunnel scenarios (idle holds, reconnect storm) and bulk
 * throughput: the orchestrator forks several (a process may hold at most 20,000 open files, and
 * one core's worth of work); each runs the jobs it is sent and answers with counts, never with
 * conclusions. The rate scenarios (CONNECT setup, plain HTTP) use the C generator instead.
 */
import type { Socket } from 'node:net';
import {
  sourceAddress,
  type BulkJob,
  type BulkResult,
  type FromGenerator,
  type HoldCheckJob,
  type HoldCheckResult,
  type HoldOpenJob,
  type HoldOpenResult,
  type HoldReleaseJob,
  type HoldReleaseResult,
  type Job,
  type JobResult,
  type ToGenerator,
} from './protocol.js';
import { runTunnel } from './tunnel.js';

const noop = (): void => undefined;

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function bump(errors: Record<string, number>, key: string): void {
  errors[key] = (errors[key] ?? 0) + 1;
}

/** Growable list of doubles, sent as one Float64Array. */
class Samples {
  private data = new Float64Array(1024);
  private n = 0;
  push(v: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = v;
  }
  result(): Float64Array {
    return this.data.slice(0, this.n);
  }
}

/** Tunnels held open, by group. */
const groups = new Map<string, Set<Socket>>();

async function holdOpen(job: HoldOpenJob): Promise<HoldOpenResult> {
  // A group may grow over several jobs (the idle holds step from 10k to 50k).
  const held = groups.get(job.group) ?? new Set<Socket>();
  groups.set(job.group, held);
  await sleepUntil(job.startAt);
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const errors: Record<string, number> = {};
  const setup = new Samples();
  let attempted = 0;
  let established = 0;
  let failed = 0;
  let consecutive = 0;
  let lastEstablishedMs = -1;
  let stoppedEarly: string | null = null;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    let next = 0;
    let ticker: NodeJS.Timeout | null = null;
    const finishIfDone = (): void => {
      const noMore = next >= job.count || stoppedEarly !== null;
      if (inFlight === 0 && noMore) {
        if (ticker !== null) clearInterval(ticker);
        resolve();
      }
    };
    const start = (): void => {
      const k = next++;
      attempted++;
      inFlight++;
      runTunnel(
        {
          via: job.via,
          destName: job.destName,
          originHost: job.originHost,
          port: job.ports[k % job.ports.length]!,
          localAddress: sourceAddress(job.sources, k),
          timeoutMs: job.timeoutMs,
        },
        'echo-hold',
        job.hello,
        (r) => {
          inFlight--;
          if (r.error !== null || r.socket === null) {
            failed++;
            consecutive++;
            bump(errors, r.error ?? 'no-socket');
            if (consecutive >= job.maxConsecutiveFailures && stoppedEarly === null)
              stoppedEarly = `${consecutive} consecutive failures`;
          } else {
            const socket = r.socket;
            established++;
            consecutive = 0;
            lastEstablishedMs = performance.now() - t0;
            setup.push(r.totalMs);
            held.add(socket);
            socket.on('error', noop);
            socket.once('close', () => held.delete(socket));
          }
          if (job.spreadMs === null) pump();
          finishIfDone();
        },
      );
    };
    const pump = (): void => {
      if (stoppedEarly === null && Date.now() >= job.deadline) stoppedEarly = 'deadline';
      while (stoppedEarly === null && inFlight < job.inFlight && next < job.count) start();
    };
    if (job.spreadMs === null) {
      ticker = setInterval(() => {
        pump();
        finishIfDone();
      }, 250);
      pump();
    } else {
      const spread = job.spreadMs;
      ticker = setInterval(() => {
        const elapsed = performance.now() - t0;
        const due = Math.min(job.count, Math.floor(((elapsed + 1) / spread) * job.count));
        if (stoppedEarly === null && Date.now() >= job.deadline) stoppedEarly = 'deadline';
        while (stoppedEarly === null && next < due) start();
        finishIfDone();
      }, 5);
    }
    finishIfDone();
  });
  return {
    kind: 'hold-open',
    attempted,
    established,
    failed,
    errors,
    lastEstablishedMs,
    setupMs: setup.result(),
    stoppedEarly,
    cpuSeconds: cpuSeconds() - cpu0,
  };
}

async function holdCheck(job: HoldCheckJob): Promise<HoldCheckResult> {
  const held = groups.get(job.group) ?? new Set<Socket>();
  const errors: Record<string, number> = {};
  const sockets = [...held];
  let alive = 0;
  await new Promise<void>((resolve) => {
    let pending = sockets.length;
    if (pending === 0) return resolve();
    const timers: NodeJS.Timeout[] = [];
    const settle = (): void => {
      if (--pending === 0) {
        for (const t of timers) clearTimeout(t);
        resolve();
      }
    };
    for (const socket of sockets) {
      let settled = false;
      const end = (why: string | null): void => {
        if (settled) return;
        settled = true;
        socket.off('data', onData);
        socket.off('close', onClose);
        if (why === null) alive++;
        else bump(errors, why);
        settle();
      };
      const onData = (): void => end(null);
      const onClose = (): void => end('closed');
      if (socket.destroyed) {
        end('closed');
        continue;
      }
      socket.on('data', onData);
      socket.once('close', onClose);
      timers.push(setTimeout(() => end('timeout'), job.timeoutMs));
      socket.write('p');
    }
  });
  return { kind: 'hold-check', held: sockets.length, alive, errors };
}

async function holdRelease(job: HoldReleaseJob): Promise<HoldReleaseResult> {
  const held = groups.get(job.group) ?? new Set<Socket>();
  const before = held.size;
  const deadline = Date.now() + job.timeoutMs;
  while (held.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const destroyed = held.size;
  for (const s of held) s.destroy();
  groups.delete(job.group);
  return { kind: 'hold-release', closedByPeer: before - destroyed, destroyed };
}

async function bulk(job: BulkJob): Promise<BulkResult> {
  const cpu0 = cpuSeconds();
  const errors: Record<string, number> = {};
  const sockets: Socket[] = [];
  await new Promise<void>((resolve) => {
    let pending = job.tunnels;
    for (let k = 0; k < job.tunnels; k++) {
      runTunnel(
        {
          via: job.via,
          destName: job.destName,
          originHost: job.originHost,
          port: job.ports[k % job.ports.length]!,
          localAddress: sourceAddress(job.sources, k),
          timeoutMs: job.timeoutMs,
        },
        'none',
        job.hello,
        (r) => {
          if (r.socket !== null) sockets.push(r.socket);
          else bump(errors, r.error ?? 'no-socket');
          if (--pending === 0) resolve();
        },
      );
    }
  });
  if (Date.now() > job.startAt) bump(errors, 'setup-after-start');
  await sleepUntil(job.startAt);
  let bytes = 0;
  for (const socket of sockets) {
    socket.on('error', (e: NodeJS.ErrnoException) => bump(errors, e.code ?? 'error'));
    socket.on('data', (chunk: Buffer) => {
      const now = Date.now();
      if (now >= job.windowStart && now < job.windowEnd) bytes += chunk.length;
    });
    socket.write(job.hello);
  }
  await sleepUntil(job.windowEnd);
  for (const socket of sockets) socket.destroy();
  return { kind: 'bulk', opened: sockets.length, bytes, errors, cpuSeconds: cpuSeconds() - cpu0 };
}

function run(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case 'hold-open':
      return holdOpen(job);
    case 'hold-check':
      return holdCheck(job);
    case 'hold-release':
      return holdRelease(job);
    case 'bulk':
      return bulk(job);
  }
}

const send = (message: FromGenerator): void => {
  process.send?.(message);
};

process.on('message', (message: ToGenerator) => {
  if (message.t === 'exit') {
    for (const group of groups.values()) for (const s of group) s.destroy();
    process.disconnect?.();
    return;
  }
  const job = message.job;
  run(job).then(
    (result) => send({ t: 'result', id: job.id, result }),
    (error: unknown) => send({ t: 'error', id: job.id, message: String((error as Error).stack ?? error) }),
  );
});
// The orchestrator went away: nothing more will come.
process.on('disconnect', () => {
  for (const group of groups.values()) for (const s of group) s.destroy();
  process.exit(0);
});
send({ t: 'ready', pid: process.pid });
