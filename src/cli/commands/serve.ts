import { readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { isAirlockError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/index.js';
import { AdminServer, type AdminState } from '../../admin/index.js';
import { exportPac } from '../../catalog/index.js';
import { normalizeHost, type Policy } from '../../policy/index.js';
import { AccessLog, createOpsLogger, GatewayMetrics, type AccessLogSink } from '../../observe/index.js';
import { buildGateway } from '../build-gateway.js';
import { loadConfig, type LoadedConfig, type LoadOptions } from '../load-config.js';

/** Reads the open-files limit; null where /proc is not there. */
function openFilesLimit(): number | null {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** What a reload cannot change in a running process; changing it needs a restart. */
function restartOnly(a: LoadedConfig, b: LoadedConfig): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  if (!same(a.listeners, b.listeners)) out.push('listeners');
  if (!same(a.config.file.limits, b.config.file.limits)) out.push('limits');
  if (!same(a.config.file.timeouts, b.config.file.timeouts)) out.push('timeouts');
  if (!same(a.config.file.log, b.config.file.log)) out.push('log');
  if (!same(a.config.file.tls, b.config.file.tls)) out.push('tls');
  if (a.config.file.mode !== b.config.file.mode) out.push('mode');
  if (!same(a.config.file.dns, b.config.file.dns)) out.push('dns');
  return out;
}

/**
 * Reloads: reads everything again, and only if all of it is valid swaps the policy and the
 * static host answers. Open tunnels are untouched; a bad file leaves the old policy running.
 */
class Reloader {
  private current: LoadedConfig;
  private running = false;
  private again = false;

  constructor(
    private readonly options: LoadOptions,
    initial: LoadedConfig,
    private readonly gateway: Gateway,
    private readonly ops: Logger,
    private readonly metrics: GatewayMetrics,
  ) {
    this.current = initial;
  }

  /** Every file the running configuration was read from (for the watcher). */
  files(): string[] {
    const files = this.options.configFile ? [this.options.configFile] : [];
    if (this.options.allowlist !== undefined && this.options.allowlist.length > 0)
      files.push(...this.options.allowlist);
    else files.push(...this.current.config.allowlistFiles.map((f) => f.path));
    return files;
  }

  async reload(trigger: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.once(trigger);
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  private async once(trigger: string): Promise<void> {
    let next: LoadedConfig;
    try {
      next = await loadConfig(this.options);
    } catch (error) {
      const message = isAirlockError(error) ? error.message : String(error);
      this.ops.error(
        { event: 'reload_failed', trigger },
        `reload rejected, the running policy is unchanged:\n${message}`,
      );
      this.metrics.reloaded(false);
      return;
    }
    for (const warning of next.warnings) this.ops.warn({ event: 'policy_warning' }, warning);
    const ignored = restartOnly(this.current, next);
    if (ignored.length > 0) {
      this.ops.warn(
        { event: 'reload_needs_restart', keys: ignored },
        `changes to ${ignored.join(', ')} take effect only after a restart`,
      );
    }
    this.gateway.reload({ policy: next.policy, hosts: next.hosts, systemHosts: next.systemHosts });
    this.current = next;
    this.metrics.reloaded(true);
    this.ops.info(
      { event: 'reloaded', trigger, rules: next.policy.rules.length },
      `policy reloaded (${next.policy.rules.length} destination rules)`,
    );
  }
}

/**
 * The PAC file for the policy in force: its host rules go to the gateway(s), everything else
 * DIRECT (or to the configured proxy). Without configured proxies, the gateway names itself by
 * the host the client used to fetch the file.
 */
function pacFor(
  policy: Policy,
  pac: { proxies: string[]; otherwise: string },
  proxyPort: number,
  requestHost: string | undefined,
): string | null {
  let proxies = pac.proxies;
  if (proxies.length === 0) {
    if (requestHost === undefined) return null;
    const host = requestHost.startsWith('[')
      ? requestHost.slice(0, requestHost.indexOf(']') + 1)
      : requestHost.replace(/:\d*$/, '');
    const normalized = normalizeHost(host);
    if (normalized.kind === 'invalid') return null;
    proxies = [
      normalized.kind === 'ip' && normalized.family === 6
        ? `[${normalized.address}]:${proxyPort}`
        : `${host}:${proxyPort}`,
    ];
  }
  const rules = policy.rules.flatMap((r) =>
    r.pattern === null
      ? []
      : [{ host: r.text, pattern: r.pattern, ports: [...(r.ports ?? [])], contributions: [] }],
  );
  return exportPac(rules, { proxies, otherwise: pac.otherwise });
}

export async function serve(options: LoadOptions & { watch?: boolean | undefined }): Promise<number> {
  const loaded = await loadConfig(options);
  const file = loaded.config.file;
  const ops = createOpsLogger(file.log.level);
  for (const warning of loaded.warnings) ops.warn({ event: 'policy_warning' }, warning);

  const nofile = openFilesLimit();
  const needed = file.limits.maxConnections * 2 + 64;
  if (nofile !== null && nofile < needed) {
    ops.warn(
      { event: 'fd_limit', nofile, needed },
      `open-files limit ${nofile} is below 2 x limits.maxConnections + 64 = ${needed}; raise LimitNOFILE or lower limits.maxConnections`,
    );
  }

  const accessLog = new AccessLog({ format: file.log.format, file: file.log.file });
  let ready = false;
  let gatewayRef: Gateway | null = null;
  const metrics = new GatewayMetrics({
    connections: () => gatewayRef?.stats().connections ?? 0,
    sessions: () => gatewayRef?.stats().sessions ?? 0,
    rules: () => gatewayRef?.currentPolicy.rules.length ?? 0,
  });
  const sink: AccessLogSink = {
    write(record) {
      accessLog.write(record);
      metrics.record(record);
    },
    reopen: () => accessLog.reopen(),
    flush: () => accessLog.flush(),
  };
  // The port clients reach the proxy on, once bound (port 0 resolves then).
  let proxyPort = 0;
  const adminState: AdminState = {
    ready: () => ready,
    stats: () => ({
      ...(gatewayRef?.stats() ?? {}),
      ready,
      mode: file.mode,
      rules: gatewayRef?.currentPolicy.rules.length ?? 0,
      pid: process.pid,
    }),
    pac: (requestHost) =>
      gatewayRef === null ? null : pacFor(gatewayRef.currentPolicy, file.admin.pac, proxyPort, requestHost),
  };
  const gateway = buildGateway(
    loaded,
    sink,
    file.admin.servePacOnProxyPort ? (req, res) => AdminServer.servePac(adminState, req, res) : undefined,
  );
  gatewayRef = gateway;
  await gateway.start();
  const plainListener = Math.max(
    0,
    loaded.listeners.findIndex((l) => !l.proxyProtocol),
  );
  proxyPort = gateway.addresses()[plainListener]?.port ?? 0;
  let admin: AdminServer | null = null;
  if (file.admin.listen !== null) {
    admin = new AdminServer(file.admin.listen, adminState, metrics);
    try {
      await admin.start();
    } catch (error) {
      await gateway.shutdown(0);
      throw error;
    }
  }
  ready = true;
  const adminAddress = admin?.address();
  const addresses = gateway
    .addresses()
    .map((a) => (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
  if (file.pidFile !== null) writeFileSync(file.pidFile, `${process.pid}\n`);
  ops.info(
    {
      event: 'listening',
      listeners: addresses,
      admin: adminAddress ? `${adminAddress.address}:${adminAddress.port}` : null,
      rules: loaded.policy.rules.length,
      mode: file.mode,
      config: loaded.config.fileName,
      pid: process.pid,
    },
    `airlock listening on ${addresses.join(', ')} with ${loaded.policy.rules.length} destination rules${file.mode === 'audit' ? ' (AUDIT MODE)' : ''}`,
  );

  const reloader = new Reloader(options, loaded, gateway, ops, metrics);
  process.on('SIGHUP', () => void reloader.reload('SIGHUP'));
  process.on('SIGUSR1', () => {
    accessLog.reopen();
    ops.info({ event: 'log_reopened' }, 'access log reopened');
  });

  const watchers: FSWatcher[] = [];
  if (options.watch === true || file.reload.watch) {
    let timer: NodeJS.Timeout | undefined;
    for (const path of reloader.files()) {
      try {
        // Editors replace files; watching the file's events with a debounce covers both.
        watchers.push(
          watch(path, { persistent: false }, () => {
            clearTimeout(timer);
            timer = setTimeout(() => void reloader.reload(`watch ${path}`), 300);
          }),
        );
      } catch (error) {
        ops.warn({ event: 'watch_failed', path }, `cannot watch ${path}: ${(error as Error).message}`);
      }
    }
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        ops.warn({ event: 'shutdown_forced' }, `${signal} again: closing everything now`);
        void gateway.shutdown(0);
        return;
      }
      stopping = true;
      ready = false;
      for (const w of watchers) w.close();
      const stats = gateway.stats();
      ops.info(
        { event: 'shutdown', signal, sessions: stats.sessions, drainMs: file.timeouts.drain },
        `${signal}: no longer accepting; draining ${stats.sessions} open sessions`,
      );
      void gateway.shutdown().then(async (result) => {
        ops.info(
          { event: 'stopped', ...result },
          result.drained ? 'all sessions drained' : `${result.cut} sessions cut at the drain deadline`,
        );
        await admin?.close();
        await accessLog.flush();
        if (file.pidFile !== null) {
          try {
            unlinkSync(file.pidFile);
          } catch {
            // Already gone.
          }
        }
        resolve(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
