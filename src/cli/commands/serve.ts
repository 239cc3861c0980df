import { readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { isAirlockError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/index.js';
import { AccessLog, createOpsLogger } from '../../observe/index.js';
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
    this.ops.info(
      { event: 'reloaded', trigger, rules: next.policy.rules.length },
      `policy reloaded (${next.policy.rules.length} destination rules)`,
    );
  }
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
  const gateway = buildGateway(loaded, accessLog);
  await gateway.start();
  const addresses = gateway
    .addresses()
    .map((a) => (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
  if (file.pidFile !== null) writeFileSync(file.pidFile, `${process.pid}\n`);
  ops.info(
    {
      event: 'listening',
      listeners: addresses,
      rules: loaded.policy.rules.length,
      mode: file.mode,
      config: loaded.config.fileName,
      pid: process.pid,
    },
    `airlock listening on ${addresses.join(', ')} with ${loaded.policy.rules.length} destination rules${file.mode === 'audit' ? ' (AUDIT MODE)' : ''}`,
  );

  const reloader = new Reloader(options, loaded, gateway, ops);
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
