export {
  CLIENT_OSES,
  crlf,
  lf,
  type ClientFile,
  type ClientNote,
  type ClientNoteCode,
  type ClientOs,
  type ClientTarget,
} from './client-file.js';
export {
  ARC_BYPASS_GROUPS,
  parseArcBypass,
  parseBypassEntry,
  parseGatewayAddress,
  parsePacUrl,
  type ArcBypassGroup,
  type GatewayAddress,
  type ParseResult,
} from './gateway-address.js';

export { psSingle, shSingle, regString, cmdQuoted, sedPattern } from './quoting.js';
export {
  ATP_KEY,
  DATA_COLLECTION_KEY,
  DEFENDER_KEY,
  defenderRegistryValues,
  psRegistryPath,
  regFileText,
  renderGpoTable,
  renderRegFile,
  renderRegistryPowerShell,
  type DefenderRegistryOptions,
  type GpoSetting,
  type RegistryScriptOptions,
  type RegistryType,
  type RegistryValue,
} from './windows-registry.js';
export {
  WINHTTP_RESET_COMMAND,
  renderWinHttpReset,
  renderWinHttpSet,
  winHttpBypassList,
  winHttpSetCommand,
} from './netsh.js';
export { preferStaticProxyValue, renderRevocationNote, type RevocationNoteOptions } from './crl.js';
export {
  mdatpManagedSettings,
  renderAptProxyConf,
  renderMdatpManagedJson,
  renderMdatpProxyScript,
  renderYumDnfProxyScript,
} from './linux-mdatp.js';
export {
  AZURE_IMDS,
  AZURE_WIRE_SERVER,
  WALINUXAGENT_DROPIN_DIR,
  WALINUXAGENT_DROPIN_NAME,
  renderWalinuxagentDropIn,
  renderWalinuxagentScript,
  walinuxagentEnvironment,
} from './systemd.js';
export { mdiInstallCommand, renderMdiInstallCmd, renderMdiProxyPowerShell } from './mdi.js';
export {
  amaPolicyParameters,
  amaSettings,
  jsonFile,
  mmaLinuxProtectedSettings,
  mmaPolicyParameters,
  mmaWindowsSettings,
  renderMmaWindowsPowerShell,
  renderOmsagentScript,
  type AmaProxySettings,
} from './ama-mma.js';
export { arcCommands, renderArcLinux, renderArcWindows } from './arc.js';
export { MACOS_PREFERENCE_DOMAIN, renderMacosPreferences } from './macos.js';
export { pacOptionErrors, pacProxyList, renderPac, type PacOptions, type PacRule } from './pac.js';
export {
  buildClientPlan,
  catalogRulesFor,
  planPac,
  type ClientPlan,
  type ClientPlanInput,
  type PacPlanInput,
} from './plan.js';
