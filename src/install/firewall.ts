import type { ConfigFile } from '../config/index.js';
import { cidrContains, parseAddress, parseCidr, type Cidr } from '../policy/index.js';
import { PATHS } from './paths.js';

/** One inbound TCP port and the networks allowed to reach it. */
export interface Opening {
  readonly port: number;
  /** Canonical CIDRs, IPv4 first, none inside another, loopback left out (loopback is always allowed). */
  readonly sources: readonly Cidr[];
  /** What the port is for: "SSH", "proxy", "admin listener". */
  readonly what: readonly string[];
}

export interface SshAccess {
  readonly port: number;
  /** Networks SSH (and a non-loopback admin listener) is allowed from. */
  readonly from: readonly string[];
}

function isLoopbackHost(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

function isLoopbackCidr(cidr: Cidr): boolean {
  if (cidr.family === 4) return cidr.prefix >= 8 && cidr.words[0]! >>> 24 === 127;
  return cidr.prefix === 128 && cidr.words.every((w, i) => w === (i === 3 ? 1 : 0));
}

function compareCidrs(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.words.length; i++) {
    const d = a.words[i]! - b.words[i]!;
    if (d !== 0) return d;
  }
  return a.prefix - b.prefix;
}

/** True when every address of `inner` is in `outer`. */
function covers(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    cidrContains(outer, { family: inner.family, words: inner.words })
  );
}

/**
 * The smallest equivalent list: canonical, sorted, without networks inside others and without
 * loopback. nftables interval sets refuse overlapping elements, and ufw would add duplicates.
 */
export function minimalCidrs(texts: readonly string[]): Cidr[] {
  const parsed = texts
    .map((t) => parseCidr(t))
    .filter((c): c is Cidr => c !== null && !isLoopbackCidr(c))
    .sort((a, b) => a.prefix - b.prefix || compareCidrs(a, b));
  const kept: Cidr[] = [];
  for (const cidr of parsed) if (!kept.some((k) => covers(k, cidr))) kept.push(cidr);
  return kept.sort(compareCidrs);
}

/**
 * Inbound ports to open: SSH from the management networks; each proxy listener from
 * `policy.sources`, or, when it speaks PROXY protocol, from its `trustedProxies` only (clients
 * reach it through the load balancer); the admin listener, when it is not on loopback, from the
 * management networks and the load balancers (their health checks). Listeners bound to loopback
 * need no rule.
 */
export function openings(file: ConfigFile, ssh: SshAccess): Opening[] {
  const byPort = new Map<number, { sources: string[]; what: string[] }>();
  const open = (port: number, sources: readonly string[], what: string): void => {
    const entry = byPort.get(port) ?? { sources: [], what: [] };
    entry.sources.push(...sources);
    if (!entry.what.includes(what)) entry.what.push(what);
    byPort.set(port, entry);
  };
  open(ssh.port, ssh.from, 'SSH');
  const trusted: string[] = [];
  for (const listener of file.listeners) {
    if (isLoopbackHost(listener.host) || listener.port === 0) continue;
    if (listener.proxyProtocol) {
      trusted.push(...listener.proxyProtocol.trustedProxies);
      open(
        listener.port,
        listener.proxyProtocol.trustedProxies,
        'proxy (PROXY protocol from the load balancers)',
      );
    } else {
      open(listener.port, file.policy.sources, 'proxy');
    }
  }
  const admin = file.admin.listen;
  if (admin !== null && !isLoopbackHost(admin.host) && admin.port !== 0) {
    open(admin.port, [...ssh.from, ...trusted], 'admin listener');
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, entry]) => ({ port, sources: minimalCidrs(entry.sources), what: entry.what }));
}

/** The address of the SSH session running the installer is not in the networks SSH stays open to. */
export function sshLockout(client: string | undefined, ssh: SshAccess): string | undefined {
  if (client === undefined || client === '') return undefined;
  const address = parseAddress(client);
  if (address === null) return undefined;
  const from = ssh.from.map((t) => parseCidr(t)).filter((c): c is Cidr => c !== null);
  if (from.some((c) => cidrContains(c, address))) return undefined;
  if (address.family === 4 && address.words[0]! >>> 24 === 127) return undefined;
  return client;
}

const HEADER = ['# Airlock inbound firewall: written by "airlock install", removed by "airlock uninstall".'];

/**
 * The nftables ruleset, loaded by airlock-firewall.service. Inbound traffic is dropped except
 * loopback, replies to connections this machine opened, ICMP, DHCPv6 replies and the openings.
 * Outbound traffic is not filtered here. Loading the file replaces the table in one transaction,
 * so loading it twice leaves one copy.
 */
export function renderNftables(list: readonly Opening[]): string {
  const sets: string[] = [];
  const rules: string[] = [];
  for (const opening of list) {
    rules.push(`        # ${opening.what.join(', ')}`);
    for (const family of [4, 6] as const) {
      const cidrs = opening.sources.filter((c) => c.family === family);
      if (cidrs.length === 0) continue;
      const name = `tcp${opening.port}_v${family}`;
      sets.push(
        `    set ${name} {`,
        `        type ipv${family}_addr`,
        '        flags interval',
        `        elements = { ${cidrs.map((c) => c.text).join(', ')} }`,
        '    }',
        '',
      );
      rules.push(`        tcp dport ${opening.port} ${family === 4 ? 'ip' : 'ip6'} saddr @${name} accept`);
    }
    if (opening.sources.length === 0)
      rules.push(`        # (no networks: port ${opening.port} stays closed)`);
  }
  return [
    '#!/usr/sbin/nft -f',
    ...HEADER,
    `# Loaded at boot by airlock-firewall.service (${PATHS.firewallUnit}).`,
    '# Inbound connections are dropped except loopback, replies to connections this machine opened,',
    '# ICMP and the openings below. Outbound traffic is not filtered here.',
    '# The first two lines make loading this file replace the table instead of adding to it.',
    'table inet airlock',
    'delete table inet airlock',
    '',
    'table inet airlock {',
    ...sets,
    '    chain input {',
    '        type filter hook input priority filter; policy drop;',
    '        ct state established,related accept',
    '        ct state invalid drop',
    '        iif "lo" accept',
    '        meta l4proto icmp accept',
    '        meta l4proto ipv6-icmp accept',
    '        # DHCPv6 replies from on-link servers',
    '        udp dport 546 ip6 saddr fe80::/10 accept',
    ...rules,
    '    }',
    '}',
    '',
  ].join('\n');
}

/** Comment tag ufw stores with each rule; SSH rules are kept by "airlock uninstall". */
export const UFW_SSH_TAG = 'airlock-ssh';

/** The ufw rules, one `ufw` argument list a line. */
export function ufwRuleLines(list: readonly Opening[]): string[] {
  const lines: string[] = [];
  for (const opening of list) {
    const tag = opening.what.includes('SSH')
      ? UFW_SSH_TAG
      : opening.what.includes('admin listener') && opening.what.length === 1
        ? 'airlock-admin'
        : 'airlock-proxy';
    for (const cidr of opening.sources) {
      lines.push(`allow proto tcp from ${cidr.text} to any port ${opening.port} comment ${tag}`);
    }
  }
  return lines;
}

export function renderUfwRules(list: readonly Opening[]): string {
  return [
    ...HEADER,
    '# ufw is enabled with "default deny incoming"; each line below is applied as "ufw LINE".',
    `# "airlock uninstall" deletes them with "ufw delete LINE", except the ${UFW_SSH_TAG} lines, so`,
    '# that SSH stays reachable while ufw stays enabled.',
    ...ufwRuleLines(list),
    '',
  ].join('\n');
}

/** The rule lines of a ufw rules file (comments and blank lines left out). */
export function parseUfwRules(text: string | null): string[] {
  if (text === null) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
