import { posix } from 'node:path';

/** Where `airlock install` puts things on the target system. */
export const PATHS = {
  configDir: '/etc/airlock',
  config: '/etc/airlock/airlock.yaml',
  unit: '/etc/systemd/system/airlock.service',
  firewallUnit: '/etc/systemd/system/airlock-firewall.service',
  nftables: '/etc/airlock/firewall.nft',
  ufwRules: '/etc/airlock/firewall.ufw',
  sysctl: '/etc/sysctl.d/60-airlock.conf',
  logrotate: '/etc/logrotate.d/airlock',
  /** Commands a real install started but did not finish (one a line), so that the next run retries them. */
  pending: '/etc/airlock/.install-pending',
  /** systemd's LogsDirectory=airlock: the only place the service may write its access log. */
  logDir: '/var/log/airlock',
  /** systemd's RuntimeDirectory=airlock: the only place the service may write its pid file. */
  runDir: '/run/airlock',
  /** Where systemd puts the unit's credentials (LoadCredential=), readable by the service alone. */
  credentials: '/run/credentials/airlock.service',
  nft: '/usr/sbin/nft',
} as const;

export const UNIT_NAME = 'airlock.service';
export const FIREWALL_UNIT_NAME = 'airlock-firewall.service';

/** Directories that systemd's ProtectHome=, PrivateTmp= and friends hide from the service. */
export const HIDDEN_FROM_SERVICE = ['/home/', '/root/', '/run/user/', '/tmp/', '/var/tmp/'] as const;

/** The directory of HIDDEN_FROM_SERVICE that `path` is in, judged after resolving "." and "..". */
export function hiddenFromService(path: string): string | undefined {
  const normal = posix.normalize(path);
  return HIDDEN_FROM_SERVICE.find((dir) => normal === dir.slice(0, -1) || normal.startsWith(dir));
}

/** "0644" */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/**
 * True when `path` is inside `dir` (both absolute, POSIX), judged after resolving "." and ".."
 * in `path`: "/var/log/airlock/../../../etc/x" is not inside "/var/log/airlock".
 */
export function isInside(path: string, dir: string): boolean {
  return posix.isAbsolute(path) && posix.normalize(path).startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
