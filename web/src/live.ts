import { Model, type Refetch, type Snapshot } from './model.js';
import type { Policy, ReloadResult, Status } from './types.js';

/** An answer other than 2xx from the admin listener, with its text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Every call is relative to the page, so the dashboard also works under a reverse proxy's path. */
async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!res.ok) throw new HttpError(res.status, (await res.text()).trim() || res.statusText);
  return (await res.json()) as T;
}

/** A view that answers 503 when the operator view is off (observe.state: false): null then. */
async function view<T>(path: string): Promise<T | null> {
  try {
    return await getJson<T>(path);
  } catch (error) {
    if (error instanceof HttpError && error.status === 503) return null;
    throw error;
  }
}

/** The connection as the page shows it. */
export type Phase =
  | { readonly kind: 'loading' }
  | { readonly kind: 'login'; readonly error: string | null }
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'live' }
  | { readonly kind: 'reconnecting'; readonly since: number }
  | { readonly kind: 'error'; readonly message: string };

/** How often, at most, a view an event carries only in part is loaded again. */
const REFETCH_MS = 2000;
/** At most this many renders a second. */
const RENDER_MS = 250;

/**
 * The page's connection to the admin listener: loads the views, follows `/events`, loads
 * everything again after a reconnect (the stream has no replay), logs in when the listener wants
 * the token, and asks for a reload. Listeners hear about every change, at most four times a second.
 */
export class Live {
  readonly model = new Model();
  phase: Phase = { kind: 'loading' };
  /** Bumped on every change; views key their memoised work on it. */
  version = 0;
  private events: EventSource | null = null;
  private readonly listeners = new Set<() => void>();
  private renderTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly due = new Map<Refetch, ReturnType<typeof setTimeout>>();
  private readonly lastFetch = new Map<Refetch, number>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.version++;
    if (this.renderTimer !== null) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      for (const l of this.listeners) l();
    }, RENDER_MS);
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.version++;
    for (const l of this.listeners) l();
  }

  async start(): Promise<void> {
    try {
      await this.loadAll();
    } catch (error) {
      this.failed(error);
      return;
    }
    this.follow();
  }

  private failed(error: unknown): void {
    if (error instanceof HttpError && error.status === 401) this.setPhase({ kind: 'login', error: null });
    else if (error instanceof HttpError && error.status === 403) {
      this.setPhase({
        kind: 'refused',
        message: `${error.message}. Open the dashboard as http://127.0.0.1:${location.port || '80'}/ (or localhost), or give the admin listener a token.`,
      });
    } else this.setPhase({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
  }

  private async loadAll(): Promise<void> {
    const status = await getJson<Status>('api/status');
    const query = encodeURIComponent(this.model.clientQuery.trim());
    const [services, clients, denials, tunnels, history, policy] = await Promise.all([
      view<Snapshot['services']>('api/services'),
      view<Snapshot['clients']>(`api/clients?limit=500&q=${query}`),
      view<Snapshot['denials']>('api/denials?limit=500'),
      view<Snapshot['tunnels']>('api/tunnels?limit=1000'),
      view<Snapshot['history']>('api/history'),
      view<Policy>('api/policy'),
    ]);
    this.model.load({ status, services, clients, denials, tunnels, history, policy });
    this.setPhase({ kind: 'live' });
  }

  private follow(): void {
    this.events?.close();
    const events = new EventSource('events');
    this.events = events;
    let lost = false;
    events.onopen = () => {
      if (!lost) return;
      lost = false;
      // No replay after a reconnect: load everything again.
      this.loadAll().catch((error: unknown) => this.failed(error));
    };
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED) {
        // The stream was refused (a 401 after the cookie went, or too many streams): find out why.
        events.close();
        this.loadAll().then(
          () => setTimeout(() => this.follow(), 2000),
          (error: unknown) => this.failed(error),
        );
        return;
      }
      if (!lost) {
        lost = true;
        this.setPhase({ kind: 'reconnecting', since: Date.now() });
      }
    };
    for (const name of ['summary', 'services', 'clients', 'denials', 'tunnels', 'reload']) {
      events.addEventListener(name, (e: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        for (const what of this.model.apply(name, data)) this.refetch(what);
        this.changed();
      });
    }
  }

  /** Loads a view again, at most once per REFETCH_MS (the last call in a burst wins). */
  private refetch(what: Refetch): void {
    if (this.due.has(what)) return;
    const wait = Math.max(0, (this.lastFetch.get(what) ?? 0) + REFETCH_MS - Date.now());
    this.due.set(
      what,
      setTimeout(() => {
        this.due.delete(what);
        this.lastFetch.set(what, Date.now());
        this.fetchView(what).then(
          () => this.changed(),
          () => undefined, // the next event or reconnect tries again
        );
      }, wait),
    );
  }

  private async fetchView(what: Refetch): Promise<void> {
    const m = this.model;
    switch (what) {
      case 'denials': {
        const d = await view<Snapshot['denials']>('api/denials?limit=500');
        if (d !== null) m.destinations = [...d.destinations];
        if (d !== null) m.deniedTotal = d.total;
        return;
      }
      case 'clients':
        return this.searchClients(m.clientQuery);
      case 'history': {
        const h = await view<Snapshot['history']>('api/history');
        if (h !== null) m.history = [...h.minutes];
        return;
      }
      case 'status':
        m.status = await getJson<Status>('api/status');
        return;
      case 'policy':
        m.policy = await view<Policy>('api/policy');
        return;
    }
  }

  /**
   * The clients view's search: the rows the page holds are narrowed at once, and live events
   * follow the new search; `fetch` asks the gateway, which holds more clients than the page.
   */
  async searchClients(query: string, fetch = true): Promise<void> {
    this.model.clientQuery = query;
    this.changed();
    if (!fetch) return;
    const c = await view<Snapshot['clients']>(`api/clients?limit=500&q=${encodeURIComponent(query.trim())}`);
    if (c !== null && this.model.clientQuery === query) this.model.setClients(c);
    this.changed();
  }

  /** POST /api/login: the token for a cookie, then the dashboard. */
  async login(token: string): Promise<void> {
    const res = await fetch('api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (res.status === 401) {
      this.setPhase({ kind: 'login', error: 'That token is not the admin listener’s token.' });
      return;
    }
    if (!res.ok) {
      this.setPhase({ kind: 'login', error: `Login failed: ${res.status} ${(await res.text()).trim()}` });
      return;
    }
    this.setPhase({ kind: 'loading' });
    await this.start();
  }

  /** POST /api/reload (same origin, with the cookie): the gateway's answer once every worker has it. */
  async reload(): Promise<ReloadResult> {
    const res = await fetch('api/reload', { method: 'POST', credentials: 'same-origin' });
    const text = await res.text();
    if (res.status === 200 || res.status === 422) {
      const result = JSON.parse(text) as ReloadResult;
      this.refetch('status');
      this.refetch('policy');
      return result;
    }
    if (res.status === 401) this.setPhase({ kind: 'login', error: 'The session ended: log in again.' });
    throw new HttpError(res.status, text.trim() || res.statusText);
  }

  stop(): void {
    this.events?.close();
    this.events = null;
  }
}
