/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF (LF accepted), fields that hold a
 * comma, quote or line break enclosed in double quotes with quotes doubled. Excel's "CSV UTF-8"
 * export adds a byte-order mark and may use semicolons in some locales; both are handled.
 */

export type CsvResult =
  | { readonly ok: true; readonly records: string[][] }
  | { readonly ok: false; readonly error: string; readonly record: number };

/** Picks the separator from the first line: the one of `,` `;` tab that occurs most outside quotes. */
function detectSeparator(text: string): string {
  let inQuotes = false;
  const counts = new Map<string, number>([
    [',', 0],
    [';', 0],
    ['\t', 0],
  ]);
  for (const ch of text) {
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (ch === '\n' || ch === '\r')) break;
    else if (!inQuotes && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  for (const [sep, n] of counts) if (n > counts.get(best)!) best = sep;
  return best;
}

export function parseCsv(input: string): CsvResult {
  const text = input.replace(/^\uFEFF/, '');
  const sep = detectSeparator(text);
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let inQuotes = false;
  let quotedField = false;
  let i = 0;
  const endField = (): void => {
    record.push(field);
    field = '';
    quotedField = false;
  };
  const endRecord = (): void => {
    endField();
    records.push(record);
    record = [];
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (field.length > 0 || quotedField) {
        return {
          ok: false,
          error: 'a quote inside an unquoted field (quote the whole field and double the quote)',
          record: records.length + 1,
        };
      }
      inQuotes = true;
      quotedField = true;
      i++;
      continue;
    }
    if (ch === sep) {
      endField();
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    if (quotedField) {
      return { ok: false, error: 'text after a closing quote', record: records.length + 1 };
    }
    field += ch;
    i++;
  }
  if (inQuotes) return { ok: false, error: 'a quoted field is not closed', record: records.length + 1 };
  if (field.length > 0 || record.length > 0 || quotedField) endRecord();
  return { ok: true, records };
}

function quoteField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Records → RFC 4180 text with CRLF line ends. */
export function formatCsv(records: readonly (readonly string[])[]): string {
  return records.map((r) => r.map(quoteField).join(',')).join('\r\n') + '\r\n';
}
