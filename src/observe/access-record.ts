import type { ReasonCode } from '../errors/index.js';
import { bracketHost } from '../text/host-port.js';

/** The catalog entry behind the rule that matched: which Defender product and service the traffic is. */
export interface RecordCatalog {
  readonly id: string;
  readonly product: string;
  readonly service: string;
}

/**
 * One request or tunnel: what the access log writes, in every format. A tunnel is reported
 * twice with the same `id`: when it is established (`opened`: status 200, no bytes, `end` null)
 * and when it is over; everything else once, when it is over.
 */
export interface AccessRecord {
  /** Unique in the process and across restarts: the open and the final record of a tunnel share it. */
  readonly id: string;
  /** When the request head was received (ms since epoch). */
  readonly start: number;
  /** Duration until both sides closed (ms). */
  readonly durationMs: number;
  readonly client: string;
  readonly clientPort: number;
  /** The client's name, where a configured map (observe.clientNames) gives one. */
  readonly clientName: string | null;
  /** CONNECT, GET, ...; "-" when the request line could not be read. */
  readonly method: string;
  /** Normalised destination host ("-" when unknown). */
  readonly host: string;
  readonly port: number;
  /** Path and query for forwarded HTTP requests; null for tunnels. */
  readonly path: string | null;
  /** `would_deny`: audit mode let through what the policy refuses; `reason` says why it would be refused. */
  readonly decision: 'allow' | 'deny' | 'error' | 'would_deny';
  /** The policy decision's reason, or the failure's. */
  readonly reason: ReasonCode;
  /** How a tunnel or exchange ended (CLOSED, IDLE_TIMEOUT, ...), null when it never started. */
  readonly end: ReasonCode | null;
  /** The matched rule as written, and where it was written. */
  readonly rule: string | null;
  readonly ruleOrigin: string | null;
  /** The catalog entry of the matched rule (product and service); null for rules not from the catalog. */
  readonly catalog: RecordCatalog | null;
  /** Server name of the tunnel's TLS ClientHello, when one was read. */
  readonly sni: string | null;
  /** "address:port" actually connected to, null when no upstream was contacted. */
  readonly upstream: string | null;
  /** Status sent to the client (200 for an established tunnel); 0 when none was sent. */
  readonly status: number;
  /** Bytes received from the client / sent to the client, after the request head. */
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** Time to connect to the upstream (ms; the address that answered), null when no new connection was made. */
  readonly upstreamConnectMs: number | null;
  /** Request head to the tunnel's 200 or the response head (ms), null when no upstream answered. */
  readonly setupMs: number | null;
  /**
   * What went wrong, in words, for a failure or a refusal after the policy's decision (the DNS
   * server that did not answer, the addresses the guard refused); null otherwise. JSON only.
   */
  readonly detail: string | null;
}

const pidPart = process.pid.toString(36);
const startPart = Math.floor(Date.now() / 1000).toString(36);
let sequence = 0;

/** A record id: process id and start second (unique across restarts and workers), then a counter. */
export function newRecordId(): string {
  return `${pidPart}.${startPart}.${(++sequence).toString(36)}`;
}

/** Field names of the JSON access log: the fixed vocabulary for log pipelines. */
export const LOG_FIELDS = {
  event: 'event',
  id: 'id',
  client: 'client',
  clientPort: 'client_port',
  clientName: 'client_name',
  method: 'method',
  host: 'host',
  port: 'port',
  path: 'path',
  decision: 'decision',
  reason: 'reason',
  end: 'end',
  rule: 'rule',
  sni: 'sni',
  ruleOrigin: 'rule_origin',
  catalogId: 'catalog_id',
  product: 'product',
  service: 'service',
  upstream: 'upstream',
  status: 'status',
  bytesFromClient: 'bytes_from_client',
  bytesToClient: 'bytes_to_client',
  durationMs: 'duration_ms',
  upstreamConnectMs: 'upstream_connect_ms',
  setupMs: 'setup_ms',
  detail: 'detail',
} as const;

/** What a JSON line reports: a tunnel just established (`open`) or a request or tunnel that is over (`close`). */
export type LogEvent = 'open' | 'close';

export function toJsonFields(r: AccessRecord, event: LogEvent = 'close'): Record<string, unknown> {
  return {
    [LOG_FIELDS.event]: event,
    [LOG_FIELDS.id]: r.id,
    start: new Date(r.start).toISOString(),
    [LOG_FIELDS.client]: r.client,
    [LOG_FIELDS.clientPort]: r.clientPort,
    [LOG_FIELDS.clientName]: r.clientName,
    [LOG_FIELDS.method]: r.method,
    [LOG_FIELDS.host]: r.host,
    [LOG_FIELDS.port]: r.port,
    [LOG_FIELDS.path]: r.path,
    [LOG_FIELDS.decision]: r.decision,
    [LOG_FIELDS.reason]: r.reason,
    [LOG_FIELDS.end]: r.end,
    [LOG_FIELDS.rule]: r.rule,
    [LOG_FIELDS.sni]: r.sni,
    [LOG_FIELDS.ruleOrigin]: r.ruleOrigin,
    [LOG_FIELDS.catalogId]: r.catalog?.id ?? null,
    [LOG_FIELDS.product]: r.catalog?.product ?? null,
    [LOG_FIELDS.service]: r.catalog?.service ?? null,
    [LOG_FIELDS.upstream]: r.upstream,
    [LOG_FIELDS.status]: r.status,
    [LOG_FIELDS.bytesFromClient]: r.bytesFromClient,
    [LOG_FIELDS.bytesToClient]: r.bytesToClient,
    [LOG_FIELDS.durationMs]: r.durationMs,
    [LOG_FIELDS.upstreamConnectMs]: r.upstreamConnectMs,
    [LOG_FIELDS.setupMs]: r.setupMs,
    [LOG_FIELDS.detail]: r.detail,
  };
}

/** A string field as JSON (null stays null). */
function str(value: string | null): string {
  if (value === null) return 'null';
  // Most values need no escaping: quoting them is cheaper than a call into JSON.stringify.
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** What may need escaping: quote, backslash, controls, and surrogates (JSON.stringify escapes the lone ones). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Dates from 1970 up to the year 10000 (where toISOString's form is always 24 characters). */
const ISO_LIMIT_MS = 253402300800000;
let isoSecond = -1;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, with the part up to the second kept from the last call: a
 * log line names two times, nearly always within the same second as the line before.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < ISO_LIMIT_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    isoSecond = second;
  }
  const milli = ms - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** A number field as JSON (what JSON.stringify writes: null for NaN and the infinities). */
function num(value: number | null): string {
  return value !== null && Number.isFinite(value) ? String(value) : 'null';
}

/**
 * One JSON access-log line, newline included: `level`, `time`, the fields of `toJsonFields` in
 * its order, then `msg` ("open" or "access") — the line pino writes for them, byte for byte (a
 * test holds the two together). Written by hand because building the object and serializing it
 * generically cost a third of the JavaScript thread's time per tunnel. The id, the decision and
 * the reason codes are the gateway's own vocabulary and go out without an escaping check.
 */
export function toJsonLine(r: AccessRecord, event: LogEvent = 'close', time: number = Date.now()): string {
  const c = r.catalog;
  return (
    `{"level":"info","time":"${isoTime(time)}","event":"${event}","id":"${r.id}",` +
    `"start":"${isoTime(r.start)}","client":${str(r.client)},"client_port":${num(r.clientPort)},` +
    `"client_name":${str(r.clientName)},"method":${str(r.method)},"host":${str(r.host)},"port":${num(r.port)},` +
    `"path":${str(r.path)},"decision":"${r.decision}","reason":"${r.reason}","end":${r.end === null ? 'null' : `"${r.end}"`},` +
    `"rule":${str(r.rule)},"sni":${str(r.sni)},"rule_origin":${str(r.ruleOrigin)},` +
    `"catalog_id":${str(c?.id ?? null)},"product":${str(c?.product ?? null)},"service":${str(c?.service ?? null)},` +
    `"upstream":${str(r.upstream)},"status":${num(r.status)},"bytes_from_client":${num(r.bytesFromClient)},` +
    `"bytes_to_client":${num(r.bytesToClient)},"duration_ms":${num(r.durationMs)},` +
    `"upstream_connect_ms":${num(r.upstreamConnectMs)},"setup_ms":${num(r.setupMs)},"detail":${str(r.detail)},` +
    `"msg":"${event === 'open' ? 'open' : 'access'}"}\n`
  );
}

function squidAction(r: AccessRecord): string {
  if (r.decision === 'deny' && r.status === 0) return 'TCP_TUNNEL_ABORTED';
  if (r.decision === 'deny') return 'TCP_DENIED';
  if (r.method === 'CONNECT') return r.decision === 'allow' ? 'TCP_TUNNEL' : 'TCP_TUNNEL_ABORTED';
  return r.decision === 'allow' ? 'TCP_MISS' : 'TCP_MISS_ABORTED';
}

function squidUrl(r: AccessRecord): string {
  if (r.host === '-') return 'error:invalid-request';
  const host = bracketHost(r.host);
  if (r.method === 'CONNECT') return `${host}:${r.port}`;
  return `http://${host}${r.port === 80 ? '' : `:${r.port}`}${r.path ?? '/'}`;
}

/**
 * The Squid user field (the eighth of the native ten) as Airlock writes it: the reason code, then
 * `@product/service` when the rule came from the catalog. Audit-mode lines start `would_deny:`,
 * tunnels refused after their 200 (the SNI check) `deny:`. One token: no spaces, nothing to escape.
 */
export function squidUserField(r: AccessRecord): string {
  const mark =
    r.decision === 'would_deny' ? 'would_deny:' : r.decision === 'deny' && r.status === 200 ? 'deny:' : '';
  const service = r.catalog === null ? '' : `@${r.catalog.product}/${r.catalog.service}`;
  return `${mark}${r.reason}${service}`;
}

/**
 * Squid's "native" access.log line, so existing parsers keep working:
 * `time.ms elapsed client action/status bytes method URL user hierarchy/peer type`.
 * The byte count is what was sent to the client, as Squid counts it; the user field carries
 * the reason and the service (squidUserField).
 */
export function toSquidLine(r: AccessRecord): string {
  const end = r.start + r.durationMs;
  const time = `${Math.floor(end / 1000)}.${String(end % 1000).padStart(3, '0')}`;
  const elapsed = String(r.durationMs).padStart(6, ' ');
  const hierarchy =
    r.upstream === null
      ? 'HIER_NONE/-'
      : `HIER_DIRECT/${r.upstream.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')}`;
  return `${time} ${elapsed} ${r.client} ${squidAction(r)}/${String(r.status).padStart(3, '0')} ${r.bytesToClient} ${r.method} ${squidUrl(r)} ${squidUserField(r)} ${hierarchy} -`;
}
