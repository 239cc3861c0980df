import { isReasonCode, reasonInfo } from '../errors/index.js';
import { METHOD_LABELS, type CheckError, type MethodResult, type TargetResult } from './model.js';
import { CHECK_ERRORS, ROUTE_TIMEOUTS, type CheckErrorCode } from './outcomes.js';
import { serviceLabel } from './targets.js';

/**
 * Why a method failed, in the words of the component at fault: a policy refusal (the gateway's
 * DENY_* codes) is told apart from the gateway failing to resolve, connect to or hear from the
 * destination (FAIL_*), and both from this machine's own resolution, connection and TLS. The
 * same failure gets the same cause whichever way it was seen: through the gateway from a
 * client (`--gateway HOST:PORT`, where the gateway sends its reason code) or on the gateway
 * box itself (`--on-gateway`, which resolves and connects as the gateway does). Failures with
 * the same cause are grouped into one finding with the count, the services and the likely fix.
 */

export type CauseKind =
  /** A proxy or gateway refused the request by its policy (DENY_*). */
  | 'policy'
  /** The gateway (or a proxy) could not resolve, connect to or hear from the destination (FAIL_*). */
  | 'upstream'
  /** This machine could not use the proxy: unreachable, silent, closed, demands authentication. */
  | 'proxy'
  /** TLS to the destination: inspected, untrusted, wrong name, handshake failed. */
  | 'tls'
  /** The destination answered, but not as the service does. */
  | 'service'
  /** The PAC script could not be fetched or run. */
  | 'pac'
  /** Not tried: the route had timed out repeatedly, or the total deadline was reached. */
  | 'run'
  /** This machine's own name resolution or connection, without a proxy. */
  | 'local';

export interface Cause {
  /** Failures with the same key are one finding: the code and who is at fault. */
  readonly key: string;
  readonly kind: CauseKind;
  /** The gateway's reason code (DENY_*, FAIL_*) when there is one, else the check's own code. */
  readonly code: string;
  /** The table cell after "x ": the reason code when there is one, else a word or two. */
  readonly cell: string;
  readonly title: string;
  readonly fix: string;
  /** Who is at fault, for grouping and wording: the route, or "gateway" on the gateway box. */
  readonly at: string;
}

export type FindingSeverity = 'error' | 'warning' | 'info';

export interface Finding {
  /** The cause's key (the code and who is at fault): what causeOf gives the failures of this finding. */
  readonly key: string;
  readonly severity: FindingSeverity;
  readonly kind: CauseKind;
  readonly code: string;
  readonly title: string;
  readonly fix: string;
  /** The methods and routes the failures were seen on: "Airlock gateway (PROXY 127.0.0.1:3128)". */
  readonly via: readonly string[];
  /** URLs with this failure. */
  readonly urls: number;
  /** Of those, URLs no method reached. */
  readonly unreachable: number;
  /** Of those, required URLs no method reached. */
  readonly requiredUnreachable: number;
  /** Service ids of the URLs, in report order. */
  readonly services: readonly string[];
  /** The first few URLs. */
  readonly examples: readonly string[];
  /** Attempts not made because earlier ones over the same route timed out (counted in `urls`). */
  readonly notTried: number;
}

export const EXAMPLES = 3;

/** On the gateway box, the check's own failures are the gateway's: the code it would log. */
const GATEWAY_CODES: Partial<Record<CheckErrorCode, string>> = {
  DNS_NOT_FOUND: 'FAIL_DNS',
  DNS_TIMEOUT: 'FAIL_DNS_TIMEOUT',
  TCP_REFUSED: 'FAIL_CONNECT_REFUSED',
  TCP_UNREACHABLE: 'FAIL_CONNECT_UNREACHABLE',
  TCP_TIMEOUT: 'FAIL_CONNECT_TIMEOUT',
};

function proxyAddress(route: string): string {
  return route.replace(/^PROXY /, '');
}

/** "the gateway 127.0.0.1:3128", "the proxy proxy.corp:8080", "the gateway" (on the gateway box). */
function whoIs(m: MethodResult, mode: 'client' | 'gateway'): string {
  if (mode === 'gateway' && m.route === 'DIRECT') return 'the gateway';
  if (m.route === null || m.route === 'DIRECT') return 'this machine';
  return `the ${m.method === 'gateway' ? 'gateway' : 'proxy'} ${proxyAddress(m.route)}`;
}

function capitalize(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

function statusOf(error: CheckError): string | null {
  return /answered (\d{3})/.exec(error.message)?.[1] ?? null;
}

interface Wording {
  readonly title: string;
  readonly fix: string;
}

/** The gateway failed to reach the destination: FAIL_* from a gateway, or a proxy's 502/504. */
function upstream(code: string, who: string, airlock: boolean, onGatewayBox: boolean): Wording {
  const Who = capitalize(who);
  const onBox = onGatewayBox
    ? "compare with the gateway box's own resolver and route (dig, nslookup, curl from the box)"
    : 'run `airlock check --on-gateway -c CONFIG` on the gateway box to test with its resolver';
  switch (code) {
    case 'FAIL_DNS':
      return {
        title: `${Who} cannot resolve these names (DNS)`,
        fix: "check dns.servers in the gateway's configuration (else /etc/resolv.conf on the gateway box) and that the gateway reaches those servers on port 53, UDP and TCP",
      };
    case 'FAIL_DNS_TIMEOUT':
      return {
        title: `${Who} cannot resolve names: its DNS servers do not answer`,
        fix: `check dns.servers in the gateway's configuration and that a firewall lets the gateway reach them on port 53 (UDP and TCP); dns.timeout and dns.tries bound each lookup`,
      };
    case 'FAIL_CONNECT_TIMEOUT':
      return {
        title: `${Who} cannot connect to these destinations: its connections time out`,
        fix: "a firewall drops the gateway's outgoing connections: allow the gateway out to the destinations on TCP 443 (and 80 for certificate revocation)",
      };
    case 'FAIL_CONNECT_REFUSED':
      return {
        title: `${Who} cannot connect to these destinations: the connections are refused`,
        fix: 'a firewall or device between the gateway and the internet rejects them: allow the gateway out on TCP 443 (and 80)',
      };
    case 'FAIL_CONNECT_UNREACHABLE':
      return {
        title: `${Who} has no route to these destinations`,
        fix: "check the gateway's default route and outgoing firewall rules",
      };
    case 'FAIL_UPSTREAM_RESET':
    case 'FAIL_UPSTREAM_TIMEOUT':
    case 'FAIL_UPSTREAM_PROTOCOL':
      return {
        title: `${Who} reached these destinations, but ${reasonInfo(code).summary.replace(/^upstream /, 'the upstream ')}`,
        fix: `a device between the gateway and the internet may interfere with the connections; ${onBox}`,
      };
  }
  return {
    title: `${Who} could not reach these destinations (${code})`,
    fix: airlock
      ? onBox
      : "the proxy's own name resolution or outgoing connections fail: ask its administrator",
  };
}

/** A proxy or gateway refused the request. */
function refusal(code: string, who: string, airlock: boolean): Wording {
  const Who = capitalize(who);
  switch (code) {
    case 'DENY_HOST_NOT_ALLOWED':
      return {
        title: `${Who} refuses these hosts: its policy does not allow them`,
        fix: 'add them to the policy (policy.destinations, an allowlist file, or the products, services and geographies of catalog:); `airlock policy show` lists what is allowed',
      };
    case 'DENY_PORT':
      return {
        title: `${Who} refuses these ports: its policy does not allow them`,
        fix: "add the port to policy.ports.connect (or policy.ports.http) and to the rule's own ports",
      };
    case 'DENY_SOURCE_NOT_ALLOWED':
      return {
        title: `${Who} refuses this machine: its address is not in policy.sources`,
        fix: "add this machine's network to policy.sources",
      };
    case 'DENY_DESTINATION_ADDRESS':
      return {
        title: `${Who} refuses these names: they resolve to internal or special-purpose addresses`,
        fix: "if those answers are right (split-horizon DNS), list their network in policy.internalNetworks; otherwise the gateway's DNS servers give internal answers for public names",
      };
    case 'DENY_IP_LITERAL':
      return {
        title: `${Who} refuses IP-literal destinations`,
        fix: 'use the host name, or add a cidr rule to policy.destinations',
      };
  }
  if (code.startsWith('LIMIT_')) {
    return {
      title: `${Who} is at its connection limits (${reasonInfo(code as 'LIMIT_CONNECTIONS').summary})`,
      fix: 'test with a lower --concurrency, or raise the limits: keys of the gateway configuration',
    };
  }
  if (isReasonCode(code)) {
    return {
      title: `${Who} refuses these requests: ${reasonInfo(code).summary}`,
      fix: 'see the reason codes reference (docs/reason-codes.md)',
    };
  }
  return {
    title: `${Who} refuses these requests (${code})`,
    fix: airlock
      ? 'see the gateway access log for the reason'
      : "ask the proxy's administrator to allow them",
  };
}

function cause(kind: CauseKind, code: string, cell: string, wording: Wording, at: string, extra = ''): Cause {
  return { key: `${code}|${at}${extra}`, kind, code, cell, at, ...wording };
}

/** The cause of a method's failure; null when it did not fail. */
export function causeOf(m: MethodResult, mode: 'client' | 'gateway'): Cause | null {
  const e = m.error;
  if (e === null || m.outcome === 'succeeded' || m.outcome === 'not-configured') return null;
  const who = whoIs(m, mode);
  const Who = capitalize(who);
  const at = mode === 'gateway' && m.route === 'DIRECT' ? 'gateway' : (m.route ?? m.method);
  const viaProxy = m.route !== null && m.route.startsWith('PROXY ');
  const airlock = m.method === 'gateway' || (m.proxyReason !== null && /^[A-Z]+_/.test(m.proxyReason));
  const summary = CHECK_ERRORS[e.code].summary;

  switch (e.code) {
    case 'PROXY_REFUSED': {
      const code = m.proxyReason ?? statusOf(e) ?? 'refused';
      return cause('policy', code, code, refusal(code, who, airlock), at);
    }
    case 'PROXY_UPSTREAM_FAILED': {
      const code = m.proxyReason ?? statusOf(e) ?? 'failed';
      return cause('upstream', code, code, upstream(code, who, airlock, false), at);
    }
    case 'PROXY_AUTH_REQUIRED':
      return cause(
        'proxy',
        e.code,
        '407',
        {
          title: `${Who} demands authentication${m.proxyAuth !== null && m.proxyAuth.length > 0 ? ` (${m.proxyAuth.join(', ')})` : ''}`,
          fix: "Defender for Endpoint's system-context components cannot answer a proxy's authentication: let the Defender destinations through without it",
        },
        at,
      );
    case 'PROXY_TIMEOUT':
    case 'PROXY_CLOSED':
      return cause(
        'proxy',
        e.code,
        e.code === 'PROXY_TIMEOUT' ? 'proxy timeout' : 'proxy closed',
        {
          title: `${Who} ${e.code === 'PROXY_TIMEOUT' ? 'does not answer CONNECT' : 'closes the connection without answering'}`,
          fix: 'check that the address is an HTTP proxy (host and port) and that it accepts this machine',
        },
        at,
      );
    case 'PROXY_UNSUPPORTED':
      return cause(
        'proxy',
        e.code,
        'not tested',
        { title: e.message, fix: 'test through an HTTP proxy' },
        at,
      );
    case 'TLS_INSPECTED':
      return cause(
        'tls',
        e.code,
        'inspected',
        {
          title: `TLS is inspected${viaProxy ? ` on the way through ${proxyAddress(m.route)}` : ''}: ${m.tls?.inspectedBy ?? 'a middlebox'} re-signs the certificates`,
          fix: 'exclude these destinations from TLS inspection: Defender pins its certificates and rejects a re-signed chain',
        },
        at,
        `|${m.tls?.inspectedBy ?? ''}`,
      );
    case 'TLS_UNTRUSTED':
    case 'TLS_NAME_MISMATCH':
    case 'TLS_FAILED':
    case 'TLS_TIMEOUT':
      return cause(
        'tls',
        e.code,
        {
          TLS_UNTRUSTED: 'untrusted',
          TLS_NAME_MISMATCH: 'wrong name',
          TLS_FAILED: 'tls',
          TLS_TIMEOUT: 'tls timeout',
        }[e.code],
        {
          title: `TLS to these destinations fails: ${summary}`,
          fix:
            e.code === 'TLS_UNTRUSTED'
              ? "a middlebox may re-sign the certificates: give its CA with --ca-file to tell inspection apart; otherwise update this machine's trusted roots"
              : 'a device between this machine and the service may filter TLS by server name or answer in its place',
        },
        at,
      );
    case 'UNEXPECTED_STATUS':
    case 'HTTP_TIMEOUT':
    case 'HTTP_CLOSED':
    case 'HTTP_MALFORMED':
      return cause(
        'service',
        e.code,
        e.code === 'UNEXPECTED_STATUS'
          ? String(m.status ?? 'status')
          : { HTTP_TIMEOUT: 'http timeout', HTTP_CLOSED: 'http closed', HTTP_MALFORMED: 'http' }[e.code],
        {
          title: `The answer is not the service's: ${summary}`,
          fix: 'something between this machine and the service answers in its place (a captive portal, a proxy error page, a block page)',
        },
        at,
      );
    case 'PAC_DOWNLOAD_FAILED':
    case 'PAC_FAILED':
      return cause(
        'pac',
        e.code,
        e.code === 'PAC_FAILED' ? 'pac' : 'pac download',
        { title: `The PAC method fails: ${e.message}`, fix: 'check the PAC URL and the script' },
        at,
      );
    case 'BREAKER_OPEN':
      return cause(
        'run',
        e.code,
        'skipped',
        {
          title: `Not tried: earlier attempts over ${m.route ?? 'this route'} timed out`,
          fix: 'see the timeouts',
        },
        at,
      );
    case 'DEADLINE':
      return cause(
        'run',
        e.code,
        'not run',
        {
          title: 'Not tried before the total deadline',
          fix: 'raise --deadline, or test less at a time (--service, --product)',
        },
        at,
      );
  }

  // Name resolution and connection: of the proxy, of the gateway box, or of this machine.
  if (viaProxy && (e.stage === 'dns' || e.stage === 'tcp')) {
    const proxy = proxyAddress(m.route);
    const cell = e.stage === 'dns' ? 'proxy dns' : e.code === 'TCP_REFUSED' ? 'proxy refused' : 'proxy down';
    return cause(
      'proxy',
      e.code,
      cell,
      {
        title:
          e.stage === 'dns'
            ? `The proxy's name in ${proxy} does not resolve`
            : `${Who} cannot be reached from this machine (${summary})`,
        fix:
          e.code === 'TCP_REFUSED'
            ? 'nothing listens there: check the address and port, and that the gateway is running (airlock serve)'
            : 'check the address, and that a firewall lets this machine reach the proxy port',
      },
      at,
    );
  }
  const gatewayCode = mode === 'gateway' ? GATEWAY_CODES[e.code] : undefined;
  if (gatewayCode !== undefined) {
    return cause('upstream', gatewayCode, gatewayCode, upstream(gatewayCode, who, true, true), at);
  }
  const local: Partial<Record<CheckErrorCode, string>> = {
    DNS_NOT_FOUND: 'dns',
    DNS_TIMEOUT: 'dns timeout',
    TCP_REFUSED: 'tcp refused',
    TCP_UNREACHABLE: 'unreachable',
    TCP_TIMEOUT: 'tcp timeout',
    TCP_FAILED: 'tcp',
  };
  const dns = e.stage === 'dns';
  return cause(
    'local',
    e.code,
    local[e.code] ?? e.code.toLowerCase(),
    {
      title:
        mode === 'gateway'
          ? `The gateway cannot reach these destinations: ${summary}`
          : dns
            ? `This machine cannot resolve these names without a proxy (${summary})`
            : `This machine has no direct connection to these destinations (${summary})`,
      fix:
        mode === 'gateway'
          ? "check the gateway box's DNS and outgoing firewall"
          : dns
            ? "expected where only the gateway resolves external names; otherwise check this machine's DNS"
            : 'expected on a network whose only way out is the gateway; otherwise check the firewall',
    },
    at,
  );
}

/** Kinds in the order a reader should look at them: the gateway and proxies first, this machine last. */
const KIND_ORDER: readonly CauseKind[] = [
  'policy',
  'upstream',
  'proxy',
  'tls',
  'service',
  'pac',
  'run',
  'local',
];
const SEVERITY_ORDER: readonly FindingSeverity[] = ['error', 'warning', 'info'];

interface Group {
  cause: Cause;
  via: Set<string>;
  routes: Set<string>;
  urls: Set<string>;
  unreachable: Set<string>;
  requiredUnreachable: Set<string>;
  services: Set<string>;
  notTried: number;
  /** The failures are route timeouts: attempts skipped over the same route belong here. */
  timeouts: boolean;
}

function via(m: MethodResult, mode: 'client' | 'gateway'): string {
  if (mode === 'gateway' && m.route === 'DIRECT') return "the gateway box's own connections";
  return `${METHOD_LABELS[m.method]}${m.route === null ? '' : ` (${m.route})`}`;
}

/**
 * Every failure of every method, grouped by cause, most important first: causes of required
 * URLs being unreachable, then other failures of the proxies and the gateway, then this
 * machine's own (a direct connection failing where a proxy works is how a locked-down network
 * is meant to be).
 */
export function groupFindings(results: readonly TargetResult[], mode: 'client' | 'gateway'): Finding[] {
  const groups = new Map<string, Group>();
  const skipped: { target: TargetResult; method: MethodResult }[] = [];
  const attempted = new Map<string, number>();

  const groupFor = (cause: Cause, timeouts: boolean): Group => {
    let group = groups.get(cause.key);
    if (group === undefined) {
      group = {
        cause,
        via: new Set(),
        routes: new Set(),
        urls: new Set(),
        unreachable: new Set(),
        requiredUnreachable: new Set(),
        services: new Set(),
        notTried: 0,
        timeouts,
      };
      groups.set(cause.key, group);
    }
    return group;
  };
  const add = (group: Group, t: TargetResult, m: MethodResult): void => {
    group.via.add(via(m, mode));
    group.routes.add(`${m.method} ${m.route ?? ''}`);
    group.urls.add(t.target.url);
    if (!t.reachable) {
      group.unreachable.add(t.target.url);
      if (t.target.required) group.requiredUnreachable.add(t.target.url);
    }
    for (const s of t.target.services) group.services.add(s);
  };

  for (const t of results) {
    for (const m of t.methods) {
      if (m.outcome !== 'not-configured') {
        const key = `${m.method} ${m.route ?? ''}`;
        attempted.set(key, (attempted.get(key) ?? 0) + 1);
      }
      const c = causeOf(m, mode);
      if (c === null) continue;
      if (m.error?.code === 'BREAKER_OPEN') {
        skipped.push({ target: t, method: m });
        continue;
      }
      add(groupFor(c, m.error !== null && ROUTE_TIMEOUTS.has(m.error.code)), t, m);
    }
  }
  // An attempt skipped after repeated timeouts has the cause of those timeouts.
  for (const { target, method } of skipped) {
    const route = `${method.method} ${method.route ?? ''}`;
    const group =
      [...groups.values()].find((g) => g.timeouts && g.routes.has(route)) ??
      groupFor(causeOf(method, mode)!, false);
    group.notTried++;
    add(group, target, method);
  }

  const findings = [...groups.values()].map((g): Finding => {
    const c = g.cause;
    let title = c.title;
    // Every name failing through the gateway is the gateway's resolver, not the names.
    const tried = [...g.routes].reduce((n, r) => n + (attempted.get(r) ?? 0), 0);
    if (c.code === 'FAIL_DNS' && g.urls.size > 1 && g.urls.size >= tried)
      title = title.replace(
        'cannot resolve these names (DNS)',
        'cannot resolve names: every DNS lookup fails',
      );
    const severity: FindingSeverity =
      g.requiredUnreachable.size > 0
        ? 'error'
        : g.unreachable.size > 0 || c.kind !== 'local'
          ? 'warning'
          : 'info';
    const urls = [...g.urls];
    return {
      key: c.key,
      severity,
      kind: c.kind,
      code: c.code,
      title,
      fix: c.fix,
      via: [...g.via],
      urls: urls.length,
      unreachable: g.unreachable.size,
      requiredUnreachable: g.requiredUnreachable.size,
      services: [...g.services],
      examples: urls.slice(0, EXAMPLES),
      notTried: g.notTried,
    };
  });
  return findings.sort(
    (a, b) =>
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      b.urls - a.urls,
  );
}

/** Service labels of a finding: "Command and control, Cyber data and 3 more". */
export function findingServices(f: Finding, shown = 4): string {
  const labels = f.services.map(serviceLabel);
  if (labels.length <= shown) return labels.join(', ');
  return `${labels.slice(0, shown).join(', ')} and ${labels.length - shown} more`;
}
