export type {
  Action,
  ActionStatus,
  DirAction,
  FileAction,
  FirewallKind,
  Plan,
  RemoveAction,
  RunAction,
} from './types.js';
export { isChange } from './types.js';
export { PATHS, UNIT_NAME, FIREWALL_UNIT_NAME, formatMode, hiddenFromService } from './paths.js';
export { sizing, LISTEN_BACKLOG, MIN_NOFILE, type Sizing } from './sizing.js';
export { renderUnit, renderFirewallUnit, lowPorts, type UnitOptions } from './unit.js';
export { renderSysctl, RAISE_ONLY_KEYS, LOCAL_PORT_RANGE, type KernelFacts } from './sysctl.js';
export {
  openings,
  minimalCidrs,
  renderNftables,
  renderUfwRules,
  parseUfwRules,
  sshLockout,
  type Opening,
  type SshAccess,
} from './firewall.js';
export { renderLogrotate } from './logrotate.js';
export {
  planInstall,
  planUninstall,
  defaultConfigText,
  type InstallInput,
  type UninstallInput,
} from './plan.js';
export { renderPlan, withCommandStatuses, changedInputs, type RenderOptions } from './render.js';
