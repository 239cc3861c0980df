import { createReadStream } from 'node:fs';
import {
  DISAGREEMENTS,
  EXPLAIN_FORMATS,
  READING_VALUES,
  detectInputKind,
  explainInputs,
  renderExplanation,
  type DisagreementId,
  type Explanation,
  type InputFile,
  type PolicyCheck,
  type Readings,
} from '../../advisor/index.js';
import { AirlockError, unreadableFile } from '../../errors/index.js';
import { fitAlignedTable, wrapLines } from '../../text/table.js';

export interface ExplainCommandOptions {
  /** --from FILE…: pasted outputs or descriptions, each recognised by its content. */
  readonly from: string[];
  /** --machine FILE: a YAML/JSON machine description, read before the --from files. */
  readonly machine?: string;
  readonly format: 'text' | 'json' | 'markdown';
  /** Checks a destination against an Airlock policy (wired by the CLI from --policy). */
  readonly policyCheck?: (host: string, port: number) => { allowed: boolean; reason: string };
  /** --assume ID=READING, repeatable: pick a reading of a documented disagreement. */
  readonly assume?: string[];
  /** Where the report goes; standard output by default. */
  readonly output?: { write(text: string): unknown };
  /** The widest a line of the text report may be; unset or Infinity: no limit (--wide). */
  readonly width?: number;
}

/** Text as regedit and PowerShell write it: UTF-16 with a byte-order mark, or UTF-8. */
function decode(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const swapped = Buffer.from(bytes.subarray(2));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  // UTF-16LE without a mark (PowerShell 5.1 "Out-File" of ASCII text): every odd byte is zero.
  const sample = bytes.subarray(0, 512);
  let zeros = 0;
  for (let i = 1; i < sample.length; i += 2) if (sample[i] === 0) zeros++;
  if (sample.length >= 4 && zeros >= sample.length / 2 - 1) return bytes.toString('utf16le');
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

/**
 * The most bytes explain reads from one file: 1 MiB. Pasted command output and machine
 * descriptions are a few kilobytes; the cap bounds the time and memory a file given by mistake
 * (a whole log, a disk image, /dev/zero) or made to be slow to parse can take.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** The file's first `limit + 1` bytes at most: enough to tell whether it is larger than `limit`. */
async function readAtMost(path: string, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path, { end: limit })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readInput(path: string): Promise<InputFile> {
  let bytes: Buffer;
  try {
    bytes = await readAtMost(path, MAX_INPUT_BYTES);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  if (bytes.length > MAX_INPUT_BYTES) {
    throw new AirlockError(
      'USAGE',
      `${path} is larger than 1 MiB, the most explain reads from one file: give it the pasted output or the description alone`,
    );
  }
  return { name: path, text: decode(bytes) };
}

function parseAssume(values: readonly string[]): Partial<Readings> {
  const readings: Partial<Record<DisagreementId, string>> = {};
  for (const value of values) {
    const [id = '', reading = ''] = value.split('=', 2);
    const known = DISAGREEMENTS.find((d) => d.id === id);
    if (!known) {
      throw new AirlockError(
        'USAGE',
        `--assume ${value}: unknown disagreement "${id}" (one of ${DISAGREEMENTS.map((d) => d.id).join(', ')})`,
      );
    }
    const allowed: readonly string[] = READING_VALUES[known.id];
    if (!allowed.includes(reading)) {
      throw new AirlockError('USAGE', `--assume ${value}: reading must be one of ${allowed.join(', ')}`);
    }
    readings[known.id] = reading;
  }
  return readings as Partial<Readings>;
}

/**
 * `airlock explain --from FILE… [--machine FILE] [--format text|json|markdown] [--assume ID=READING]`:
 * which route each Defender component takes on the machine those files describe, whether it
 * works, why, and what to change. Bad input is an AirlockError naming the file and line (exit 2);
 * so is a file larger than MAX_INPUT_BYTES (1 MiB).
 */
export async function explain(options: ExplainCommandOptions): Promise<number> {
  if (!(EXPLAIN_FORMATS as readonly string[]).includes(options.format)) {
    throw new AirlockError('USAGE', `--format must be one of ${EXPLAIN_FORMATS.join(', ')}`);
  }
  const paths = [...(options.machine !== undefined ? [options.machine] : []), ...options.from];
  if (paths.length === 0) {
    throw new AirlockError(
      'USAGE',
      'explain needs --from FILE… (pasted output) or --machine FILE (a description)',
    );
  }
  const readings = parseAssume(options.assume ?? []);
  const files = await Promise.all(paths.map(readInput));
  const machineFile = options.machine !== undefined ? files[0] : undefined;
  if (machineFile !== undefined) {
    const kind = detectInputKind(machineFile.text);
    if (kind !== null && kind !== 'machine-description') {
      throw new AirlockError(
        'USAGE',
        `${machineFile.name}: --machine expects a machine description, this looks like ${kind} output (pass it with --from)`,
      );
    }
  }
  const policyCheck: PolicyCheck | undefined = options.policyCheck;
  const result = explainInputs(files, { readings, ...(policyCheck ? { policyCheck } : {}) });
  if (!result.ok) {
    const { file, line, message } = result.error;
    throw new AirlockError('USAGE', `${file}:${line}: ${message}`);
  }
  const text = renderExplanation(result.explanation, options.format);
  (options.output ?? process.stdout).write(
    options.format === 'text' ? fitText(text, result.explanation, options.width ?? Infinity) : text,
  );
  return 0;
}

/** The text report fitted to the width: the component table laid out again, other lines wrapped. */
function fitText(text: string, explanation: Explanation, width: number): string {
  const lines = text.split('\n');
  const first = explanation.components[0]?.name;
  const header = lines.findIndex(
    (l, i) => /\S {2,}\S/.test(l) && first !== undefined && (lines[i + 1] ?? '').startsWith(`${first} `),
  );
  if (header < 0) return wrapLines(text, width);
  return fitAlignedTable(text, { header, rows: explanation.components.length }, width, {
    COMPONENT: { min: 16 },
    ROUTE: { min: 16 },
  });
}
