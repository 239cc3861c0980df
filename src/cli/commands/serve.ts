import { readFileSync } from 'node:fs';
import { Gateway, Resolver } from '../../gateway/index.js';
import { AccessLog, createOpsLogger } from '../../observe/index.js';
import { loadConfig, type LoadOptions } from '../load-config.js';

/** Reads the open-files limit; null where /proc is not there. */
function openFilesLimit(): number | null {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export async function serve(options: LoadOptions): Promise<number> {
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
  const resolver = new Resolver({
    hosts: loaded.hosts,
    servers: file.dns.servers,
    timeoutMs: file.dns.timeout,
    tries: file.dns.tries,
    minTtlMs: file.dns.minTtl,
    maxTtlMs: file.dns.maxTtl,
    negativeTtlMs: file.dns.negativeTtl,
    prefer: file.dns.prefer,
  });
  const gateway = new Gateway({
    listeners: loaded.listeners,
    policy: loaded.policy,
    resolver,
    accessLog,
    timeouts: file.timeouts,
    limits: file.limits,
  });
  await gateway.start();
  const addresses = gateway
    .addresses()
    .map((a) => (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
  ops.info(
    {
      event: 'listening',
      listeners: addresses,
      rules: loaded.policy.rules.length,
      config: loaded.config.fileName,
      pid: process.pid,
    },
    `airlock listening on ${addresses.join(', ')} with ${loaded.policy.rules.length} destination rules`,
  );

  process.on('SIGUSR1', () => {
    accessLog.reopen();
    ops.info({ event: 'log_reopened' }, 'access log reopened');
  });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        ops.warn({ event: 'shutdown_forced' }, `${signal} again: closing everything now`);
        void gateway.shutdown(0);
        return;
      }
      stopping = true;
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
        resolve(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
