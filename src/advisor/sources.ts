/**
 * The documents the advisor's rules rest on. Every route, condition and reading in the model
 * names one or more of these keys; renderers print the label. Keys `seed-*` are the source
 * articles Airlock started from; `R*` keys follow the numbering of the project's domain research
 * (docs/domain.md §0.2), which records where each Microsoft page was read.
 */
export const SOURCES = {
  'seed-000': 'seed 000 (disconnected environments and proxies)',
  'seed-001': 'seed 001 (which proxy configuration wins, lab)',
  'seed-003': 'seed 003 (Defender for Servers behind proxies)',
  'seed-004': 'seed 004 (Microsoft proxy configuration reference)',
  R1: 'domain.md §1.3 [R1] (standard connectivity URL list)',
  R2: 'domain.md §1.5 [R2] (streamlined connectivity URL list)',
  R3: 'domain.md §1.1 [R3] (streamlined connectivity)',
  R4: 'domain.md §4.3 [R4] (configure environment)',
  R5: 'domain.md §3.1–3.2 [R5] (configure proxy and internet connectivity)',
  R6: 'domain.md §3.1 [R6] (configure proxy connectivity, current page)',
  R7: 'domain.md §4.2 [R7] (configure proxy, older page)',
  R8: 'domain.md §4.4 [R8] (Defender Antivirus network connections)',
  R9: 'domain.md §4.2 [R9] (verify client connectivity)',
  R13: 'domain.md §3.5 [R13] (Linux static proxy configuration)',
  R14: 'domain.md §3.5 [R14] (Linux connectivity troubleshooting)',
  R20: 'domain.md §3.7 [R20] (Defender for Identity proxy)',
  R23: 'domain.md §4.3 [R23] (Defender for Identity known issues)',
  R25: 'domain.md §3.8 [R25] (Azure Monitor Agent network configuration)',
  R27: 'domain.md §3.9 [R27] (Log Analytics agent)',
  R29: 'domain.md §3.10 [R29] (Azure Arc agent proxy settings)',
  R32: 'domain.md §3.3 [R32] (netsh winhttp)',
  R33: 'domain.md §4.2 [R33] (Policy CSP System/TelemetryProxy)',
  'domain-3.4': 'domain.md §3.4 (WinINET, WPAD, PAC)',
  'domain-8': 'domain.md §8 (open questions)',
  inference: 'inference from the sources above (not stated by Microsoft)',
} as const;

export type SourceId = keyof typeof SOURCES;

export function sourceLabel(id: SourceId): string {
  return SOURCES[id];
}
