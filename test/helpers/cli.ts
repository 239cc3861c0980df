import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The compiled command-line entry point. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `airlock serve`, waits for its "listening" line, and reports the bound port. The
 * deadline is generous: several workers starting on a busy two-core machine take seconds.
 * `prefix`: a command that executes the gateway in its place, keeping the process id
 * (`['prlimit', '--nofile=256:256', '--']`).
 */
export function serve(
  args: string[],
  startupMs = 30_000,
  env?: NodeJS.ProcessEnv,
  prefix: readonly string[] = [],
): Promise<Served> {
  return new Promise((resolve, reject) => {
    const command = [...prefix, process.execPath, CLI, 'serve', ...args];
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env === undefined ? process.env : { ...process.env, ...env },
    });
    const served = {
      child,
      port: 0,
      stdout: '',
      stderr: '',
      exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))),
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start: ${served.stderr}`));
    }, startupMs);
    child.stdout.on('data', (c: Buffer) => (served.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      served.stderr += c.toString();
      const match = /"listeners":\["[^"]*:(\d+)"/.exec(served.stderr);
      if (match && served.port === 0) {
        clearTimeout(timer);
        (served as { port: number }).port = Number(match[1]);
        resolve(served);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`gateway exited: ${served.stderr}`));
    });
  });
}

/** Ends a gateway started by `serve`: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopServed(served: Served | undefined | null, graceMs = 5000): Promise<void> {
  if (served === undefined || served === null) return;
  if (served.child.exitCode !== null || served.child.signalCode !== null) return;
  served.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([served.exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill('SIGKILL');
}

/**
 * Opens a CONNECT tunnel and resolves once the 200 has arrived; `fields` are header lines
 * (each ending in CRLF) added to the request.
 */
export function openTunnel(port: number, target: string, fields = ''): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        if (head.startsWith('HTTP/1.1 200')) resolve(socket);
        else reject(new Error(head));
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${fields}\r\n`);
  });
}

export function echoOnce(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.length >= text.length) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}
