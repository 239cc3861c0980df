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
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

export const AUTOGROUP_SETTING = '/proc/sys/kernel/sched_autogroup_enabled';

/**
 * While a run has autogroups switched off it says so in this file (its pid and the value to put
 * back), and removes it when it restores the setting: a run that is killed (SIGKILL, the
 * machine's out-of-memory killer) cannot restore it, and the next run does, first thing. In
 * /run, which only root writes (only root can switch the setting) and which, like the setting,
 * does not outlive a reboot; never in a directory anyone may write, where a file planted there
 * would have root write the setting or follow a link.
 */
export const AUTOGROUP_MARKER = '/run/airlock-bench-autogroup.json';

/** The marker for a setting: the real one's, or one beside a setting of a test's own. */
function markerFor(path: string): string {
  return path === AUTOGROUP_SETTING ? AUTOGROUP_MARKER : `${path}.run.json`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Puts back what an earlier run left switched off: when its marker names a process that is gone.
 * Returns what was done, for the log (null: nothing).
 */
function recoverLeftover(path: string, marker: string): string | null {
  let left: { pid?: unknown; value?: unknown; path?: unknown };
  try {
    left = JSON.parse(readFileSync(marker, 'utf8')) as typeof left;
  } catch {
    return null;
  }
  if (left.path !== path || typeof left.pid !== 'number' || (left.value !== '0' && left.value !== '1'))
    return null;
  // Another run is going on: its setting is its own to restore.
  if (left.pid !== process.pid && alive(left.pid)) return null;
  try {
    writeFileSync(path, `${left.value}\n`);
    rmSync(marker, { force: true });
    return `${path} set back to ${left.value}: an earlier run (pid ${left.pid}) switched autogroups off and ended without restoring them`;
  } catch (error) {
    return `${path} could not be set back to ${left.value} for an earlier run (pid ${left.pid}): ${(error as Error).message}`;
  }
}

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
  onRecovered: (message: string) => void = () => {},
): AutogroupState {
  const marker = markerFor(path);
  const recovered = recoverLeftover(path, marker);
  if (recovered !== null) onRecovered(recovered);
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
  try {
    writeFileSync(marker, JSON.stringify({ pid: process.pid, value, path }));
  } catch {
    // Without it only a killed run goes unrepaired; the run itself restores as before.
  }
  let restored = false;
  return {
    kind: 'switched-off',
    restore: () => {
      if (restored) return;
      restored = true;
      try {
        writeFileSync(path, `${value}\n`);
        rmSync(marker, { force: true });
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
