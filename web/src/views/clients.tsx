import { useEffect, useRef, useState } from 'preact/hooks';
import { Ago, Empty } from '../components.js';
import { bytes, count, hostPort } from '../format.js';
import type { Live } from '../live.js';
import type { ClientRow } from '../types.js';

/** Rows drawn at once; a search narrows the rest. */
const SHOWN = 200;

function ClientTunnels({
  live,
  row,
  now,
}: {
  readonly live: Live;
  readonly row: ClientRow;
  readonly now: number;
}) {
  const tunnels = live.model.tunnelsOf(row.address);
  if (row.open === 0) return <span class="muted">none</span>;
  return (
    <details>
      <summary>
        {count(row.open)} open{tunnels.length < row.open ? ` (${tunnels.length} listed)` : ''}
      </summary>
      <ul class="plain small">
        {tunnels.map((t) => (
          <li key={t.id}>
            <code>{hostPort(t.host, t.port)}</code>{' '}
            {t.service !== '-' && <span class="muted">{t.service}</span>} since <Ago at={t.since} now={now} />
            {t.setupMs !== null && <span class="muted">, set up in {t.setupMs} ms</span>}
          </li>
        ))}
      </ul>
    </details>
  );
}

export function Clients({ live, now }: { readonly live: Live; readonly now: number }) {
  const model = live.model;
  const [query, setQuery] = useState(model.clientQuery);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pending = useRef<string | null>(null);

  // Leaving the view with a search still waiting for its debounce: ask now rather than never.
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
      if (pending.current !== null) void live.searchClients(pending.current);
    },
    [live],
  );

  const onInput = (value: string): void => {
    setQuery(value);
    void live.searchClients(value, false);
    pending.current = value;
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      pending.current = null;
      timer.current = null;
      void live.searchClients(value);
    }, 250);
  };

  const rows = model.clientRows().slice(0, SHOWN);
  const searching = model.clientQuery.trim() !== '';

  return (
    <>
      <div class="toolbar">
        <label class="grow">
          Search clients{' '}
          <input
            type="search"
            value={query}
            placeholder="address or name, e.g. 10.1.2 or ws-042"
            onInput={(e) => onInput(e.currentTarget.value)}
            data-search
            aria-describedby="clients-count"
          />
        </label>
        <p id="clients-count" class="hint" role="status">
          {searching
            ? `${count(model.clientsTotal)} matching client${model.clientsTotal === 1 ? '' : 's'}`
            : `${count(model.clientsTotal)} client${model.clientsTotal === 1 ? '' : 's'} seen`}
          {rows.length < model.clientsTotal ? `, the ${rows.length} most recent shown` : ''}
        </p>
      </div>
      {rows.length === 0 ? (
        <Empty>
          {searching
            ? 'No client matches.'
            : 'No client yet: once a machine uses the gateway it appears here, with the Defender services it reached.'}
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="clients">
            <caption class="sr-only">Clients, most recently seen first</caption>
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Last seen</th>
                <th scope="col">Services reached</th>
                <th scope="col">Open tunnels</th>
                <th scope="col" class="num">
                  Allowed / refused / failed
                </th>
                <th scope="col">Recent refusals</th>
                <th scope="col" class="num">
                  Traffic (up / down)
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.address} data-client={r.address}>
                  <th scope="row">
                    <code>{r.address}</code>
                    {r.name !== null && <div class="muted">{r.name}</div>}
                    <div class="muted small">
                      first seen <Ago at={r.firstSeen} now={now} />
                    </div>
                  </th>
                  <td>
                    <Ago at={r.lastSeen} now={now} />
                  </td>
                  <td>
                    {r.services.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="plain small">
                        {r.services.map((s) => (
                          <li key={s.key}>
                            <code>{s.key === '-' ? 'outside the catalog' : s.key}</code>{' '}
                            <Ago at={s.lastAllowed} now={now} /> <span class="muted">via {s.host}</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <ClientTunnels live={live} row={r} now={now} />
                  </td>
                  <td class="num">
                    {count(r.allowed)} / {count(r.denied)} / {count(r.failed)}
                  </td>
                  <td>
                    {r.denials.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="plain small">
                        {r.denials.map((d, i) => (
                          <li key={i}>
                            <code>{hostPort(d.host, d.port)}</code> <span class="reason">{d.reason}</span>{' '}
                            <Ago at={d.at} now={now} />
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td class="num">
                    {bytes(r.bytesFromClient)} / {bytes(r.bytesToClient)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
