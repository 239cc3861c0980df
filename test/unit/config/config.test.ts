import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULTS, parseConfig, parseDuration } from '../../../src/config/index.js';

function errorsOf(text: string): string[] {
  const result = parseConfig(text, 'airlock.yaml');
  assert.equal(result.ok, false, 'expected the configuration to be refused');
  return result.ok ? [] : result.errors;
}

describe('parseConfig()', () => {
  test('no file: every default', () => {
    const result = parseConfig('', '<defaults>');
    assert.ok(result.ok);
    const file = result.ok ? result.config.file : null!;
    assert.deepEqual(
      file.listeners.map((l) => l.text),
      ['0.0.0.0:3128'],
    );
    assert.deepEqual(file.policy.sources, [...DEFAULTS.sources]);
    assert.deepEqual(file.policy.ports, { connect: [443], http: [80] });
    assert.equal(file.timeouts.tunnelIdle, 3_600_000);
    assert.equal(result.ok && result.config.destinations, undefined);
  });

  test('the error names the path, the value and the line', () => {
    const text = [
      'version: 1',
      'policy:',
      '  sources:',
      '    - 10.0.0.0/8',
      '    - 192.168.0.0/16',
      '    - 10.0.0.0/33',
      '',
    ].join('\n');
    assert.deepEqual(errorsOf(text), ['policy.sources[2]: "10.0.0.0/33" is not a CIDR (airlock.yaml:6)']);
  });

  test('several errors are reported together, each with its line', () => {
    const text = `listeners:
  - 0.0.0.0:3128
  - "[::]:99999"
  - "::1:3128"
policy:
  destinations:
    - .microsoft.com
    - host: "*bad.example.com"
    - { host: x.example, port: 3 }
    - cidr: 10.0.0.0/40
timeouts:
  connect: 10 parsecs
limitz: 3
`;
    assert.deepEqual(errorsOf(text), [
      'listeners[1]: "[::]:99999": port must be a number from 1 to 65535 (airlock.yaml:3)',
      'listeners[2]: "::1:3128": write an IPv6 listener in brackets, e.g. [::]:3128 (airlock.yaml:4)',
      'policy.destinations[1]: "*bad.example.com": a wildcard is only allowed as a leading "*." label (airlock.yaml:8)',
      'policy.destinations[2].port: unknown key: did you mean `ports`? (airlock.yaml:9)',
      'policy.destinations[3]: "10.0.0.0/40" is not a CIDR (airlock.yaml:10)',
      'timeouts.connect: "10 parsecs" is not a duration (e.g. 500ms, 10s, 5m, 1h) (airlock.yaml:12)',
      'limitz: unknown key: did you mean `limits`? (airlock.yaml:13)',
    ]);
  });

  test('a YAML syntax error shows the offending lines, the column marked with a caret', () => {
    const [error] = errorsOf('policy:\n  sources: [10.0.0.0/8\nlisteners: []\n');
    assert.equal(
      error,
      [
        'airlock.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
        '2 |   sources: [10.0.0.0/8',
        '3 | listeners: []',
        '  | ^',
      ].join('\n'),
    );
    assert.deepEqual(errorsOf('policy:\n  sources: [10.0.0.0/8]\n  allowlistFiles: a: b\n'), [
      [
        'airlock.yaml:3:19: YAML syntax error: Nested mappings are not allowed in compact mappings',
        '3 |   allowlistFiles: a: b',
        '  |                   ^',
      ].join('\n'),
    ]);
  });

  test('an unknown key suggests the nearest valid key, or the section it belongs in', () => {
    assert.deepEqual(errorsOf('policy:\n  allowlistfiles: [a.conf]\n  alowlist: [b.conf]\nlisten: []\n'), [
      'policy.allowlistfiles: unknown key: did you mean `allowlistFiles`? (airlock.yaml:2)',
      'policy.alowlist: unknown key: did you mean `allowlistFiles`? (airlock.yaml:3)',
      'listen: unknown key: did you mean `listeners`? (airlock.yaml:4)',
    ]);
    assert.deepEqual(errorsOf('allowlistFiles: [a.conf]\nservers: []\n'), [
      'allowlistFiles: unknown key: `allowlistFiles` belongs under `policy` (airlock.yaml:1)',
      'servers: unknown key: `servers` belongs under `dns` (airlock.yaml:2)',
    ]);
    assert.deepEqual(errorsOf('nonsense: 1\n'), ['nonsense: unknown key (airlock.yaml:1)']);
  });

  test('enum values written in another case are taken as the value they spell; others suggest one', () => {
    const result = parseConfig(
      'mode: Audit\ncatalog:\n  geographies: [eu, Uk]\n  products: [MDE]\nlog:\n  format: JSON\n',
      'x.yaml',
    );
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    const file = result.ok ? result.config.file : null!;
    assert.equal(file.mode, 'audit');
    assert.deepEqual(file.catalog.geographies, ['EU', 'UK']);
    assert.deepEqual(file.catalog.products, ['mde']);
    assert.equal(file.log.format, 'json');
    assert.deepEqual(errorsOf('catalog:\n  products: [mdeav, nothing]\n'), [
      'catalog.products[0]: "mdeav" is not one of mde, mde-streamlined, mdav, mdi, ama, mma, arc, arc-gateway, arc-sql, arc-wac, automation: did you mean "mdav"? (airlock.yaml:2)',
      'catalog.products[1]: "nothing" is not one of mde, mde-streamlined, mdav, mdi, ama, mma, arc, arc-gateway, arc-sql, arc-wac, automation (airlock.yaml:2)',
    ]);
  });

  test('duplicate keys are refused', () => {
    assert.match(
      errorsOf('log:\n  format: json\nlog:\n  format: squid\n')[0]!,
      /YAML syntax error: Map keys must be unique/,
    );
  });

  test('a top-level list is refused', () => {
    assert.deepEqual(errorsOf('- a\n- b\n'), [
      'airlock.yaml: the configuration must be a mapping of keys (e.g. "listeners:")',
    ]);
  });

  test('wrong types name the field', () => {
    const errors = errorsOf('limits:\n  maxConnections: lots\nlog:\n  format: xml\n');
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /^limits\.maxConnections: .*number.*\(airlock\.yaml:2\)$/);
    assert.equal(errors[1], 'log.format: "xml" is not one of json, squid (airlock.yaml:4)');
  });

  test('engine settings that contradict each other are refused where the file is read', () => {
    // The native front and busy polling both live in the native relay thread, which JavaScript
    // tunnels leave out; each names its own field and line.
    assert.deepEqual(errorsOf('engine:\n  tunnels: js\n  accept: native\n  busyPollUs: 50\n'), [
      'engine.accept: the native front hands its tunnels to the native relay thread, and engine.tunnels is js (airlock.yaml:3)',
      "engine.busyPollUs: busy polling is the native relay thread's, and engine.tunnels is js (airlock.yaml:4)",
    ]);
    for (const engine of [
      '{ tunnels: js, accept: auto }',
      '{ tunnels: js, accept: js }',
      '{ accept: native, busyPollUs: 50 }',
    ]) {
      assert.equal(parseConfig(`engine: ${engine}\n`, 'airlock.yaml').ok, true, engine);
    }
  });

  test('unsupported version', () => {
    assert.match(errorsOf('version: 2\n')[0]!, /^version: only version 1 is supported \(airlock\.yaml:1\)$/);
  });

  test('destinations keep the line they were written on', () => {
    const result = parseConfig(
      'policy:\n  destinations:\n    - .microsoft.com\n    - cidr: 203.0.113.0/24\n      ports: [443]\n',
      'gw.yaml',
    );
    assert.ok(result.ok);
    const dests = result.ok ? result.config.destinations! : [];
    assert.deepEqual(
      dests.map((d) => [d.host ?? d.cidr, d.origin.where]),
      [
        ['.microsoft.com', 'gw.yaml:3 (policy.destinations[0])'],
        ['203.0.113.0/24', 'gw.yaml:4 (policy.destinations[1])'],
      ],
    );
  });

  test('listeners: IPv4, IPv6 and object form', () => {
    const result = parseConfig(
      'listeners:\n  - 0.0.0.0:3128\n  - address: "[::]:3128"\n  - localhost:8080\n',
      'x.yaml',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.ok ? result.config.file.listeners.map((l) => [l.host, l.port, l.family]) : [], [
      ['0.0.0.0', 3128, 4],
      ['::', 3128, 6],
      ['127.0.0.1', 8080, 4],
    ]);
  });

  test('hosts overrides: single address or a list; bad address refused with line', () => {
    const ok = parseConfig(
      'hosts:\n  A.example.: 192.0.2.1\n  b.example: [192.0.2.2, "2001:db8::2"]\n',
      'h.yaml',
    );
    assert.ok(ok.ok);
    assert.deepEqual(ok.ok ? [...ok.config.hosts] : [], [
      ['a.example', ['192.0.2.1']],
      ['b.example', ['192.0.2.2', '2001:db8::2']],
    ]);
    assert.deepEqual(errorsOf('hosts:\n  a.example: [192.0.2.1, nonsense]\n'), [
      'hosts.a.example[1]: "nonsense" is not an IP address (airlock.yaml:2)',
    ]);
  });

  test('admin.pac.proxies must be HOST:PORT with a real port', () => {
    assert.deepEqual(errorsOf('admin:\n  pac:\n    proxies: [gw1:3128, "gw2:99999", "bad host:1"]\n'), [
      'admin.pac.proxies[1]: "gw2:99999" is not HOST:PORT (port 1-65535) (airlock.yaml:3)',
      'admin.pac.proxies[2]: "bad host:1" is not HOST:PORT (port 1-65535) (airlock.yaml:3)',
    ]);
  });

  test('allowlist files resolve against the configuration directory', () => {
    const result = parseConfig(
      'policy:\n  allowlistFiles: [mdemdi.conf, /etc/x.conf]\n',
      '/etc/airlock/airlock.yaml',
    );
    assert.deepEqual(result.ok ? result.config.allowlistFiles.map((f) => f.path) : [], [
      '/etc/airlock/mdemdi.conf',
      '/etc/x.conf',
    ]);
  });
});

describe('parseDuration()', () => {
  const cases: [unknown, number | null][] = [
    [1500, 1500],
    ['250ms', 250],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['10', null],
    ['-1s', null],
    [-5, null],
    ['1 fortnight', null],
    [null, null],
  ];
  for (const [input, ms] of cases)
    test(`${JSON.stringify(input)} → ${ms}`, () => assert.equal(parseDuration(input), ms));
});
