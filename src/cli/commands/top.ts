import { renderTop, type TopSnapshot } from '../../admin/index.js';
import { AirlockError } from '../../errors/index.js';
import { adminRequest, adminTarget, type AdminTarget } from './admin-client.js';

export interface TopOptions {
  readonly admin?: string | undefined;
  readonly token?: string | undefined;
  readonly once?: boolean | undefined;
  /** Seconds between refreshes. */
  readonly interval?: string | undefined;
  /** Rows per section with --once (the screen's height decides otherwise). */
  readonly rows?: string | undefined;
}

async function snapshot(target: AdminTarget, rows: number): Promise<TopSnapshot> {
  const get = async (path: string): Promise<unknown> => {
    const { status, body } = await adminRequest(target, path);
    if (status === 503) return null;
    if (status !== 200 || typeof body !== 'object' || body === null)
      throw new AirlockError('USAGE', `the admin API at ${target.base} answered ${status} to ${path}`);
    return body;
  };
  const [status, services, clients, denials] = await Promise.all([
    get('/api/status'),
    get('/api/services'),
    get(`/api/clients?limit=${rows}`),
    get(`/api/denials?limit=${rows}`),
  ]);
  return {
    status: (status ?? {}) as TopSnapshot['status'],
    services: services as TopSnapshot['services'],
    clients: clients as TopSnapshot['clients'],
    denials: denials as TopSnapshot['denials'],
  };
}

/**
 * `airlock top`: the operator view in a terminal, read from the admin API. Refreshes until q or
 * Ctrl-C; `--once` prints one snapshot (100 columns wide when not on a terminal) and exits.
 */
export async function top(options: TopOptions): Promise<number> {
  const target = adminTarget(options.admin, options.token);
  const intervalMs = Number(options.interval ?? '2') * 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 200)
    throw new AirlockError(
      'USAGE',
      `--interval: "${String(options.interval)}" is not a number of seconds (0.2 or more)`,
    );
  const out = process.stdout;
  const width = (): number => (out.isTTY ? out.columns : 100);
  if (options.once === true || !out.isTTY) {
    const rows = Number(options.rows ?? '20');
    if (!Number.isInteger(rows) || rows < 1)
      throw new AirlockError('USAGE', `--rows: "${String(options.rows)}" is not a number`);
    const lines = renderTop(await snapshot(target, rows), { width: width(), rows, now: Date.now() });
    out.write(`${lines.join('\n')}\n`);
    return 0;
  }

  // Live: redraw in place; q or Ctrl-C ends it.
  const stdin = process.stdin;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', (key: Buffer) => {
      const k = key.toString();
      if (k === 'q' || k === '\u0003') done();
    });
  }
  process.once('SIGINT', () => done());
  out.write('\u001b[?25l');
  const failure: { error: Error | null } = { error: null };
  const draw = async (): Promise<void> => {
    try {
      // Three sections and the header share the screen.
      const rows = Math.max(3, Math.floor((out.rows - 12) / 3));
      const lines = renderTop(await snapshot(target, rows), { width: width(), rows, now: Date.now() });
      out.write(`\u001b[H\u001b[2J${lines.slice(0, out.rows - 1).join('\n')}\n`);
    } catch (e) {
      failure.error = e instanceof Error ? e : new Error(String(e));
      done();
    }
  };
  await draw();
  const timer = setInterval(() => void draw(), intervalMs);
  await finished;
  clearInterval(timer);
  out.write('\u001b[?25h');
  if (stdin.isTTY) {
    stdin.setRawMode(false);
    stdin.pause();
  }
  if (failure.error !== null) throw failure.error;
  return 0;
}
