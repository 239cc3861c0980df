import type { ReasonCode } from '../errors/index.js';
import type { AccessRecord, RecordCatalog } from './access-record.js';

/** How a request the policy allowed failed to reach its service. A fixed set: metric labels use it. */
export const FAILURE_KINDS = [
  'dns',
  'connect',
  'upstream_reset',
  'upstream_timeout',
  'sni',
  'address',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

const FAILURES: Partial<Record<ReasonCode, FailureKind>> = {
  FAIL_DNS: 'dns',
  FAIL_DNS_TIMEOUT: 'dns',
  FAIL_CONNECT_REFUSED: 'connect',
  FAIL_CONNECT_UNREACHABLE: 'connect',
  FAIL_CONNECT_TIMEOUT: 'connect',
  FAIL_UPSTREAM_RESET: 'upstream_reset',
  FAIL_UPSTREAM_PROTOCOL: 'upstream_reset',
  FAIL_UPSTREAM_TIMEOUT: 'upstream_timeout',
  DENY_SNI_MISMATCH: 'sni',
  DENY_SNI_MISSING: 'sni',
  DENY_NOT_TLS: 'sni',
  BAD_TLS_HELLO: 'sni',
  TLS_HELLO_TIMEOUT: 'sni',
  DENY_DESTINATION_ADDRESS: 'address',
};

/**
 * The failure behind a record, if any: the reason it was refused or failed after the policy let
 * it through, or (for a tunnel that was established) the upstream resetting it.
 */
export function failureKind(r: AccessRecord): FailureKind | null {
  return FAILURES[r.reason] ?? (r.end === 'FAIL_UPSTREAM_RESET' ? 'upstream_reset' : null);
}

/** A policy refusal: the request never reached the point of connecting. */
export function isRefusal(r: AccessRecord): boolean {
  return r.decision === 'deny' && failureKind(r) === null;
}

/** The policy let it through and it reached the service (a tunnel established, an HTTP answer below 500). */
export function isSuccess(r: AccessRecord): boolean {
  return (
    (r.decision === 'allow' || r.decision === 'would_deny') &&
    r.status > 0 &&
    r.status < 500 &&
    FAILURES[r.reason] === undefined
  );
}

/** The key of a catalog service in state and metrics: `product/service`, or `-` outside the catalog. */
export function serviceKey(catalog: RecordCatalog | null): string {
  if (catalog === null) return UNCATALOGUED;
  let key = keys.get(catalog);
  if (key === undefined) {
    key = `${catalog.product}/${catalog.service}`;
    keys.set(catalog, key);
  }
  return key;
}

/** Catalog references are shared by every record of their rule: their key is built once. */
const keys = new WeakMap<RecordCatalog, string>();

export const UNCATALOGUED = '-';
