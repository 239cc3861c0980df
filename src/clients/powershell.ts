/**
 * The opening every generated PowerShell script shares: -WhatIf support, strict mode, stop on
 * the first error, and a refusal to change anything unless run elevated (previewing with
 * -WhatIf needs no elevation).
 */
export const POWERSHELL_PREAMBLE: readonly string[] = [
  '[CmdletBinding(SupportsShouldProcess = $true)]',
  'param()',
  '',
  'Set-StrictMode -Version 2.0',
  "$ErrorActionPreference = 'Stop'",
  '',
  '$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())',
  'if (-not $WhatIfPreference -and -not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {',
  "    $host.UI.WriteErrorLine('Run this script from an elevated PowerShell (Run as administrator), or add -WhatIf to preview.')",
  '    exit 1',
  '}',
  '',
];
