import type { ConfigFile } from '../config/index.js';
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from '../supervisor/node-flags.js';
import { FIREWALL_UNIT_NAME, PATHS } from './paths.js';
import type { Sizing } from './sizing.js';

export interface UnitOptions {
  /** The node binary on the target. */
  readonly node: string;
  /** The airlock CLI script on the target (…/dist/src/cli/main.js). */
  readonly main: string;
  /** Start after the nftables rules unit. */
  readonly afterFirewall: boolean;
}

/** Ports below 1024 need CAP_NET_BIND_SERVICE; everything else needs no capability at all. */
export function lowPorts(file: ConfigFile): number[] {
  const ports = file.listeners.map((l) => l.port);
  if (file.admin.listen !== null) ports.push(file.admin.listen.port);
  return [...new Set(ports.filter((p) => p > 0 && p < 1024))].sort((a, b) => a - b);
}

/** Characters a command-line word may hold unquoted (after `%` and `$` are escaped). */
const PLAIN_WORD = /^[A-Za-z0-9/._+:@=,%$-]+$/;

/** A character inside a double-quoted word, as systemd's C-style unescaping reads it back. */
function quotedChar(char: string): string {
  if (char === '"' || char === '\\') return `\\${char}`;
  const code = char.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if ((code >= 0x80 && code < 0xa0) || code === 0x2028 || code === 0x2029) {
    return `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return char;
}

/**
 * One word of an ExecStart= command line, written so that systemd reads back exactly `word`
 * (systemd.service, "Command lines"; systemd.unit, "Specifiers"):
 * - `%` starts a specifier everywhere on the line: written `%%`;
 * - `$` starts a variable in the arguments, not in the program path, which is taken literally:
 *   written `$$` in arguments only;
 * - anything else outside a small safe set goes in double quotes, with `"`, `\` and control
 *   characters C-escaped. The program is an absolute path, so it cannot start with one of the
 *   prefix characters (`-`, `@`, `:`, `+`, `!`) that change how systemd runs it.
 */
export function execWord(word: string, position: 'program' | 'argument'): string {
  if (position === 'program' && !word.startsWith('/')) {
    throw new Error(
      `the program of a systemd command line must be an absolute path, not ${JSON.stringify(word)}`,
    );
  }
  let text = word.replaceAll('%', '%%');
  if (position === 'argument') text = text.replaceAll('$', () => '$$');
  if (PLAIN_WORD.test(text)) return text;
  return `"${[...text].map(quotedChar).join('')}"`;
}

/**
 * The systemd unit. Hardened for a network daemon that reads its configuration, writes one log
 * file and opens sockets: a dynamic unprivileged user, no capabilities (unless a listener is
 * below port 1024), a read-only view of the system, no access to homes, devices or other
 * processes, and a system-call filter. V8 compiles code at run time, so MemoryDenyWriteExecute
 * cannot be set.
 */
export function renderUnit(file: ConfigFile, size: Sizing, options: UnitOptions): string {
  const low = lowPorts(file);
  const exec = [
    execWord(options.node, 'program'),
    ...GATEWAY_NODE_FLAGS.map((flag) => execWord(flag, 'argument')),
    execWord(options.main, 'argument'),
  ].join(' ');
  const drainSec = Math.ceil(file.timeouts.drain / 1000);
  const lines = [
    '# Airlock egress gateway: written by "airlock install", removed by "airlock uninstall".',
    '# Local changes belong in a drop-in ("systemctl edit airlock"), which a reinstall keeps.',
    '[Unit]',
    'Description=Airlock allowlist-only egress gateway for Microsoft Defender agents',
    `After=network-online.target${options.afterFirewall ? ` ${FIREWALL_UNIT_NAME}` : ''}`,
    'Wants=network-online.target',
    'StartLimitIntervalSec=300',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    'Environment=NODE_ENV=production',
    ...Object.entries(GATEWAY_ENV).map(([name, value]) => `Environment=${name}=${value}`),
    `ExecStart=${exec} serve --config ${PATHS.config}`,
    '# SIGHUP: re-read the configuration and allowlists; an invalid file keeps the running policy.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    `# SIGTERM: stop accepting, let open tunnels drain for timeouts.drain (${drainSec} s), exit.`,
    '# The main process passes it on to its workers; what is left at the timeout is killed.',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${size.stopTimeoutSec}`,
    'Restart=on-failure',
    'RestartSec=2',
    '# Exit status 2 is an invalid configuration or command line: restarting cannot fix it.',
    'RestartPreventExitStatus=2',
    `# Each tunnel holds two file descriptors: 2 x limits.maxConnections (${size.maxConnections}) + ${1024} spare.`,
    `LimitNOFILE=${size.nofile}`,
    '',
    '# An unprivileged user that exists only while the service runs.',
    'DynamicUser=yes',
    '# The access log may be written under /var/log/airlock, the pid file under /run/airlock.',
    'LogsDirectory=airlock',
    'LogsDirectoryMode=0750',
    'RuntimeDirectory=airlock',
    'RuntimeDirectoryMode=0750',
    'UMask=0077',
    'NoNewPrivileges=yes',
  ];
  if (low.length > 0) {
    lines.push(
      `# Listener port${low.length > 1 ? 's' : ''} ${low.join(', ')} below 1024: the one capability needed to bind.`,
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    );
  } else {
    lines.push(
      '# Every listener is on port 1024 or above: no capabilities at all.',
      'CapabilityBoundingSet=',
    );
  }
  lines.push(
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateMounts=yes',
  );
  // A private user namespace would keep CAP_NET_BIND_SERVICE from applying to the host's network.
  if (low.length === 0) lines.push('PrivateUsers=yes');
  lines.push(
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RemoveIPC=yes',
    '# Sockets: IPv4 and IPv6, and local sockets for the workers.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged',
    'SystemCallErrorNumber=EPERM',
    '# MemoryDenyWriteExecute= is not set: the JavaScript engine compiles code at run time.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

/** The oneshot unit that loads the nftables rules at boot, before the network is up. */
export function renderFirewallUnit(): string {
  return [
    '# Airlock inbound firewall rules: written by "airlock install", removed by "airlock uninstall".',
    '[Unit]',
    'Description=Airlock inbound firewall rules (nftables table inet airlock)',
    'DefaultDependencies=no',
    'Wants=network-pre.target',
    'Before=network-pre.target shutdown.target',
    'After=nftables.service',
    '# "systemctl restart nftables" flushes every table; this unit is restarted with it.',
    'PartOf=nftables.service',
    'Conflicts=shutdown.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${PATHS.nft} -f ${PATHS.nftables}`,
    `ExecReload=${PATHS.nft} -f ${PATHS.nftables}`,
    `ExecStop=-${PATHS.nft} delete table inet airlock`,
    '',
    '[Install]',
    'WantedBy=sysinit.target',
    '',
  ].join('\n');
}
