#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { isAirlockError } from '../errors/index.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Allowlist-only egress gateway for Microsoft Defender agents')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve')
    .description('run the gateway (the built-in default policy when no --config is given)')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file'))
    .addOption(
      new Option(
        '-l, --listen <host:port>',
        'listen address, replaces the configured listeners (repeatable)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '-a, --allowlist <file>',
        'Squid dstdomain file of destinations, replaces the configured rules (repeatable)',
      ).argParser(collect),
    )
    .action(async (opts: { config?: string; listen?: string[]; allowlist?: string[] }) => {
      const { serve } = await import('./commands/serve.js');
      process.exitCode = await serve({
        configFile: opts.config,
        listen: opts.listen,
        allowlist: opts.allowlist,
      });
    });

  program
    .command('config-check')
    .description('validate a configuration (and the files it names) and print the effective policy summary')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file'))
    .addOption(new Option('-a, --allowlist <file>', 'Squid dstdomain file (repeatable)').argParser(collect))
    .action(async (opts: { config?: string; allowlist?: string[] }) => {
      const { configCheck } = await import('./commands/config-check.js');
      process.exitCode = await configCheck({ configFile: opts.config, allowlist: opts.allowlist });
    });

  return program;
}

/** The one place that turns an error into a message and an exit code. */
async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isAirlockError(error)) {
      const lines = error.message.split('\n');
      const prefix = error.code === 'CONFIG_INVALID' ? 'airlock: invalid configuration:' : 'airlock:';
      process.stderr.write(
        lines.length === 1
          ? `${prefix} ${lines[0]}\n`
          : `${prefix}\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
      );
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(
      `airlock: internal error, please report: ${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exitCode = 70;
  }
}

await main(process.argv);
// Servers keep the event loop alive while running; once main() returns for any other reason, exit.
if (process.exitCode !== undefined && process.exitCode !== 0) process.exit();
