import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { openTunnel } from '../helpers/cli.js';
import { describeEachEngine, engineConfig } from '../helpers/engines.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { requirement } from '../helpers/skip.js';

/**
 * A bulk download from an origin whose segments are small: the origin sits in a network
 * namespace of this test's own behind a veth pair with a 1280-byte MTU, one segment per packet
 * (`gso_max_segs 1`) and a 536-byte MSS, sends 3 MiB and then keeps the connection open. The
 * relay's splice reads end early when the pipe runs out of slots (one per piece of socket
 * data) while more is queued; a relay that took a short read for an empty queue would stop
 * with bytes waiting and, edge-triggered, never be told again (loopback's large segments never
 * show it).
 */

const SIZE = 3 * 1024 * 1024;
const NS = `airlock-seg-${process.pid}`;
const HOST_IF = `alseg${process.pid % 100000}`;
const NS_IF = `${HOST_IF}n`;
const ORIGIN = '10.213.77.2';

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  for (const tool of ['ip', 'python3']) {
    try {
      execFileSync(tool, tool === 'ip' ? ['-V'] : ['--version'], { stdio: 'pipe' });
    } catch {
      return `missing tool: ${tool}`;
    }
  }
  return null;
}

/** Sends SIZE bytes to each connection after its first line, then holds it open. */
const ORIGIN_SCRIPT = [
  'import socket, sys, threading, time',
  'srv = socket.socket()',
  'srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  'srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)',
  `srv.bind(("${ORIGIN}", 9000))`,
  'srv.listen(16)',
  'print("ready", flush=True)',
  'def serve(c):',
  '    try:',
  '        c.recv(100)',
  `        c.sendall(b"x" * ${SIZE})`,
  '        time.sleep(30)',
  '    except OSError:',
  '        pass',
  '    c.close()',
  'while True:',
  '    c, _ = srv.accept()',
  '    threading.Thread(target=serve, args=(c,), daemon=True).start()',
].join('\n');

/** Bytes a tunnel to the origin delivers within `ms` (the origin never closes it). */
async function download(port: number, ms: number): Promise<number> {
  // The origin sends nothing before "go", so no bytes follow the 200 in its read.
  const socket = await openTunnel(port, 'origin.seg.test:9000');
  return new Promise((resolve, reject) => {
    let received = 0;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, ms);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= SIZE) done();
    });
    socket.write('go\n');
  });
}

const SKIP = requirement('relay with small segments', skipReason());

describeEachEngine(
  'a 3 MiB download in small segments from an origin that keeps the tunnel open',
  (engine) => {
    let origin: ChildProcess | null = null;
    let gw: RunningGateway;

    before(async () => {
      if (SKIP !== false) return;
      ip('netns', 'add', NS);
      ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF);
      ip('link', 'set', NS_IF, 'netns', NS);
      ip('addr', 'add', '10.213.77.1/30', 'dev', HOST_IF);
      ip('link', 'set', HOST_IF, 'mtu', '1280', 'gso_max_segs', '1', 'up');
      ip('-n', NS, 'addr', 'add', `${ORIGIN}/30`, 'dev', NS_IF);
      ip('-n', NS, 'link', 'set', NS_IF, 'mtu', '1280', 'gso_max_segs', '1', 'up');
      ip('-n', NS, 'link', 'set', 'lo', 'up');
      origin = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', ORIGIN_SCRIPT], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        origin!.once('exit', (code) => reject(new Error(`the origin exited (${code})`)));
        origin!.stdout!.once('data', () => resolve());
      });
      gw = await startGateway(`
${engineConfig(engine)}
policy:
  sources: [127.0.0.1/32]
  destinations: [origin.seg.test]
  ports: { connect: [9000] }
hosts:
  origin.seg.test: ${ORIGIN}
tls: { sniCheck: false }
`);
    });

    after(async () => {
      await gw?.close();
      if (origin !== null && origin.exitCode === null) {
        const exited = new Promise((resolve) => origin!.once('exit', resolve));
        origin.kill();
        await exited;
      }
      if (SKIP === false) {
        try {
          ip('netns', 'del', NS);
        } catch {
          // Already gone.
        }
        try {
          ip('link', 'del', HOST_IF);
        } catch {
          // Deleted with its peer's namespace.
        }
      }
    });

    test(
      'every byte arrives while the origin holds the connection open, three tunnels at once',
      { skip: SKIP },
      async () => {
        const got = await Promise.all([
          download(gw.port, 5000),
          download(gw.port, 5000),
          download(gw.port, 5000),
        ]);
        for (const n of got)
          assert.equal(
            n,
            SIZE,
            `received ${n} of ${SIZE} bytes within 5 s: the relay stopped reading with bytes queued`,
          );
      },
    );
  },
);
