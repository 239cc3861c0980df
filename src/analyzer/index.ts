/**
 * The analyzer: connectivity from this machine (or the gateway box) to Defender endpoints,
 * through every proxy method, with TLS-inspection and proxy-authentication findings.
 * `report/` holds the pure renderers.
 */
export {
  METHOD_IDS,
  METHOD_LABELS,
  STAGES,
  routeKey,
  type CheckReport,
  type CheckTarget,
  type CheckError,
  type CertSummary,
  type HttpMethod,
  type InspectionVerdict,
  type MethodId,
  type MethodOutcome,
  type MethodResult,
  type MethodSetting,
  type NotTestable,
  type Route,
  type ServiceStatus,
  type ServiceSummary,
  type Stage,
  type StageResult,
  type TargetResult,
  type TlsFinding,
} from './model.js';
export { CHECK_ERRORS, proxyErrorCode, type CheckErrorCode } from './outcomes.js';
export {
  causeOf,
  groupFindings,
  findingServices,
  type Cause,
  type CauseKind,
  type Finding,
  type FindingSeverity,
} from './causes.js';
export { parseProxySpec } from './proxy-spec.js';
export {
  envProxyFor,
  matchNoProxy,
  splitNoProxy,
  noProxyWarnings,
  proxyVariable,
  noProxyVariable,
  describeEnvironment,
  redactCredentials,
  type Environment,
  type EnvProxyDecision,
} from './env-proxy.js';
export {
  createPacEvaluator,
  parsePacResult,
  formatPacEntry,
  unavailablePac,
  PacError,
  type PacDecision,
  type PacEntry,
  type PacEvaluator,
  type PacOptions,
} from './pac.js';
export { loadPacScript, type PacSource } from './pac-source.js';
export {
  builtinIssuerData,
  parseIssuerData,
  mergeIssuerData,
  issuerClassFor,
  judgeChain,
  issuerDataNotes,
  hostMatchesGlob,
  issuerDataSchema,
  type IssuerData,
  type IssuerClass,
  type IssuerAnchor,
  type ChainJudgement,
} from './issuers.js';
export {
  probeForHost,
  probesUnderWildcard,
  ANALYZER_STATUSES,
  SERVICE_ANSWER_STATUSES,
  type Probe,
} from './probes.js';
export {
  destinationsFromCatalog,
  destinationsFromPolicy,
  planTargets,
  targetsFromUrls,
  serviceLabel,
  type Destination,
  type Endpoint,
  type PolicyPorts,
  type TargetPlan,
} from './targets.js';
export { componentsThatCannotAuthenticate, componentsThatCanAuthenticate } from './proxy-auth.js';
export {
  probeRoute,
  systemLookup,
  type Lookup,
  type ProbeOptions,
  type PresentedTls,
  type RouteProbe,
} from './connection.js';
export { judgeTarget, summarizeServices, type MethodAttempt } from './judge.js';
export {
  runCheck,
  describeMethods,
  pacNameResolver,
  BREAKER_THRESHOLD,
  type MethodConfig,
  type ProbeFunction,
  type RunOptions,
} from './runner.js';
export { parseResponseHead, proxyStatusError, authSchemes, type ResponseHead } from './http-head.js';
