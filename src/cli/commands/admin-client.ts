import { AirlockError } from '../../errors/index.js';

/** Where the admin API is and how to prove oneself to it (`--admin`, `--token` or AIRLOCK_ADMIN_TOKEN). */
export interface AdminTarget {
  readonly base: string;
  readonly token: string | null;
}

export function adminTarget(admin: string | undefined, token: string | undefined): AdminTarget {
  const text = admin ?? 'http://127.0.0.1:9090';
  const withScheme = /^https?:\/\//.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new AirlockError('USAGE', `--admin: "${text}" is not HOST:PORT or an http:// URL`);
  }
  const fromEnv = process.env.AIRLOCK_ADMIN_TOKEN;
  return {
    base: url.origin,
    token: token ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : null),
  };
}

/** Calls the admin API; errors name the address and what to check. */
export async function adminRequest(
  target: AdminTarget,
  path: string,
  init: { method?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (target.token !== null) headers.Authorization = `Bearer ${target.token}`;
  let response: Response;
  try {
    response = await fetch(`${target.base}${path}`, {
      method: init.method ?? 'GET',
      headers,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new AirlockError(
      'USAGE',
      `cannot reach the admin API at ${target.base} (${cause}): is the gateway running with admin.listen there? (--admin HOST:PORT)`,
    );
  }
  const text = await response.text();
  if (response.status === 401)
    throw new AirlockError(
      'USAGE',
      `the admin API at ${target.base} needs its token: --token or AIRLOCK_ADMIN_TOKEN`,
    );
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json'))
    body = JSON.parse(text) as unknown;
  return { status: response.status, body };
}
