import type { z } from 'zod';
import type { machineDescriptionSchema } from './machine-schema.js';

/**
 * What one input contributes: the description's shape with every key optional. Parsers of
 * pasted output return it; `mergeFacts()` combines several.
 */
export type MachineFacts = z.input<typeof machineDescriptionSchema>;

export interface FactConflict {
  readonly path: string;
  readonly previous: unknown;
  readonly next: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Deep merge: later facts win; each overwritten scalar is reported as a conflict. */
export function mergeFacts(
  base: Record<string, unknown>,
  next: Record<string, unknown>,
  conflicts: FactConflict[] = [],
  path = '',
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue;
    const where = path === '' ? key : `${path}.${key}`;
    const previous = out[key];
    if (isRecord(previous) && isRecord(value)) {
      out[key] = mergeFacts(previous, value, conflicts, where);
      continue;
    }
    if (previous !== undefined && JSON.stringify(previous) !== JSON.stringify(value)) {
      conflicts.push({ path: where, previous, next: value });
    }
    out[key] = value;
  }
  return out;
}
