import { formatMode } from './paths.js';
import { printable } from '../text/printable.js';
import { isChange, type Action, type ActionStatus, type Plan } from './types.js';

export interface RenderOptions {
  readonly command: 'install' | 'uninstall';
  readonly dryRun: boolean;
  /** The --root directory, or null for this machine. */
  readonly root: string | null;
}

const LABEL: Record<ActionStatus, string> = {
  create: 'create',
  update: 'update',
  chmod: 'chmod',
  ok: 'ok',
  remove: 'remove',
  absent: 'absent',
  run: 'run',
  deferred: 'defer',
  skip: 'skip',
};

/** Which of a command's inputs this plan changes. */
export function changedInputs(
  action: Action,
  plan: Plan,
  statuses: readonly ActionStatus[],
): readonly string[] {
  if (action.kind !== 'run') return [];
  return action.onChange.filter((path) =>
    plan.actions.some((a, i) => a.kind !== 'run' && a.path === path && isChange(statuses[i] ?? 'ok')),
  );
}

function describe(
  action: Action,
  status: ActionStatus,
  changed: readonly string[],
  removed: (path: string) => boolean,
): string {
  switch (action.kind) {
    case 'dir':
      return `directory ${action.path} (mode ${formatMode(action.mode)}): ${action.why}`;
    case 'file':
      return `file ${action.path} (mode ${formatMode(action.mode)}): ${action.why}`;
    case 'remove':
      return `${action.recursive ? 'directory tree' : 'file'} ${action.path}: ${action.why}`;
    case 'run': {
      const command = action.argv.join(' ');
      if (status === 'skip') return `${command}: nothing it depends on changed`;
      if (changed.length === 0) return `${command}: ${action.why} (an earlier run did not get to it)`;
      const gone = changed.filter(removed);
      const touched = changed.filter((p) => !removed(p));
      const because = [
        touched.length > 0 ? `${touched.join(', ')} changed` : '',
        gone.length > 0 ? `${gone.join(', ')} removed` : '',
      ].filter((t) => t !== '');
      return `${command}: ${action.why} (${because.join('; ')})`;
    }
  }
}

/**
 * What `install`/`uninstall` prints. A dry run shows every change with the full content of each
 * file it would write; a real run lists what it did. Unchanged items are listed too, so the output
 * is the whole picture of what airlock owns on the machine.
 */
export function renderPlan(plan: Plan, statuses: readonly ActionStatus[], options: RenderOptions): string {
  const out: string[] = [];
  const changes = statuses.filter(isChange).length;
  const name = `airlock ${options.command}${options.dryRun ? ' --dry-run' : ''}`;
  const errors = plan.errors.length;
  if (errors > 0 && !options.dryRun) {
    out.push(`${name}: refused, nothing was changed:`);
    for (const error of plan.errors) out.push(`error: ${error}`);
    out.push(`("airlock ${options.command} --dry-run" shows the whole plan)`);
    return lines(out);
  }
  if (errors > 0) {
    // A dry run shows the whole plan all the same: what would stop a real run comes first.
    out.push(
      `${name}: a real ${options.command} would be refused (${errors} error${errors === 1 ? '' : 's'} below); otherwise ${changes} change${changes === 1 ? '' : 's'}; nothing is written and no command is run`,
    );
    for (const error of plan.errors) out.push(`error: ${error}`);
  } else if (changes === 0) {
    out.push(`${name}: no change, nothing to do (${plan.actions.length} items checked)`);
  } else if (options.dryRun) {
    out.push(
      `${name}: ${changes} change${changes === 1 ? '' : 's'}; nothing is written and no command is run`,
    );
  } else {
    out.push(`${name}: ${changes} change${changes === 1 ? '' : 's'}`);
  }
  out.push(
    options.root === null
      ? 'target: this machine'
      : `target: the directory tree ${options.root} (--root: commands are listed as "defer" and never run)`,
  );
  for (const warning of plan.warnings) out.push(`warning: ${warning}`);
  out.push('');
  const removed = (path: string): boolean =>
    plan.actions.some((a, i) => a.kind === 'remove' && a.path === path && statuses[i] === 'remove');
  plan.actions.forEach((action, i) => {
    const status = statuses[i] ?? 'ok';
    const changed = changedInputs(action, plan, statuses);
    out.push(`${LABEL[status].padEnd(7)} ${describe(action, status, changed, removed)}`);
    if (options.dryRun && action.kind === 'file' && (status === 'create' || status === 'update')) {
      const body = action.content.endsWith('\n') ? action.content.slice(0, -1) : action.content;
      for (const line of body.split('\n')) out.push(`        | ${line}`.trimEnd());
      if (!action.content.endsWith('\n')) out.push('        (no newline at the end)');
    }
  });
  if (plan.notes.length > 0) out.push('');
  for (const note of plan.notes) out.push(`note: ${note}`);
  return lines(out);
}

/** The output text: every line with its invisible characters escaped, so that file contents and values cannot drive the terminal. */
function lines(out: readonly string[]): string {
  return `${out.map(printable).join('\n')}\n`;
}

/**
 * Fills in the status of every command from the statuses of the files: a command runs when one
 * of its inputs changes, or when an earlier run wrote the files but stopped before the command
 * (`pending`, the command lines it left); under --root it is deferred (listed, never run).
 */
export function withCommandStatuses(
  plan: Plan,
  statuses: readonly ActionStatus[],
  underRoot: boolean,
  pending: readonly string[] = [],
): ActionStatus[] {
  return plan.actions.map((action, i) => {
    if (action.kind !== 'run') return statuses[i] ?? 'ok';
    if (changedInputs(action, plan, statuses).length === 0 && !pending.includes(action.argv.join(' '))) {
      return 'skip';
    }
    return underRoot ? 'deferred' : 'run';
  });
}
