import { ago, bytes, count } from './units.js';

/**
 * The text of `airlock top`: the admin API's status, services, clients and denials laid out in
 * a terminal's width. Takes the API's JSON as it comes and returns lines; no I/O.
 */

export interface TopSnapshot {
  readonly status: Record<string, unknown>;
  readonly services: { readonly rows: readonly Record<string, unknown>[] } | null;
  readonly clients: { readonly total: number; readonly rows: readonly Record<string, unknown>[] } | null;
  readonly denials: {
    readonly recent: readonly Record<string, unknown>[];
    readonly destinations: readonly Record<string, unknown>[];
  } | null;
}

export interface TopLayout {
  readonly width: number;
  /** Rows per section (services, clients, denials). */
  readonly rows: number;
  readonly now: number;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null || value === undefined ? '-' : JSON.stringify(value);
}

function fit(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

interface Column {
  readonly title: string;
  /** Fixed width; the one column without it takes what is left. */
  readonly width?: number;
  readonly right?: boolean;
}

/** A table in `width` columns: fixed columns keep their width, the flexible one shrinks first. */
function table(columns: readonly Column[], rows: readonly string[][], width: number): string[] {
  const gaps = columns.length - 1;
  const fixed = columns.reduce((n, c) => n + (c.width ?? 0), 0);
  const flexible = Math.max(8, width - fixed - gaps);
  const widths = columns.map((c) => c.width ?? flexible);
  const line = (cells: readonly string[]): string =>
    fit(
      cells
        .map((cell, i) => {
          const w = widths[i]!;
          const text = fit(cell, w);
          return columns[i]!.right === true ? text.padStart(w) : text.padEnd(w);
        })
        .join(' ')
        .trimEnd(),
      width,
    );
  return [line(columns.map((c) => c.title)), ...rows.map(line)];
}

function header(status: Record<string, unknown>, now: number, width: number): string[] {
  const observe = (status.observe ?? {}) as Record<string, unknown>;
  const totals = (observe.totals ?? {}) as Record<string, unknown>;
  const processes = Array.isArray(status.processes) ? (status.processes as Record<string, unknown>[]) : [];
  const up = processes.filter((p) => p.up === true).length;
  const parts = [
    `airlock ${str(status.mode)}`,
    `generation ${num(status.generation)}`,
    `up ${ago(num(status.startedAt), now)}`,
    `workers ${up}/${processes.length || num(status.workers)}`,
    `connections ${count(num(status.connections))}`,
    `tunnels ${count(num(observe.openTunnels))}`,
    `clients ${count(num(observe.clients))}`,
    `allowed ${count(num(totals.allowed))}`,
    `denied ${count(num(totals.denied))}`,
    `failed ${count(num(totals.failed))}`,
  ];
  const lines: string[] = [];
  let current = '';
  for (const part of parts) {
    if (current !== '' && current.length + 2 + part.length > width) {
      lines.push(current);
      current = part;
    } else current = current === '' ? part : `${current}  ${part}`;
  }
  if (current !== '') lines.push(current);
  const reload = ((status.reload ?? {}) as Record<string, unknown>).last as Record<string, unknown> | null;
  if (reload !== null && reload !== undefined && reload.trigger !== 'start') {
    const outcome =
      reload.ok === true
        ? `applied (${str(reload.trigger)})`
        : `REFUSED (${str(reload.trigger)}): ${str(reload.error).split('\n')[0]!}`;
    lines.push(fit(`last reload ${ago(num(reload.at), now)} ago: ${outcome}`, width));
  }
  if (observe.state === false) lines.push('the operator view is off (observe.state: false): counts only');
  return lines;
}

/** Failure kinds in the few columns a terminal has. */
const SHORT_KINDS: Readonly<Record<string, string>> = {
  upstream_reset: 'reset',
  upstream_timeout: 'timeout',
};

function failures(row: Record<string, unknown>): string {
  const f = (row.failures ?? {}) as Record<string, unknown>;
  const parts = Object.entries(f)
    .filter(([, n]) => num(n) > 0)
    .map(([kind, n]) => `${SHORT_KINDS[kind] ?? kind} ${num(n)}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** The whole screen (or `--once` snapshot) as lines, none longer than `layout.width`. */
export function renderTop(snapshot: TopSnapshot, layout: TopLayout): string[] {
  const { width, rows, now } = layout;
  const out = header(snapshot.status, now, width);

  const services = snapshot.services?.rows ?? [];
  out.push('', fit(`SERVICES (${services.length})`, width));
  const order = { failing: 0, reaching: 1, idle: 2 } as Record<string, number>;
  const sorted = [...services].sort(
    (a, b) =>
      (order[str(a.status)] ?? 3) - (order[str(b.status)] ?? 3) || str(a.key).localeCompare(str(b.key)),
  );
  out.push(
    ...table(
      [
        { title: 'SERVICE' },
        { title: 'STATUS', width: 8 },
        { title: 'OPEN', width: 5, right: true },
        { title: 'CLIENTS', width: 7, right: true },
        { title: 'LAST OK', width: 7, right: true },
        { title: 'BYTES', width: 8, right: true },
        { title: 'FAILURES', width: 22 },
      ],
      sorted
        .slice(0, rows)
        .map((s) => [
          s.key === '-' ? '(not in the catalog)' : str(s.key),
          str(s.status),
          String(num(s.open)),
          String(num(s.clients)),
          ago(s.lastSuccess, now),
          bytes(num(s.bytesFromClient) + num(s.bytesToClient)),
          failures(s),
        ]),
      width,
    ),
  );

  const clients = snapshot.clients;
  out.push('', fit(`CLIENTS (${clients === null ? 'off' : count(clients.total)})`, width));
  out.push(
    ...table(
      [
        { title: 'CLIENT', width: 28 },
        { title: 'SEEN', width: 5, right: true },
        { title: 'OPEN', width: 5, right: true },
        { title: 'ALLOWED', width: 8, right: true },
        { title: 'DENIED', width: 7, right: true },
        { title: 'SERVICES REACHED' },
      ],
      (clients?.rows ?? []).slice(0, rows).map((c) => {
        const reached = Array.isArray(c.services) ? (c.services as Record<string, unknown>[]) : [];
        return [
          c.name === null || c.name === undefined ? str(c.address) : `${str(c.address)} (${str(c.name)})`,
          ago(c.lastSeen, now),
          String(num(c.open)),
          count(num(c.allowed)),
          count(num(c.denied)),
          reached
            .map((s) => `${s.service === null ? '-' : str(s.service)} ${ago(s.lastAllowed, now)}`)
            .join(', ') || '-',
        ];
      }),
      width,
    ),
  );

  const denials = snapshot.denials?.destinations ?? [];
  out.push('', fit(`DENIALS (${denials.length} destinations)`, width));
  out.push(
    ...table(
      [
        { title: 'DESTINATION', width: 34 },
        { title: 'COUNT', width: 6, right: true },
        { title: 'LAST', width: 5, right: true },
        { title: 'REASON', width: 24 },
        { title: 'NEXT STEP' },
      ],
      denials.slice(0, rows).map((d) => {
        const explanation = (d.explanation ?? {}) as Record<string, unknown>;
        return [
          `${str(d.host)}:${num(d.port)}`,
          count(num(d.count)),
          ago(d.lastSeen, now),
          str(d.lastReason),
          typeof explanation.next === 'string' ? explanation.next : str(explanation.summary),
        ];
      }),
      width,
    ),
  );
  return out.map((line) => fit(line, width));
}
