export { LOG_FIELDS, toJsonFields, toSquidLine, type AccessRecord } from './access-record.js';
export { AccessLog, createOpsLogger, type AccessLogSink, type AccessLogFormat } from './access-log.js';
export { GatewayMetrics, METRIC_NAMES, type GatewayGauges } from './metrics.js';
