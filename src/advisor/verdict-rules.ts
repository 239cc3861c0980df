import { isMmaEra, type ComponentDefinition, type ComponentId, type Endpoint } from './components.js';
import type { ComponentVerdict, Fix, Route, Verdict } from './explanation.js';
import { proxyFacts, type Machine, type ProxyFacts } from './machine.js';
import { parseProxyAddress } from './proxy-address.js';
import { describeRoute, resolveRoute, type ReadingLookup } from './resolve-route.js';
import { ROUTE_SOURCES } from './route-sources.js';
import type { SourceId } from './sources.js';

/** Everything a rule may look at. */
export interface RuleContext {
  readonly component: ComponentDefinition;
  readonly machine: Machine;
  readonly route: Route;
  readonly routeText: string;
  /** Facts about the proxy on the route (null for non-proxy routes). */
  readonly facts: ProxyFacts | null;
  /** Destinations the injected policy check refused on this route. */
  readonly denials: readonly { readonly endpoint: Endpoint; readonly reason: string }[];
  /** The proxy suggested in fixes: a described proxy without known problems, or a placeholder. */
  readonly recommended: string;
  readonly reading: ReadingLookup;
  /** Verdicts already computed for other components of the same machine. */
  readonly peer: (id: ComponentId) => ComponentVerdict | undefined;
}

export interface Judgement {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly fix: Fix | null;
  readonly rule: string;
  readonly sources: readonly SourceId[];
  readonly notes: readonly string[];
}

/** A condition on the chosen route; the first rule whose `when` holds decides the verdict. */
export interface VerdictRule {
  readonly id: string;
  readonly verdict: Verdict;
  readonly when: (ctx: RuleContext) => boolean;
  readonly reason: (ctx: RuleContext) => string;
  readonly fix: (ctx: RuleContext) => Fix | null;
  readonly sources: (ctx: RuleContext) => readonly SourceId[];
}

/** A component-specific refinement applied after the verdict rules, in table order. */
export interface Adjustment {
  readonly id: string;
  readonly components: readonly ComponentId[] | 'all';
  readonly sources: readonly SourceId[];
  readonly apply: (ctx: RuleContext, current: Judgement) => Judgement | null;
}

const SENSE_COMPONENTS: readonly ComponentId[] = ['edr-telemetry', 'live-response', 'user-context-services'];

const regAdd = (key: string, name: string, type: string, data: string): string =>
  `reg add "${key}" /v ${name} /t ${type} /d ${data} /f`;

/** How to point each component at a proxy: the setting and the command. */
export function setProxyFix(id: ComponentId, machine: Machine, proxy: string): Fix | null {
  if (SENSE_COMPONENTS.includes(id) && !isMmaEra(machine)) {
    const key = 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection';
    return {
      setting: ROUTE_SOURCES['telemetry-static'].setting,
      change: `set it to ${proxy} (host:port, no scheme) together with DisableEnterpriseAuthProxy = 1`,
      command: `${regAdd(key, 'TelemetryProxyServer', 'REG_SZ', proxy)} && ${regAdd(key, 'DisableEnterpriseAuthProxy', 'REG_DWORD', '1')}`,
    };
  }
  switch (id) {
    case 'edr-telemetry':
    case 'live-response':
    case 'user-context-services':
    case 'mma':
      return {
        setting: ROUTE_SOURCES['mma-proxy'].setting,
        change: `set the agent proxy to http://${proxy}`,
        command: `$s = New-Object -ComObject 'AgentConfigManager.MgmtSvcCfg'; $s.SetProxyInfo('http://${proxy}', '', '')`,
      };
    case 'av-cloud-protection':
    case 'sample-submission':
      return {
        setting: ROUTE_SOURCES['av-static'].setting,
        change: `set it to http://${proxy}`,
        command: `Set-MpPreference -ProxyServer "http://${proxy}"`,
      };
    case 'updates':
      return {
        setting: ROUTE_SOURCES.winhttp.setting,
        change: `set it to ${proxy}, or serve updates from an internal source (WSUS, file share) first in the fallback order`,
        command: `netsh winhttp set proxy ${proxy}`,
      };
    case 'certificate-revocation':
      return {
        setting: ROUTE_SOURCES.winhttp.setting,
        change: `set it to ${proxy} and let crl.microsoft.com, www.microsoft.com and ctldl.windowsupdate.com through on port 80`,
        command: `netsh winhttp set proxy ${proxy}`,
      };
    case 'linux-cloud':
      return {
        setting: ROUTE_SOURCES['mdatp-static'].setting,
        change: `set it to http://${proxy}`,
        command: `mdatp config proxy set --value http://${proxy}`,
      };
    case 'linux-install':
      return machine.linux.installedBy === 'azure-extension'
        ? {
            setting: ROUTE_SOURCES['linux-extension-agent'].setting,
            change: `add [Service] Environment=http_proxy=http://${proxy} and Environment=https_proxy=http://${proxy}`,
            command: 'systemctl daemon-reload && systemctl restart walinuxagent.service',
          }
        : {
            setting: ROUTE_SOURCES['linux-install-environment'].setting,
            change: `add HTTPS_PROXY="http://${proxy}/" before installing`,
            command: null,
          };
    case 'mdi-sensor':
      return {
        setting: ROUTE_SOURCES['mdi-proxy-url'].setting,
        change: `set it to http://${proxy}`,
        command: `Set-MDISensorProxyConfiguration -ProxyUrl 'http://${proxy}'`,
      };
    case 'ama':
      return {
        setting: ROUTE_SOURCES['ama-extension'].setting,
        change: `{"proxy":{"mode":"application","address":"http://${proxy}","auth":"false"}}`,
        command: null,
      };
    case 'arc':
      return {
        setting: ROUTE_SOURCES['arc-proxy-url'].setting,
        change: `set it to http://${proxy}`,
        command: `azcmagent config set proxy.url "http://${proxy}"`,
      };
    case 'antivirus-engine':
      return null;
  }
}

const blocksInspection = (c: ComponentDefinition): boolean =>
  c.tls === 'pinned' || c.tls === 'mutual-tls' || c.tls === 'inspection-unsupported';

/** SSLOptions 0 and 1 switch certificate pinning off for cloud protection (mdav-network). */
const pinningOff = (ctx: RuleContext): boolean =>
  ctx.component.id === 'av-cloud-protection' &&
  [0, 1].includes(ctx.machine.windows.antivirus.sslOptions ?? 3);

const TLS_REASON: Record<ComponentDefinition['tls'], string> = {
  pinned: 'which breaks its certificate-pinned connection',
  'mutual-tls': "which breaks the sensor's mutual TLS with the service",
  'inspection-unsupported':
    'which Defender on Linux does not support (pinning rejects it, curl error 35 or 60)',
  unpinned: 'which Microsoft does not support even though these hosts are not pinned',
  undocumented: 'whose effect on this agent our sources do not document',
};

const TLS_SOURCES: Record<ComponentDefinition['tls'], readonly SourceId[]> = {
  pinned: ['blog-disconnected-proxies', 'mde-streamlined-onboarding'],
  'mutual-tls': ['mdi-proxy', 'mdi-known-issues'],
  'inspection-unsupported': ['mde-linux-connectivity'],
  unpinned: ['blog-disconnected-proxies', 'mde-network-environment'],
  undocumented: ['inference'],
};

const setProxy = (ctx: RuleContext): Fix | null =>
  setProxyFix(ctx.component.id, ctx.machine, ctx.recommended);

function noRouteReason(ctx: RuleContext): string {
  const { route, component } = ctx;
  if (route.fallback !== null) {
    return `${route.fallback}, so the sensor falls back to a direct connection, which the network does not allow.`;
  }
  if (route.skipped.some((s) => s.source === 'user-wininet')) {
    const wait = component.id === 'edr-telemetry' ? '; events are cached until a user logs on' : '';
    return `its only proxy is the user's WinINET proxy and nobody is logged on, so nothing leaves the machine${wait}.`;
  }
  if (route.bypassed.length > 0) {
    return `every destination it needs matches the bypass list, so it goes direct, which the network does not allow.`;
  }
  if (route.source === 'wpad' || route.via.includes('no https=')) {
    return `${route.via} sends it direct, and the network does not allow direct connections.`;
  }
  return 'none of the proxy settings it reads is set, and the network does not allow direct connections.';
}

/** Ordered: the first matching rule decides. */
export const VERDICT_RULES: readonly VerdictRule[] = [
  {
    id: 'invalid-setting',
    verdict: 'fails',
    when: (ctx) => ctx.route.problem !== null,
    reason: (ctx) => `${ctx.route.problem ?? ''}.`,
    fix: setProxy,
    sources: (ctx) => ROUTE_SOURCES[ctx.route.source ?? 'direct'].sources,
  },
  {
    id: 'on-device',
    verdict: 'works',
    when: (ctx) => ctx.route.kind === 'local',
    reason: () => 'it protects the device without the network; only its reporting needs a connection.',
    fix: () => null,
    sources: () => ['blog-disconnected-proxies'],
  },
  {
    id: 'internal-update-source',
    verdict: 'works',
    when: (ctx) => ctx.route.kind === 'internal-source',
    reason: () => 'updates come from the internal update source, which needs no internet route.',
    fix: () => null,
    sources: () => ['mde-proxy-2020', 'blog-disconnected-proxies'],
  },
  {
    id: 'pac-not-evaluated',
    verdict: 'degraded',
    when: (ctx) => ctx.route.kind === 'pac',
    reason: (ctx) => `the route depends on what ${ctx.route.via} returns, which Airlock does not evaluate.`,
    fix: setProxy,
    sources: (ctx) => ROUTE_SOURCES[ctx.route.source ?? 'direct'].sources,
  },
  {
    id: 'no-direct-egress',
    verdict: 'fails',
    when: (ctx) =>
      (ctx.route.kind === 'direct' || ctx.route.kind === 'none') && !ctx.machine.network.directInternet,
    reason: noRouteReason,
    fix: setProxy,
    sources: (ctx) =>
      ctx.route.fallback !== null
        ? ['mde-proxy-2020', 'mde-verify-connectivity']
        : ctx.route.skipped.some((s) => s.source === 'user-wininet')
          ? ['blog-which-proxy-wins', 'blog-disconnected-proxies']
          : [...ctx.component.sources, 'blog-which-proxy-wins'],
  },
  {
    id: 'direct-path-inspected',
    verdict: 'fails',
    when: (ctx) =>
      ctx.route.kind === 'direct' &&
      ctx.machine.network.tlsInspectionOnDirectPath &&
      blocksInspection(ctx.component),
    reason: (ctx) => `it connects directly through TLS inspection, ${TLS_REASON[ctx.component.tls]}.`,
    fix: () => ({
      setting: 'TLS inspection on the direct path',
      change: 'exclude the agent URLs from inspection',
      command: null,
    }),
    sources: (ctx) => TLS_SOURCES[ctx.component.tls],
  },
  {
    id: 'direct-connection',
    verdict: 'works',
    when: (ctx) => ctx.route.kind === 'direct',
    reason: (ctx) =>
      ctx.route.fallback !== null
        ? `${ctx.route.fallback}, so the sensor falls back to a direct connection, which the network allows.`
        : 'it connects directly and the network allows direct connections.',
    fix: () => null,
    sources: (ctx) =>
      ctx.route.fallback !== null ? ['mde-proxy-2020', 'mde-verify-connectivity'] : ['mde-proxy-2024'],
  },
  {
    id: 'proxy-unreachable',
    verdict: 'fails',
    when: (ctx) => ctx.facts !== null && !ctx.facts.reachable,
    reason: (ctx) =>
      `it uses the ${ctx.routeText}, which is unreachable, and no fallback is documented for that setting.`,
    fix: (ctx) =>
      ctx.recommended !== ctx.route.proxy
        ? setProxy(ctx)
        : {
            setting: `proxy ${ctx.recommended}`,
            change: 'make it reachable from this machine',
            command: null,
          },
    sources: (ctx) => [...ROUTE_SOURCES[ctx.route.source ?? 'direct'].sources, 'inference'],
  },
  {
    id: 'proxy-demands-credentials',
    verdict: 'fails',
    when: (ctx) =>
      ctx.facts?.authentication === 'required' &&
      ctx.route.source !== 'user-wininet' &&
      !ctx.component.hasCredentials(ctx.machine),
    reason: (ctx) => `the ${ctx.routeText} asks for credentials, and ${ctx.component.account} sends none.`,
    fix: (ctx) => ({
      setting: `authentication on proxy ${ctx.route.proxy ?? ''}`,
      change: ['mdi-sensor', 'ama', 'mma'].includes(ctx.component.id)
        ? 'let the agent URLs through without authentication, or give the agent proxy credentials'
        : 'let the agent URLs through without authentication',
      command: null,
    }),
    sources: (ctx) => ctx.component.authSources,
  },
  {
    id: 'user-credentials-only',
    verdict: 'degraded',
    when: (ctx) => ctx.facts?.authentication === 'required' && ctx.route.source === 'user-wininet',
    reason: (ctx) =>
      `the ${ctx.routeText} asks for credentials, so the traffic passes only as the logged-on user and stops when that user logs off; the article's recipe exempts the Defender URLs from authentication.`,
    fix: (ctx) => ({
      setting: `authentication on proxy ${ctx.route.proxy ?? ''}`,
      change:
        'let the agent URLs through without authentication (and give the SYSTEM services a proxy of their own)',
      command: null,
    }),
    sources: () => ['blog-disconnected-proxies', 'mde-network-environment'],
  },
  {
    id: 'proxy-inspects-pinned',
    verdict: 'fails',
    when: (ctx) => ctx.facts?.tlsInspection === true && blocksInspection(ctx.component) && !pinningOff(ctx),
    reason: (ctx) => `the ${ctx.routeText} inspects TLS, ${TLS_REASON[ctx.component.tls]}.`,
    fix: (ctx) => ({
      setting: `TLS inspection on proxy ${ctx.route.proxy ?? ''}`,
      change: 'exclude the agent URLs from inspection',
      command: null,
    }),
    sources: (ctx) => TLS_SOURCES[ctx.component.tls],
  },
  {
    id: 'proxy-inspects-unpinned',
    verdict: 'degraded',
    when: (ctx) => ctx.facts?.tlsInspection === true && (ctx.component.tls === 'unpinned' || pinningOff(ctx)),
    reason: (ctx) =>
      pinningOff(ctx)
        ? `the ${ctx.routeText} inspects TLS; SSLOptions = ${ctx.machine.windows.antivirus.sslOptions ?? ''} turns pinning off so it connects, but inspection is unsupported.`
        : `the ${ctx.routeText} inspects TLS, ${TLS_REASON.unpinned}.`,
    fix: (ctx) => ({
      setting: `TLS inspection on proxy ${ctx.route.proxy ?? ''}`,
      change: 'exclude the agent URLs from inspection',
      command: null,
    }),
    sources: (ctx) => (pinningOff(ctx) ? ['mdav-network'] : TLS_SOURCES.unpinned),
  },
  {
    id: 'proxy-blocks-agent-urls',
    verdict: 'fails',
    when: (ctx) => ctx.facts !== null && !ctx.facts.allowsAgentUrls,
    reason: (ctx) => `the ${ctx.routeText} does not allow the URLs it needs.`,
    fix: (ctx) => ({
      setting: `allowlist on proxy ${ctx.route.proxy ?? ''}`,
      change: `allow ${ctx.component
        .endpoints(ctx.machine)
        .map((e) => `${e.host}:${e.port}`)
        .join(', ')}`,
      command: null,
    }),
    sources: () => ['blog-disconnected-proxies'],
  },
  {
    id: 'policy-denies',
    verdict: 'fails',
    when: (ctx) => ctx.denials.length > 0,
    reason: (ctx) => {
      const first = ctx.denials[0];
      const where = first ? `${first.endpoint.host}:${first.endpoint.port}` : '';
      return `the Airlock policy for ${ctx.route.proxy ?? 'the proxy'} refuses ${where} (${first?.reason ?? ''}).`;
    },
    fix: (ctx) => ({
      setting: 'Airlock policy destinations',
      change: `allow ${ctx.denials.map((d) => `${d.endpoint.host}:${d.endpoint.port}`).join(', ')}`,
      command: null,
    }),
    sources: () => ['blog-disconnected-proxies'],
  },
  {
    id: 'bypass-without-direct-path',
    verdict: 'degraded',
    when: (ctx) => ctx.route.bypassed.length > 0 && !ctx.machine.network.directInternet,
    reason: (ctx) => {
      const first = ctx.route.bypassed[0];
      return `${first?.host ?? ''} matches bypass entry "${first?.entry ?? ''}" of the ${ctx.route.via} and goes direct, which the network does not allow.`;
    },
    fix: (ctx) => ({
      setting: ROUTE_SOURCES[ctx.route.source ?? 'direct'].setting,
      change: `remove bypass entry "${ctx.route.bypassed[0]?.entry ?? ''}"`,
      command: null,
    }),
    sources: (ctx) => ROUTE_SOURCES[ctx.route.source ?? 'direct'].sources,
  },
  {
    id: 'proxy-works',
    verdict: 'works',
    when: () => true,
    reason: (ctx) => {
      if (ctx.route.source === 'user-wininet') {
        const auth = ctx.facts?.authentication === 'required' ? ', authenticated as that user' : '';
        return `it uses the ${ctx.routeText} while the user is logged on${auth}.`;
      }
      return `it uses the ${ctx.routeText}, which is reachable, lets it through and does not inspect TLS.`;
    },
    fix: () => null,
    sources: (ctx) => ROUTE_SOURCES[ctx.route.source ?? 'direct'].sources,
  },
];

const note = (current: Judgement, text: string, sources: readonly SourceId[] = []): Judgement => ({
  ...current,
  notes: [...current.notes, text],
  sources: [...current.sources, ...sources.filter((s) => !current.sources.includes(s))],
});

const hasScheme = (text: string | null): boolean => text !== null && /^[a-z]+:\/\//i.test(text.trim());

/** The route and verdict the component would have on another machine state (rules only, no policy check). */
function routeVerdict(
  ctx: RuleContext,
  machine: Machine,
): { routeText: string; verdict: Verdict; reason: string } {
  const route = resolveRoute(ctx.component, machine, ctx.reading);
  const routeText = describeRoute(route);
  const facts = route.kind === 'proxy' && route.proxy !== null ? proxyFacts(machine, route.proxy) : null;
  const alt: RuleContext = { ...ctx, machine, route, routeText, facts, denials: [] };
  const rule = VERDICT_RULES.find((r) => r.when(alt));
  if (!rule) throw new Error('the last verdict rule always applies');
  return { routeText, verdict: rule.verdict, reason: rule.reason(alt) };
}

/**
 * A setting in a form the product's documentation does not accept: not "works". What the
 * component does with it is undocumented, so the verdict follows what it would do without it:
 * failing when that leaves no route, degraded otherwise.
 */
function rejectedFormat(
  ctx: RuleContext,
  current: Judgement,
  what: string,
  without: (machine: Machine) => Machine,
  sources: readonly SourceId[],
): Judgement {
  const alt = routeVerdict(ctx, without(ctx.machine));
  const reason = alt.reason.charAt(0).toLowerCase() + alt.reason.slice(1);
  return {
    ...current,
    verdict: alt.verdict === 'fails' ? 'fails' : 'degraded',
    rule: 'setting-format',
    reason: `${what}; if it ignores the setting, the traffic takes the ${alt.routeText}, and then ${reason}`,
    fix: setProxyFix(ctx.component.id, ctx.machine, ctx.route.proxy ?? ctx.recommended),
    sources: [...sources],
  };
}

/** Component-specific refinements; each returns null when it does not apply. */
export const ADJUSTMENTS: readonly Adjustment[] = [
  {
    id: 'live-response-over-wininet',
    components: ['live-response'],
    sources: ['blog-which-proxy-wins', 'blog-disconnected-proxies'],
    apply: (ctx, current) => {
      if (current.verdict === 'fails' || ctx.route.source !== 'user-wininet') return null;
      if (ctx.reading('live-response-over-wininet') === 'times-out') {
        return {
          ...current,
          verdict: 'fails',
          rule: 'live-response-over-wininet',
          reason:
            "Live Response timed out in the lab whenever the user's WinINET proxy was the only route, even with the user logged on.",
          fix: setProxy(ctx),
          sources: ['blog-which-proxy-wins'],
        };
      }
      return note(
        current,
        'one article expects it to work only while the user stays logged on and the Defender URLs pass without authentication.',
        ['blog-disconnected-proxies'],
      );
    },
  },
  {
    id: 'cloud-protection-needs-revocation',
    components: ['av-cloud-protection'],
    sources: ['mdav-network', 'blog-which-proxy-wins'],
    apply: (ctx, current) => {
      const revocation = ctx.peer('certificate-revocation');
      const checksRevocation = ![0, 2].includes(ctx.machine.windows.antivirus.sslOptions ?? 3);
      // Only when the OS has no usable route for the revocation lists (not, say, an authenticated one).
      const noRoute =
        revocation !== undefined &&
        (revocation.verdict === 'fails' || revocation.rule === 'revocation-without-route');
      if (current.verdict === 'fails' || !noRoute || !checksRevocation) return null;
      if (ctx.reading('revocation-for-cloud-protection') === 'required') {
        return {
          ...current,
          verdict: 'fails',
          rule: 'cloud-protection-needs-revocation',
          reason: `it reaches the service through the ${ctx.routeText}, but the OS fetches the revocation lists for that TLS session through the system path, which has no working route (see ${revocation?.name ?? 'certificate revocation'}).`,
          fix: setProxyFix('certificate-revocation', ctx.machine, ctx.recommended),
          sources: ['mdav-network'],
        };
      }
      return note(
        current,
        'the OS has no route to fetch revocation lists; a lab saw Defender work regardless, while Microsoft documents MAPS failing with 0x80072F8F in that case.',
        ['blog-which-proxy-wins', 'mdav-network'],
      );
    },
  },
  {
    id: 'revocation-without-route',
    components: ['certificate-revocation'],
    sources: ['blog-which-proxy-wins', 'mdav-network'],
    apply: (ctx, current) => {
      if (current.verdict !== 'fails' || current.rule !== 'no-direct-egress') return null;
      if (ctx.reading('revocation-for-cloud-protection') === 'required') return null;
      return {
        ...current,
        verdict: 'degraded',
        rule: 'revocation-without-route',
        reason:
          'the OS has no route to fetch revocation lists and trust-list updates; a lab saw Defender work all the same, but Microsoft documents cloud protection failing without them.',
        sources: ['blog-which-proxy-wins', 'mdav-network'],
      };
    },
  },
  {
    id: 'user-session-dependence',
    components: [
      'edr-telemetry',
      'av-cloud-protection',
      'sample-submission',
      'updates',
      'certificate-revocation',
    ],
    sources: ['blog-which-proxy-wins', 'blog-disconnected-proxies'],
    apply: (ctx, current) => {
      if (current.verdict !== 'works' || ctx.route.source !== 'user-wininet') return null;
      return {
        ...note(
          current,
          'this route exists only while a user is logged on; after logoff nothing is sent until the next logon.',
          ['blog-which-proxy-wins'],
        ),
        fix: setProxy(ctx),
      };
    },
  },
  {
    id: 'server-onboarding',
    components: ['edr-telemetry'],
    sources: ['blog-disconnected-proxies'],
    apply: (ctx, current) => {
      const userBound =
        current.rule === 'proxy-demands-credentials' ||
        ctx.route.skipped.some((s) => s.source === 'user-wininet');
      if (ctx.machine.role !== 'server' || current.verdict !== 'fails' || !userBound) return null;
      return note(
        current,
        "a server in this state may never show as onboarded, or show as onboarded only while an admin's WinINET session authenticates to the proxy.",
        ['blog-disconnected-proxies'],
      );
    },
  },
  {
    id: 'static-proxy-format',
    components: ['edr-telemetry', 'live-response', 'user-context-services'],
    sources: ['mde-proxy', 'mde-proxy-2024'],
    apply: (ctx, current) => {
      const value = ctx.machine.windows.telemetryProxy;
      if (value === null) return null;
      let result: Judgement | null = null;
      if (ctx.route.source === 'telemetry-static' && hasScheme(value)) {
        result = rejectedFormat(
          ctx,
          current,
          `TelemetryProxyServer "${value}" carries a scheme; Microsoft documents host:port only (e.g. 10.0.0.6:8080) and does not say what the sensor does with any other form`,
          (m) => ({ ...m, windows: { ...m.windows, telemetryProxy: null } }),
          ['mde-proxy', 'mde-proxy-2024'],
        );
      }
      if (ctx.component.id === 'edr-telemetry' && ctx.machine.windows.disableEnterpriseAuthProxy !== true) {
        result = note(
          result ?? current,
          'DisableEnterpriseAuthProxy is not set to 1; Microsoft asks for it together with TelemetryProxyServer.',
          ['mde-proxy-2024'],
        );
      }
      return result;
    },
  },
  {
    id: 'prefer-static-for-http',
    components: ['edr-telemetry'],
    sources: ['mde-proxy'],
    apply: (ctx, current) => {
      const revocation = ctx.peer('certificate-revocation');
      if (
        ctx.route.source !== 'telemetry-static' ||
        !revocation ||
        revocation.verdict === 'works' ||
        ctx.machine.windows.preferStaticProxyForHttpRequest
      ) {
        return null;
      }
      return note(
        current,
        'the system path cannot reach the CRL hosts; Microsoft recommends PreferStaticProxyForHttpRequest = 1 (HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Advanced Threat Protection) on such devices.',
        ['mde-proxy'],
      );
    },
  },
  {
    id: 'antivirus-proxy-format',
    components: ['av-cloud-protection', 'sample-submission'],
    sources: ['mde-proxy-2024', 'mde-proxy'],
    apply: (ctx, current) => {
      const av = ctx.machine.windows.antivirus;
      let result: Judgement | null = null;
      if (ctx.route.source === 'av-static' && av.proxyServer !== null && !hasScheme(av.proxyServer)) {
        result = rejectedFormat(
          ctx,
          current,
          `ProxyServer "${av.proxyServer}" has no scheme; Microsoft says the value must start with http:// or https:// and does not say what Defender Antivirus does with another form`,
          (m) => ({
            ...m,
            windows: { ...m.windows, antivirus: { ...m.windows.antivirus, proxyServer: null } },
          }),
          ['mde-proxy-2024', 'mde-proxy'],
        );
      }
      if (ctx.component.id === 'av-cloud-protection' && av.proxyServer !== null && av.proxyPacUrl !== null) {
        result = note(
          result ?? current,
          'both ProxyPacUrl and ProxyServer are set; no source says which one wins, the model tries the PAC file first.',
        );
      }
      if (ctx.route.source === 'av-static' || ctx.route.source === 'av-pac') {
        result = note(
          result ?? current,
          'Defender Antivirus caches the last proxy that worked, so a change may take effect late.',
          ['mde-proxy-2024'],
        );
      }
      return result;
    },
  },
  {
    id: 'ignores-system-proxy',
    components: ['mma', 'arc', 'mdi-sensor'],
    sources: ['mma-overview', 'arc-proxy', 'mdi-proxy'],
    apply: (ctx, current) => {
      const own = ['mma-proxy', 'arc-proxy-url', 'arc-environment', 'mdi-proxy-url', 'mdi-service-wininet'];
      if (ctx.machine.windows.winhttp.proxy === null || own.includes(ctx.route.source ?? '')) return null;
      const text: Record<string, [string, SourceId]> = {
        mma: ['the Log Analytics agent ignores the WinHTTP proxy; it needs its own setting.', 'mma-overview'],
        arc: [
          'the Arc agent ignores the Windows system proxy; it needs proxy.url or HTTPS_PROXY.',
          'arc-proxy',
        ],
        'mdi-sensor': [
          'a WinHTTP proxy alone is not enough for the Defender for Identity sensor.',
          'mdi-proxy',
        ],
      };
      const [line, source] = text[ctx.component.id] ?? ['', 'inference'];
      return note(current, line, [source]);
    },
  },
  {
    id: 'mdi-error-masking',
    components: ['mdi-sensor'],
    sources: ['mdi-known-issues'],
    apply: (_ctx, current) =>
      current.rule === 'proxy-demands-credentials'
        ? note(
            current,
            'a proxy answering 401 or 403 instead of 407 makes the sensor report a licensing failure; let *.atp.azure.com through without authentication.',
            ['mdi-known-issues'],
          )
        : null,
  },
  {
    id: 'linux-discovery',
    components: ['linux-cloud'],
    sources: ['mde-linux-connectivity'],
    apply: (ctx, current) => {
      let result: Judgement | null = null;
      if (ctx.machine.network.wpad !== null) {
        result = note(
          current,
          'Defender on Linux ignores WPAD and PAC files; only a static or transparent proxy works.',
          ['mde-linux-connectivity'],
        );
      }
      const linux = ctx.machine.linux;
      if (linux.licensed === false) {
        result = note(
          result ?? current,
          'mdatp health reports licensed: false (the device is not onboarded).',
        );
      }
      if (linux.cloudEnabled === false) {
        result = note(
          result ?? current,
          'mdatp health reports cloud_enabled: false (cloud protection is off).',
        );
      }
      if (linux.healthIssues.length > 0) {
        result = note(result ?? current, `mdatp health lists issues: ${linux.healthIssues.join('; ')}.`);
      }
      return result;
    },
  },
  {
    id: 'linux-install-without-proxy',
    components: ['linux-install'],
    sources: ['mde-linux-static-proxy', 'blog-defender-for-servers'],
    apply: (ctx, current) => {
      if (current.verdict !== 'fails') return null;
      if (ctx.machine.linux.installedBy === 'azure-extension') {
        return {
          ...current,
          rule: 'linux-extension-without-proxy',
          reason:
            'the Azure Linux agent that runs the MDE.Linux extension has no proxy (it may not read /etc/environment), so the extension deployment fails and the sensor is not installed.',
          sources: ['blog-defender-for-servers'],
        };
      }
      return note(
        current,
        'an install from a local package may still finish, but without telemetry and with long network time-outs.',
        ['mde-linux-static-proxy'],
      );
    },
  },
  {
    id: 'reports-when-connected',
    components: ['antivirus-engine'],
    sources: ['blog-disconnected-proxies'],
    apply: (ctx, current) => {
      const edr = ctx.peer('edr-telemetry');
      return edr && edr.verdict !== 'works'
        ? note(current, 'it reports to the portal only once a connection is back.', [
            'blog-disconnected-proxies',
          ])
        : null;
    },
  },
  {
    id: 'down-level-windows',
    components: ['edr-telemetry', 'live-response'],
    sources: ['mde-urls-streamlined', 'mde-proxy'],
    apply: (ctx, current) => {
      if (!isMmaEra(ctx.machine)) return null;
      const streamlined =
        ctx.machine.connectivity === 'streamlined'
          ? ' MMA-based devices cannot use streamlined connectivity.'
          : '';
      return note(
        current,
        `down-level Windows runs the MMA-based sensor, which uses the agent's own proxy.${streamlined}`,
        ['mde-urls-streamlined', 'mde-proxy'],
      );
    },
  },
  {
    id: 'inspection-undocumented',
    components: 'all',
    sources: ['inference'],
    apply: (ctx, current) =>
      ctx.facts?.tlsInspection === true && ctx.component.tls === 'undocumented'
        ? note(
            current,
            `${ctx.route.proxy ?? 'the proxy'} inspects TLS; its effect on this traffic is not documented.`,
          )
        : null,
  },
];

/** The first described proxy with no known problem, or a placeholder, for use in fixes. */
export function recommendedProxy(machine: Machine): string {
  const good = machine.network.proxies.find(
    (p) =>
      p.reachable &&
      p.authentication !== 'required' &&
      !p.tlsInspection &&
      p.allowsAgentUrls &&
      parseProxyAddress(p.address).ok,
  );
  return good?.address ?? '<proxy>:<port>';
}
