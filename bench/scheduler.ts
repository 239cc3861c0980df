/**
 * The kernel's session autogroups, switched off for a run.
 *
 * The benchmark starts every proxy in a session of its own (so that it can stop the whole process
 * group), and the load generators run in the orchestrator's session. With
 * `kernel.sched_autogroup_enabled` set, the scheduler gives each session a group of its own and
 * shares the cores between groups before it shares them between threads. That changes who waits
 * for whom when a proxy and a generator pass a tunnel back and forth on two cores, and it does not
 * change it equally: tinyproxy (a thread per connection) lost a fifth of its concurrency-1 rate
 * to it, Squid with two workers 15–21 % of its rate at 64 and 512 connections, Airlock's single
 * process at most 5 %. Proxies started from one shell, as an independent run starts them, share
 * the shell's group. With autogroups off, every thread is scheduled on its own whatever session
 * it is in, so where the proxy was started no longer matters.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const AUTOGROUP_SETTING = '/proc/sys/kernel/sched_autogroup_enabled';

export type AutogroupState =
  /** The kernel has no autogroups (or does not say): nothing to do. */
  | { readonly kind: 'absent' }
  /** Autogroups were already off. */
  | { readonly kind: 'off' }
  /** They were on and this run switched them off; `restore()` puts the setting back. */
  | { readonly kind: 'switched-off'; readonly restore: () => void }
  /** They are on and stay on: asked for, or the setting could not be written (`reason`). */
  | { readonly kind: 'on'; readonly reason: string };

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Switches session autogroups off unless `keep` is set. The returned restore writes the old value
 * back once (it is safe to call from several exit paths) and never throws: a failure to restore
 * is reported through `onRestoreError`.
 */
export function switchOffAutogroups(
  keep: boolean,
  path: string = AUTOGROUP_SETTING,
  onRestoreError: (message: string) => void = () => {},
): AutogroupState {
  const value = read(path);
  if (value === null) return { kind: 'absent' };
  if (value === '0') return { kind: 'off' };
  if (keep) return { kind: 'on', reason: 'kept on by --keep-autogroup' };
  try {
    writeFileSync(path, '0\n');
  } catch (error) {
    return { kind: 'on', reason: `${path} could not be written (${(error as Error).message})` };
  }
  if (read(path) !== '0') return { kind: 'on', reason: `${path} did not take the value 0` };
  let restored = false;
  return {
    kind: 'switched-off',
    restore: () => {
      if (restored) return;
      restored = true;
      try {
        writeFileSync(path, `${value}\n`);
      } catch (error) {
        onRestoreError(`could not set ${path} back to ${value}: ${(error as Error).message}`);
      }
    },
  };
}

/** One sentence for the report's preamble. */
export function describeAutogroups(state: AutogroupState): string {
  switch (state.kind) {
    case 'absent':
      return 'Scheduler: this kernel has no session autogroups.';
    case 'off':
      return 'Scheduler: session autogroups were off.';
    case 'switched-off':
      return (
        'Scheduler: session autogroups were switched off for the run and restored after it ' +
        '(every proxy runs in a session of its own; with autogroups each session would be a scheduling group, see bench/README.md).'
      );
    case 'on':
      return `Scheduler: session autogroups stayed on (${state.reason}): each proxy, in a session of its own, was scheduled as a group against the generators' session, which figures from a run with them off (or with everything started from one shell) need not agree with; see bench/README.md.`;
  }
}
