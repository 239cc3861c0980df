import { renderPac } from '../clients/pac.js';
import { normalizeHost, type Policy } from '../policy/index.js';
import type { OriginFormResponder } from '../gateway/index.js';
import { hostPort } from '../text/host-port.js';

const PAC_TYPE = 'application/x-ns-proxy-autoconfig';

/**
 * The PAC file for the policy in force: its host rules go to the gateway(s), everything else
 * DIRECT (or to the configured proxy). Without configured proxies, the gateway names itself by
 * the host the client used to fetch the file.
 */
export function pacFor(
  policy: Policy,
  pac: PacSettings,
  proxyPort: number,
  requestHost: string | undefined,
): string | null {
  let proxies = [...pac.proxies];
  if (proxies.length === 0) {
    if (requestHost === undefined) return null;
    const host = requestHost.startsWith('[')
      ? requestHost.slice(0, requestHost.indexOf(']') + 1)
      : requestHost.replace(/:\d*$/, '');
    const normalized = normalizeHost(host);
    if (normalized.kind === 'invalid') return null;
    proxies = [hostPort(normalized.kind === 'ip' ? normalized.address : host, proxyPort)];
  }
  const rules = policy.rules.flatMap((r) =>
    r.pattern === null
      ? []
      : [{ host: r.text, pattern: r.pattern, ports: [...(r.ports ?? [])], contributions: [] }],
  );
  try {
    return renderPac(rules, { proxies, otherwise: pac.otherwise, generatedBy: 'the Airlock gateway' });
  } catch {
    // A proxy named by a client's Host header that the renderer refuses: no PAC rather than a broken one.
    return null;
  }
}

/** The PAC file's proxy settings (`admin.pac` in the configuration). */
export interface PacSettings {
  readonly proxies: readonly string[];
  readonly otherwise: string;
}

const PAC_PATHS = new Set(['/proxy.pac', '/wpad.dat']);

/**
 * The PAC file for origin-form requests on the proxy port (GET /proxy.pac, /wpad.dat), or
 * null for any other request. `current` is read per request, so a reload changes the file at once.
 */
export function pacResponder(
  current: () => { readonly policy: Policy; readonly pac: PacSettings },
  proxyPort: () => number,
): OriginFormResponder {
  return (method, target, host) => {
    if (method !== 'GET' && method !== 'HEAD') return null;
    const path = target.split('?')[0]!;
    if (!PAC_PATHS.has(path)) return null;
    const { policy, pac } = current();
    const text = pacFor(policy, pac, proxyPort(), host);
    if (text === null)
      return {
        status: 404,
        headers: ['Content-Type', 'text/plain'],
        body: Buffer.from('PAC is not configured (admin.pac.proxies)\n'),
      };
    return {
      status: 200,
      headers: ['Content-Type', PAC_TYPE, 'Cache-Control', 'max-age=300'],
      body: Buffer.from(text, 'utf8'),
    };
  };
}
