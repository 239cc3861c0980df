export { normalizeHost, splitAuthority, parsePort, type NormalizedHost } from './host.js';
export {
  parseCidr,
  parseAddress,
  cidrContains,
  formatWords,
  CidrList,
  type Cidr,
  type ParsedAddress,
} from './cidr.js';
export {
  parseHostPattern,
  formatHostPattern,
  patternMatches,
  patternCovers,
  type HostPattern,
  type HostPatternKind,
} from './host-pattern.js';
export { HostTrie } from './host-trie.js';
export {
  compilePolicy,
  DEFAULT_HTTP_METHODS,
  decide,
  decideDestination,
  judgeServerName,
  serverNameChecked,
  sourceAllowed,
  methodKind,
  catalogRefFor,
  type Policy,
  type PolicySpec,
  type SourceSpec,
  type DestinationSpec,
  type DestinationRule,
  type RuleOrigin,
  type RuleCatalogRef,
  type Decision,
  type DecisionRequest,
  type HelloObservation,
  type ServerNameJudgement,
  type TlsRules,
  type Verdict,
  type MethodKind,
  type CompileResult,
} from './policy.js';
export { parseDstdomain, singleLabelWarning, type DstdomainResult } from './dstdomain.js';
export { classifyAddress, embeddedIPv4s, type AddressClass } from './address-class.js';
export { checkResolvedAddress, type AddressVerdict } from './policy.js';
