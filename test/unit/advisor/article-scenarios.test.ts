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
 * Every scenario the two articles on Defender for Endpoint behind proxies report, as a table.
 * LAB is "Defender for Endpoint and disconnected environments. Which proxy configuration wins?"
 * (Brian Baldock): a Windows 11 workstation, PROX01 = WinHTTP, PROX02 = WinINET, PROX03 = static
 * proxy, everything else blocked at the gateway, outcomes observed. ARTICLE is "Disconnected
 * environments, proxies and Microsoft Defender for Endpoint" (same author): the outcomes it
 * states for workstations and servers behind authenticated and unauthenticated proxies.
 *
 * The expected verdict is the outcome the article reports; where a documented reading disagrees,
 * `otherwise` is the verdict under that reading (what `--assume` switches to). A component
 * without `otherwise` must have no alternative that changes it.
 */
const PROX01 = '172.16.12.10:3128';
const PROX02 = '172.16.12.11:3128';
const PROX03 = '172.16.12.12:3128';
const AUTH = '10.20.0.8:8080';

const LAB = 'Which proxy configuration wins? (lab)';
const ARTICLE = 'Disconnected environments, proxies and Microsoft Defender for Endpoint';

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

function server(userLoggedOn: boolean): MachineDescription['machine'] {
  return { name: 'SRV01', platform: 'windows', role: 'server', windowsVersion: 'server-2022', userLoggedOn };
}

const staticProxy = {
  telemetryProxy: { server: PROX03, disableEnterpriseAuthProxy: true },
  antivirus: { proxyServer: `http://${PROX03}` },
};

const authProxy = (authentication: 'required' | 'bypassed-for-agent-urls') => ({
  directInternet: false,
  proxies: [{ address: AUTH, authentication }],
});

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
  /** The article and section that report the outcome. */
  readonly cites: string;
  /** What the article reports, in its words' substance. */
  readonly observed: string;
  readonly machine: MachineDescription;
  readonly expect: Partial<Record<ComponentId, Expected>>;
  /** The summary line (`n work, n degraded, n fail`), when the article accounts for every component. */
  readonly summary?: string;
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
const degraded = (rule: string, extra: Partial<Expected> = {}): Expected => ({
  verdict: 'degraded',
  rule,
  ...extra,
});

const REVOCATION_REQUIRED = { disagreement: 'revocation-for-cloud-protection', verdict: 'fails' } as const;
const LR_WORKS_WITH_USER = { disagreement: 'live-response-over-wininet', verdict: 'works' } as const;

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'WinHTTP only',
    cites: `${LAB}, "Only the WinHTTP Proxy is configured"`,
    observed: 'Live Response works through PROX01; the analyzer reaches every URL through the default proxy',
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
    summary: '8 work, 0 degraded, 0 fail',
  },
  {
    name: 'WinHTTP and WinINET, user logged on',
    cites: `${LAB}, "Which one wins? WinINET or WinHTTP?"`,
    observed:
      'Defender keeps using the WinHTTP proxy; the SYSTEM services prefer it over the user WinINET proxy',
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
      updates: works('winhttp', PROX01),
      'certificate-revocation': works('winhttp', PROX01),
    },
  },
  {
    name: 'WinINET only, no user logged on',
    cites: `${LAB}, "WinINET proxy configuration only"`,
    observed: 'no Defender traffic leaves the machine and Live Response times out until a user logs on',
    machine: { machine: workstation(false), windows: { wininet: { proxy: PROX02 } }, network: labNetwork },
    expect: {
      'edr-telemetry': fails('no-direct-egress'),
      'live-response': fails('no-direct-egress'),
      'av-cloud-protection': fails('no-direct-egress'),
      'sample-submission': fails('no-direct-egress'),
      'user-context-services': fails('no-direct-egress'),
      updates: fails('no-direct-egress'),
      'certificate-revocation': degraded('revocation-without-route', { otherwise: REVOCATION_REQUIRED }),
    },
  },
  {
    name: 'WinINET only, user logged on',
    cites: `${LAB}, "WinINET proxy configuration only"`,
    observed:
      'most features work through the user proxy; "Live Response is the only one that will not work" (it times out)',
    machine: { machine: workstation(true), windows: { wininet: { proxy: PROX02 } }, network: labNetwork },
    expect: {
      'edr-telemetry': works('user-wininet', PROX02, { note: /only while a user is logged on/ }),
      'live-response': fails('live-response-over-wininet', { otherwise: LR_WORKS_WITH_USER }),
      'av-cloud-protection': works('user-wininet', PROX02),
      'sample-submission': works('user-wininet', PROX02),
      'user-context-services': works('user-wininet', PROX02),
      updates: works('user-wininet', PROX02, {
        otherwise: { disagreement: 'system-services-over-wininet', verdict: 'fails' },
      }),
      'certificate-revocation': works('user-wininet', PROX02, {
        otherwise: { disagreement: 'system-services-over-wininet', verdict: 'degraded' },
      }),
      'antivirus-engine': { verdict: 'works', source: 'local' },
    },
    summary: '7 work, 0 degraded, 1 fail',
  },
  {
    name: 'static proxy only',
    cites: `${LAB}, "Static proxy configuration only"`,
    observed:
      'Defender and Live Response work through PROX03; nothing else on the machine, Windows Update included, reaches the internet',
    machine: {
      machine: workstation(false),
      windows: { ...staticProxy, winhttp: { proxy: null } },
      network: labNetwork,
    },
    expect: {
      'edr-telemetry': works('telemetry-static', PROX03, { note: /PreferStaticProxyForHttpRequest/ }),
      'live-response': works('telemetry-static', PROX03),
      'av-cloud-protection': works('av-static', PROX03, {
        note: /a lab saw Defender work regardless/,
        otherwise: REVOCATION_REQUIRED,
      }),
      'sample-submission': works('av-static', PROX03),
      'user-context-services': works('telemetry-static', PROX03),
      updates: fails('no-direct-egress'),
      'certificate-revocation': degraded('revocation-without-route', { otherwise: REVOCATION_REQUIRED }),
      'antivirus-engine': { verdict: 'works', source: 'local' },
    },
    summary: '6 work, 1 degraded, 1 fail',
  },
  {
    name: 'static, WinHTTP and WinINET, user logged on',
    cites: `${LAB}, "WinINET, WinHTTP and Static Proxy configuration. Which one wins?"`,
    observed:
      'Live Response goes through the static proxy, user services through WinINET, other SYSTEM services through WinHTTP',
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
    summary: '8 work, 0 degraded, 0 fail',
  },
  {
    name: 'static and WinINET, no user logged on (the workstation setup the lab recommends)',
    cites: `${LAB}, "WinINET proxy configuration only" and the summary`,
    observed: 'with a static proxy the Defender services work even when nobody is logged on',
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
      'av-cloud-protection': works('av-static', PROX03, { otherwise: REVOCATION_REQUIRED }),
    },
  },
  {
    name: 'workstation, user logged on, authenticated proxy that lets the Defender URLs through without authentication',
    cites: `${ARTICLE}, "Workstation with Defender for Endpoint and a logged in user / Authenticated Proxy"`,
    observed:
      'Defender functions as expected, provided the user stays logged on, no TLS inspection, and the URLs bypass authentication',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: AUTH }, wininet: { proxy: AUTH } },
      network: authProxy('bypassed-for-agent-urls'),
    },
    expect: {
      'edr-telemetry': works('winhttp', AUTH),
      'live-response': works('winhttp', AUTH),
      'av-cloud-protection': works('winhttp', AUTH),
      'user-context-services': works('user-wininet', AUTH),
      updates: works('winhttp', AUTH),
      'certificate-revocation': works('winhttp', AUTH),
    },
    summary: '8 work, 0 degraded, 0 fail',
  },
  {
    name: 'workstation, user logged on, the same proxy as the user WinINET setting only',
    cites: `${ARTICLE}, same scenario; ${LAB} on Live Response over WinINET`,
    observed:
      'the article expects everything to work while the user is logged on; the lab saw Live Response time out over WinINET alone, so that is the default reading',
    machine: {
      machine: workstation(true),
      windows: { wininet: { proxy: AUTH } },
      network: authProxy('bypassed-for-agent-urls'),
    },
    expect: {
      'edr-telemetry': works('user-wininet', AUTH),
      'live-response': fails('live-response-over-wininet', { otherwise: LR_WORKS_WITH_USER }),
      'av-cloud-protection': works('user-wininet', AUTH),
      'user-context-services': works('user-wininet', AUTH),
      updates: works('user-wininet', AUTH, {
        otherwise: { disagreement: 'system-services-over-wininet', verdict: 'fails' },
      }),
    },
  },
  {
    name: 'workstation, user logged on, authenticated proxy without the exemption',
    cites: `${ARTICLE}, recipe step 4 ("the proxy must accept unauthenticated traffic") and the workstation scenario`,
    observed:
      'the services run as LocalSystem and cannot authenticate; only traffic over the user WinINET session is authenticated, as that user',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: AUTH }, wininet: { proxy: AUTH } },
      network: authProxy('required'),
    },
    expect: {
      'edr-telemetry': fails('proxy-demands-credentials'),
      'live-response': fails('proxy-demands-credentials'),
      'av-cloud-protection': fails('proxy-demands-credentials'),
      updates: fails('proxy-demands-credentials'),
      'user-context-services': degraded('user-credentials-only'),
    },
  },
  {
    name: 'workstation, user logged on, authenticated WinINET proxy only, without the exemption',
    cites: `${ARTICLE}, recipe step 4 and the workstation scenario`,
    observed:
      'traffic passes only as the logged-on user: the article makes the unauthenticated bypass a condition, so this is not "works"',
    machine: {
      machine: workstation(true),
      windows: { wininet: { proxy: AUTH } },
      network: authProxy('required'),
    },
    expect: {
      'edr-telemetry': degraded('user-credentials-only'),
      'live-response': fails('live-response-over-wininet', {
        otherwise: { disagreement: 'live-response-over-wininet', verdict: 'degraded' },
      }),
      'av-cloud-protection': degraded('user-credentials-only'),
      'user-context-services': degraded('user-credentials-only'),
      updates: degraded('user-credentials-only', {
        otherwise: { disagreement: 'system-services-over-wininet', verdict: 'fails' },
      }),
    },
  },
  {
    name: 'workstation, no user logged on, authenticated proxy',
    cites: `${ARTICLE}, "Workstation with Defender for Endpoint and no logged in user / Authenticated Proxy"`,
    observed:
      'Live Response, cloud protection, EDR data and command and control fail; updates fail without an offline source; Defender Antivirus keeps working and reports later',
    machine: {
      machine: workstation(false),
      windows: { wininet: { proxy: AUTH } },
      network: authProxy('required'),
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
    cites: `${ARTICLE}, same scenario: updates "won't work unless there is an offline update solution available, such as WSUS"`,
    observed: 'updates work from the offline source; the rest fails as above',
    machine: {
      machine: workstation(false),
      windows: { wininet: { proxy: AUTH }, internalUpdateSource: true },
      network: authProxy('required'),
    },
    expect: {
      updates: { verdict: 'works', source: 'internal-update-source', rule: 'internal-update-source' },
      'edr-telemetry': fails('no-direct-egress'),
    },
  },
  {
    name: 'server, authenticated proxy',
    cites: `${ARTICLE}, "Server with Defender for Endpoint / Authenticated Proxy"`,
    observed:
      'no authentication context: Live Response and cloud protection fail, the server may never show as onboarded',
    machine: {
      machine: server(false),
      windows: { winhttp: { proxy: AUTH } },
      network: authProxy('required'),
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
    cites: `${ARTICLE}, server scenario ("the proof-of-concept deployment is successful but deployment to production is not")`,
    observed:
      "it seems to work while the admin's WinINET session authenticates, and stops once that user context is gone",
    machine: { machine: server(true), windows: { wininet: { proxy: AUTH } }, network: authProxy('required') },
    expect: {
      'edr-telemetry': degraded('user-credentials-only'),
    },
  },
  {
    name: 'server, unauthenticated proxy',
    cites: `${ARTICLE}, "Server with Defender for Endpoint / Unauthenticated Proxy"`,
    observed: 'Defender works as expected',
    machine: {
      machine: server(false),
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
    cites: `${ARTICLE}, recipe step 3 and the server scenario`,
    observed: 'TLS inspection of the Defender URLs breaks the connection (certificate pinning)',
    machine: {
      machine: workstation(true),
      windows: { winhttp: { proxy: PROX01 } },
      network: { directInternet: false, proxies: [{ address: PROX01, tlsInspection: true }] },
    },
    expect: {
      'edr-telemetry': fails('proxy-inspects-pinned'),
      'live-response': fails('proxy-inspects-pinned'),
      'av-cloud-protection': fails('proxy-inspects-pinned'),
      'sample-submission': degraded('proxy-inspects-unpinned'),
    },
  },
  {
    name: 'static proxy unreachable, WinHTTP proxy available, no direct path',
    cites:
      'Microsoft\'s proxy and connectivity pages ("falls back to direct"); the Windows policy reference ("default proxy configuration")',
    observed: 'no lab observed it; the Defender pages are the default reading',
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
    cites: 'Microsoft\'s proxy page (2020 revision): the sensor "will fall back to direct"',
    observed: 'the sensor connects directly',
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

describe('article scenarios: the observed outcome is the default, the other reading beside it', () => {
  for (const scenario of SCENARIOS) {
    test(`${scenario.name} (${scenario.cites}: ${scenario.observed})`, () => {
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
          // --assume switches to it.
          const switched = explainMachine(scenario.machine, {
            readings: { [expected.otherwise.disagreement]: alt.reading },
          });
          assert.equal(
            verdictOf(switched.components, id).verdict,
            expected.otherwise.verdict,
            `${label} (assumed)`,
          );
        } else {
          assert.deepEqual(v.alternatives, [], `${label}: no alternative reading changes it`);
        }
        assert.ok(v.sources.length > 0, `${label}: cites a source`);
        if (v.verdict !== 'works')
          assert.ok(v.fix, `${label}: a component that does not work comes with a fix`);
      }
      if (scenario.summary !== undefined) {
        const s = explanation.summary;
        assert.equal(
          `${s.works} work, ${s.degraded} degraded, ${s.fails} fail`,
          scenario.summary,
          scenario.name,
        );
      }
    });
  }
});
