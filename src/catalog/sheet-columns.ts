/**
 * The columns of Microsoft's MDE URL spreadsheet and the extra columns Airlock writes when it
 * exports a catalog as a spreadsheet. Columns are found by header name, never by position.
 */

export type MicrosoftColumn =
  | 'service'
  | 'geography'
  | 'category'
  | 'port'
  | 'endpoint'
  | 'description'
  | 'required'
  | 'osW'
  | 'osW7'
  | 'osMMA'
  | 'osM'
  | 'osL'
  | 'comments';

export type AirlockColumn =
  | 'airlockId'
  | 'airlockProducts'
  | 'airlockService'
  | 'airlockServiceLabel'
  | 'airlockClouds'
  | 'airlockAlsoGeos'
  | 'airlockSchemes'
  | 'airlockNoInspect'
  | 'airlockSource'
  | 'airlockTemplate'
  | 'airlockFallback'
  | 'airlockDocumentedAs'
  | 'airlockNoNarrowerName'
  | 'airlockOptIn';

export type SheetColumn = MicrosoftColumn | AirlockColumn;

/** Header text as Microsoft's standard list writes it (the spreadsheet's 13 columns, in its order). */
export const MICROSOFT_HEADERS: Readonly<Record<MicrosoftColumn, string>> = {
  service: 'Service',
  geography: 'Geography',
  category: 'Category',
  port: 'Port',
  endpoint: 'Endpoint/URL',
  description: 'Endpoint/URL Description',
  required: 'Required or Optional',
  osW: 'Windows 10, 11; Server 2022, 2019, 2016 (Unified Agent); Server 2012 R2 (Unified Agent)',
  osW7: 'Windows 7, 8.1',
  osMMA: 'Windows Server 2008 R2, 2012 R2, 2016 (MMA Based)',
  osM: 'Mac',
  osL: 'Linux',
  comments: 'Comments',
};

export const AIRLOCK_HEADERS: Readonly<Record<AirlockColumn, string>> = {
  airlockId: 'Airlock: id',
  airlockProducts: 'Airlock: products',
  airlockService: 'Airlock: service',
  airlockServiceLabel: 'Airlock: service label',
  airlockClouds: 'Airlock: clouds',
  airlockAlsoGeos: 'Airlock: also geographies',
  airlockSchemes: 'Airlock: schemes',
  airlockNoInspect: 'Airlock: no TLS inspection',
  airlockSource: 'Airlock: source',
  airlockTemplate: 'Airlock: template',
  airlockFallback: 'Airlock: fallback',
  airlockDocumentedAs: 'Airlock: documented as',
  airlockNoNarrowerName: 'Airlock: no narrower name',
  airlockOptIn: 'Airlock: opt-in (why)',
};

/** Columns without which a sheet cannot be imported; at least one OS column is needed as well. */
export const REQUIRED_COLUMNS: readonly MicrosoftColumn[] = [
  'service',
  'geography',
  'category',
  'port',
  'endpoint',
  'description',
  'required',
];
export const OS_COLUMNS = ['osW', 'osW7', 'osMMA', 'osM', 'osL'] as const;

/** Lowercase, punctuation folded to single spaces: "Endpoint/URL" → "endpoint url". */
export function normalizeHeader(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

const EXACT: ReadonlyMap<string, SheetColumn> = new Map<string, SheetColumn>([
  ['service', 'service'],
  ['geography', 'geography'],
  ['geo', 'geography'],
  ['category', 'category'],
  ['port', 'port'],
  ['ports', 'port'],
  ['endpoint url', 'endpoint'],
  ['endpoint urls', 'endpoint'],
  ['endpoint', 'endpoint'],
  ['endpoint url description', 'description'],
  ['endpoint urls description', 'description'],
  ['description', 'description'],
  ['required or optional', 'required'],
  ['required optional', 'required'],
  ['required', 'required'],
  ['type', 'required'],
  ['mac', 'osM'],
  ['macos', 'osM'],
  ['linux', 'osL'],
  ['comments', 'comments'],
  ['comment', 'comments'],
  ...Object.entries(AIRLOCK_HEADERS).map(([key, header]): [string, SheetColumn] => [
    normalizeHeader(header),
    key as AirlockColumn,
  ]),
]);

/** Which column a header names, or undefined. OS columns are recognised by their keywords. */
export function columnOf(header: string): SheetColumn | undefined {
  const norm = normalizeHeader(header);
  if (norm.length === 0) return undefined;
  const exact = EXACT.get(norm);
  if (exact !== undefined) return exact;
  if (norm.startsWith('airlock ')) return undefined;
  if (norm.includes('mma')) return 'osMMA';
  if (norm.includes('unified') || /^win(dows)? (10|11)\b/.test(norm)) return 'osW';
  if (/^win(dows)? 7\b/.test(norm)) return 'osW7';
  return undefined;
}
