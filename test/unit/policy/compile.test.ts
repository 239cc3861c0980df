import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compilePolicy,
  decide,
  type CompileResult,
  type DestinationSpec,
  type PolicySpec,
} from '../../../src/policy/index.js';

const at = (where: string) => ({ source: 'config', where }) as const;

function compile(overrides: Partial<PolicySpec>): CompileResult {
  return compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin: at('policy.sources[0]') }],
    destinations: [{ host: 'login.live.com', origin: at('policy.destinations[0]') }],
    ports: { connect: [443], http: [80] },
    ...overrides,
  });
}

const errorsOf = (result: CompileResult): readonly string[] => (result.ok ? [] : result.errors);
const warningsOf = (result: CompileResult): readonly string[] => (result.ok ? result.warnings : []);

const NOT_A_PORT = 'is not a port number (a whole number from 1 to 65535)';

describe('compilePolicy(): ports', () => {
  test('policy.ports: 0, 65536, 1.5 and NaN are refused, each naming its list', () => {
    const result = compile({ ports: { connect: [443, 0, 65536], http: [1.5, NaN, 80] } });
    assert.deepEqual(errorsOf(result), [
      `policy.ports.connect: 0 ${NOT_A_PORT}`,
      `policy.ports.connect: 65536 ${NOT_A_PORT}`,
      `policy.ports.http: 1.5 ${NOT_A_PORT}`,
      `policy.ports.http: NaN ${NOT_A_PORT}`,
    ]);
  });

  test('policy.ports: 1 and 65535, the ends of the range, are accepted and decided on', () => {
    const result = compile({ ports: { connect: [1, 65535], http: [1, 65535] } });
    assert.deepEqual(errorsOf(result), []);
    assert.ok(result.ok);
    for (const port of [1, 65535]) {
      const d = decide(result.policy, {
        source: '10.1.2.3',
        method: 'CONNECT',
        host: 'login.live.com',
        port,
      });
      assert.equal(d.reason, 'ALLOWED', `CONNECT to port ${port}`);
    }
  });

  test("a destination's ports: 0, 65536, 1.5 and NaN are refused with the rule's location", () => {
    const result = compile({
      destinations: [
        {
          host: 'login.live.com',
          ports: [443, 0, 65536],
          origin: at('airlock.yaml:9 (policy.destinations[0])'),
        },
        { cidr: '203.0.113.0/24', ports: [1.5, NaN], origin: at('airlock.yaml:10 (policy.destinations[1])') },
      ],
    });
    assert.deepEqual(errorsOf(result), [
      `airlock.yaml:9 (policy.destinations[0]): ports: 0 ${NOT_A_PORT}`,
      `airlock.yaml:9 (policy.destinations[0]): ports: 65536 ${NOT_A_PORT}`,
      `airlock.yaml:10 (policy.destinations[1]): ports: 1.5 ${NOT_A_PORT}`,
      `airlock.yaml:10 (policy.destinations[1]): ports: NaN ${NOT_A_PORT}`,
    ]);
  });

  test("a destination's ports 1 and 65535 are accepted and narrow the rule to exactly those", () => {
    const result = compile({
      ports: { connect: [1, 443, 65535], http: [80] },
      destinations: [{ host: 'login.live.com', ports: [1, 65535], origin: at('d0') }],
    });
    assert.deepEqual(errorsOf(result), []);
    assert.ok(result.ok);
    const reasons = [1, 443, 65535].map(
      (port) =>
        decide(result.policy, { source: '10.1.2.3', method: 'CONNECT', host: 'login.live.com', port }).reason,
    );
    assert.deepEqual(reasons, ['ALLOWED', 'DENY_PORT', 'ALLOWED']);
  });

  test('a port repeated in a rule is reported once', () => {
    const result = compile({ destinations: [{ host: 'login.live.com', ports: [0, 0], origin: at('d0') }] });
    assert.deepEqual(errorsOf(result), [`d0: ports: 0 ${NOT_A_PORT}`]);
  });
});

describe('compilePolicy(): destination and network errors', () => {
  test('a rule with both "host" and "cidr", or with neither, is refused', () => {
    const both: DestinationSpec = { host: 'login.live.com', cidr: '203.0.113.0/24', origin: at('d0') };
    const neither: DestinationSpec = { origin: at('d1') };
    assert.deepEqual(errorsOf(compile({ destinations: [both, neither] })), [
      'd0: a destination rule needs exactly one of "host" or "cidr"',
      'd1: a destination rule needs exactly one of "host" or "cidr"',
    ]);
  });

  test('a CIDR destination that is not a CIDR is refused, naming it and where it was written', () => {
    const result = compile({
      destinations: [{ cidr: '203.0.113.0/33', origin: at('policy.destinations[4]') }],
    });
    assert.deepEqual(errorsOf(result), ['policy.destinations[4]: "203.0.113.0/33" is not a CIDR']);
  });

  test('an internal network that is not a CIDR is refused, naming it and where it was written', () => {
    const result = compile({
      internalNetworks: [
        { cidr: '10.1.0.0/16', origin: at('policy.internalNetworks[0]') },
        { cidr: '10.2.0.0/40', origin: at('policy.internalNetworks[1]') },
      ],
    });
    assert.deepEqual(errorsOf(result), ['policy.internalNetworks[1]: "10.2.0.0/40" is not a CIDR']);
  });

  test('every error is reported at once, in the order written', () => {
    const result = compile({
      sources: [{ cidr: 'x', origin: at('s0') }],
      internalNetworks: [{ cidr: 'y', origin: at('n0') }],
      destinations: [{ cidr: 'z', origin: at('d0') }],
      ports: { connect: [0], http: [80] },
    });
    assert.deepEqual(errorsOf(result), [
      's0: "x" is not a CIDR',
      'n0: "y" is not a CIDR',
      'd0: "z" is not a CIDR',
      `policy.ports.connect: 0 ${NOT_A_PORT}`,
    ]);
  });
});

describe('compilePolicy(): warnings', () => {
  test('a clean policy compiles without a single warning', () => {
    const result = compile({
      destinations: [
        { host: '.microsoft.com', origin: at('d0') },
        { host: 'login.live.com', origin: at('d1') },
        { host: '*.blob.core.windows.net', origin: at('d2') },
        { cidr: '203.0.113.0/24', origin: at('d3') },
      ],
    });
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, []);
  });

  test('no destination rules: the warning says every destination will be refused', () => {
    assert.deepEqual(warningsOf(compile({ destinations: [] })), [
      'no destination rules: every destination will be refused',
    ]);
  });

  test('no sources and no rules: both warnings, sources first', () => {
    assert.deepEqual(warningsOf(compile({ sources: [], destinations: [] })), [
      'policy.sources is empty: every client will be refused',
      'no destination rules: every destination will be refused',
    ]);
  });

  test('a rule covered by a broader one is named with the broader rule and its location', () => {
    const result = compile({
      destinations: [
        { host: '.microsoft.com', origin: at('d0') },
        { host: '*.wd.microsoft.com', origin: at('d1') },
        { host: 'go.microsoft.com', origin: at('d2') },
        { cidr: '203.0.113.0/24', origin: at('d3') },
      ],
    });
    assert.deepEqual(warningsOf(result), [
      'd1: "*.wd.microsoft.com" is already covered by ".microsoft.com" (d0)',
      'd2: "go.microsoft.com" is already covered by ".microsoft.com" (d0)',
    ]);
  });

  test('a port-narrowed broad rule covers a rule whose ports are all among its own', () => {
    const result = compile({
      destinations: [
        { host: '.microsoft.com', ports: [80, 443], origin: at('d0') },
        { host: 'crl.microsoft.com', ports: [80], origin: at('d1') },
        { host: 'go.microsoft.com', ports: [443, 80], origin: at('d2') },
      ],
    });
    assert.deepEqual(warningsOf(result), [
      'd1: "crl.microsoft.com" is already covered by ".microsoft.com" (d0)',
      'd2: "go.microsoft.com" is already covered by ".microsoft.com" (d0)',
    ]);
  });

  test('a port-narrowed broad rule does not cover a rule with a port outside its own, or with all ports', () => {
    const result = compile({
      ports: { connect: [443, 8443], http: [80] },
      destinations: [
        { host: '.microsoft.com', ports: [80, 443], origin: at('d0') },
        { host: 'crl.microsoft.com', ports: [80, 8443], origin: at('d1') },
        { host: 'go.microsoft.com', origin: at('d2') },
      ],
    });
    assert.deepEqual(warningsOf(result), []);
  });

  test('an exact rule covers nothing, and a wildcard does not cover its bare domain', () => {
    const result = compile({
      destinations: [
        { host: 'microsoft.com', origin: at('d0') },
        { host: '*.microsoft.com', origin: at('d1') },
        { host: 'www.microsoft.com', origin: at('d2') },
        { host: '.live.com', origin: at('d3') },
      ],
    });
    assert.deepEqual(warningsOf(result), [
      'd2: "www.microsoft.com" is already covered by "*.microsoft.com" (d1)',
    ]);
  });
});
