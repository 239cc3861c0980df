#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { isAirlockError } from '../errors/index.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The command table: flags and help only; every command's work lives in commands/<name>.ts, loaded on use. */
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
    .addOption(new Option('-w, --watch', 'reload when the configuration or an allowlist file changes'))
    .addOption(
      new Option(
        '--workers <n>',
        'gateway processes sharing the listeners: "auto" (one per core) or a number',
      ),
    )
    .action(
      async (opts: {
        config?: string;
        listen?: string[];
        allowlist?: string[];
        watch?: boolean;
        workers?: string;
      }) => {
        const { serve } = await import('./commands/serve.js');
        process.exitCode = await serve({
          configFile: opts.config,
          listen: opts.listen,
          allowlist: opts.allowlist,
          watch: opts.watch,
          workers: opts.workers,
        });
      },
    );

  program
    .command('reload')
    .description(
      'make a running gateway re-read its configuration (SIGHUP); an invalid file keeps the old policy',
    )
    .addOption(new Option('--pid-file <file>', 'the pidFile of the running gateway'))
    .addOption(new Option('--pid <pid>', 'process id of the running gateway'))
    .action(async (opts: { pidFile?: string; pid?: string }) => {
      const { reload } = await import('./commands/reload.js');
      process.exitCode = await reload(opts);
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

  program
    .command('explain')
    .description('which proxy each Defender component uses on a machine, what works, and why')
    .addOption(
      new Option(
        '-f, --from <file>',
        'pasted output: netsh winhttp show proxy or show advproxy, reg query / .reg export, Get-MpPreference, mdatp (repeatable)',
      ).argParser(collect),
    )
    .addOption(new Option('-m, --machine <file>', 'YAML/JSON description of the machine'))
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'json', 'markdown']).default('text'),
    )
    .addOption(
      new Option(
        '--assume <id=reading>',
        'choose a reading where the sources disagree (repeatable)',
      ).argParser(collect),
    )
    .addOption(new Option('-c, --config <file>', 'check the destinations against this gateway configuration'))
    .action(
      async (opts: {
        from?: string[];
        machine?: string;
        format: 'text' | 'json' | 'markdown';
        assume?: string[];
        config?: string;
      }) => {
        const { explain } = await import('./commands/explain.js');
        let policyCheck: ((host: string, port: number) => { allowed: boolean; reason: string }) | undefined;
        if (opts.config !== undefined) {
          const { loadConfig } = await import('./load-config.js');
          const { decideDestination } = await import('../policy/index.js');
          const { policy } = await loadConfig({ configFile: opts.config });
          policyCheck = (host, port) => {
            const d = decideDestination(policy, 'CONNECT', host, port);
            return { allowed: d.verdict === 'allow', reason: d.reason };
          };
        }
        process.exitCode = await explain({
          from: opts.from ?? [],
          machine: opts.machine,
          format: opts.format,
          assume: opts.assume,
          policyCheck,
        });
      },
    );

  program
    .command('clients')
    .description('the settings, files and commands each Defender component needs to use the gateway')
    .addOption(
      new Option('-g, --gateway <host:port>', 'a gateway, in failover order (repeatable)').argParser(collect),
    )
    .addOption(
      new Option(
        '-p, --product <id>',
        'mde, mde-streamlined, mdav, mdi, ama, mma, arc (repeatable)',
      ).argParser(collect),
    )
    .addOption(new Option('--os <os>', 'windows, linux, macos (repeatable)').argParser(collect))
    .addOption(new Option('-o, --out <dir>', 'write the files and a README there instead of printing'))
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'json', 'pac']).default('text'),
    )
    .addOption(
      new Option('--bypass <host>', 'hosts Windows reaches without the gateway (repeatable)').argParser(
        collect,
      ),
    )
    .addOption(new Option('--pac-url <url>', 'Defender Antivirus ProxyPacUrl'))
    .addOption(
      new Option('--arc-bypass <group>', 'Azure Arc proxy.bypass groups (repeatable)').argParser(collect),
    )
    .addOption(
      new Option('--otherwise <route>', 'PAC answer for everything else: DIRECT or "PROXY host:port"'),
    )
    .addOption(new Option('-c, --config <file>', 'take the PAC hosts from this gateway configuration'))
    .action(
      async (opts: {
        gateway?: string[];
        product?: string[];
        os?: string[];
        out?: string;
        format: string;
        bypass?: string[];
        pacUrl?: string;
        arcBypass?: string[];
        otherwise?: string;
        config?: string;
      }) => {
        const { clients } = await import('./commands/clients.js');
        process.exitCode = await clients({
          gateway: opts.gateway,
          product: opts.product,
          os: opts.os,
          out: opts.out,
          format: opts.format,
          bypass: opts.bypass,
          pacUrl: opts.pacUrl,
          arcBypass: opts.arcBypass,
          otherwise: opts.otherwise,
          configFile: opts.config,
        });
      },
    );

  program
    .command('install')
    .description(
      'install the gateway as a hardened systemd service on Debian/Ubuntu (config, unit, log rotation, kernel tuning, firewall)',
    )
    .addOption(new Option('-c, --config <file>', 'configuration to install (default: the built-in policy)'))
    .addOption(new Option('--dry-run', 'print every change, file contents included, and make none'))
    .addOption(
      new Option(
        '--root <dir>',
        'install the files into this directory tree; commands are listed, never run',
      ),
    )
    .addOption(
      new Option(
        '--ssh-from <cidr>',
        'networks allowed to reach SSH through the firewall (repeatable)',
      ).argParser(collect),
    )
    .addOption(new Option('--ssh-port <port>', 'SSH port to keep open'))
    .addOption(new Option('--no-firewall', 'leave the firewall alone'))
    .addOption(new Option('--node <path>', 'Node.js binary the unit runs'))
    .addOption(new Option('--prefix <dir>', 'where the airlock package lives'))
    .action(
      async (opts: {
        config?: string;
        dryRun?: boolean;
        root?: string;
        sshFrom?: string[];
        sshPort?: string;
        firewall?: boolean;
        node?: string;
        prefix?: string;
      }) => {
        const { install } = await import('./commands/install.js');
        process.exitCode = await install({
          configFile: opts.config,
          dryRun: opts.dryRun,
          root: opts.root,
          sshFrom: opts.sshFrom,
          sshPort: opts.sshPort,
          firewall: opts.firewall,
          node: opts.node,
          prefix: opts.prefix,
        });
      },
    );

  program
    .command('uninstall')
    .description('reverse `airlock install`')
    .addOption(new Option('--dry-run', 'print every change and make none'))
    .addOption(new Option('--root <dir>', 'the directory tree given to install --root'))
    .addOption(new Option('--purge', 'also remove the configuration and logs'))
    .action(async (opts: { dryRun?: boolean; root?: string; purge?: boolean }) => {
      const { uninstall } = await import('./commands/install.js');
      process.exitCode = await uninstall({ dryRun: opts.dryRun, root: opts.root, purge: opts.purge });
    });

  program
    .command('check')
    .description(
      'connectivity to every Defender endpoint through each proxy method, with TLS-inspection detection',
    )
    .addOption(
      new Option('--url <url>', 'a URL to test instead of the catalog (repeatable)').argParser(collect),
    )
    .addOption(new Option('--product <product>', 'catalog products to test (repeatable)').argParser(collect))
    .addOption(new Option('--geo <geo>', 'geographies (repeatable)').argParser(collect))
    .addOption(new Option('--service <service>', 'services (repeatable)').argParser(collect))
    .addOption(new Option('--cloud <cloud>', 'cloud'))
    .addOption(new Option('--required-only', 'only the endpoints Microsoft marks Required'))
    .addOption(
      new Option('-c, --config <file>', 'gateway configuration (with --gateway: test its whole policy)'),
    )
    .addOption(
      new Option('--gateway', 'run on the gateway box: test upstream reachability of the compiled policy'),
    )
    .addOption(new Option('--proxy <url>', 'a named proxy to test through'))
    .addOption(new Option('--airlock <host:port>', 'an Airlock gateway to test through'))
    .addOption(new Option('--pac <url|file>', 'a PAC file to evaluate (sandboxed) and test through'))
    .addOption(new Option('--no-env-proxy', 'skip the HTTPS_PROXY/NO_PROXY method'))
    .addOption(new Option('--no-direct', 'skip the direct (no proxy) method'))
    .addOption(new Option('--timeout <ms>', 'timeout per stage').default('5000'))
    .addOption(new Option('--deadline <ms>', 'total deadline').default('120000'))
    .addOption(new Option('--concurrency <n>', 'checks in parallel').default('8'))
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'table', 'json', 'junit', 'html']),
    )
    .addOption(new Option('-o, --output <file>', 'write the report to a file (format from the extension)'))
    .addOption(
      new Option('--ca-file <file>', 'extra trusted CA certificates (repeatable)').argParser(collect),
    )
    .addOption(new Option('--issuers <file>', 'expected-issuer data to use instead of the built-in'))
    .addOption(
      new Option('--resolve <host:address>', 'resolve a name to an address (repeatable)').argParser(collect),
    )
    .action(
      async (opts: {
        url?: string[];
        product?: string[];
        geo?: string[];
        service?: string[];
        cloud?: string;
        requiredOnly?: boolean;
        config?: string;
        gateway?: boolean;
        proxy?: string;
        airlock?: string;
        pac?: string;
        envProxy: boolean;
        direct: boolean;
        timeout: string;
        deadline: string;
        concurrency: string;
        format?: string;
        output?: string;
        caFile?: string[];
        issuers?: string;
        resolve?: string[];
      }) => {
        const { check } = await import('./commands/check.js');
        process.exitCode = await check({
          urls: opts.url,
          products: opts.product,
          geos: opts.geo,
          services: opts.service,
          cloud: opts.cloud,
          requiredOnly: opts.requiredOnly,
          configFile: opts.config,
          gateway: opts.gateway,
          proxy: opts.proxy,
          airlock: opts.airlock,
          pac: opts.pac,
          envProxy: opts.envProxy,
          direct: opts.direct,
          timeout: opts.timeout,
          deadline: opts.deadline,
          concurrency: opts.concurrency,
          format: opts.format,
          output: opts.output,
          caFiles: opts.caFile,
          issuers: opts.issuers,
          resolve: opts.resolve,
        });
      },
    );

  const policy = program.command('policy').description('inspect the effective policy');
  policy
    .command('show')
    .description('print every effective destination rule and where it came from')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file'))
    .addOption(new Option('-a, --allowlist <file>', 'Squid dstdomain file (repeatable)').argParser(collect))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (opts: { config?: string; allowlist?: string[]; format: 'table' | 'json' }) => {
      const { policyShow } = await import('./commands/policy-show.js');
      process.exitCode = await policyShow({
        configFile: opts.config,
        allowlist: opts.allowlist,
        format: opts.format,
      });
    });

  const catalog = program.command('catalog').description('the Defender endpoint catalog');
  catalog
    .command('list')
    .description('list catalog entries')
    .addOption(new Option('--product <product>', 'filter by product (repeatable)').argParser(collect))
    .addOption(new Option('--geo <geo>', 'filter by geography (repeatable)').argParser(collect))
    .addOption(new Option('--service <service>', 'filter by service (repeatable)').argParser(collect))
    .addOption(new Option('--cloud <cloud>', 'filter by cloud (repeatable)').argParser(collect))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(new Option('--wide', 'also show clouds and descriptions'))
    .action(
      async (opts: {
        product?: string[];
        geo?: string[];
        service?: string[];
        cloud?: string[];
        format: 'table' | 'json';
        wide?: boolean;
      }) => {
        const { catalogList } = await import('./commands/catalog.js');
        process.exitCode = await catalogList({
          products: opts.product,
          geos: opts.geo,
          services: opts.service,
          clouds: opts.cloud,
          format: opts.format,
          wide: opts.wide,
        });
      },
    );
  catalog
    .command('import <file>')
    .description("read Microsoft's MDE URL spreadsheet (.xlsx or CSV) and write a catalog file")
    .addOption(new Option('-o, --output <file>', 'catalog file to write (default: stdout)'))
    .addOption(new Option('--source <key>', 'source key recorded on every entry'))
    .addOption(new Option('--strict', 'fail when any row cannot be mapped'))
    .action(async (file: string, opts: { output?: string; source?: string; strict?: boolean }) => {
      const { catalogImport } = await import('./commands/catalog.js');
      process.exitCode = await catalogImport({
        file,
        output: opts.output,
        source: opts.source,
        strict: opts.strict,
      });
    });
  catalog
    .command('diff <old> <new>')
    .description('entries added, removed and changed between two catalogs or spreadsheets')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(new Option('--exit-code', 'exit 1 when there are differences'))
    .action(
      async (oldFile: string, newFile: string, opts: { format: 'text' | 'json'; exitCode?: boolean }) => {
        const { catalogDiff } = await import('./commands/catalog.js');
        process.exitCode = await catalogDiff({
          oldFile,
          newFile,
          format: opts.format,
          exitCode: opts.exitCode,
        });
      },
    );
  catalog
    .command('export')
    .description('export the selected catalog for other tools')
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['squid', 'json', 'csv', 'xlsx', 'pac'])
        .makeOptionMandatory(),
    )
    .addOption(new Option('-o, --output <path>', 'file to write (default: stdout)'))
    .addOption(new Option('-c, --config <file>', 'take the selection from this configuration'))
    .addOption(new Option('--product <product>', 'product (repeatable)').argParser(collect))
    .addOption(new Option('--geo <geo>', 'geography (repeatable)').argParser(collect))
    .addOption(new Option('--cloud <cloud>', 'cloud'))
    .addOption(new Option('--service <service>', 'service (repeatable)').argParser(collect))
    .addOption(new Option('--all', 'every entry, no selection'))
    .addOption(
      new Option('--proxy <host:port>', 'gateway for the PAC file, in failover order (repeatable)').argParser(
        collect,
      ),
    )
    .addOption(
      new Option('--squid-dir <dir>', 'directory the Squid configuration refers to for its dstdomain files'),
    )
    .action(
      async (opts: {
        format: string;
        output?: string;
        config?: string;
        product?: string[];
        geo?: string[];
        cloud?: string;
        service?: string[];
        all?: boolean;
        proxy?: string[];
        squidDir?: string;
      }) => {
        const { catalogExport } = await import('./commands/catalog.js');
        process.exitCode = await catalogExport({
          format: opts.format,
          output: opts.output,
          configFile: opts.config,
          products: opts.product,
          geos: opts.geo,
          cloud: opts.cloud,
          services: opts.service,
          all: opts.all,
          proxy: opts.proxy,
          squidDir: opts.squidDir,
        });
      },
    );
  catalog
    .command('lint [file]')
    .description(
      'flag rules that admit hosts any cloud customer can create (the effective policy, or a dstdomain / config file)',
    )
    .addOption(new Option('-c, --config <file>', 'YAML configuration file'))
    .addOption(new Option('-a, --allowlist <file>', 'Squid dstdomain file (repeatable)').argParser(collect))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(
      new Option('--fail-on <severity>', 'exit 3 at or above this severity').choices([
        'high',
        'medium',
        'low',
        'none',
      ]),
    )
    .action(
      async (
        file: string | undefined,
        opts: { config?: string; allowlist?: string[]; format: 'text' | 'json'; failOn?: string },
      ) => {
        const { catalogLint } = await import('./commands/catalog.js');
        process.exitCode = await catalogLint({
          file,
          configFile: opts.config,
          allowlist: opts.allowlist,
          format: opts.format,
          failOn: opts.failOn,
        });
      },
    );

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
// A worker's IPC channel would keep it alive after its gateway has stopped: exit too.
// A worker's IPC channel would keep it alive after its gateway stopped.
const isWorker = process.env.AIRLOCK_WORKER_INDEX !== undefined && process.send !== undefined;
if ((process.exitCode !== undefined && process.exitCode !== 0) || isWorker) process.exit();
