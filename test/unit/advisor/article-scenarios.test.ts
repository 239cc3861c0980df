import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  explainMachine,
  type ComponentId,
  type ComponentVerdict,
  type DisagreementId,
  type MachineDescription,
  type RouteSourceId,
  type Verdict,
} from '../../../src/advisor/index.js';

/**
 * Every scenario the source articles report, as a table. Seed 000 is "Disconnected environments,
 * proxies and Microsoft Defender for Endpoint"; seed 001 is the lab "Which proxy configuration
 * wins?" (PROX01 = WinHTTP, PROX02 = WinINET, PROX03 = static proxy; the gateway blocks all other
 * traffic). Where the article states no outcome for a component, the expectation cites the
 * document it comes from instead.
 */
const PROX01 = '172.16.12.10:3128';
const PROX02 = '172.16.12.11:3128';
const PROX03 = '172.16.12.12:3128';
const AUTH = '10.20.0.8:8080';

const labNetwork = {
  directInternet: false,
  proxies: [{ address: PROX01 }, { address: PROX02 }, { address: PROX03 }],
};

function workstation(userLoggedOn: boolean): MachineDescription['machine'] {
  return {
    name: 'WORKSTATION',
    platform: 'windows',
    role: 'workstation',
    windowsVersion: '11',
    userLoggedOn,
  };
}

const staticProxy = {
  telemetryProxy: { server: PROX03, disableEnterpriseAuthProxy: true },
  antivirus: { proxyServer: `http://${PROX03}` },
};

interface Expected {
  readonly verdict: Verdict;
  readonly source?: RouteSourceId | null;
  readonly proxy?: string | null;
  readonly rule?: string;
  /** Outcome under the other reading of a documented disagreement. */
  readonly otherwise?: { readonly disagreement: DisagreementId; readonly verdict: Verdict };
  readonly note?: RegExp;
}

interface Scenario {
  readonly name: string;
  /** Where the article reports it. */
  readonly cites: string;
  readonly machine: MachineDescription;
  readonly expect: Partial<Record<ComponentId, Expected>>;
}

const works = (source: RouteSourceId, proxy: string | null, extra: Partial<Expected> = {}): Expected => ({
  verdict: 'works',
  source,
  proxy,
  ...extra,
});
const fails = (rule: string, extra: Partial<Expected> = {}): Expected => ({
  verdict: 'fails',
  rule,
  ...extra,
});

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'WinHTTP only',
    cites: 'seed 001, "Test – Only the WinHTTP Proxy is configured": Live Response works through PROX01',
    machine: { machine: workstation(true), windows: { winhttp: { proxy: PROX01 } }, network: labNetwork },
    expect: {
      'edr-telemetry': works('winhttp', PROX01),
      'live-response': works('winhttp', PROX01),
      'av-cloud-protection': works('winhttp', PROX01),
      'sample-submission': works('winhttp', PROX01),
      'user-context-services': works('winhttp', PROX01),
      updates: works('winhttp', PROX01),
      'certificate-revocation': works('winhttp', PROX01),
    },
  },
  {
    name: 'WinHTTP + WinINET, user logged on',
    cites: 'seed 001, "Which one wins? WinINET or WinHTTP?": Defender keeps preferring the WinHTTP proxy',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: PROX01 }, wininet: { proxy: PROX02 } },
      network: labNetwork,
    },
    expect: {
      'edr-telemetry': works('winhttp', PROX01),
      'live-response': works('winhttp', PROX01),
      'av-cloud-protection': works('winhttp', PROX01),
      'user-context-services': works('user-wininet', PROX02),
    },
  },
  {
    name: 'WinINET only, no user logged on',
    cites:
      'seed 001, "WinINET proxy configuration only": nothing is sent and Live Response times out until a user logs on',
    machine: { machine: workstation(false), windows: { wininet: { proxy: PROX02 } }, network: labNetwork },
    expect: {
      'edr-telemetry': fails('no-direct-egress', { note: undefined }),
      'live-response': fails('no-direct-egress'),
      'av-cloud-protection': fails('no-direct-egress'),
      'sample-submission': fails('no-direct-egress'),
      'user-context-services': fails('no-direct-egress'),
    },
  },
  {
    name: 'WinINET only, user logged on',
    cites:
      'seed 001, "WinINET proxy configuration only": most features work through the user\'s proxy, Live Response does not; only SampleUpload and MdeConfigMgr URLs were reachable',
    machine: { machine: workstation(true), windows: { wininet: { proxy: PROX02 } }, network: labNetwork },
    expect: {
      'edr-telemetry': works('user-wininet', PROX02, { note: /only while a user is logged on/ }),
      'live-response': fails('live-response-over-wininet', {
        otherwise: { disagreement: 'live-response-over-wininet', verdict: 'works' },
      }),
      'sample-submission': works('user-wininet', PROX02),
      'user-context-services': works('user-wininet', PROX02),
      // The article counts cloud protection among the working features; Microsoft's MAPS page
      // [R8] says it fails when the OS cannot fetch CRLs, which it cannot here.
      'av-cloud-protection': fails('cloud-protection-needs-revocation', {
        source: 'user-wininet',
        otherwise: { disagreement: 'revocation-for-cloud-protection', verdict: 'works' },
      }),
      'certificate-revocation': fails('no-direct-egress'),
    },
  },
  {
    name: 'static proxy only',
    cites:
      'seed 001, "Static proxy configuration only": Defender and Live Response work through PROX03; nothing else, Windows Update included, reaches the internet',
    machine: {
      machine: workstation(false),
      windows: { ...staticProxy, winhttp: { proxy: null } },
      network: labNetwork,
    },
    expect: {
      'edr-telemetry': works('telemetry-static', PROX03, { note: /PreferStaticProxyForHttpRequest/ }),
      'live-response': works('telemetry-static', PROX03),
      'sample-submission': works('av-static', PROX03),
      'user-context-services': works('telemetry-static', PROX03),
      updates: fails('no-direct-egress'),
      'certificate-revocation': fails('no-direct-egress'),
      'av-cloud-protection': fails('cloud-protection-needs-revocation', {
        source: 'av-static',
        otherwise: { disagreement: 'revocation-for-cloud-protection', verdict: 'works' },
      }),
    },
  },
  {
    name: 'static + WinHTTP + WinINET, user logged on',
    cites:
      'seed 001, "WinINET, WinHTTP and Static Proxy configuration": Live Response via the static proxy, user services via WinINET, other SYSTEM services via WinHTTP',
    machine: {
      machine: workstation(true),
      windows: { ...staticProxy, winhttp: { proxy: PROX01 }, wininet: { proxy: PROX02 } },
      network: labNetwork,
    },
    expect: {
      'edr-telemetry': works('telemetry-static', PROX03),
      'live-response': works('telemetry-static', PROX03),
      'user-context-services': works('user-wininet', PROX02),
      'av-cloud-protection': works('av-static', PROX03),
      updates: works('winhttp', PROX01),
      'certificate-revocation': works('winhttp', PROX01),
    },
  },
  {
    name: 'static + WinINET, no user logged on (the recommended workstation setup)',
    cites:
      'seed 001, summary and "WinINET proxy configuration only": with a static proxy all services work without a user',
    machine: {
      machine: workstation(false),
      windows: { ...staticProxy, wininet: { proxy: PROX02 } },
      network: labNetwork,
    },
    expect: {
      'edr-telemetry': works('telemetry-static', PROX03),
      'live-response': works('telemetry-static', PROX03),
      'user-context-services': works('telemetry-static', PROX03),
      'sample-submission': works('av-static', PROX03),
    },
  },
  {
    name: 'workstation, user logged on, authenticated proxy that exempts the Defender URLs',
    cites:
      'seed 000, "Workstation … logged in user, Authenticated Proxy": works provided a user stays logged on, no TLS inspection, and the URLs bypass authentication',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: AUTH }, wininet: { proxy: AUTH } },
      network: {
        directInternet: false,
        proxies: [{ address: AUTH, authentication: 'bypassed-for-agent-urls' }],
      },
    },
    expect: {
      'edr-telemetry': works('winhttp', AUTH),
      'live-response': works('winhttp', AUTH),
      'av-cloud-protection': works('winhttp', AUTH),
      'user-context-services': works('user-wininet', AUTH),
      updates: works('winhttp', AUTH),
    },
  },
  {
    name: 'workstation, user logged on, authenticated WinINET proxy without exemptions',
    cites:
      'seed 000, recipe step 4: with a user logged on, Defender traffic is authenticated as that user (WinINET); seed 001 and seed 000 disagree on Live Response',
    machine: {
      machine: workstation(true),
      windows: { wininet: { proxy: AUTH } },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'required' }] },
    },
    expect: {
      'edr-telemetry': works('user-wininet', AUTH),
      'live-response': fails('live-response-over-wininet', {
        otherwise: { disagreement: 'live-response-over-wininet', verdict: 'works' },
      }),
      'user-context-services': works('user-wininet', AUTH),
    },
  },
  {
    name: 'workstation, no user logged on, authenticated proxy',
    cites:
      'seed 000, "Workstation … no logged in user, Authenticated Proxy": Live Response, cloud protection, EDR data, C&C fail; updates fail without an offline source; Defender Antivirus keeps working and reports later',
    machine: {
      machine: workstation(false),
      windows: { wininet: { proxy: AUTH } },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'required' }] },
    },
    expect: {
      'edr-telemetry': fails('no-direct-egress'),
      'live-response': fails('no-direct-egress'),
      'av-cloud-protection': fails('no-direct-egress'),
      updates: fails('no-direct-egress'),
      'antivirus-engine': { verdict: 'works', source: 'local', note: /reports to the portal only once/ },
    },
  },
  {
    name: 'workstation, no user logged on, authenticated proxy, WSUS for updates',
    cites:
      'seed 000: "Security/Product Updates won\'t work unless there is an offline update solution available, such as WSUS"',
    machine: {
      machine: workstation(false),
      windows: { wininet: { proxy: AUTH }, internalUpdateSource: true },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'required' }] },
    },
    expect: {
      updates: { verdict: 'works', source: 'internal-update-source', rule: 'internal-update-source' },
      'edr-telemetry': fails('no-direct-egress'),
    },
  },
  {
    name: 'server, authenticated proxy',
    cites:
      'seed 000, "Server with Defender for Endpoint, Authenticated Proxy": no authentication context, Live Response and cloud protection fail, onboarding is inconsistent',
    machine: {
      machine: {
        name: 'SRV01',
        platform: 'windows',
        role: 'server',
        windowsVersion: 'server-2022',
        userLoggedOn: false,
      },
      windows: { winhttp: { proxy: AUTH } },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'required' }] },
    },
    expect: {
      'edr-telemetry': fails('proxy-demands-credentials', { note: /never show as onboarded/ }),
      'live-response': fails('proxy-demands-credentials'),
      'av-cloud-protection': fails('proxy-demands-credentials'),
      updates: fails('proxy-demands-credentials'),
    },
  },
  {
    name: 'server, authenticated proxy, admin logged on with a WinINET proxy (proof of concept)',
    cites:
      "seed 000, server scenario: onboarding appears to work while the admin's WinINET session authenticates, and stops once that user context is gone",
    machine: {
      machine: {
        name: 'SRV01',
        platform: 'windows',
        role: 'server',
        windowsVersion: 'server-2022',
        userLoggedOn: true,
      },
      windows: { wininet: { proxy: AUTH } },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'required' }] },
    },
    expect: {
      'edr-telemetry': works('user-wininet', AUTH, { note: /only while a user is logged on/ }),
    },
  },
  {
    name: 'server, unauthenticated proxy',
    cites: 'seed 000, "Server with Defender for Endpoint, Unauthenticated Proxy": works as expected',
    machine: {
      machine: {
        name: 'SRV02',
        platform: 'windows',
        role: 'server',
        windowsVersion: 'server-2019',
        userLoggedOn: false,
      },
      windows: {
        telemetryProxy: { server: AUTH, disableEnterpriseAuthProxy: true },
        antivirus: { proxyServer: `http://${AUTH}` },
        winhttp: { proxy: AUTH },
      },
      network: { directInternet: false, proxies: [{ address: AUTH, authentication: 'none' }] },
    },
    expect: {
      'edr-telemetry': works('telemetry-static', AUTH),
      'live-response': works('telemetry-static', AUTH),
      'av-cloud-protection': works('av-static', AUTH),
      updates: works('winhttp', AUTH),
      'certificate-revocation': works('winhttp', AUTH),
    },
  },
  {
    name: 'TLS inspection on the proxy',
    cites:
      'seed 000, recipe step 3 and the server scenario: TLS inspection of the Defender URLs breaks the pinned connections',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: PROX01 } },
      network: { directInternet: false, proxies: [{ address: PROX01, tlsInspection: true }] },
    },
    expect: {
      'edr-telemetry': fails('proxy-inspects-pinned'),
      'live-response': fails('proxy-inspects-pinned'),
      'av-cloud-protection': fails('proxy-inspects-pinned'),
      'sample-submission': { verdict: 'degraded', rule: 'proxy-inspects-unpinned' },
    },
  },
  {
    name: 'static proxy unreachable, WinHTTP proxy available, no direct path',
    cites:
      'seed 004 / domain.md §4.2: the sensor "falls back to direct" [R7][R9]; the policy text says "default proxy configuration" [R33]',
    machine: {
      machine: workstation(false),
      windows: {
        telemetryProxy: { server: PROX03, disableEnterpriseAuthProxy: true },
        winhttp: { proxy: PROX01 },
      },
      network: {
        directInternet: false,
        proxies: [{ address: PROX03, reachable: false }, { address: PROX01 }],
      },
    },
    expect: {
      'edr-telemetry': fails('no-direct-egress', {
        source: 'direct',
        otherwise: { disagreement: 'static-proxy-unreachable', verdict: 'works' },
      }),
      'live-response': fails('no-direct-egress', {
        otherwise: { disagreement: 'static-proxy-unreachable', verdict: 'works' },
      }),
    },
  },
  {
    name: 'static proxy unreachable, direct path open',
    cites: 'seed 004: "Defender for Endpoint will fall back to direct if it can\'t access the defined proxy"',
    machine: {
      machine: workstation(false),
      windows: { telemetryProxy: { server: PROX03, disableEnterpriseAuthProxy: true } },
      network: { directInternet: true, proxies: [{ address: PROX03, reachable: false }] },
    },
    expect: {
      'edr-telemetry': { verdict: 'works', source: 'direct', rule: 'direct-connection' },
    },
  },
];

function verdictOf(verdicts: readonly ComponentVerdict[], id: ComponentId): ComponentVerdict {
  const found = verdicts.find((v) => v.component === id);
  assert.ok(found, `component ${id} is in the explanation`);
  return found;
}

describe('article scenarios', () => {
  for (const scenario of SCENARIOS) {
    test(`${scenario.name} (${scenario.cites})`, () => {
      const explanation = explainMachine(scenario.machine);
      for (const [id, expected] of Object.entries(scenario.expect) as [ComponentId, Expected][]) {
        const v = verdictOf(explanation.components, id);
        const label = `${scenario.name} / ${id}: ${v.verdict} via ${v.routeText} (${v.reason})`;
        assert.equal(v.verdict, expected.verdict, label);
        if (expected.source !== undefined) assert.equal(v.route.source, expected.source, label);
        if (expected.proxy !== undefined) assert.equal(v.route.proxy, expected.proxy, label);
        if (expected.rule !== undefined) assert.equal(v.rule, expected.rule, label);
        if (expected.note)
          assert.ok(
            v.notes.some((n) => expected.note?.test(n)),
            `${label}: notes ${v.notes.join(' | ')}`,
          );
        if (expected.otherwise) {
          const alt = v.alternatives.find((a) => a.disagreement === expected.otherwise?.disagreement);
          assert.ok(alt, `${label}: an alternative under ${expected.otherwise.disagreement}`);
          assert.equal(alt.verdict, expected.otherwise.verdict, label);
        } else {
          assert.deepEqual(v.alternatives, [], `${label}: no alternative reading changes it`);
        }
        assert.ok(v.sources.length > 0, `${label}: cites a source`);
        if (v.verdict !== 'works') assert.ok(v.fix, `${label}: a failing component comes with a fix`);
      }
    });
  }
});
