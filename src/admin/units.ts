/**
 * How the operator views (`airlock top` and the browser dashboard) write times, counts and byte
 * sizes. Pure, with no imports: the dashboard's bundle uses it too.
 */

/** "3s", "12m", "5h", "2d" ago; "-" for never. */
export function ago(at: unknown, now: number): string {
  if (typeof at !== 'number' || at <= 0) return '-';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** 512B, 1.5KB, 3.2MB, ... (powers of 1024). */
export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${units[unit]}`;
}
