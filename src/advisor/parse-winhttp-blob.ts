import type { MachineFacts } from './machine-facts.js';
import { parseBypassList, selectHttpsProxy } from './proxy-address.js';
import { parseFailure, quoted, splitLines, type ParseIssue, type ParseResult } from './parse-result.js';

/**
 * The `WinHttpSettings` REG_BINARY value under
 * `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`, which
 * `netsh winhttp set proxy` writes. Little-endian layout (undocumented; read from the direct-access
 * value `18000000 00000000 01000000 00000000 00000000` and third-party decoders):
 *
 * | offset | field |
 * |---|---|
 * | 0 | structure version/size |
 * | 4 | change counter |
 * | 8 | flags: 0x1 direct, 0x2 named proxy |
 * | 12 | proxy string length N, then N ASCII bytes |
 * | 16+N | bypass list length M, then M ASCII bytes |
 */
export interface WinHttpSettings {
  readonly proxy: string | null;
  readonly bypass: readonly string[];
  readonly flags: number;
}

export type BlobResult =
  { ok: true; value: WinHttpSettings; warnings: string[] } | { ok: false; message: string };

const FLAG_PROXY = 0x2;
const MAX_STRING = 4096;

function readAscii(bytes: Uint8Array, start: number, length: number): string | null {
  let out = '';
  for (let i = start; i < start + length; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0 && i === start + length - 1) break;
    if (b < 0x20 || b > 0x7e) return null;
    out += String.fromCharCode(b);
  }
  return out;
}

export function decodeWinHttpSettings(bytes: Uint8Array): BlobResult {
  const warnings: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16) {
    return { ok: false, message: `the value is ${bytes.length} bytes; at least 16 are needed (truncated?)` };
  }
  const flags = view.getUint32(8, true);
  const proxyLength = view.getUint32(12, true);
  if (proxyLength > MAX_STRING)
    return { ok: false, message: `implausible proxy string length ${proxyLength}` };
  if (16 + proxyLength > bytes.length) {
    return {
      ok: false,
      message: `the proxy string needs ${proxyLength} bytes but only ${bytes.length - 16} follow (truncated?)`,
    };
  }
  const proxyText = readAscii(bytes, 16, proxyLength);
  if (proxyText === null) return { ok: false, message: 'the proxy string is not ASCII text' };
  const bypassAt = 16 + proxyLength;
  if (bypassAt + 4 > bytes.length) {
    return { ok: false, message: 'the value ends before the bypass list length (truncated?)' };
  }
  const bypassLength = view.getUint32(bypassAt, true);
  if (bypassLength > MAX_STRING)
    return { ok: false, message: `implausible bypass list length ${bypassLength}` };
  if (bypassAt + 4 + bypassLength > bytes.length) {
    return {
      ok: false,
      message: `the bypass list needs ${bypassLength} bytes but only ${bytes.length - bypassAt - 4} follow (truncated?)`,
    };
  }
  const decoded = readAscii(bytes, bypassAt + 4, bypassLength);
  if (decoded === null) return { ok: false, message: 'the bypass list is not ASCII text' };
  const bypassText = decoded;
  const end = bypassAt + 4 + bypassLength;
  if (end < bytes.length) warnings.push(`${bytes.length - end} trailing bytes ignored`);
  if ((flags & ~0x3) !== 0)
    warnings.push(`flags 0x${flags.toString(16)}: only the direct and proxy bits are read`);

  if ((flags & FLAG_PROXY) === 0) {
    if (proxyText !== '')
      warnings.push(`a proxy ${quoted(proxyText)} is stored but the proxy flag is off: direct access`);
    return { ok: true, value: { proxy: null, bypass: [], flags }, warnings };
  }
  if (proxyText === '') {
    warnings.push('the proxy flag is on but no proxy is stored: direct access');
    return { ok: true, value: { proxy: null, bypass: [], flags }, warnings };
  }
  const parsed = selectHttpsProxy(proxyText);
  if (!parsed.ok) return { ok: false, message: `stored proxy: ${parsed.message}` };
  return { ok: true, value: { proxy: proxyText, bypass: parseBypassList(bypassText), flags }, warnings };
}

/** Hex as `reg query` prints it (`1800…`), spaced (`18 00 …`), or .reg style (`18,00,…`). */
export function hexToBytes(text: string): { ok: true; bytes: Uint8Array } | { ok: false; message: string } {
  const compact = text.replace(/^hex:/i, '').replace(/[\s,\\]+/g, '');
  if (compact === '') return { ok: false, message: 'no hex digits' };
  if (!/^[0-9a-f]+$/i.test(compact))
    return { ok: false, message: 'contains characters that are not hex digits' };
  if (compact.length % 2 !== 0) return { ok: false, message: 'odd number of hex digits (truncated?)' };
  const bytes = new Uint8Array(compact.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(compact.slice(i * 2, i * 2 + 2), 16);
  return { ok: true, bytes };
}

export function winHttpFacts(settings: WinHttpSettings): MachineFacts {
  return {
    machine: { platform: 'windows' },
    windows: { winhttp: { proxy: settings.proxy, bypass: [...settings.bypass] } },
  };
}

export function looksLikeWinHttpBlob(text: string): boolean {
  const body = text.replace(/^\uFEFF/, '').trim();
  return /^(hex:)?[0-9a-f]{2}([\s,\\]*[0-9a-f]{2}){7,}[\s,\\]*$/i.test(body);
}

/** A pasted hex dump of the value on its own (one or several lines). */
export function parseWinHttpBlob(text: string): ParseResult<MachineFacts> {
  const lines = splitLines(text);
  const first = lines.findIndex((l) => l.trim() !== '') + 1;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line !== '' && !/^(hex:)?[0-9a-f\s,\\]+$/i.test(line)) {
      return parseFailure(i + 1, 'a WinHttpSettings dump holds hex digits only');
    }
  }
  const hex = hexToBytes(lines.join(''));
  if (!hex.ok) return parseFailure(first, `WinHttpSettings: ${hex.message}`);
  const decoded = decodeWinHttpSettings(hex.bytes);
  if (!decoded.ok) return parseFailure(first, `WinHttpSettings: ${decoded.message}`);
  const warnings: ParseIssue[] = decoded.warnings.map((message) => ({ line: first, message }));
  return { ok: true, value: winHttpFacts(decoded.value), warnings };
}
