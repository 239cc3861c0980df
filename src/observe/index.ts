export {
  LOG_FIELDS,
  newRecordId,
  squidUserField,
  toJsonFields,
  toJsonLine,
  toSquidLine,
  type AccessRecord,
  type LogEvent,
  type RecordCatalog,
} from './access-record.js';
export { AccessLog, createOpsLogger, type AccessLogSink, type AccessLogFormat } from './access-log.js';
export {
  GatewayMetrics,
  SupervisorMetrics,
  METRIC_NAMES,
  DNS_RESULTS,
  type DnsResult,
  type GatewayGauges,
  type RelayCounters,
} from './metrics.js';
export {
  FAILURE_KINDS,
  failureKind,
  isSuccess,
  serviceKey,
  UNCATALOGUED,
  type FailureKind,
} from './outcome.js';
export {
  StateRecorder,
  RECORDER_LIMITS,
  deltaToWire,
  deltaFromWire,
  type StateDelta,
  type TunnelInfo,
  type DenialInfo,
  type RecorderLimits,
} from './state-delta.js';
export {
  ObservedState,
  idleServiceRow,
  DEFAULT_STATE_LIMITS,
  ACTIVE_WINDOW_MS,
  type StateLimits,
  type StateTotals,
  type StateChanges,
  type ClientRow,
  type ServiceRow,
  type DeniedRow,
  type TunnelRow,
  type DenialView,
} from './observed-state.js';
