/** The width commands lay their tables out to when no --wide is given and the output is not a terminal. */
export const DEFAULT_WIDTH = 100;

/** The narrowest width taken from COLUMNS; below it, tables would be only their labels. */
const MIN_WIDTH = 20;

/**
 * The output width: COLUMNS when it is set to a number (an override for scripts and tests),
 * else the terminal's width, else 100. `--wide` lifts the limit.
 */
export function outputWidth(
  stream: { readonly isTTY?: boolean; readonly columns?: number },
  env: Readonly<Record<string, string | undefined>>,
  wide = false,
): number {
  if (wide) return Infinity;
  const fromEnv = env.COLUMNS?.trim();
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Math.max(MIN_WIDTH, Number(fromEnv));
  if (stream.isTTY === true && stream.columns !== undefined && stream.columns > 0) return stream.columns;
  return DEFAULT_WIDTH;
}

/** The width of standard output for this process. */
export function stdoutWidth(wide = false): number {
  return outputWidth(process.stdout, process.env, wide);
}
