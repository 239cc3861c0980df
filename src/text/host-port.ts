/**
 * Writing a host next to a port: IPv6 literals go in brackets ("[2001:db8::1]:3128"), names and
 * IPv4 addresses as they are. The one place the bracket rule is written down.
 */

/** The host as it stands before ":port" or in a URL: an IPv6 literal in brackets. */
export function bracketHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** "host:port", IPv6 literals in brackets. */
export function hostPort(host: string, port: number | string): string {
  return `${bracketHost(host)}:${port}`;
}
