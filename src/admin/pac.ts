import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderPac } from '../clients/index.js';
import { normalizeHost, type Policy } from '../policy/index.js';
import { AdminServer, type AdminState } from './admin-server.js';

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
    proxies = [
      normalized.kind === 'ip' && normalized.family === 6
        ? `[${normalized.address}]:${proxyPort}`
        : `${host}:${proxyPort}`,
    ];
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

/**
 * Answers PAC/WPAD requests that arrive on the proxy port (origin-form requests); true if it
 * answered. `current` is read per request, so a reload changes the file at once.
 */
export function pacResponder(
  current: () => { readonly policy: Policy; readonly pac: PacSettings },
  proxyPort: () => number,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const state: AdminState = {
    ready: () => true,
    stats: () => ({}),
    pac: (host) => {
      const { policy, pac } = current();
      return pacFor(policy, pac, proxyPort(), host);
    },
  };
  return (req, res) => AdminServer.servePac(state, req, res);
}
