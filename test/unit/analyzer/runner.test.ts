import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BREAKER_THRESHOLD,
  builtinIssuerData,
  routeKey,
  runCheck,
  type CheckTarget,
  type ProbeFunction,
  type Route,
  type RouteProbe,
} from '../../../src/analyzer/index.js';
import { SERVICE_ANSWER_STATUSES } from '../../../src/analyzer/probes.js';

const target = (url: string, extra: Partial<CheckTarget> = {}): CheckTarget => ({
  url,
  method: 'GET',
  expect: SERVICE_ANSWER_STATUSES,
  services: ['custom'],
  products: [],
  required: true,
  noInspect: false,
  entryIds: [],
  origin: 'test',
  ...extra,
});

const ok = (status = 200): RouteProbe => ({
  stages: [{ stage: 'http', ms: 5, ok: true, detail: String(status) }],
  status,
  error: null,
  tls: null,
  proxyAuth: null,
  proxyReason: null,
});

const timedOut = (code: 'TCP_TIMEOUT' | 'PROXY_TIMEOUT' | 'TLS_TIMEOUT'): RouteProbe => ({
  stages: [
    {
      stage: code === 'TCP_TIMEOUT' ? 'tcp' : code === 'PROXY_TIMEOUT' ? 'proxy' : 'tls',
      ms: 100,
      ok: false,
      detail: 'timed out',
    },
  ],
  status: null,
  error: {
    code,
    stage: code === 'TCP_TIMEOUT' ? 'tcp' : code === 'PROXY_TIMEOUT' ? 'proxy' : 'tls',
    message: 'timed out',
  },
  tls: null,
  proxyAuth: null,
  proxyReason: null,
});

function recorder(answer: (url: string, route: string) => RouteProbe | Promise<RouteProbe>): {
  probe: ProbeFunction;
  calls: string[];
} {
  const calls: string[] = [];
  return {
    calls,
    probe: async (t, route: Route) => {
      calls.push(`${t.url} ${routeKey(route)}`);
      return answer(t.url, routeKey(route));
    },
  };
}

const base = {
  mode: 'client' as const,
  notTestable: [],
  timeoutMs: 1000,
  deadlineMs: 10_000,
  concurrency: 4,
  issuers: builtinIssuerData(),
  clock: () => new Date('2026-06-01T08:00:00.000Z'),
};

test('methods that resolve to the same route share one attempt', async () => {
  const r = recorder(() => ok());
  const report = await runCheck({
    ...base,
    targets: [target('https://a.example.test/')],
    methods: {
      env: { HTTPS_PROXY: 'http://gw.corp:3128', NO_PROXY: '' },
      gateway: { route: { kind: 'http-proxy', host: 'gw.corp', port: 3128 }, text: 'gw.corp:3128' },
      direct: true,
    },
    probe: r.probe,
  });
  assert.deepEqual(r.calls.sort(), [
    'https://a.example.test/ DIRECT',
    'https://a.example.test/ PROXY gw.corp:3128',
  ]);
  const methods = report.targets[0]!.methods;
  assert.deepEqual(
    methods.map((m) => [m.method, m.outcome]),
    [
      ['env', 'succeeded'],
      ['pac', 'not-configured'],
      ['direct', 'succeeded'],
      ['proxy', 'not-configured'],
      ['gateway', 'succeeded'],
    ],
  );
  assert.equal(report.exitCode, 0);
});

test('reachable means one method got a status the service answers with; the exit code counts required URLs only', async () => {
  const r = recorder((url) =>
    url.includes('teapot') ? ok(418) : url.includes('down') ? timedOut('TLS_TIMEOUT') : ok(404),
  );
  const report = await runCheck({
    ...base,
    targets: [
      target('https://fine.example.test/'),
      target('https://teapot.example.test/'),
      target('https://down.example.test/', { required: false, services: ['live-response'] }),
    ],
    methods: { direct: true },
    probe: r.probe,
  });
  assert.deepEqual(
    report.targets.map((t) => t.reachable),
    [true, false, false],
  );
  const teapot = report.targets[1]!.methods.find((m) => m.method === 'direct')!;
  assert.equal(teapot.error?.code, 'UNEXPECTED_STATUS');
  assert.equal(report.summary.requiredUnreachable, 1);
  assert.equal(report.exitCode, 1);
  assert.deepEqual(
    report.services.map((s) => [s.service, s.status, s.required]),
    [
      ['custom', 'partial', true],
      ['live-response', 'unreachable', false],
    ],
  );

  const optionalOnly = await runCheck({
    ...base,
    targets: [
      target('https://fine.example.test/'),
      target('https://down.example.test/', { required: false }),
    ],
    methods: { direct: true },
    probe: r.probe,
  });
  assert.equal(optionalOnly.exitCode, 0, 'an unreachable optional URL does not fail the check');
});

test(`a route that times out ${BREAKER_THRESHOLD} times in a row is given up; other routes go on`, async () => {
  const r = recorder((_url, route) => (route === 'DIRECT' ? timedOut('TCP_TIMEOUT') : ok()));
  const targets = [1, 2, 3, 4, 5, 6].map((n) => target(`https://h${n}.example.test/`));
  const report = await runCheck({
    ...base,
    concurrency: 1,
    targets,
    methods: {
      direct: true,
      proxy: { route: { kind: 'http-proxy', host: 'p.corp', port: 8080 }, text: 'p.corp:8080' },
    },
    probe: r.probe,
  });
  const direct = report.targets.map((t) => t.methods.find((m) => m.method === 'direct')!.error?.code);
  assert.equal(direct.filter((c) => c === 'TCP_TIMEOUT').length, BREAKER_THRESHOLD);
  assert.equal(direct.filter((c) => c === 'BREAKER_OPEN').length, targets.length - BREAKER_THRESHOLD);
  assert.equal(r.calls.filter((c) => c.endsWith('DIRECT')).length, BREAKER_THRESHOLD);
  assert.ok(
    report.targets.every((t) => t.reachable),
    'the proxy still reaches everything',
  );
});

test('the total deadline stops the run: attempts not started are reported as not run', async () => {
  const r = recorder(
    (_url) =>
      new Promise<RouteProbe>((resolve) => {
        setTimeout(() => resolve(ok()), 60);
      }),
  );
  const started = Date.now();
  const report = await runCheck({
    ...base,
    concurrency: 1,
    deadlineMs: 100,
    targets: [1, 2, 3, 4, 5].map((n) => target(`https://h${n}.example.test/`)),
    methods: { direct: true },
    probe: r.probe,
  });
  assert.ok(Date.now() - started < 1000);
  assert.equal(report.summary.deadlineReached, true);
  const outcomes = report.targets.map((t) => t.methods.find((m) => m.method === 'direct')!.outcome);
  assert.deepEqual(outcomes.slice(0, 2), ['succeeded', 'succeeded']);
  assert.ok(
    outcomes.slice(2).every((o) => o === 'not-run'),
    JSON.stringify(outcomes),
  );
  assert.ok(r.calls.length <= 3);
  assert.equal(report.exitCode, 1);
  assert.ok(report.notes.some((n) => /total deadline of 100 ms/.test(n)));
});

test('progress is reported once per URL, and concurrency is bounded', async () => {
  let active = 0;
  let peak = 0;
  const probe: ProbeFunction = async () => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((resolve) => setTimeout(resolve, 10));
    active--;
    return ok();
  };
  const seen: [number, number][] = [];
  await runCheck({
    ...base,
    concurrency: 3,
    targets: [1, 2, 3, 4, 5, 6, 7, 8].map((n) => target(`https://h${n}.example.test/`)),
    methods: { direct: true, proxy: { route: { kind: 'http-proxy', host: 'p', port: 1 }, text: 'p:1' } },
    probe,
    onProgress: (done, total) => seen.push([done, total]),
  });
  assert.ok(peak <= 3 && peak > 1, `peak ${peak}`);
  assert.deepEqual(
    seen.map(([d]) => d),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.ok(seen.every(([, t]) => t === 8));
});

test('a PAC list fails over past a proxy that cannot be reached', async () => {
  const r = recorder((_url, route) =>
    route === 'PROXY dead.corp:3128' ? { ...timedOut('TCP_TIMEOUT') } : ok(),
  );
  const report = await runCheck({
    ...base,
    targets: [target('https://a.example.test/')],
    methods: {
      direct: false,
      pac: {
        source: 'test',
        evaluator: {
          findProxy: () =>
            Promise.resolve({
              raw: 'PROXY dead.corp:3128; PROXY live.corp:3128; DIRECT',
              entries: [
                { kind: 'PROXY', host: 'dead.corp', port: 3128 },
                { kind: 'PROXY', host: 'live.corp', port: 3128 },
                { kind: 'DIRECT' },
              ],
              alerts: [],
            }),
          dispose: () => undefined,
        },
      },
    },
    probe: r.probe,
  });
  const pac = report.targets[0]!.methods.find((m) => m.method === 'pac')!;
  assert.equal(pac.outcome, 'succeeded');
  assert.equal(pac.route, 'PROXY live.corp:3128');
  assert.deepEqual(r.calls, [
    'https://a.example.test/ PROXY dead.corp:3128',
    'https://a.example.test/ PROXY live.corp:3128',
  ]);
});
