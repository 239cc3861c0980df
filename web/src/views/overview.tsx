import { Chart } from '../chart.js';
import { Ago, Badge, Empty, Section } from '../components.js';
import { bytes, clock, count, duration } from '../format.js';
import type { Model } from '../model.js';
import type { HistoryMinute } from '../types.js';

const MINUTE = 60_000;

/** The last hour minute by minute, zeros where nothing happened, so the axis is always an hour. */
export function hourOf(history: readonly HistoryMinute[], now: number): HistoryMinute[] {
  const byMinute = new Map(history.map((h) => [h.minute, h]));
  const last = Math.floor(now / MINUTE) * MINUTE;
  const out: HistoryMinute[] = [];
  for (let m = last - 59 * MINUTE; m <= last; m += MINUTE) {
    out.push(
      byMinute.get(m) ?? { minute: m, allowed: 0, denied: 0, failed: 0, opened: 0, bytes: 0, openPeak: 0 },
    );
  }
  return out;
}

function Tile({
  label,
  value,
  note,
}: {
  readonly label: string;
  readonly value: string;
  readonly note?: string;
}) {
  return (
    <div class="tile">
      <div class="tile-label">{label}</div>
      <div class="tile-value">{value}</div>
      {note !== undefined && <div class="tile-note">{note}</div>}
    </div>
  );
}

function peakOf(hour: readonly HistoryMinute[], pick: (h: HistoryMinute) => number): HistoryMinute | null {
  let best: HistoryMinute | null = null;
  for (const h of hour) if (pick(h) > 0 && (best === null || pick(h) > pick(best))) best = h;
  return best;
}

export function Overview({ model, now }: { readonly model: Model; readonly now: number }) {
  const status = model.status!;
  const observe = status.observe;
  const rates = model.rates();
  const up = status.processes.filter((p) => p.up).length;
  const last = status.reload.last;
  const services = model.serviceRows();
  const failing = services.filter((s) => s.status === 'failing').length;
  const reaching = services.filter((s) => s.status === 'reaching').length;
  const idle = services.filter((s) => s.status === 'idle').length;
  const hour = hourOf(model.history, now);
  const minutes = hour.map((h) => h.minute);
  const totalOpened = hour.reduce((n, h) => n + h.opened, 0);
  const totalDenied = hour.reduce((n, h) => n + h.denied, 0);
  const totalFailed = hour.reduce((n, h) => n + h.failed, 0);
  const openPeak = peakOf(hour, (h) => h.openPeak);
  const deniedPeak = peakOf(hour, (h) => h.denied);
  const span =
    rates === null
      ? 'measuring…'
      : rates.seconds >= 59
        ? 'in the last minute'
        : `in the ${rates.seconds} s since the page opened`;

  return (
    <>
      {!model.observing && (
        <p class="notice">
          The operator view is off (<code>observe.state: false</code>): counts below come from the workers
          only.
        </p>
      )}
      <div class="tiles">
        <Tile label="Open tunnels" value={count(model.openTunnels())} />
        <Tile
          label="Throughput"
          value={rates === null ? '–' : `${bytes(Math.round(rates.bytesPerSecond))}/s`}
          note={`requests and tunnels that finished, ${span}`}
        />
        <Tile label="Allowed, last minute" value={rates === null ? '–' : count(rates.allowed)} note={span} />
        <Tile label="Refused, last minute" value={rates === null ? '–' : count(rates.denied)} note={span} />
        <Tile
          label="Clients"
          value={count(observe.clients ?? 0)}
          note={`${count(status.connections)} connection${status.connections === 1 ? '' : 's'} now`}
        />
        <Tile
          label="Workers"
          value={`${up} of ${status.processes.length} up`}
          note={`generation ${status.generation}, up ${duration(status.uptimeSeconds)}`}
        />
      </div>

      <div class="grid-2">
        <Chart
          id="chart-tunnels"
          title="Tunnels, last hour (per minute)"
          minutes={minutes}
          series={[
            { label: 'open (peak)', color: '#2563eb', values: hour.map((h) => h.openPeak), area: true },
            { label: 'opened', color: '#0f766e', values: hour.map((h) => h.opened) },
          ]}
          description={
            totalOpened === 0 && openPeak === null
              ? 'No tunnel in the last hour.'
              : `${count(totalOpened)} tunnels opened in the last hour${openPeak === null ? '' : `; at most ${count(openPeak.openPeak)} open at once, at ${clock(openPeak.minute)}`}.`
          }
        />
        <Chart
          id="chart-denials"
          title="Refusals and failures, last hour (per minute)"
          minutes={minutes}
          series={[
            { label: 'refused', color: '#dc2626', values: hour.map((h) => h.denied), area: true },
            { label: 'failed', color: '#b45309', values: hour.map((h) => h.failed) },
          ]}
          description={
            totalDenied + totalFailed === 0
              ? 'No refusal and no failure in the last hour.'
              : `${count(totalDenied)} refused and ${count(totalFailed)} failed in the last hour${deniedPeak === null ? '' : `; most refusals at ${clock(deniedPeak.minute)} (${count(deniedPeak.denied)})`}.`
          }
        />
      </div>

      <div class="grid-2">
        <Section title="Services" id="ov-services" actions={<a href="#/services">All services</a>}>
          {services.length === 0 ? (
            <Empty>The policy opens no catalog service, and no traffic has been seen.</Empty>
          ) : (
            <p class="counts">
              <Badge kind="failing">{failing} failing</Badge>{' '}
              <Badge kind="reaching">{reaching} reaching</Badge> <Badge kind="idle">{idle} idle</Badge>
            </p>
          )}
          {services
            .filter((s) => s.status === 'failing')
            .slice(0, 5)
            .map((s) => (
              <p key={s.key} class="line">
                <strong>{s.serviceLabel ?? s.key}</strong> ({s.key}): last failure{' '}
                <Ago at={s.lastFailure} now={now} />
                {s.lastFailureKind !== null && <> ({s.lastFailureKind})</>}
              </p>
            ))}
        </Section>
        <Section title="Last reload" id="ov-reload" actions={<a href="#/config">Configuration</a>}>
          {last === null ? (
            <Empty>No reload since the start.</Empty>
          ) : (
            <div class="line">
              {last.ok ? <Badge kind="reaching">applied</Badge> : <Badge kind="failing">refused</Badge>}{' '}
              <Ago at={last.at} now={now} /> ({last.trigger}), generation {last.generation}
              {last.error !== null && <pre class="error-text">{last.error}</pre>}
            </div>
          )}
        </Section>
      </div>

      <Section title="Latest refusals" id="ov-denials" actions={<a href="#/denials">All refusals</a>}>
        {model.recent.length === 0 ? (
          <Empty>No refusal yet.</Empty>
        ) : (
          <ul class="plain">
            {model.recent.slice(0, 5).map((d) => (
              <li key={d.id}>
                <Ago at={d.at} now={now} /> <code>{d.client}</code> → <code>{`${d.host}:${d.port}`}</code>{' '}
                <span class="reason">{d.reason}</span>
                {typeof d.explanation?.next === 'string' && <span class="next"> — {d.explanation.next}</span>}
              </li>
            ))}
          </ul>
        )}
      </Section>

      <Section title="Workers" id="ov-workers">
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">State</th>
                <th scope="col">PID</th>
                <th scope="col" class="num">
                  Connections
                </th>
                <th scope="col" class="num">
                  Relayed tunnels
                </th>
                <th scope="col" class="num">
                  Generation
                </th>
              </tr>
            </thead>
            <tbody>
              {status.processes.map((p) => (
                <tr key={p.index}>
                  <td>#{p.index}</td>
                  <td>
                    {p.up ? <Badge kind="reaching">up</Badge> : <Badge kind="failing">not answering</Badge>}
                  </td>
                  <td>{p.pid ?? '–'}</td>
                  <td class="num">{p.connections ?? '–'}</td>
                  <td class="num">{p.relayed ?? '–'}</td>
                  <td class="num">{p.generation ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>

      {status.warnings.length > 0 && (
        <Section title="Warnings" id="ov-warnings">
          <ul class="plain">
            {status.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}
