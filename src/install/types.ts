/**
 * What `airlock install` and `airlock uninstall` do, as data. The planner turns a configuration
 * and options into a list of actions; the command applies them (or, for a dry run, prints them).
 * Every path is a path on the target system ("/etc/airlock/airlock.yaml"); under `--root DIR`
 * the command puts DIR in front of it.
 */

/** Make sure a directory exists with this mode. */
export interface DirAction {
  readonly kind: 'dir';
  readonly path: string;
  readonly mode: number;
  readonly why: string;
}

/** Make sure a file exists with exactly this content and mode. */
export interface FileAction {
  readonly kind: 'file';
  readonly path: string;
  readonly mode: number;
  readonly content: string;
  readonly why: string;
}

/** Make sure a file (or, with `recursive`, a directory tree) is gone. */
export interface RemoveAction {
  readonly kind: 'remove';
  readonly path: string;
  readonly why: string;
  readonly recursive?: boolean;
}

/**
 * A command of the target system (systemctl, sysctl, ufw). It runs only when one of the files in
 * `onChange` is created, changed or removed by the same plan, so a second run with nothing to do
 * runs nothing. Under `--root` commands are never run: they are printed for a real install.
 */
export interface RunAction {
  readonly kind: 'run';
  readonly argv: readonly string[];
  readonly why: string;
  readonly onChange: readonly string[];
}

export type Action = DirAction | FileAction | RemoveAction | RunAction;

export interface Plan {
  readonly actions: readonly Action[];
  /** Things the operator should know; the plan is still applied. */
  readonly warnings: readonly string[];
  /**
   * Reasons the plan must not be applied. The actions are still listed (a dry run prints them
   * after the errors), except files whose inputs were refused for the characters in them.
   */
  readonly errors: readonly string[];
  /** Facts to print after the changes (what is kept, what needs a reboot). */
  readonly notes: readonly string[];
}

/** What the command found for an action on the target, before applying anything. */
export type ActionStatus =
  | 'create' // file or directory does not exist
  | 'update' // file content differs (the mode may differ too)
  | 'chmod' // only the mode differs
  | 'ok' // already as planned
  | 'remove' // exists and will be removed
  | 'absent' // already gone
  | 'run' // a command that runs because something it depends on changed
  | 'deferred' // a command that would run, but `--root` never runs commands
  | 'skip'; // a command whose inputs did not change

/** The statuses that change something (or would, on a real install). */
export function isChange(status: ActionStatus): boolean {
  return status !== 'ok' && status !== 'absent' && status !== 'skip';
}

/** The firewall the target uses: ufw where it is installed, else nftables; none with --no-firewall. */
export type FirewallKind = 'ufw' | 'nftables' | 'none';
