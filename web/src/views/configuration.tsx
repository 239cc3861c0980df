import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { Ago, Badge, Empty, Section } from '../components.js';
import { count } from '../format.js';
import type { Model } from '../model.js';

const SHOWN_RULES = 500;

function list(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map((v) => list(v)).join(', ');
  if (value === undefined || value === null) return '(not set)';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return JSON.stringify(value);
}

/** The selection's keys in the order the documentation gives them, with what an unset key means. */
function selectionRows(selection: Readonly<Record<string, unknown>>): [string, string][] {
  const rows: [string, string][] = [];
  const first = ['products', 'geographies', 'cloud', 'services', 'excludeServices', 'os', 'includeOptional'];
  const keys = [...first, ...Object.keys(selection).filter((k) => !first.includes(k))];
  for (const key of keys) {
    const value = selection[key];
    if (value !== undefined) rows.push([key, list(value)]);
    else if (key === 'services') rows.push([key, '(not set: every service except the opt-in ones)']);
    else if (key === 'os') rows.push([key, '(not set: every OS)']);
  }
  return rows;
}

export function Configuration({ model, now }: { readonly model: Model; readonly now: number }) {
  const [filter, setFilter] = useState('');
  const status = model.status!;
  const policy = model.policy;
  const lint = policy?.lint ?? status.lint;
  const warnings = policy?.warnings ?? status.warnings;
  const f = filter.trim().toLowerCase();
  const rules = (policy?.rules ?? []).filter(
    (r) =>
      f === '' ||
      r.rule.toLowerCase().includes(f) ||
      r.origin.toLowerCase().includes(f) ||
      r.catalog.some((c) => `${c.product}/${c.service} ${c.id}`.toLowerCase().includes(f)),
  );
  const last = status.reload.last;
  const selection = policy?.selection;

  return (
    <>
      <div class="grid-2">
        <Section title="In force" id="cfg-summary">
          <dl class="facts">
            <dt>Mode</dt>
            <dd>
              {status.mode === 'audit' ? (
                <Badge kind="failing">audit: refusals are let through</Badge>
              ) : (
                'enforce'
              )}
            </dd>
            <dt>Configuration file</dt>
            <dd>
              <code>{status.config ?? '(built-in defaults)'}</code>
            </dd>
            <dt>Generation</dt>
            <dd>{status.generation}</dd>
            <dt>Last reload</dt>
            <dd>
              {last === null ? (
                'none since the start'
              ) : (
                <>
                  {last.ok ? <Badge kind="reaching">applied</Badge> : <Badge kind="failing">refused</Badge>}{' '}
                  <Ago at={last.at} now={now} /> ({last.trigger})
                  {last.error !== null && <pre class="error-text">{last.error}</pre>}
                </>
              )}
            </dd>
            <dt>Destinations</dt>
            <dd>
              {count(status.rules)} rules;{' '}
              {policy === null ? '–' : policy.catalogInForce ? 'the catalog selection' : 'your own list'}
            </dd>
            <dt>Clients allowed (policy.sources)</dt>
            <dd>{policy === null ? '–' : list(policy.sources)}</dd>
            <dt>Ports</dt>
            <dd>
              {policy === null
                ? '–'
                : `CONNECT ${list(policy.ports.connect)}; plain HTTP ${list(policy.ports.http)}`}
            </dd>
          </dl>
        </Section>
        <Section title="Catalog selection" id="cfg-catalog">
          {selection === undefined ? (
            <Empty>The gateway did not report its catalog selection.</Empty>
          ) : (
            <>
              {policy !== null && !policy.catalogInForce && (
                <p class="hint">Not in force: the destinations come from your own list.</p>
              )}
              <dl class="facts">
                {selectionRows(selection).map(([key, value]) => (
                  <Fragment key={key}>
                    <dt>
                      <code>catalog.{key}</code>
                    </dt>
                    <dd>{value}</dd>
                  </Fragment>
                ))}
              </dl>
            </>
          )}
        </Section>
      </div>

      <Section title={`Lint findings (${lint.length})`} id="cfg-lint">
        {lint.length === 0 ? (
          <Empty>No finding: no rule admits names any cloud customer can create.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Where</th>
                  <th scope="col">Why</th>
                  <th scope="col">Instead</th>
                </tr>
              </thead>
              <tbody>
                {lint.map((l, i) => (
                  <tr key={i}>
                    <td>
                      <Badge kind={l.severity === 'high' ? 'failing' : 'idle'}>{l.severity}</Badge>
                      <div class="muted small">{l.code}</div>
                    </td>
                    <td>
                      <code>{l.rule}</code>
                    </td>
                    <td>
                      <code>{l.where}</code>
                    </td>
                    <td>{l.why}</td>
                    <td>{l.narrow ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      {warnings.length > 0 && (
        <Section title={`Warnings (${warnings.length})`} id="cfg-warnings">
          <ul class="plain">
            {warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </Section>
      )}

      <Section title={`Effective policy (${count(policy?.rules.length ?? 0)} rules)`} id="cfg-rules">
        <div class="toolbar">
          <label class="grow">
            Filter rules{' '}
            <input
              type="search"
              value={filter}
              placeholder="host, file, catalog service or entry"
              onInput={(e) => setFilter(e.currentTarget.value)}
              data-search
            />
          </label>
        </div>
        {policy === null ? (
          <Empty>The policy is not available.</Empty>
        ) : rules.length === 0 ? (
          <Empty>No rule matches.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="rules">
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Ports</th>
                  <th scope="col">Origin</th>
                  <th scope="col">Catalog entries</th>
                </tr>
              </thead>
              <tbody>
                {rules.slice(0, SHOWN_RULES).map((r, i) => (
                  <tr key={i}>
                    <td>
                      <code>{r.rule}</code>
                    </td>
                    <td>{r.ports === null ? 'the method’s ports' : r.ports.join(', ')}</td>
                    <td>
                      <span class="muted">{r.source}</span> <code>{r.origin}</code>
                    </td>
                    <td class="small">
                      {r.catalog.length === 0
                        ? '–'
                        : [...new Set(r.catalog.map((c) => `${c.product}/${c.service}`))].join(', ')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {rules.length > SHOWN_RULES && (
              <p class="hint">{rules.length - SHOWN_RULES} more: narrow the filter to see them.</p>
            )}
          </div>
        )}
      </Section>
    </>
  );
}
