import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { GATEWAY_NODE_FLAGS } from '../../src/supervisor/index.js';
import {
  PATHS,
  planInstall,
  renderLogrotate,
  renderPlan,
  renderUnit,
  sizing,
  withCommandStatuses,
  type FileAction,
  type InstallInput,
  type Plan,
} from '../../src/install/index.js';

/**
 * Every file `airlock install` writes, rendered from hostile values (line breaks, `%`, `$`,
 * quotes, backslashes, `..`, invisible characters) in every option that reaches one, then read
 * back: by a parser of each format written here after its documentation, and, where the tool is
 * installed, by the tool itself (`systemd-analyze verify`, `logrotate -d`, `nft -c`). A value is
 * either refused with a message naming the option and the character, or written so that it reads
 * back as exactly itself; in neither case does any file gain a directive, a block or a command.
 */

const work = mkdtempSync(join(tmpdir(), 'airlock-injection-'));
after(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** The tool's path, looked up in PATH and in the sbin directories (root's tools), or null. */
async function find(tool: string): Promise<string | null> {
  const r = await run('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${tool}`]);
  return r.code === 0 ? r.out.trim() : null;
}
const paths = {
  systemd: await find('systemd-analyze'),
  logrotate: await find('logrotate'),
  nft: await find('nft'),
};
const tools = {
  systemd: paths.systemd !== null,
  logrotate: paths.logrotate !== null,
  nft: paths.nft !== null,
};

// ---------------------------------------------------------------------------------------------
// systemd unit files (systemd.syntax, systemd.service "Command lines", systemd.unit "Specifiers")

interface UnitEntry {
  readonly section: string;
  readonly key: string;
  readonly value: string;
}

/** Sections and key=value lines; a backslash at the end of a line continues it. */
function parseUnit(text: string): UnitEntry[] {
  const entries: UnitEntry[] = [];
  let section = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!}`;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header !== null) {
      section = header[1]!;
      continue;
    }
    const eq = trimmed.indexOf('=');
    assert.ok(eq > 0, `not a key=value line: ${JSON.stringify(line)}`);
    entries.push({ section, key: trimmed.slice(0, eq).trim(), value: trimmed.slice(eq + 1).trim() });
  }
  return entries;
}

const C_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  s: ' ',
};

/** One C-style escape at text[i] (after the backslash); returns the character and the next index. */
function unescapeAt(text: string, i: number): [string, number] {
  const c = text[i];
  if (c !== undefined && C_ESCAPES[c] !== undefined) return [C_ESCAPES[c], i + 1];
  const hex = (n: number): number => {
    const digits = text.slice(i + 1, i + 1 + n);
    assert.match(digits, new RegExp(`^[0-9a-fA-F]{${n}}$`), 'a bad escape systemd would refuse');
    return parseInt(digits, 16);
  };
  let code: number;
  let next: number;
  if (c === 'x') [code, next] = [hex(2), i + 3];
  else if (c === 'u') [code, next] = [hex(4), i + 5];
  else if (c === 'U') [code, next] = [hex(8), i + 9];
  else assert.fail(`unknown escape \\${c ?? ''}`);
  assert.notEqual(code, 0, 'systemd refuses a NUL byte');
  return [String.fromCodePoint(code), next];
}

/**
 * ExecStart= as systemd reads it: specifiers first (only `%%` may appear: anything else would
 * be replaced), then words split at whitespace with double and single quotes and C escapes,
 * then `$$` in the arguments (a `$` alone would be a variable). The program may carry no
 * prefix character.
 */
function parseExec(value: string): string[] {
  let line = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') line += value[i];
    else {
      assert.equal(value[i + 1], '%', `specifier %${value[i + 1] ?? ''} in ${JSON.stringify(value)}`);
      line += '%';
      i++;
    }
  }
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (/\s/.test(line[i]!)) {
      i++;
      continue;
    }
    let word = '';
    let quote: string | null = null;
    for (; i < line.length;) {
      const c = line[i]!;
      if (quote === null && /\s/.test(c)) break;
      if (c === '\\') [word, i] = ((r) => [word + r[0], r[1]])(unescapeAt(line, i + 1));
      else if (quote === null && (c === '"' || c === "'")) [quote, i] = [c, i + 1];
      else if (c === quote) [quote, i] = [null, i + 1];
      else [word, i] = [word + c, i + 1];
    }
    assert.equal(quote, null, 'an unterminated quote');
    words.push(word);
  }
  assert.ok(words.length > 0);
  assert.ok(!/^[-@:+!]/.test(words[0]!), `program with a prefix: ${words[0]!}`);
  return words.map((w, k) => {
    if (k === 0) return w;
    assert.doesNotMatch(w.replaceAll('$$', ''), /\$/, `a variable in ${JSON.stringify(w)}`);
    return w.replaceAll('$$', '$');
  });
}

function unitKeys(text: string): string[] {
  return parseUnit(text).map((e) => `[${e.section}] ${e.key}`);
}

// ---------------------------------------------------------------------------------------------
// logrotate (logrotate(8), "Configuration file")

interface LogrotateBlock {
  readonly patterns: string[];
  readonly directives: string[];
  readonly scripts: Record<string, string[]>;
}

/**
 * Blocks of the configuration: the file patterns before each `{` (whitespace-separated, double
 * quotes allowed), the directives inside, and the lines of each script up to `endscript`.
 */
function parseLogrotate(text: string): LogrotateBlock[] {
  const blocks: LogrotateBlock[] = [];
  let patterns: string[] = [];
  let block: LogrotateBlock | null = null;
  let script: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (script !== null) {
      if (line === 'endscript') script = null;
      else script.push(line);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    if (block === null) {
      const open = line.indexOf('{');
      const words = (open === -1 ? line : line.slice(0, open)).match(/"[^"]*"|\S+/g) ?? [];
      patterns.push(...words.map((w) => w.replace(/^"(.*)"$/, '$1')));
      if (open !== -1) {
        assert.equal(line.slice(open + 1).trim(), '', 'text after {');
        block = { patterns, directives: [], scripts: {} };
        patterns = [];
      }
      continue;
    }
    if (line === '}') {
      blocks.push(block);
      block = null;
      continue;
    }
    const [directive] = line.split(/\s+/);
    if (['postrotate', 'prerotate', 'firstaction', 'lastaction', 'preremove'].includes(directive!)) {
      script = [];
      block.scripts[directive!] = script;
    }
    block.directives.push(line);
  }
  assert.equal(block, null, 'an unclosed block');
  assert.equal(script, null, 'an unterminated script');
  assert.deepEqual(patterns, [], 'patterns outside a block');
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// The hostile values and where they go

const HOSTILE: readonly string[] = [
  '\nExecStartPre=+/bin/sh -c id\n', // a directive on a line of its own
  '\n}\n/tmp/x {\n    postrotate\n        id\n    endscript\n', // a logrotate block with a script
  '\\\nExecStartPre=+/bin/id', // a backslash continuing the line
  '\r',
  '\t',
  ' x',
  '\u00a0',
  '"',
  "'",
  '`',
  '\\',
  '\0',
  '\x1b[2J',
  '\u2028',
  '\u202e',
  '%n',
  '%%',
  '$HOME',
  '${PATH}',
  '$$',
  ';',
  '{',
  '#',
  '*',
];

/** Characters refused in every path option; logrotate also refuses its own. */
const ALWAYS_REFUSED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}"'`\\]/u;
const LOGROTATE_REFUSED = /[{}#*?[\]]/;

/** A node binary that exists, in a directory whose name holds `%` and `$`, for systemd-analyze. */
const nodeDir = join(work, 'bin%n$HOME');
mkdirSync(nodeDir, { recursive: true });

function executable(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
}

const BASE = { node: join(nodeDir, 'node'), prefix: '/opt/airlock' };
executable(BASE.node);

interface Case {
  readonly option: string;
  /** The name the error message uses for the option. */
  readonly named: RegExp;
  readonly value: string;
  readonly config: string;
  readonly node: string;
  readonly prefix: string;
  readonly allowlists: { path: string; content: string }[];
  readonly sshFrom: string[];
  readonly logrotate: boolean;
}

const yamlString = (text: string): string => JSON.stringify(text);

function cases(hostile: string): Case[] {
  const config = 'listeners: ["0.0.0.0:3128"]\nlog: { file: /var/log/airlock/a.log }\n';
  const base = {
    config,
    node: BASE.node,
    prefix: BASE.prefix,
    allowlists: [],
    sshFrom: ['10.20.0.0/24'],
    logrotate: false,
  };
  const logFile = `/var/log/airlock/a${hostile}.log`;
  const allowlist = `allow${hostile}.conf`;
  const node = join(nodeDir, `no${hostile}de`);
  return [
    {
      ...base,
      option: 'log.file',
      named: /^log\.file /,
      value: logFile,
      config: `log: { file: ${yamlString(logFile)} }\n`,
      logrotate: true,
    },
    { ...base, option: '--node', named: /^the node binary \(--node\) /, value: node, node },
    {
      ...base,
      option: '--prefix',
      named: /^the airlock program \(--prefix\) /,
      value: `/opt/air${hostile}lock`,
      prefix: `/opt/air${hostile}lock`,
    },
    {
      ...base,
      option: 'policy.allowlistFiles',
      named: /^policy\.allowlistFiles\[0\] /,
      value: allowlist,
      config: `${config}policy:\n  allowlistFiles: [${yamlString(allowlist)}]\n  destinations: [a.example]\n`,
      allowlists: [{ path: allowlist, content: '.example.com\n' }],
    },
    {
      ...base,
      option: '--ssh-from',
      named: /^--ssh-from /,
      value: `10.30.0.0/24${hostile}`,
      sshFrom: ['10.20.0.0/24', `10.30.0.0/24${hostile}`],
    },
  ];
}

function plan(c: Case, firewall: 'nftables' | 'ufw' = 'nftables'): Plan {
  const parsed = parseConfig(c.config, 'airlock.yaml');
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  const input: InstallInput = {
    configText: c.config,
    config: parsed.config.file,
    allowlists: c.allowlists,
    program: { node: c.node, main: join(c.prefix, 'dist/src/cli/main.js') },
    target: 'root',
    firewall,
    ssh: { from: c.sshFrom },
    kernel: {
      current: { 'net.core.somaxconn': '4096\nkernel.core_pattern = |/bin/sh', 'fs.file-max': '9\n#' },
      existingFile: null,
    },
  };
  return planInstall(input);
}

function files(p: Plan): FileAction[] {
  return p.actions.filter((a): a is FileAction => a.kind === 'file');
}

const benign = plan(cases('')[0]!);
const benignUfw = plan(cases('')[0]!, 'ufw');
const benignFile = (path: string, p = benign): string => files(p).find((f) => f.path === path)!.content;

/** Reads back every file of the plan and checks that it says what a plan of harmless values says. */
function readBack(c: Case, p: Plan, firewall: 'nftables' | 'ufw'): void {
  const expectedMain = join(c.prefix, 'dist/src/cli/main.js');
  for (const file of files(p)) {
    const where = `${c.option} ${JSON.stringify(c.value)}: ${file.path}`;
    if (file.path === PATHS.unit) {
      assert.deepEqual(unitKeys(file.content), unitKeys(benignFile(PATHS.unit)), where);
      const exec = parseUnit(file.content).filter((e) => e.key === 'ExecStart');
      assert.deepEqual(
        parseExec(exec[0]!.value),
        [c.node, ...GATEWAY_NODE_FLAGS, expectedMain, 'serve', '--config', PATHS.config],
        where,
      );
    } else if (file.path === PATHS.firewallUnit) {
      assert.equal(file.content, benignFile(PATHS.firewallUnit), where);
    } else if (file.path === PATHS.logrotate) {
      const blocks = parseLogrotate(file.content);
      const expected = parseLogrotate(benignFile(PATHS.logrotate));
      assert.equal(blocks.length, 1, where);
      assert.deepEqual(blocks[0]!.patterns, [c.logrotate ? c.value : '/var/log/airlock/a.log'], where);
      assert.deepEqual(blocks[0]!.directives, expected[0]!.directives, where);
      assert.deepEqual(blocks[0]!.scripts, expected[0]!.scripts, where);
    } else if (file.path === PATHS.sysctl) {
      const settings = file.content.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      for (const line of settings) assert.match(line, /^[a-z0-9_.-]+ = [0-9][0-9 ,]*$/, where);
      assert.equal(file.content, benignFile(PATHS.sysctl), where);
    } else if (file.path === PATHS.nftables || file.path === PATHS.ufwRules) {
      // --ssh-from values that are not networks are dropped; everything else is the same.
      assert.equal(file.content, benignFile(file.path, firewall === 'ufw' ? benignUfw : benign), where);
    } else if (file.path === PATHS.config) {
      assert.equal(file.content, c.config, where);
    } else {
      assert.equal(
        file.path,
        join(PATHS.configDir, c.allowlists[0]?.path ?? '?'),
        `unexpected file ${where}`,
      );
      assert.equal(file.content, c.allowlists[0]!.content, where);
    }
  }
}

/** The plan's unit and logrotate files as systemd, logrotate and nft read them. */
async function checkWithTools(c: Case, p: Plan, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const where = `${c.option} ${JSON.stringify(c.value)}`;
  for (const file of files(p)) {
    const local = join(dir, file.path.split('/').pop()!);
    writeFileSync(local, file.content);
    if (file.path === PATHS.unit && tools.systemd) {
      // The program must exist: systemd-analyze looks for it after resolving specifiers.
      executable(c.node);
      const r = await run(paths.systemd!, ['verify', local]);
      assert.equal(r.code, 0, `${where}: ${r.out}`);
      assert.equal(r.out.trim(), '', `${where}: ${r.out}`);
    } else if (file.path === PATHS.logrotate && tools.logrotate) {
      const r = await run(paths.logrotate!, ['-d', '-s', join(dir, 'state'), local]);
      assert.equal(r.code, 0, `${where}: ${r.out}`);
      assert.match(r.out, /^Handling 1 logs$/m, where);
      const patterns = [...r.out.matchAll(/^rotating pattern: (.*) {2}after/gm)].map((m) => m[1]);
      assert.deepEqual(patterns, [c.logrotate ? c.value : '/var/log/airlock/a.log'], where);
      assert.doesNotMatch(r.out, /error|unknown/i, where);
    } else if (file.path === PATHS.nftables && tools.nft) {
      const r = await run(paths.nft!, ['-c', '-f', local]);
      assert.equal(r.code, 0, `${where}: ${r.out}`);
    }
  }
}

describe('install: hostile values in every option that reaches a generated file', () => {
  let n = 0;
  for (const hostile of HOSTILE) {
    for (const c of cases(hostile)) {
      const refused = ALWAYS_REFUSED.test(hostile) || (c.logrotate && LOGROTATE_REFUSED.test(hostile));
      test(`${c.option} with ${JSON.stringify(hostile)}: ${refused ? 'refused' : 'written so it reads back as itself'}`, async () => {
        for (const firewall of ['nftables', 'ufw'] as const) {
          const p = plan(c, firewall);
          if (c.option === '--ssh-from') {
            // Whatever it holds, a value that is not a network never reaches a file.
            assert.equal(p.errors.length, 1, p.errors.join('\n'));
            assert.match(p.errors[0]!, refused ? / contains / : /^--ssh-from .*: not a CIDR$/);
          } else if (refused) {
            assert.equal(p.errors.length, 1, p.errors.join('\n'));
            assert.match(p.errors[0]!, c.named);
            assert.match(
              p.errors[0]!,
              / contains (a|an) .*\(U\+[0-9A-F]{4}\)| contains a .*quote| contains a backslash| contains "/,
            );
          } else {
            assert.deepEqual(p.errors, [], `${c.option} ${JSON.stringify(c.value)}`);
          }
          readBack(c, p, firewall);
          if (firewall === 'nftables') await checkWithTools(c, p, join(work, `case-${n++}`));
          // Printing the plan (a dry run) escapes whatever is invisible.
          const statuses = withCommandStatuses(
            p,
            p.actions.map((a) => (a.kind === 'run' ? 'skip' : 'create')),
            true,
          );
          const printed = renderPlan(p, statuses, { command: 'install', dryRun: true, root: '/r' });
          assert.doesNotMatch(printed, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}](?<!\n)/u);
        }
      });
    }
  }
});

describe('install: paths are judged after resolving ".."', () => {
  const table: [string, string, RegExp][] = [
    [
      'log.file',
      'log: { file: /var/log/airlock/../../../etc/cron.daily/x }\n',
      /^log\.file \/var\/log\/airlock\/\.\.\/\.\.\/\.\.\/etc\/cron\.daily\/x \(that is \/etc\/cron\.daily\/x\): the service may write only under \/var\/log\/airlock\//,
    ],
    [
      'log.file inside, not in normal form',
      'log: { file: /var/log/airlock/x/../access.log }\n',
      /^log\.file \/var\/log\/airlock\/x\/\.\.\/access\.log: write it as \/var\/log\/airlock\/access\.log$/,
    ],
    [
      'pidFile',
      'pidFile: /run/airlock/../../etc/shadow\n',
      /^pidFile \/run\/airlock\/\.\.\/\.\.\/etc\/shadow \(that is \/etc\/shadow\): the service may write only under \/run\/airlock\//,
    ],
    [
      'allowlist',
      'policy: { allowlistFiles: [../../etc/cron.daily/x], destinations: [a.example] }\n',
      /^policy\.allowlistFiles\[0\] \.\.\/\.\.\/etc\/cron\.daily\/x is outside the configuration's directory/,
    ],
  ];
  for (const [name, config, error] of table) {
    test(name, () => {
      const c = {
        ...cases('')[0]!,
        config,
        allowlists: [{ path: '../../etc/cron.daily/x', content: 'x\n' }],
      };
      const p = plan(c);
      assert.equal(p.errors.length, 1, p.errors.join('\n'));
      assert.match(p.errors[0]!, error);
      assert.ok(!files(p).some((f) => f.path.startsWith('/etc/cron.daily')));
    });
  }

  test('--node and --prefix must be absolute and in normal form', () => {
    for (const [node, prefix, error] of [
      [
        '/usr/bin/../../tmp/node',
        '/opt/airlock',
        /^the node binary \(--node\) \/usr\/bin\/\.\.\/\.\.\/tmp\/node is not in normal form: write \/tmp\/node/,
      ],
      ['node', '/opt/airlock', /^the node binary \(--node\) node is not an absolute path$/],
      [
        '+/usr/bin/node',
        '/opt/airlock',
        /^the node binary \(--node\) \+\/usr\/bin\/node is not an absolute path$/,
      ],
      [
        BASE.node,
        'opt/airlock',
        /^the airlock program \(--prefix\) opt\/airlock\/dist\/src\/cli\/main\.js is not an absolute path$/,
      ],
    ] as const) {
      const p = plan({ ...cases('')[0]!, node, prefix });
      assert.equal(p.errors.length, 1, p.errors.join('\n'));
      assert.match(p.errors[0]!, error);
      assert.ok(!files(p).some((f) => f.path === PATHS.unit), 'no unit is written with a refused program');
    }
  });
});

describe('the renderers alone, given hostile values', () => {
  const file = parseConfig('listeners: ["0.0.0.0:3128"]\n', 'airlock.yaml');
  assert.ok(file.ok);
  const config = file.config.file;

  test('renderUnit writes any program and script path so that systemd reads back exactly it', () => {
    for (const hostile of HOSTILE) {
      if (hostile.includes('\0')) continue; // systemd cannot represent a NUL byte; see below
      const node = `/usr/bin/no${hostile}de`;
      const main = `/opt/air${hostile}lock/main.js`;
      const unit = renderUnit(config, sizing(config), { node, main, afterFirewall: false });
      assert.deepEqual(unitKeys(unit), unitKeys(benignFile(PATHS.unit)), JSON.stringify(hostile));
      const exec = parseUnit(unit).find((e) => e.key === 'ExecStart')!;
      assert.deepEqual(parseExec(exec.value), [
        node,
        ...GATEWAY_NODE_FLAGS,
        main,
        'serve',
        '--config',
        PATHS.config,
      ]);
    }
    // A NUL byte is written as \x00, which systemd refuses: the line is dropped, nothing else is read.
    const unit = renderUnit(config, sizing(config), {
      node: '/usr/bin/node',
      main: '/opt/a\0b',
      afterFirewall: false,
    });
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/node --max-semi-space-size=4 --expose-gc "\/opt\/a\\x00b" serve/m,
    );
    assert.throws(() => parseExec(parseUnit(unit).find((e) => e.key === 'ExecStart')!.value), /NUL/);
  });

  test('renderUnit refuses a program that is not an absolute path (a prefix would change how it runs)', () => {
    for (const node of ['+/bin/sh', '-/bin/sh', '@/bin/sh', 'node']) {
      assert.throws(
        () => renderUnit(config, sizing(config), { node, main: '/x', afterFirewall: false }),
        /absolute path/,
      );
    }
  });

  test('renderLogrotate refuses a path it cannot write literally', () => {
    for (const hostile of HOSTILE) {
      const text = `/var/log/airlock/a${hostile}.log`;
      const log = parseConfig(`log: { file: ${yamlString(text)} }\n`, 'airlock.yaml');
      assert.ok(log.ok);
      if (ALWAYS_REFUSED.test(hostile) || LOGROTATE_REFUSED.test(hostile)) {
        assert.throws(() => renderLogrotate(log.config.file), /cannot be written into a logrotate file/);
      } else {
        const blocks = parseLogrotate(renderLogrotate(log.config.file));
        assert.deepEqual(blocks.length === 1 ? blocks[0]!.patterns : blocks, [text]);
      }
    }
  });
});

test('the tools that read the files back are installed (systemd, logrotate, nftables)', () => {
  assert.deepEqual(tools, { systemd: true, logrotate: true, nft: true });
});
