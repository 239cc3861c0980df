/**
 * The advisor: which route each Defender component takes on a machine, whether it works, why,
 * and which setting to change. Pure: it takes text and data and returns data.
 */
export { explainInputs, type ExplainInputsResult } from './explain-inputs.js';
export { explainMachine, type ExplainOptions } from './explain-machine.js';
export type {
  Alternative,
  ComponentVerdict,
  Explanation,
  Fix,
  PolicyCheck,
  ReadingSummary,
  Route,
  Verdict,
} from './explanation.js';
export {
  detectInputKind,
  parseInput,
  parseManagedJson,
  type InputError,
  type InputFile,
  type InputKind,
  type ParsedInput,
} from './detect-input.js';
export {
  machineDescriptionSchema,
  parseMachineDescription,
  validateMachineDescription,
  type MachineDescription,
  type Product,
  type WindowsVersion,
} from './machine-schema.js';
export { normalizeMachine, type Machine, type NormalizedMachine, type ProxyFacts } from './machine.js';
export { mergeFacts, type MachineFacts } from './machine-facts.js';
export { parseNetshAdvproxy, parseNetshWinHttp } from './parse-netsh.js';
export {
  decodeWinHttpSettings,
  hexToBytes,
  parseWinHttpBlob,
  type WinHttpSettings,
} from './parse-winhttp-blob.js';
export {
  REGISTRY_FACTS,
  parseRegExport,
  parseRegQuery,
  parseRegistryText,
  registryFacts,
  type RegistryValue,
} from './parse-reg.js';
export { parseMpPreference } from './parse-mppreference.js';
export { parseMdatpConfig, parseMdatpHealth } from './parse-mdatp.js';
export type { ParseIssue, ParseResult } from './parse-result.js';
export { COMPONENTS, type ComponentDefinition, type ComponentId } from './components.js';
export { ROUTE_SOURCES, type RouteSourceId } from './route-sources.js';
export { ADJUSTMENTS, VERDICT_RULES } from './verdict-rules.js';
export {
  DEFAULT_READINGS,
  DISAGREEMENTS,
  READING_VALUES,
  type DisagreementId,
  type Readings,
} from './disagreements.js';
export { INFERENCE_TEXT, citedSource, type CitedSource, type SourceId } from './sources.js';
export { parseProxyAddress, selectHttpsProxy, type ProxyAddress } from './proxy-address.js';
export { renderJson } from './render-json.js';
export { renderMarkdown } from './render-markdown.js';
export { renderText } from './render-text.js';
export { EXPLAIN_FORMATS, renderExplanation, type ExplainFormat } from './render-explanation.js';
