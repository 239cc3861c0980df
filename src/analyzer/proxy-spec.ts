import type { Route } from './model.js';

/**
 * Proxy addresses as curl reads them: `host:port`, `http://[user:password@]host[:port]`, or
 * another scheme. A missing scheme means http; a missing port means 1080 for http (curl's
 * default) and 443 for https. Only plain-HTTP proxies are tested: TLS to the proxy and SOCKS
 * come back as `unsupported` routes that say so.
 */
export function parseProxySpec(text: string): Route | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'empty proxy address' };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { error: `"${trimmed}" is not a proxy address (host:port or http://host:port)` };
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (url.hostname === '') return { error: `"${trimmed}" names no host` };
  if (url.pathname !== '/' && url.pathname !== '') {
    return { error: `"${trimmed}": a proxy address has no path` };
  }
  if (scheme === 'https') {
    return {
      kind: 'unsupported',
      text: `PROXY ${trimmed}`,
      why: 'TLS to the proxy (https://) is not tested',
    };
  }
  if (scheme.startsWith('socks')) {
    return { kind: 'unsupported', text: `SOCKS ${trimmed}`, why: 'SOCKS proxies are not tested' };
  }
  if (scheme !== 'http') return { error: `"${trimmed}": unknown proxy scheme ${scheme}://` };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 1080 : Number(url.port);
  const route: Route =
    url.username === ''
      ? { kind: 'http-proxy', host, port }
      : {
          kind: 'http-proxy',
          host,
          port,
          credentials: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
        };
  return route;
}
