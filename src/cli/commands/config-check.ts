import { loadConfig, type LoadOptions } from '../../supervisor/index.js';

export async function configCheck(options: LoadOptions): Promise<number> {
  const loaded = await loadConfig(options);
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  const listeners = loaded.listeners.map((l) => l.text).join(', ');
  process.stdout.write(
    `${loaded.config.fileName}: OK\n` +
      `  listeners: ${listeners}\n` +
      `  sources: ${loaded.policy.sources
        .list()
        .map((s) => s.cidr.text)
        .join(', ')}\n` +
      `  ports: CONNECT ${[...loaded.policy.connectPorts].join(',')}; HTTP ${[...loaded.policy.httpPorts].join(',')}\n` +
      `  destination rules: ${loaded.policy.rules.length}\n`,
  );
  return 0;
}
