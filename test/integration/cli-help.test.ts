import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { CLI } from '../helpers/cli.js';

/** Every command's --help ends with examples, and a flag means one thing across commands. */

function airlock(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '100' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The subcommand names a help text lists under "Commands:". */
function commandsOf(help: string): string[] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return section
    .split('\n')
    .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

describe('airlock --help', () => {
  test('every command and subcommand shows examples of itself', () => {
    const seen: string[] = [];
    const visit = (path: string[]): void => {
      const help = airlock([...path, '--help']);
      assert.equal(help.status, 0, help.stderr);
      const name = ['airlock', ...path].join(' ');
      const examples = help.stdout.split('\nExamples:\n')[1];
      assert.ok(examples !== undefined, `${name} --help has no examples:\n${help.stdout}`);
      assert.ok(
        examples
          .split('\n')
          .some((l) => /^ {2}\$ (sudo )?airlock /.test(l) && l.includes(['airlock', ...path].join(' '))),
        `${name}: the examples show the command itself`,
      );
      seen.push(name);
      for (const sub of commandsOf(help.stdout)) visit([...path, sub]);
    };
    visit([]);
    for (const command of [
      'serve',
      'check',
      'config-check',
      'policy show',
      'catalog list',
      'catalog lint',
      'explain',
    ])
      assert.ok(seen.includes(`airlock ${command}`), `visited ${command}`);
    assert.ok(seen.length >= 16, seen.join(', '));
  });

  test('--gateway is a gateway address everywhere; the old boolean check --gateway says to use --on-gateway', () => {
    const old = airlock(['check', '--gateway', '-c', '/nonexistent/airlock.yaml']);
    assert.equal(old.status, 2);
    assert.match(
      old.stderr,
      /--gateway without an address no longer means "test from the gateway box": use --on-gateway/,
    );
    const help = airlock(['check', '--help']).stdout;
    assert.match(help, /--on-gateway +run on the gateway box/);
    assert.match(help, /-g, --gateway \[host:port\] +an Airlock gateway to test through/);
    assert.match(
      airlock(['clients', '--help']).stdout,
      /-g, --gateway <host:port> +a gateway, in failover order/,
    );
  });
});
