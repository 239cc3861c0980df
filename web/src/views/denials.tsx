import { useState } from 'preact/hooks';
import type { PolicyFacts, PolicyRule } from '../config-snippet.js';
import { Ago, Badge, CopyActions, Empty, Section, policyFacts } from '../components.js';
import { clock, count, hostPort, stamp } from '../format.js';
import type { Model } from '../model.js';
import type { Denial, DeniedDestination, Explanation } from '../types.js';

/** Rows of the live tail drawn at once. */
const SHOWN = 200;

function matches(filter: string, fields: readonly (string | null | undefined)[]): boolean {
  const f = filter.trim().toLowerCase();
  return f === '' || fields.some((x) => typeof x === 'string' && x.toLowerCase().includes(f));
}

function explanationFields(e: Explanation | null): string[] {
  return e === null ? [] : [e.code, e.summary, e.next ?? ''];
}

function ExplanationText({ explanation }: { readonly explanation: Explanation | null }) {
  if (explanation === null) return <span class="muted">no explanation</span>;
  return (
    <div class="explanation">
      <p>
        <Badge kind="code">{explanation.code}</Badge> {explanation.summary}
      </p>
      <p class="next">
        {explanation.next === null ? (
          <span class="muted">Nothing to change: the refusal is right.</span>
        ) : (
          <>
            <strong>Next step:</strong> {explanation.next}
          </>
        )}
      </p>
    </div>
  );
}

interface RowProps {
  readonly facts: PolicyFacts;
  readonly rules: readonly PolicyRule[];
  readonly now: number;
}

function TailRow({ d, facts, rules, now }: RowProps & { readonly d: Denial }) {
  return (
    <tr data-denial={d.host}>
      <td>
        <time dateTime={new Date(d.at).toISOString()} title={stamp(d.at)}>
          {clock(d.at)}
        </time>
        <div class="muted small">
          <Ago at={d.at} now={now} />
        </div>
      </td>
      <td>
        <code>{d.client}</code>
        {d.clientName !== null && <div class="muted">{d.clientName}</div>}
      </td>
      <td>
        <span class="muted">{d.method}</span> <code>{hostPort(d.host, d.port)}</code>
        {d.sni !== null && d.sni !== d.host && <div class="muted small">TLS name {d.sni}</div>}
      </td>
      <td>
        <span class="reason">{d.reason}</span>
        {d.audit && (
          <div>
            <Badge kind="idle">audit: let through</Badge>
          </div>
        )}
      </td>
      <td class="wide">
        <ExplanationText explanation={d.explanation} />
        <CopyActions
          method={d.method}
          host={d.host}
          port={d.port}
          reason={d.reason}
          rule={d.rule}
          explanation={d.explanation}
          facts={facts}
          rules={rules}
        />
      </td>
    </tr>
  );
}

/**
 * The method a refused destination was asked with: the live tail's, else CONNECT unless the port
 * is a plain-HTTP port only (the destinations view counts by host and port, not by method).
 */
function methodOf(d: DeniedDestination, tail: readonly Denial[], facts: PolicyFacts): string {
  const seen = tail.find((t) => t.host === d.host && t.port === d.port);
  if (seen !== undefined) return seen.method;
  return facts.ports.http.includes(d.port) && !facts.ports.connect.includes(d.port) ? 'GET' : 'CONNECT';
}

function DestinationRow({
  d,
  method,
  facts,
  rules,
  now,
}: RowProps & { readonly d: DeniedDestination; readonly method: string }) {
  return (
    <tr data-destination={d.host}>
      <th scope="row">
        <code>{hostPort(d.host, d.port)}</code>
      </th>
      <td class="num">{count(d.count)}</td>
      <td>
        {d.clients.slice(0, 4).join(', ')}
        {d.clients.length > 4 || d.moreClients ? ', …' : ''}
      </td>
      <td>
        <Ago at={d.lastSeen} now={now} />
      </td>
      <td>
        <span class="reason">{d.lastReason}</span>
      </td>
      <td class="wide">
        <ExplanationText explanation={d.explanation} />
        <CopyActions
          method={method}
          host={d.host}
          port={d.port}
          reason={d.lastReason}
          rule={null}
          explanation={d.explanation}
          facts={facts}
          rules={rules}
        />
      </td>
    </tr>
  );
}

export function Denials({ model, now }: { readonly model: Model; readonly now: number }) {
  const [filter, setFilter] = useState('');
  const [frozen, setFrozen] = useState<Denial[] | null>(null);
  const facts = policyFacts(model.policy);
  const rules = model.policy?.rules ?? [];
  const tail = frozen ?? model.recent;
  const waiting =
    frozen === null
      ? 0
      : Math.max(
          0,
          model.recent.findIndex((d) => d.id === frozen[0]?.id),
        );
  const shownTail = tail
    .filter((d) =>
      matches(filter, [d.host, d.client, d.clientName, d.reason, d.sni, ...explanationFields(d.explanation)]),
    )
    .slice(0, SHOWN);
  const destinations = model.destinations.filter((d) =>
    matches(filter, [d.host, d.lastReason, ...d.clients, ...explanationFields(d.explanation)]),
  );

  return (
    <>
      <div class="toolbar">
        <label class="grow">
          Filter{' '}
          <input
            type="search"
            value={filter}
            placeholder="host, client, reason or explanation"
            onInput={(e) => setFilter(e.currentTarget.value)}
            data-search
          />
        </label>
        <button
          type="button"
          aria-pressed={frozen !== null}
          onClick={() => setFrozen(frozen === null ? [...model.recent] : null)}
        >
          {frozen === null ? 'Pause live tail' : `Resume live tail${waiting > 0 ? ` (${waiting} new)` : ''}`}
        </button>
      </div>

      <Section
        title={`Live tail: the latest ${model.recent.length === 1 ? 'refusal' : `${count(model.recent.length)} refusals`}, newest first`}
        id="tail"
      >
        {model.recent.length === 0 ? (
          <Empty>
            No refusal yet. Each one appears here as it happens, with why it was refused and what to change if
            it should pass.
          </Empty>
        ) : shownTail.length === 0 ? (
          <Empty>No refusal matches the filter.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="tail" aria-live="off">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Client</th>
                  <th scope="col">Request</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Explanation</th>
                </tr>
              </thead>
              <tbody>
                {shownTail.map((d) => (
                  <TailRow key={d.id} d={d} facts={facts} rules={rules} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section title={`Refused destinations (${count(model.deniedTotal)})`} id="destinations">
        {model.destinations.length === 0 ? (
          <Empty>No destination has been refused.</Empty>
        ) : destinations.length === 0 ? (
          <Empty>No destination matches the filter.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Destination</th>
                  <th scope="col" class="num">
                    Refusals
                  </th>
                  <th scope="col">Clients</th>
                  <th scope="col">Last</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Explanation</th>
                </tr>
              </thead>
              <tbody>
                {destinations.map((d) => (
                  <DestinationRow
                    key={hostPort(d.host, d.port)}
                    d={d}
                    method={methodOf(d, model.recent, facts)}
                    facts={facts}
                    rules={rules}
                    now={now}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </>
  );
}
