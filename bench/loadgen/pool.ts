/**
 * The orchestrator's side of the load generators: forks them, sends jobs, collects results.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromGenerator, Job, JobResult, ToGenerator } from './protocol.js';

export type JobWithoutId = Job extends infer J ? (J extends Job ? Omit<J, 'id'> : never) : never;

export class GeneratorPool {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: JobResult) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly children: ChildProcess[]) {
    for (const child of children) {
      child.on('message', (m: FromGenerator) => {
        if (m.t === 'ready') return;
        const waiter = this.pending.get(m.id);
        if (waiter === undefined) return;
        this.pending.delete(m.id);
        if (m.t === 'result') waiter.resolve(m.result);
        else waiter.reject(new Error(`generator ${child.pid}: ${m.message}`));
      });
      child.on('exit', (code, signal) => {
        for (const [id, waiter] of this.pending) {
          waiter.reject(
            new Error(`a generator exited (${signal ?? `code ${String(code)}`}) during job ${id}`),
          );
          this.pending.delete(id);
        }
      });
    }
  }

  static async start(count: number): Promise<GeneratorPool> {
    const script = fileURLToPath(new URL('./worker.js', import.meta.url));
    const children: ChildProcess[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const child = fork(script, [], {
          serialization: 'advanced',
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.push(child);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error('a load generator did not start within 10 s')),
            10_000,
          );
          child.once('message', () => {
            clearTimeout(timer);
            resolve();
          });
          child.once('exit', (code) =>
            reject(new Error(`a load generator exited at start (code ${String(code)})`)),
          );
        });
        child.removeAllListeners('message');
        child.removeAllListeners('exit');
      }
    } catch (error) {
      for (const c of children) c.kill('SIGKILL');
      throw error;
    }
    return new GeneratorPool(children);
  }

  get size(): number {
    return this.children.length;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  run(generator: number, job: JobWithoutId): Promise<JobResult> {
    const child = this.children[generator % this.children.length]!;
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ t: 'job', job: { ...job, id } as Job } satisfies ToGenerator);
    });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) child.send({ t: 'exit' } satisfies ToGenerator);
            else child.kill('SIGTERM');
          }),
      ),
    );
  }
}
