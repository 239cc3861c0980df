import { printable } from '../text/printable.js';
import { parseInput, type InputError, type InputFile, type InputKind } from './detect-input.js';
import { explainMachine, type ExplainOptions } from './explain-machine.js';
import type { Explanation } from './explanation.js';
import { mergeFacts, type FactConflict } from './machine-facts.js';
import { validateMachineDescription } from './machine-schema.js';

export type ExplainInputsResult =
  | {
      readonly ok: true;
      readonly explanation: Explanation;
      readonly inputs: readonly { readonly file: string; readonly kind: InputKind }[];
    }
  | { readonly ok: false; readonly error: InputError };

/**
 * Explains a machine from what an admin collected: a description and/or pasted outputs, in any
 * order, each recognised by its content. Later inputs win where two disagree (each such case is
 * a warning). The first unparseable input stops everything with its file and line.
 */
export function explainInputs(
  files: readonly InputFile[],
  options: ExplainOptions = {},
): ExplainInputsResult {
  if (files.length === 0) {
    return {
      ok: false,
      error: { file: '(none)', line: 1, message: 'no input: give a machine description or pasted output' },
    };
  }
  const warnings: string[] = [...(options.warnings ?? [])];
  const inputs: { file: string; kind: InputKind }[] = [];
  let merged: Record<string, unknown> = {};
  let platformFrom: { platform: string; file: string } | null = null;

  for (const file of files) {
    const parsed = parseInput(file);
    if (!parsed.ok) return parsed;
    const { facts, kind } = parsed.value;
    inputs.push({ file: file.name, kind });
    for (const w of parsed.value.warnings) warnings.push(`${file.name}:${w.line}: ${w.message}`);

    const platform = facts.machine?.platform;
    if (platform !== undefined) {
      if (platformFrom !== null && platformFrom.platform !== platform) {
        return {
          ok: false,
          error: {
            file: file.name,
            line: 1,
            message: `this is ${platform} output but ${platformFrom.file} describes a ${platformFrom.platform} machine; explain one machine at a time`,
          },
        };
      }
      platformFrom ??= { platform, file: file.name };
    }
    const conflicts: FactConflict[] = [];
    merged = mergeFacts(merged, facts, conflicts);
    for (const c of conflicts) {
      // JSON escapes C0 controls but leaves C1 controls and line separators as they are.
      warnings.push(
        `${file.name}: ${c.path} was ${printable(JSON.stringify(c.previous))} in an earlier input; using ${printable(JSON.stringify(c.next))}`,
      );
    }
  }

  const description = validateMachineDescription(merged);
  if (!description.ok) {
    return { ok: false, error: { file: files.map((f) => f.name).join(' + '), ...description.error } };
  }
  return { ok: true, explanation: explainMachine(description.value, { ...options, warnings }), inputs };
}
