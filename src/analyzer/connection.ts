import { promises as dnsPromises } from 'node:dns';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import {
  checkServerIdentity,
  connect as tlsConnect,
  rootCertificates,
  type DetailedPeerCertificate,
  type TLSSocket,
} from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  authSchemes,
  findHeadEnd,
  parseResponseHead,
  proxyStatusError,
  type ResponseHead,
} from './http-head.js';
import type { CertSummary, CheckError, HttpMethod, Route, Stage, StageResult } from './model.js';
import { proxyErrorCode, type CheckErrorCode } from './outcomes.js';

import { anchorOf, publishedRootPems, spkiSha256 } from './trust-anchors.js';
import { bracketHost, hostPort } from '../text/host-port.js';
import { printable } from '../text/printable.js';

/**
 * One attempt at one URL over one route, stage by stage: resolve the name (of the origin, or
 * of the proxy), open TCP, ask the proxy for a tunnel (CONNECT) when there is one, complete
 * TLS, send the request and read the response head. Every stage has its own time limit; the
 * whole attempt also stops when the caller's signal fires (the total deadline). The TLS stage
 * accepts any certificate so the chain can be examined; trust is recorded, not enforced here.
 */

export type Lookup = (host: string) => Promise<readonly string[]>;

export interface ProbeOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly lookup?: Lookup;
  /** Trusted CAs (PEM); undefined uses Node's default store. Microsoft's published roots are always added. */
  readonly ca?: readonly string[];
  readonly now?: () => number;
  readonly userAgent?: string;
}

export interface PresentedTls {
  readonly protocol: string;
  readonly chain: readonly CertSummary[];
  readonly trusted: boolean;
  readonly trustError: string | null;
  readonly nameMatches: boolean;
  /** The public root the chain anchors in, matched by key (see trust-anchors.ts), or null. */
  readonly publicRoot: string | null;
}

export interface RouteProbe {
  readonly stages: readonly StageResult[];
  readonly status: number | null;
  readonly error: CheckError | null;
  readonly tls: PresentedTls | null;
  readonly proxyAuth: readonly string[] | null;
  readonly proxyReason: string | null;
}

const HEAD_LIMIT = 64 * 1024;
const MAX_ADDRESSES = 3;

/**
 * Why a stage failed, as the report prints it. The message may quote what the other end sent or
 * what the system made of it (a reason phrase, a TLS library error), so its invisible characters
 * are escaped here too; text already escaped is left as it is.
 */
class StageFailure extends Error {
  constructor(
    readonly code: CheckErrorCode,
    message: string,
  ) {
    super(printable(message));
  }
}

/** System resolution (getaddrinfo), IPv4 first. */
export const systemLookup: Lookup = async (host) => {
  const answers = await dnsPromises.lookup(host, { all: true });
  return [...answers.filter((a) => a.family === 4), ...answers.filter((a) => a.family === 6)].map(
    (a) => a.address,
  );
};

/**
 * The name a certificate's subject or issuer goes by, with its invisible characters escaped:
 * whoever presents the certificate (an inspecting middlebox) chose it, and the report prints it.
 */
function commonName(part: unknown): string {
  if (part === null || typeof part !== 'object') return '';
  const record = part as Record<string, string | string[] | undefined>;
  const pick = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return printable(
    pick(record.CN) ?? pick(record.O) ?? Object.values(record).map(pick).filter(Boolean).join(', '),
  );
}

function keyHash(raw: Buffer | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return spkiSha256(new X509Certificate(raw));
  } catch {
    return undefined;
  }
}

function summarize(cert: DetailedPeerCertificate): CertSummary {
  const spki = keyHash(cert.raw);
  return {
    subject: commonName(cert.subject),
    issuer: commonName(cert.issuer),
    sha256: cert.fingerprint256 ?? '',
    sha1: cert.fingerprint ?? '',
    ...(spki === undefined ? {} : { spkiSha256: spki }),
    validTo: cert.valid_to ?? '',
  };
}

/** The presented chain, leaf first (completed from the trust store when it verified), and its DER. */
function peerChain(socket: TLSSocket): { summaries: CertSummary[]; der: Buffer[] } {
  const summaries: CertSummary[] = [];
  const der: Buffer[] = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  for (let depth = 0; depth < 10 && cert !== undefined && Object.keys(cert).length > 0; depth++) {
    if (seen.has(cert.fingerprint256)) break;
    seen.add(cert.fingerprint256);
    summaries.push(summarize(cert));
    if (cert.raw !== undefined) der.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return { summaries, der };
}

function errnoCode(error: unknown): string {
  return String((error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? error);
}

function readHead(socket: Duplex, what: 'proxy' | 'http'): Promise<{ head: ResponseHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const closedCode: CheckErrorCode = what === 'proxy' ? 'PROXY_CLOSED' : 'HTTP_CLOSED';
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = findHeadEnd(buffer);
      if (end < 0) {
        if (buffer.length > HEAD_LIMIT) {
          cleanup();
          reject(new StageFailure('HTTP_MALFORMED', `response head larger than ${HEAD_LIMIT} bytes`));
        }
        return;
      }
      cleanup();
      socket.pause();
      const head = parseResponseHead(buffer.subarray(0, end).toString('latin1'));
      if ('error' in head) reject(new StageFailure('HTTP_MALFORMED', head.error));
      else resolve({ head, rest: buffer.subarray(end) });
    };
    const onEnd = (): void => {
      cleanup();
      reject(
        new StageFailure(
          closedCode,
          buffer.length === 0 ? 'closed without answering' : 'closed in the middle of the response head',
        ),
      );
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new StageFailure(closedCode, `connection error: ${errnoCode(error)}`));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}

function tcpFailure(error: unknown): StageFailure {
  const code = errnoCode(error);
  if (code === 'ECONNREFUSED') return new StageFailure('TCP_REFUSED', 'connection refused (ECONNREFUSED)');
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL')
    return new StageFailure('TCP_UNREACHABLE', `unreachable (${code})`);
  return new StageFailure('TCP_FAILED', `cannot connect (${code})`);
}

function timeoutCode(stage: Stage): CheckErrorCode {
  switch (stage) {
    case 'dns':
      return 'DNS_TIMEOUT';
    case 'tcp':
      return 'TCP_TIMEOUT';
    case 'proxy':
      return 'PROXY_TIMEOUT';
    case 'tls':
      return 'TLS_TIMEOUT';
    default:
      return 'HTTP_TIMEOUT';
  }
}

/** Tries one URL over one route. Never throws; failures are in the result. */
export async function probeRoute(
  target: { readonly url: string; readonly method: HttpMethod },
  route: Route,
  options: ProbeOptions,
): Promise<RouteProbe> {
  const now = options.now ?? (() => performance.now());
  const lookup = options.lookup ?? systemLookup;
  const url = new URL(target.url);
  const secure = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const sockets: Socket[] = [];
  const stages: StageResult[] = [];
  let tls: PresentedTls | null = null;
  const leafIssuer = (): string => tls?.chain[0]?.issuer ?? '?';
  let proxyAuth: string[] | null = null;
  let proxyReason: string | null = null;
  let status: number | null = null;
  // Set once the attempt is over: work a timed-out stage left running must not open sockets.
  let finished = false;

  const run = async <T>(stage: Stage, work: () => Promise<T>, detail: (value: T) => string): Promise<T> => {
    const started = now();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const value = await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new StageFailure(timeoutCode(stage), `${stage} timed out after ${options.timeoutMs} ms`),
              ),
            options.timeoutMs,
          );
          onAbort = () =>
            reject(new StageFailure('DEADLINE', `stopped at the total deadline during ${stage}`));
          if (options.signal?.aborted) onAbort();
          else options.signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      stages.push({ stage, ms: Math.round(now() - started), ok: true, detail: detail(value) });
      return value;
    } catch (error) {
      const failure =
        error instanceof StageFailure ? error : new StageFailure('TCP_FAILED', errnoCode(error));
      stages.push({ stage, ms: Math.round(now() - started), ok: false, detail: failure.message });
      throw failure;
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    }
  };

  const resolveName = (name: string): Promise<readonly string[]> =>
    isIP(name) !== 0
      ? Promise.resolve([name])
      : run(
          'dns',
          async () => {
            try {
              const addresses = await lookup(name);
              if (addresses.length === 0) throw new StageFailure('DNS_NOT_FOUND', `${name}: no address`);
              return addresses;
            } catch (error) {
              if (error instanceof StageFailure) throw error;
              const code = errnoCode(error);
              if (code === 'ETIMEOUT' || code === 'FAIL_DNS_TIMEOUT')
                throw new StageFailure('DNS_TIMEOUT', `${name}: resolution timed out`);
              throw new StageFailure('DNS_NOT_FOUND', `${name} did not resolve (${code})`);
            }
          },
          (a) => a.join(', '),
        );

  const openTcp = (addresses: readonly string[], tcpPort: number): Promise<Socket> =>
    run(
      'tcp',
      async () => {
        let last: StageFailure | null = null;
        for (const address of addresses.slice(0, MAX_ADDRESSES)) {
          if (finished) break;
          try {
            return await new Promise<Socket>((resolve, reject) => {
              const socket = netConnect({ host: address, port: tcpPort, noDelay: true });
              sockets.push(socket);
              socket.once('connect', () => {
                socket.removeAllListeners('error');
                socket.on('error', () => undefined);
                resolve(socket);
              });
              socket.once('error', (error) => reject(tcpFailure(error)));
            });
          } catch (error) {
            last = error as StageFailure;
          }
        }
        throw last ?? new StageFailure('TCP_FAILED', 'no address to connect to');
      },
      (s) => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`,
    );

  const authorization =
    route.kind === 'http-proxy' && route.credentials !== undefined
      ? `Proxy-Authorization: Basic ${Buffer.from(route.credentials).toString('base64')}\r\n`
      : '';
  const userAgent = options.userAgent ?? 'airlock-check';
  const authorityText = hostPort(host, port);

  try {
    if (route.kind === 'unsupported') throw new StageFailure('PROXY_UNSUPPORTED', route.why);
    let socket: Duplex;
    if (route.kind === 'direct') {
      socket = await openTcp(await resolveName(host), port);
    } else {
      socket = await openTcp(await resolveName(route.host), route.port);
      if (secure) {
        const tcp = socket;
        await run(
          'proxy',
          async () => {
            tcp.write(
              `CONNECT ${authorityText} HTTP/1.1\r\nHost: ${authorityText}\r\nUser-Agent: ${userAgent}\r\n${authorization}\r\n`,
            );
            const { head, rest } = await readHead(tcp, 'proxy');
            proxyReason = proxyStatusError(head);
            if (head.status === 407) {
              proxyAuth = authSchemes(head);
              throw new StageFailure(
                'PROXY_AUTH_REQUIRED',
                `407 ${head.reason}${proxyAuth.length > 0 ? ` (${proxyAuth.join(', ')})` : ''}`.trim(),
              );
            }
            if (head.status < 200 || head.status > 299) {
              throw new StageFailure(
                proxyErrorCode(head.status, proxyReason),
                `CONNECT answered ${head.status} ${head.reason}${proxyReason === null ? '' : ` [${proxyReason}]`}`.trim(),
              );
            }
            if (rest.length > 0) tcp.unshift(rest);
            return head;
          },
          (h) => `${h.status} ${h.reason}`.trim(),
        );
      }
    }

    if (secure) {
      const raw = socket as Socket;
      socket = await run(
        'tls',
        () =>
          new Promise<TLSSocket>((resolve, reject) => {
            const tlsSocket = tlsConnect({
              socket: raw,
              ...(isIP(host) === 0 ? { servername: host } : {}),
              ca: [...(options.ca ?? rootCertificates), ...publishedRootPems()],
              rejectUnauthorized: false,
              ALPNProtocols: ['http/1.1'],
            });
            sockets.push(tlsSocket);
            tlsSocket.once('secureConnect', () => {
              tlsSocket.removeAllListeners('error');
              tlsSocket.on('error', () => undefined);
              const { summaries: chain, der } = peerChain(tlsSocket);
              const anchor = anchorOf(der);
              const peer = tlsSocket.getPeerCertificate();
              const nameError =
                Object.keys(peer).length === 0
                  ? new Error('no certificate')
                  : checkServerIdentity(host, peer);
              tls = {
                protocol: tlsSocket.getProtocol() ?? 'TLS',
                chain,
                trusted: tlsSocket.authorized,
                trustError: tlsSocket.authorized
                  ? null
                  : String(tlsSocket.authorizationError ?? 'not trusted'),
                nameMatches: nameError === undefined,
                publicRoot: anchor === null ? null : `${anchor.name} (${anchor.program})`,
              };
              resolve(tlsSocket);
            });
            tlsSocket.once('error', (error: Error) => {
              const code = errnoCode(error);
              const extra = error.message !== '' && code !== error.message ? ` (${error.message})` : '';
              reject(new StageFailure('TLS_FAILED', `handshake failed: ${code}${extra}`));
            });
          }),
        (s) => `${s.getProtocol() ?? 'TLS'}, issuer ${leafIssuer()}`,
      );
    }

    const viaProxy = route.kind === 'http-proxy' && !secure;
    const requestTarget = viaProxy ? url.href : `${url.pathname}${url.search}`;
    const hostHeader = url.port === '' ? bracketHost(host) : authorityText;
    const stream = socket;
    const head = await run(
      'http',
      async () => {
        stream.write(
          `${target.method} ${requestTarget} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\n` +
            `${target.method === 'POST' ? 'Content-Length: 0\r\n' : ''}${viaProxy ? authorization : ''}Connection: close\r\n\r\n`,
        );
        const { head: response } = await readHead(stream, 'http');
        if (viaProxy) {
          proxyReason = proxyStatusError(response);
          if (response.status === 407) {
            proxyAuth = authSchemes(response);
            throw new StageFailure('PROXY_AUTH_REQUIRED', `407 ${response.reason}`.trim());
          }
          if (proxyReason !== null && response.status >= 400) {
            throw new StageFailure(
              proxyErrorCode(response.status, proxyReason),
              `the proxy answered ${response.status} [${proxyReason}]`,
            );
          }
        }
        return response;
      },
      (h) => `${h.status} ${h.reason}`.trim(),
    );
    status = head.status;
    return { stages, status, error: null, tls, proxyAuth, proxyReason };
  } catch (error) {
    const failure = error instanceof StageFailure ? error : new StageFailure('TCP_FAILED', errnoCode(error));
    const failed = stages.at(-1);
    return {
      stages,
      status,
      error: {
        code: failure.code,
        stage: failed !== undefined && !failed.ok ? failed.stage : null,
        message: failure.message,
      },
      tls,
      proxyAuth,
      proxyReason,
    };
  } finally {
    finished = true;
    for (const s of sockets) s.destroy();
  }
}
