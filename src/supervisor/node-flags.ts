/**
 * Node.js flags (and, below, the environment) gateway processes run with: `npm start`, the
 * systemd unit `airlock install` writes, the sample unit, the Docker image, and the workers the
 * supervisor forks. (Not the `airlock` command's first line: `env -S`, which passing flags there
 * needs, is missing from BusyBox, and every other command would fail with it there.)
 *
 * `--max-semi-space-size=4` caps V8's young generation at 4 MiB per semi-space (the default
 * lets it grow to 16). A gateway allocates in bursts (a reconnect storm, a ramp of new tunnels)
 * and then idles for hours holding its tunnels; a young generation grown in the burst stayed
 * resident or not, as V8 chose: one process holding 9,000 idle tunnels was 120 MiB with it grown
 * to 28 MiB (88 MiB in a run where V8 shrank it again); with the cap it stayed under 8 MiB. A cap
 * of 2 MiB cost about 7 % more CPU per forwarded request; 4 MiB measured the same as the default.
 *
 * `--expose-gc` gives the quiet collector (`quiet-collector.ts`) a full collection to run once a
 * process has gone quiet after a burst; without it the collector does nothing.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--expose-gc'];

/**
 * `execArgv` with the gateway flags added where the process was started without them: a value
 * given explicitly, on the command line or in `NODE_OPTIONS` (which the child inherits, and
 * which a command-line flag would override), stays as given.
 */
export function withGatewayFlags(
  execArgv: readonly string[],
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): string[] {
  const out = [...execArgv];
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  for (const flag of GATEWAY_NODE_FLAGS) {
    const name = flag.split('=')[0]!;
    if (!given.some((a) => a === name || a.startsWith(`${name}=`))) out.push(flag);
  }
  return out;
}

/**
 * Environment gateway processes start with, where the variable is not set already: the same
 * places as the flags above (the unit, the sample unit, the Docker image, `npm start`, forked
 * workers).
 *
 * `MALLOC_ARENA_MAX=2`: glibc gives threads malloc arenas of their own, up to 8 per core, and an
 * arena keeps what it once held. A gateway's JavaScript runs on one thread; the relay thread and
 * Node.js's worker pool allocate little that lives on, but their arenas held about 1 KiB per
 * idle tunnel after a ramp (two workers holding 9,000 tunnels: 3.9 KiB per tunnel in RSS with
 * glibc's default, 3.3 with two arenas). The native addon sets the same limit when it loads,
 * which covers a process started some other way, but only for arenas created after that.
 */
export const GATEWAY_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** `env` with the gateway's variables added where they are unset (an explicit value stays). */
export function withGatewayEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [name, value] of Object.entries(GATEWAY_ENV)) if (out[name] === undefined) out[name] = value;
  return out;
}
