import { useState } from 'preact/hooks';
import { Ago, Badge, Empty } from '../components.js';
import { bytes, count } from '../format.js';
import type { Model } from '../model.js';
import type { ServiceRow } from '../types.js';

const STATUS_WORDS: Record<string, string> = {
  reaching: 'reaching',
  failing: 'failing',
  idle: 'idle',
};

function failureText(row: ServiceRow): string {
  const parts = Object.entries(row.failures)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind.replace('_', ' ')} ${count(n)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

export function Services({ model, now }: { readonly model: Model; readonly now: number }) {
  const [show, setShow] = useState<string>('all');
  const all = model.serviceRows();
  const rows = show === 'all' ? all : all.filter((r) => r.status === show);
  const tally = (s: string): number => all.filter((r) => r.status === s).length;

  return (
    <>
      <div class="toolbar">
        <label>
          Show{' '}
          <select value={show} onChange={(e) => setShow(e.currentTarget.value)} data-search>
            <option value="all">all services ({all.length})</option>
            <option value="failing">failing ({tally('failing')})</option>
            <option value="reaching">reaching ({tally('reaching')})</option>
            <option value="idle">idle ({tally('idle')})</option>
          </select>
        </label>
        <p class="hint">
          Reaching: a success in the last ten minutes (or a tunnel open) and no failure since. Failing: the
          latest outcome in that window was a failure. Idle: neither.
        </p>
      </div>
      {all.length === 0 ? (
        <Empty>
          The policy opens no catalog service (an own allowlist without catalog hosts), and no traffic has
          been seen yet.
        </Empty>
      ) : rows.length === 0 ? (
        <Empty>No service is {show} now.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="services">
            <caption class="sr-only">Catalog services the policy opens, and services seen</caption>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Service</th>
                <th scope="col">Product</th>
                <th scope="col" class="num">
                  Open tunnels
                </th>
                <th
                  scope="col"
                  class="num"
                  title="clients whose last allowed request is under ten minutes old"
                >
                  Clients (10 min)
                </th>
                <th scope="col">Last success</th>
                <th scope="col">Last failure</th>
                <th scope="col">Failures</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Traffic (up / down)
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key} data-service={r.key} data-status={r.status}>
                  <td>
                    <Badge kind={r.status}>{STATUS_WORDS[r.status] ?? r.status}</Badge>
                  </td>
                  <th scope="row">
                    {r.key === '-' ? (
                      <span>outside the catalog</span>
                    ) : (
                      <>
                        <span>{r.serviceLabel ?? r.service}</span> <code class="key">{r.key}</code>
                      </>
                    )}
                  </th>
                  <td>{r.productLabel ?? r.product ?? '–'}</td>
                  <td class="num">{count(r.open)}</td>
                  <td class="num">{count(r.clients)}</td>
                  <td>
                    <Ago at={r.lastSuccess} now={now} />
                  </td>
                  <td>
                    <Ago at={r.lastFailure} now={now} />
                    {r.lastFailureKind !== null && (
                      <span class="muted"> ({r.lastFailureKind.replace('_', ' ')})</span>
                    )}
                  </td>
                  <td>{failureText(r)}</td>
                  <td class="num">{count(r.requests)}</td>
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
