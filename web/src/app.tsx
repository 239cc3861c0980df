import { useEffect, useRef, useState } from 'preact/hooks';
import { Badge } from './components.js';
import type { Live } from './live.js';
import { Clients } from './views/clients.js';
import { Configuration } from './views/configuration.js';
import { Denials } from './views/denials.js';
import { Overview } from './views/overview.js';
import { Services } from './views/services.js';

export const VIEWS = [
  { id: 'overview', title: 'Overview', key: '1' },
  { id: 'services', title: 'Services', key: '2' },
  { id: 'clients', title: 'Clients', key: '3' },
  { id: 'denials', title: 'Refusals', key: '4' },
  { id: 'config', title: 'Configuration', key: '5' },
] as const;

type ViewId = (typeof VIEWS)[number]['id'];

function viewFromHash(): ViewId {
  const id = location.hash.replace(/^#\/?/, '');
  return VIEWS.find((v) => v.id === id)?.id ?? 'overview';
}

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

function LoginForm({ live, error }: { readonly live: Live; readonly error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <main id="main" class="login">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          void live.login(token).finally(() => setBusy(false));
        }}
      >
        <h1>Airlock</h1>
        <p>
          This admin listener needs its token (the one in admin.tokenFile, admin.token or
          AIRLOCK_ADMIN_TOKEN).
        </p>
        <label for="token">Admin token</label>
        <input
          id="token"
          ref={input}
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby={error === null ? undefined : 'login-error'}
        />
        <button type="submit" disabled={busy || token === ''}>
          Log in
        </button>
        {error !== null && (
          <p id="login-error" class="error-text" role="alert">
            {error}
          </p>
        )}
        <p class="hint">
          The browser keeps a session cookie for this listener only (HttpOnly, SameSite=Strict).
        </p>
      </form>
    </main>
  );
}

function ReloadButton({ live }: { readonly live: Live }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const click = (): void => {
    setBusy(true);
    setResult(null);
    live
      .reload()
      .then(
        (r) =>
          setResult(
            r.ok
              ? { ok: true, text: `Reloaded: generation ${r.generation}` }
              : {
                  ok: false,
                  text: `Refused, the previous configuration stays: ${r.error ?? 'unknown error'}`,
                },
          ),
        (error: unknown) => setResult({ ok: false, text: `Reload failed: ${String(error)}` }),
      )
      .finally(() => setBusy(false));
  };
  return (
    <div class="reload">
      <button
        type="button"
        onClick={click}
        disabled={busy}
        title="Re-read the configuration and every file it names"
      >
        {busy ? 'Reloading…' : 'Reload configuration'}
      </button>
      <span role="status" class={result === null ? '' : result.ok ? 'ok-text' : 'error-text'}>
        {result?.text ?? ''}
      </span>
    </div>
  );
}

export function App({ live }: { readonly live: Live }) {
  const [, setVersion] = useState(0);
  const [view, setView] = useState<ViewId>(viewFromHash());
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);

  useEffect(() => live.subscribe(() => setVersion(live.version)), [live]);
  useEffect(() => {
    const onHash = (): void => {
      moved.current = true;
      setView(viewFromHash());
    };
    const onKey = (e: KeyboardEvent): void => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const target = VIEWS.find((v) => v.key === e.key);
      if (target !== undefined) {
        location.hash = `#/${target.id}`;
        e.preventDefault();
      } else if (e.key === '/') {
        const search = document.querySelector<HTMLElement>('main [data-search]');
        if (search !== null) {
          search.focus();
          e.preventDefault();
        }
      }
    };
    addEventListener('hashchange', onHash);
    addEventListener('keydown', onKey);
    return () => {
      removeEventListener('hashchange', onHash);
      removeEventListener('keydown', onKey);
    };
  }, []);
  useEffect(() => {
    // After a change of view, start reading (and tabbing) at its heading.
    if (moved.current) heading.current?.focus();
    moved.current = false;
  }, [view]);

  const phase = live.phase;
  if (phase.kind === 'login') return <LoginForm live={live} error={phase.error} />;
  if (phase.kind === 'loading') {
    return (
      <main id="main" class="center" aria-busy="true">
        <p>Loading…</p>
      </main>
    );
  }
  if (phase.kind === 'refused' || (phase.kind === 'error' && live.model.status === null)) {
    return (
      <main id="main" class="center">
        <h1>Airlock</h1>
        <p class="error-text" role="alert">
          {phase.message}
        </p>
        <button type="button" onClick={() => void live.start()}>
          Try again
        </button>
      </main>
    );
  }

  const model = live.model;
  const status = model.status!;
  const now = Date.now();
  const current = VIEWS.find((v) => v.id === view)!;
  const failing = model.serviceRows().filter((s) => s.status === 'failing').length;
  const badges: Partial<Record<ViewId, string>> = {
    services: failing > 0 ? `${failing} failing` : '',
    denials: model.recent.length > 0 ? String(model.recent.length) : '',
    config: status.lint.length > 0 ? `${status.lint.length} lint` : '',
  };

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), heading.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#1d4ed8" />
            <path d="M9 23V13a7 7 0 0 1 14 0v10" fill="none" stroke="#fff" stroke-width="3" />
            <rect x="7" y="17" width="18" height="10" rx="2" fill="#fff" />
          </svg>
          <span>Airlock</span>
          <Badge kind={status.mode === 'audit' ? 'failing' : 'mode'}>{status.mode}</Badge>
          <span class="muted small">generation {status.generation}</span>
        </div>
        <p class={`conn conn-${phase.kind}`} role="status" aria-live="polite">
          {phase.kind === 'live'
            ? 'Live'
            : phase.kind === 'reconnecting'
              ? 'Connection lost: reconnecting…'
              : phase.kind === 'error'
                ? `Error: ${phase.message}`
                : ''}
        </p>
        <ReloadButton live={live} />
      </header>
      <nav class="tabs" aria-label="Views">
        <ul>
          {VIEWS.map((v) => (
            <li key={v.id}>
              <a
                href={`#/${v.id}`}
                aria-current={v.id === view ? 'page' : undefined}
                aria-keyshortcuts={v.key}
                title={`${v.title} (key ${v.key})`}
              >
                {v.title}
                {badges[v.id] ? <span class="tab-badge">{badges[v.id]}</span> : null}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        <h2 ref={heading} tabIndex={-1}>
          {current.title}
        </h2>
        {view === 'overview' && <Overview model={model} now={now} />}
        {view === 'services' && <Services model={model} now={now} />}
        {view === 'clients' && <Clients live={live} now={now} />}
        {view === 'denials' && <Denials model={model} now={now} />}
        {view === 'config' && <Configuration model={model} now={now} />}
      </main>
      <footer class="foot muted small">
        Keys: 1–5 switch views, / jumps to the search or filter. Data from this gateway’s admin API, live over
        server-sent events.
      </footer>
    </>
  );
}
