import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { AirlockError } from '../errors/index.js';
import type { DnsResult } from '../observe/index.js';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
  /** From the configuration's own `hosts:` section: the operator named it, so the address guard does not apply. */
  readonly pinned: boolean;
}

export interface ResolverOptions {
  /** The configuration's `hosts:` answers: name → addresses. First, and trusted. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** The system hosts file's answers: before DNS, but judged by the address guard like DNS answers. */
  readonly systemHosts?: ReadonlyMap<string, readonly string[]>;
  readonly servers?: readonly string[] | undefined;
  readonly timeoutMs: number;
  readonly tries: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly negativeTtlMs: number;
  readonly prefer: 'ipv4' | 'ipv6';
  /** Distinct names being looked up at once; a new name past it fails at once (default 256). */
  readonly maxLookupsInFlight?: number;
  readonly now?: () => number;
  /** Told how each lookup was answered (for metrics). */
  readonly onAnswer?: ((result: DnsResult) => void) | undefined;
}

/**
 * Distinct names looked up at once, per process. Legitimate traffic needs a few dozen (the
 * endpoints of a policy; concurrent requests for one name share its lookup); only many
 * distinct names under a wildcard rule while DNS hangs come near it. Each lookup holds two
 * queries for up to dns.timeout × (2^dns.tries − 1).
 */
const MAX_LOOKUPS_IN_FLIGHT = 256;

interface CacheEntry {
  readonly addresses: readonly ResolvedAddress[];
  readonly expires: number;
  /** Set for a cached failure. */
  readonly error: AirlockError | null;
}

type FamilyResult = { addresses: ResolvedAddress[]; ttlMs: number } | { error: NodeJS.ErrnoException };

/**
 * Name resolution for upstream connections: static overrides first, then DNS through c-ares
 * (never the getaddrinfo thread pool), A and AAAA in parallel, cached for their TTL (clamped),
 * failures cached briefly, concurrent lookups of one name shared, and a bound on the names
 * looked up at once so a DNS server that hangs cannot pile lookups up. Every failure says why,
 * in words, with the servers asked.
 */
export class Resolver {
  private readonly dns: dnsPromises.Resolver;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<readonly ResolvedAddress[]>>();
  private readonly staticHosts = new Map<string, readonly ResolvedAddress[]>();
  private readonly now: () => number;
  private readonly answered: (result: DnsResult) => void;
  private readonly maxInFlight: number;

  constructor(private readonly options: ResolverOptions) {
    this.dns = new dnsPromises.Resolver({ timeout: options.timeoutMs, tries: options.tries });
    if (options.servers && options.servers.length > 0) this.dns.setServers([...options.servers]);
    this.now = options.now ?? Date.now;
    this.answered = options.onAnswer ?? (() => undefined);
    this.maxInFlight = options.maxLookupsInFlight ?? MAX_LOOKUPS_IN_FLIGHT;
    this.load(options.hosts, options.systemHosts ?? new Map());
  }

  /** Replaces the static answers (on reload) and forgets cached DNS answers. */
  setStaticHosts(
    hosts: ReadonlyMap<string, readonly string[]>,
    systemHosts: ReadonlyMap<string, readonly string[]>,
  ): void {
    this.staticHosts.clear();
    this.load(hosts, systemHosts);
    this.cache.clear();
  }

  private load(
    hosts: ReadonlyMap<string, readonly string[]>,
    systemHosts: ReadonlyMap<string, readonly string[]>,
  ): void {
    for (const [name, addresses] of systemHosts) {
      this.staticHosts.set(
        name,
        addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4, pinned: false })),
      );
    }
    for (const [name, addresses] of hosts) {
      this.staticHosts.set(
        name,
        addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4, pinned: true })),
      );
    }
  }

  /** This resolver's clock (ms), as its cache expiries read. */
  clock(): number {
    return this.now();
  }

  /** Number of cached names (for metrics and tests). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Distinct names being looked up now. */
  get lookupsInFlight(): number {
    return this.inflight.size;
  }

  /**
   * The answer for `name` if one is known now (static hosts, or a fresh cache entry) without
   * waiting: the addresses, an AirlockError for a cached failure, or undefined (must resolve).
   */
  known(name: string): readonly ResolvedAddress[] | AirlockError | undefined {
    const fixed = this.staticHosts.get(name);
    if (fixed !== undefined) {
      this.answered('static');
      return fixed;
    }
    const cached = this.cache.get(name);
    if (cached === undefined || cached.expires <= this.now()) return undefined;
    this.answered(cached.error === null ? 'cached' : 'cached_failure');
    return cached.error ?? cached.addresses;
  }

  /**
   * Until when (this resolver's clock, ms) the answer `known(name)` gives now stays the same:
   * forever for a static host, the cache entry's expiry for a cached answer, 0 when none.
   */
  freshUntil(name: string): number {
    if (this.staticHosts.has(name)) return Number.POSITIVE_INFINITY;
    const cached = this.cache.get(name);
    return cached === undefined || cached.error !== null ? 0 : cached.expires;
  }

  /** Addresses for `name` (normalised), in the order they should be tried. Throws AirlockError FAIL_DNS / FAIL_DNS_TIMEOUT. */
  async resolve(name: string): Promise<readonly ResolvedAddress[]> {
    const fixed = this.staticHosts.get(name);
    if (fixed !== undefined) {
      this.answered('static');
      return fixed;
    }
    const cached = this.cache.get(name);
    if (cached !== undefined) {
      if (cached.expires > this.now()) {
        this.answered(cached.error === null ? 'cached' : 'cached_failure');
        if (cached.error !== null) throw cached.error;
        return cached.addresses;
      }
      this.cache.delete(name);
    }
    let pending = this.inflight.get(name);
    if (pending === undefined) {
      if (this.inflight.size >= this.maxInFlight) {
        throw new AirlockError(
          'FAIL_DNS',
          `${name} was not looked up: ${this.maxInFlight} other names are still waiting for ${this.serversText()}`,
        );
      }
      pending = this.lookup(name).finally(() => this.inflight.delete(name));
      this.inflight.set(name, pending);
    }
    return pending;
  }

  private async lookup(name: string): Promise<readonly ResolvedAddress[]> {
    const [v4, v6] = await Promise.all([this.query(name, 4), this.query(name, 6)]);
    const a = 'addresses' in v4 ? v4.addresses : [];
    const aaaa = 'addresses' in v6 ? v6.addresses : [];
    const now = this.now();
    if (a.length === 0 && aaaa.length === 0) {
      const codes = [v4, v6].map((r) => ('error' in r ? (r.error.code ?? 'EUNKNOWN') : 'ENODATA'));
      const timedOut = codes.includes('ETIMEOUT');
      this.answered(dnsFailure(codes));
      const error = timedOut
        ? new AirlockError(
            'FAIL_DNS_TIMEOUT',
            `DNS lookup of ${name} timed out: no answer from ${this.serversText()} (dns.timeout ${this.options.timeoutMs} ms, dns.tries ${this.options.tries})`,
          )
        : new AirlockError('FAIL_DNS', `${name} did not resolve: ${this.causeText(codes[0]!, codes[1]!)}`);
      if (!timedOut)
        this.cache.set(name, { addresses: [], expires: now + this.options.negativeTtlMs, error });
      throw error;
    }
    const ttls = [v4, v6].filter(
      (r): r is { addresses: ResolvedAddress[]; ttlMs: number } => 'addresses' in r && r.addresses.length > 0,
    );
    const ttl = Math.min(...ttls.map((r) => r.ttlMs));
    const addresses = interleave(
      this.options.prefer === 'ipv4' ? a : aaaa,
      this.options.prefer === 'ipv4' ? aaaa : a,
    );
    this.cache.set(name, { addresses, expires: now + ttl, error: null });
    this.answered('ok');
    return addresses;
  }

  private async query(name: string, family: 4 | 6): Promise<FamilyResult> {
    try {
      const records =
        family === 4
          ? await this.dns.resolve4(name, { ttl: true })
          : await this.dns.resolve6(name, { ttl: true });
      const minTtl = records.reduce((m, r) => Math.min(m, r.ttl * 1000), Number.POSITIVE_INFINITY);
      const ttlMs = Math.min(
        this.options.maxTtlMs,
        Math.max(this.options.minTtlMs, Number.isFinite(minTtl) ? minTtl : 0),
      );
      return { addresses: records.map((r) => ({ address: r.address, family, pinned: false })), ttlMs };
    } catch (error) {
      return { error: error as NodeJS.ErrnoException };
    }
  }

  clear(): void {
    this.cache.clear();
  }

  private serversText(): string {
    const servers = this.dns.getServers();
    return servers.length === 0 ? 'no DNS server' : `DNS server ${servers.join(', ')}`;
  }

  /** Why a name did not resolve, from the A and AAAA lookups' error codes. */
  private causeText(v4: string, v6: string): string {
    const words = (code: string): string => {
      const servers = this.serversText();
      switch (code) {
        case 'ENOTFOUND':
          return 'no such name (NXDOMAIN)';
        case 'ENODATA':
          return 'no address records';
        case 'ESERVFAIL':
          return `${servers} answered SERVFAIL`;
        case 'EREFUSED':
          return `${servers} refused the query (REFUSED)`;
        case 'ECONNREFUSED':
          // Over UDP nothing listens there; over TCP (after a truncated answer) no DNS over TCP.
          return `${servers} refused the connection: nothing answers DNS there (over UDP, or over TCP after a truncated answer)`;
        case 'EBADRESP':
        case 'EFORMERR':
          return `${servers} sent a malformed answer (${code})`;
        default:
          return `${code} from ${servers}`;
      }
    };
    if (v4 === v6) return words(v4);
    return `A: ${words(v4)}; AAAA: ${words(v6)}`;
  }
}

/** The result a failed lookup is counted as: the most telling of the two families' error codes. */
function dnsFailure(codes: readonly (string | undefined)[]): DnsResult {
  if (codes.includes('ETIMEOUT')) return 'timeout';
  if (codes.includes('ENOTFOUND')) return 'nxdomain';
  if (codes.includes('ESERVFAIL')) return 'servfail';
  if (codes.includes('EREFUSED')) return 'refused';
  if (codes.every((c) => c === 'ENODATA')) return 'nodata';
  return 'error';
}

/** Preferred family first, alternating, so one dead family costs one attempt, not all. */
function interleave(
  first: readonly ResolvedAddress[],
  second: readonly ResolvedAddress[],
): ResolvedAddress[] {
  const out: ResolvedAddress[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) out.push(first[i]!);
    if (i < second.length) out.push(second[i]!);
  }
  return out;
}

/** Parses /etc/hosts text into name → addresses (first address wins per family order as written). */
export function parseHostsFile(text: string): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [address, ...names] = line.split(/\s+/);
    if (address === undefined || isIP(address.replace(/%.*$/, '')) === 0 || address.includes('%')) continue;
    for (const name of names) {
      const key = name.toLowerCase().replace(/\.$/, '');
      const list = hosts.get(key);
      if (list === undefined) hosts.set(key, [address]);
      else if (!list.includes(address)) list.push(address);
    }
  }
  return hosts;
}
