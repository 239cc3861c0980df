#!/usr/bin/env node
import { Command, CommanderError, Option } from '../deps/commander.js';
import { isAirlockError } from '../errors/index.js';
import type { CommandIo } from './commands/catalog.js';
import { stdoutWidth } from './terminal.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const WIDE_HELP = 'lay tables out at full width instead of fitting them to the terminal (COLUMNS, else 100)';

/** Standard output and stderr, with the width tables are fitted to. */
async function widthIo(wide: boolean | undefined): Promise<CommandIo> {
  const { PROCESS_IO } = await import('./commands/catalog.js');
  return { ...PROCESS_IO, width: stdoutWidth(wide) };
}

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
        'gateway processes sharing the listeners: "auto" (one per CPU, a cgroup CPU limit included) or a number',
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
      'make a running gateway re-read its configuration and report the outcome; an invalid file keeps the old policy and exits non-zero',
    )
    .addOption(
      new Option(
        '--pid-file <file>',
        'the pidFile of the running gateway (SIGHUP, then wait for its result)',
      ),
    )
    .addOption(new Option('--admin <host:port>', 'reload through the admin API (POST /api/reload) instead'))
    .addOption(new Option('--token <token>', 'admin API token (default: AIRLOCK_ADMIN_TOKEN)'))
    .addOption(
      new Option(
        '--pid <pid>',
        'process id of the running gateway (SIGHUP only: the outcome is not awaited)',
      ),
    )
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the outcome').default('30'))
    .action(
      async (opts: { pidFile?: string; pid?: string; admin?: string; token?: string; timeout: string }) => {
        const { reload } = await import('./commands/reload.js');
        process.exitCode = await reload(opts);
      },
    );

  program
    .command('top')
    .description('live view of services, clients and denials from the admin API (q to quit)')
    .addOption(new Option('--admin <host:port>', 'the admin listener').default('127.0.0.1:9090'))
    .addOption(new Option('--token <token>', 'admin API token (default: AIRLOCK_ADMIN_TOKEN)'))
    .addOption(new Option('--once', 'print one snapshot as text and exit'))
    .addOption(new Option('--interval <seconds>', 'refresh interval').default('2'))
    .addOption(new Option('--rows <n>', 'rows per section with --once').default('20'))
    .action(
      async (opts: { admin: string; token?: string; once?: boolean; interval: string; rows: string }) => {
        const { top } = await import('./commands/top.js');
        process.exitCode = await top(opts);
      },
    );

  program
    .command('config-check')
    .description('validate a configuration (and the files it names) and print the effective policy summary')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file'))
    .addOption(new Option('-a, --allowlist <file>', 'Squid dstdomain file (repeatable)').argParser(collect))
    .addOption(
      new Option('--strict', 'exit 3 on any warning and on high-severity lint findings (for pipelines)'),
    )
    .action(async (opts: { config?: string; allowlist?: string[]; strict?: boolean }) => {
      const { configCheck } = await import('./commands/config-check.js');
      process.exitCode = await configCheck({
        configFile: opts.config,
        allowlist: opts.allowlist,
        strict: opts.strict,
      });
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
    .addOption(new Option('--wide', WIDE_HELP))
    .action(
      async (opts: {
        from?: string[];
        machine?: string;
        format: 'text' | 'json' | 'markdown';
        assume?: string[];
        config?: string;
        wide?: boolean;
      }) => {
        const { explain } = await import('./commands/explain.js');
        let policyCheck: ((host: string, port: number) => { allowed: boolean; reason: string }) | undefined;
        if (opts.config !== undefined) {
          const { loadConfig } = await import('../supervisor/index.js');
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
          width: stdoutWidth(opts.wide),
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
      new Option('-c, --config <file>', 'gateway configuration (with --on-gateway: test its whole policy)'),
    )
    .addOption(
      new Option(
        '--on-gateway',
        'run on the gateway box: test upstream reachability of the compiled policy, resolving as the gateway does',
      ),
    )
    .addOption(
      new Option('-g, --gateway [host:port]', 'an Airlock gateway to test through (as in `airlock clients`)'),
    )
    .addOption(new Option('--proxy <url>', 'a named proxy to test through'))
    .addOption(new Option('--airlock <host:port>', 'the older name of --gateway host:port').hideHelp())
    .addOption(new Option('--pac <url|file>', 'a PAC file to evaluate (sandboxed) and test through'))
    .addOption(new Option('--no-env-proxy', 'skip the HTTPS_PROXY/NO_PROXY method'))
    .addOption(new Option('--no-direct', 'skip the direct (no proxy) method'))
    .addOption(new Option('--timeout <ms>', 'timeout per stage').default('5000'))
    .addOption(new Option('--deadline <ms>', 'total deadline').default('120000'))
    .addOption(new Option('--concurrency <n>', 'checks in parallel').default('8'))
    .addOption(
      new Option(
        '--format <format>',
        'output format (default: table on a terminal, text otherwise; mde: the MDE Client Analyzer layout)',
      ).choices(['text', 'table', 'mde', 'json', 'junit', 'html']),
    )
    .addOption(new Option('-v, --verbose', 'text report: every URL with each method and its stages'))
    .addOption(new Option('--wide', WIDE_HELP))
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
        onGateway?: boolean;
        gateway?: string | boolean;
        proxy?: string;
        airlock?: string;
        pac?: string;
        envProxy: boolean;
        direct: boolean;
        timeout: string;
        deadline: string;
        concurrency: string;
        format?: string;
        verbose?: boolean;
        wide?: boolean;
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
          onGateway: opts.onGateway,
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
          verbose: opts.verbose,
          wide: opts.wide,
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
    .addOption(new Option('--wide', WIDE_HELP))
    .action(
      async (opts: { config?: string; allowlist?: string[]; format: 'table' | 'json'; wide?: boolean }) => {
        const { policyShow } = await import('./commands/policy-show.js');
        process.exitCode = await policyShow(
          { configFile: opts.config, allowlist: opts.allowlist, format: opts.format },
          await widthIo(opts.wide),
        );
      },
    );

  const catalog = program.command('catalog').description('the Defender endpoint catalog');
  catalog
    .command('list')
    .description('list catalog entries')
    .addOption(new Option('--product <product>', 'filter by product (repeatable)').argParser(collect))
    .addOption(new Option('--geo <geo>', 'filter by geography (repeatable)').argParser(collect))
    .addOption(new Option('--service <service>', 'filter by service (repeatable)').argParser(collect))
    .addOption(new Option('--cloud <cloud>', 'filter by cloud (repeatable)').argParser(collect))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(new Option('--wide', WIDE_HELP))
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
        process.exitCode = await catalogList(
          {
            products: opts.product,
            geos: opts.geo,
            services: opts.service,
            clouds: opts.cloud,
            format: opts.format,
            wide: opts.wide,
          },
          await widthIo(opts.wide),
        );
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

  addExamples(program);
  return program;
}

/** Examples shown at the end of each command's --help, by command path. */
const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  airlock: [
    'airlock serve --config /etc/airlock/airlock.yaml',
    'airlock config-check --config airlock.yaml --strict',
    'airlock check --gateway 10.0.0.5:3128',
    'airlock <command> --help',
  ],
  serve: [
    'airlock serve                                      # built-in policy on 0.0.0.0:3128',
    'airlock serve --config /etc/airlock/airlock.yaml --watch',
    'airlock serve --listen 10.0.0.5:3128 --allowlist /etc/squid/mdemdi.conf',
    'airlock serve --config airlock.yaml --workers auto',
  ],
  reload: [
    'airlock reload --pid-file /run/airlock/airlock.pid   # waits for the outcome; exit 2 if refused',
    'airlock reload --admin 127.0.0.1:9090',
  ],
  'config-check': [
    'airlock config-check --config /etc/airlock/airlock.yaml',
    'airlock config-check --config airlock.yaml --strict      # exit 3 on warnings (CI)',
    'airlock config-check --allowlist /etc/squid/mdemdi.conf',
  ],
  explain: [
    'airlock explain --from netsh.txt --from defender-policies.reg',
    'airlock explain --machine machine.yaml --format markdown > report.md',
    'airlock explain --from netsh.txt --config /etc/airlock/airlock.yaml',
  ],
  clients: [
    'airlock clients --gateway gw1:3128 --gateway gw2:3128 --product mde --os windows',
    'airlock clients --gateway gw1:3128 --product mde,mdi --out ./clients',
    'airlock clients --gateway gw1:3128 --format pac --config airlock.yaml > proxy.pac',
  ],
  install: [
    'sudo airlock install --config airlock.yaml --dry-run     # the whole plan, nothing changed',
    'sudo airlock install --config airlock.yaml --ssh-from 10.0.0.0/8',
    'airlock install --root /tmp/image --config airlock.yaml',
  ],
  uninstall: ['sudo airlock uninstall --dry-run', 'sudo airlock uninstall --purge'],
  check: [
    'airlock check                                      # this machine, every method it has',
    'airlock check --gateway 10.0.0.5:3128 --product mde --geo EU',
    'airlock check --on-gateway -c /etc/airlock/airlock.yaml  # on the gateway box',
    'airlock check --url https://winatp-gw-eus.microsoft.com/commands/test --verbose',
    'airlock check --pac http://wpad.corp.example/wpad.dat -o report.html',
    'airlock check --format mde > analyzer.txt          # the MDE Client Analyzer layout',
  ],
  top: [
    'airlock top                                        # live view, admin listener on 127.0.0.1:9090',
    'airlock top --admin 10.0.0.5:9090 --token "$(cat /etc/airlock/admin-token)"',
    'airlock top --once --rows 50 > snapshot.txt',
  ],
  policy: ['airlock policy show --config airlock.yaml'],
  'policy show': [
    'airlock policy show --config /etc/airlock/airlock.yaml',
    'airlock policy show --allowlist /etc/squid/mdemdi.conf --wide',
    "airlock policy show --format json | jq '.rules[] | select(.lint != [])'",
  ],
  catalog: ['airlock catalog list --product mdi', 'airlock catalog lint /etc/squid/mdemdi.conf'],
  'catalog list': [
    'airlock catalog list --product mde --geo EU',
    'airlock catalog list --service command-and-control --wide',
    'airlock catalog list --format json > catalog.json',
  ],
  'catalog import': [
    'airlock catalog import mde-urls.xlsx -o mde.catalog.json',
    'airlock catalog import mde-urls.csv --strict',
  ],
  'catalog diff': [
    'airlock catalog diff old.catalog.json mde-urls.xlsx',
    'airlock catalog diff old.xlsx new.xlsx --exit-code     # exit 1 when they differ',
  ],
  'catalog export': [
    'airlock catalog export --format squid -o mdemdi.conf --product mde --geo EU',
    'airlock catalog export --format pac --proxy gw1:3128 --proxy gw2:3128 -o proxy.pac',
    'airlock catalog export --format xlsx --all -o catalog.xlsx',
  ],
  'catalog lint': [
    'airlock catalog lint /etc/squid/mdemdi.conf',
    'airlock catalog lint --config airlock.yaml --fail-on medium',
  ],
};

function addExamples(command: Command, path: string[] = []): void {
  const key = path.length === 0 ? 'airlock' : path.join(' ');
  const lines = EXAMPLES[key];
  if (lines !== undefined)
    command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
  for (const sub of command.commands) addExamples(sub, [...path, sub.name()]);
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
// Every command has finished its work when main() returns (serve: the gateway has stopped and
// said so). Exit now rather than wait for stray handles: a timer, an idle socket, a worker's IPC
// channel. Output to files, pipes and terminals is synchronous on Linux, so nothing is lost.
process.exit();
