import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { parseAddress } from '../policy/index.js';
import { hostPort } from '../text/host-port.js';
import { CONTROL, printable } from '../text/printable.js';

/**
 * Proxy auto-config evaluation. The script runs in a QuickJS (WebAssembly) sandbox through
 * pac-resolver, with a time and memory limit, and sees no network: the name functions
 * (`dnsResolve`, `isResolvable`, `isInNet`) answer from names the caller resolves, and
 * `myIpAddress` returns the address the caller gives.
 *
 * The sandbox functions are synchronous, so a script that loops is interrupted inside the
 * call and the error comes back to the caller. Names a script asks for are learnt by running
 * it: a first run records every name it looked up, the caller's resolver answers them, and the
 * script runs again with those answers, until it asks for nothing new (a few rounds at most).
 *
 * The script comes from whoever serves the PAC URL (a WPAD server, say), so what it returns,
 * throws or passes to alert() leaves this module with its invisible characters escaped: the
 * report prints it, and an escape sequence in it would reach the terminal.
 */

export type PacEntry =
  | { readonly kind: 'DIRECT' }
  | {
      readonly kind: 'PROXY' | 'HTTP' | 'HTTPS' | 'SOCKS' | 'SOCKS4' | 'SOCKS5';
      readonly host: string;
      readonly port: number;
    };

export interface PacDecision {
  /** The script's answer as returned, its invisible characters escaped (\x1b). */
  readonly raw: string;
  readonly entries: readonly PacEntry[];
  /** Messages the script passed to alert(), escaped the same way. */
  readonly alerts: readonly string[];
}

export interface PacOptions {
  /** Resolves a name for the script (IPv4 first, as the PAC functions expect); null when it does not resolve. */
  readonly resolveName?: (host: string) => Promise<string | null>;
  /** What myIpAddress() returns. */
  readonly myIpAddress?: string;
  /** How long one call of FindProxyForURL may run. */
  readonly timeLimitMs?: number;
  readonly memoryLimitBytes?: number;
  /** Clock for the time limit and for the date functions' notion of now (tests). */
  readonly now?: () => number;
}

export interface PacEvaluator {
  findProxy(url: string): Promise<PacDecision>;
  dispose(): void;
}

const MAX_ROUNDS = 4;
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  PROXY: 80,
  HTTP: 80,
  HTTPS: 443,
  SOCKS: 1080,
  SOCKS4: 1080,
  SOCKS5: 1080,
};

/** Parses a FindProxyForURL answer ("PROXY a:3128; DIRECT"). Unknown or malformed entries are errors. */
export function parsePacResult(text: string): PacEntry[] | { error: string } {
  const entries: PacEntry[] = [];
  for (const part of text.split(';')) {
    const item = part.trim();
    if (item === '') continue;
    const [keyword = '', address, ...extra] = item.split(/\s+/);
    const kind = keyword.toUpperCase();
    if (kind === 'DIRECT' && address === undefined) {
      entries.push({ kind: 'DIRECT' });
      continue;
    }
    if (!(kind in DEFAULT_PORTS) || address === undefined || extra.length > 0) {
      return {
        error: `"${printable(item)}" is not DIRECT, PROXY host:port, HTTPS host:port or SOCKS host:port`,
      };
    }
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(address);
    const port = m?.[3] === undefined ? DEFAULT_PORTS[kind]! : Number(m[3]);
    const host = m?.[1] ?? m?.[2];
    // A host with invisible characters in it names no proxy, and would be printed in the route.
    if (host === undefined || CONTROL.test(host) || port < 1 || port > 65535)
      return { error: `"${printable(item)}": bad host:port` };
    entries.push({ kind: kind as Exclude<PacEntry['kind'], 'DIRECT'>, host, port });
  }
  if (entries.length === 0) return { error: 'empty answer' };
  return entries;
}

function ipv4InNet(address: string, pattern: string, mask: string): boolean {
  const a = parseAddress(address);
  const p = parseAddress(pattern);
  const m = parseAddress(mask);
  if (a?.family !== 4 || p?.family !== 4 || m?.family !== 4) return false;
  return (a.words[0]! & m.words[0]!) >>> 0 === (p.words[0]! & m.words[0]!) >>> 0;
}

function isAddress(text: string): boolean {
  return parseAddress(text) !== null;
}

class Evaluator implements PacEvaluator {
  private deadline = 0;
  private readonly names = new Map<string, string | null>();
  private asked = new Set<string>();
  private alerts: string[] = [];
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly vm: QuickJS;
  private readonly find: (url: string, host?: string) => Promise<string>;

  constructor(
    vm: QuickJS,
    script: string,
    private readonly options: PacOptions,
  ) {
    this.vm = vm;
    const lookup = (host: unknown): string | null => {
      const name = String(host).toLowerCase();
      if (isAddress(name)) return name;
      if (!this.names.has(name)) {
        this.asked.add(name);
        return null;
      }
      return this.names.get(name) ?? null;
    };
    this.find = createPacResolver(vm, script, {
      filename: 'proxy.pac',
      sandbox: {
        dnsResolve: (host: unknown) => lookup(host),
        isResolvable: (host: unknown) => lookup(host) !== null,
        isInNet: (host: unknown, pattern: unknown, mask: unknown) => {
          const address = lookup(host);
          return address !== null && ipv4InNet(address, String(pattern), String(mask));
        },
        myIpAddress: () => options.myIpAddress ?? '127.0.0.1',
        alert: (message: unknown) => {
          if (this.alerts.length < 50) this.alerts.push(printable(String(message)));
        },
      },
    });
  }

  interrupted(): boolean {
    return this.deadline > 0 && (this.options.now ?? Date.now)() > this.deadline;
  }

  /** Calls run one at a time: the sandbox and the names a call asks for are shared state. */
  findProxy(url: string): Promise<PacDecision> {
    const result = this.queue.then(() => this.evaluate(url));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async evaluate(url: string): Promise<PacDecision> {
    if (this.disposed) throw new Error('the PAC evaluator is disposed');
    const parsed = new URL(url);
    const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    let raw: unknown = null;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      this.asked = new Set();
      this.alerts = [];
      this.deadline = (this.options.now ?? Date.now)() + (this.options.timeLimitMs ?? 1000);
      try {
        raw = await this.find(url, host);
      } catch (error) {
        const e = error as Error;
        const why = /interrupted/i.test(String(e.message))
          ? `ran longer than ${this.options.timeLimitMs ?? 1000} ms`
          : `${e.name ?? 'Error'}: ${e.message}`;
        throw new PacError(`FindProxyForURL("${url}") ${why}`);
      } finally {
        this.deadline = 0;
      }
      if (this.asked.size === 0 || this.options.resolveName === undefined) break;
      const resolve = this.options.resolveName;
      const pending = [...this.asked].slice(0, 16);
      const answers = await Promise.all(pending.map((name) => resolve(name).catch(() => null)));
      pending.forEach((name, i) => this.names.set(name, answers[i] ?? null));
    }
    if (typeof raw !== 'string') {
      throw new PacError(
        `FindProxyForURL("${url}") returned ${raw === null ? 'null' : typeof raw}, not a string`,
      );
    }
    const entries = parsePacResult(raw);
    const answer = printable(raw);
    if ('error' in entries)
      throw new PacError(`FindProxyForURL("${url}") returned "${answer}": ${entries.error}`);
    return { raw: answer, entries, alerts: [...this.alerts] };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.vm.dispose();
  }
}

/**
 * A PAC script that cannot be had, compiled or evaluated; the message says which and why. It may
 * quote what the script threw or what its server answered, so its invisible characters are
 * escaped here; text already escaped is left as it is.
 */
export class PacError extends Error {
  constructor(
    message: string,
    readonly code: 'PAC_FAILED' | 'PAC_DOWNLOAD_FAILED' = 'PAC_FAILED',
  ) {
    super(printable(message));
    this.name = 'PacError';
  }
}

/** An evaluator for a PAC script that could not be had: every lookup fails with why. */
export function unavailablePac(why: string): PacEvaluator {
  return {
    findProxy: () => Promise.reject(new PacError(why, 'PAC_DOWNLOAD_FAILED')),
    dispose: () => undefined,
  };
}

/** Compiles a PAC script in a fresh sandbox. Throws PacError when it does not define FindProxyForURL. */
export async function createPacEvaluator(script: string, options: PacOptions = {}): Promise<PacEvaluator> {
  let evaluator: Evaluator | null = null;
  const vm = await QuickJS.create({
    interruptHandler: () => evaluator?.interrupted() ?? false,
    memoryLimit: options.memoryLimitBytes ?? 32 * 1024 * 1024,
  });
  try {
    evaluator = new Evaluator(vm, script, options);
    return evaluator;
  } catch (error) {
    vm.dispose();
    const e = error as Error;
    throw new PacError(`the PAC script does not compile: ${e.message}`);
  }
}

/** A route for one PAC entry's proxy, as text for messages ("PROXY 10.0.0.1:3128"). */
export function formatPacEntry(entry: PacEntry): string {
  if (entry.kind === 'DIRECT') return 'DIRECT';
  return `${entry.kind} ${hostPort(entry.host, entry.port)}`;
}
