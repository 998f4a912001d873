/** Human-readable numbers, sizes and dates for the cleanup plan and report. */

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'unknown';
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** Local time, to the minute: `2026-10-01 14:05`. */
export function localTime(ms: number | undefined): string {
  if (ms === undefined) return '?';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Local date: `2026-10-01`. */
export function localDate(ms: number | undefined): string {
  return localTime(ms).slice(0, 10);
}

export function dateRange(oldestMs: number | undefined, newestMs: number | undefined): string {
  if (oldestMs === undefined) return '';
  const [a, b] = [localDate(oldestMs), localDate(newestMs ?? oldestMs)];
  return a === b ? `from ${a}` : `from ${a} to ${b}`;
}
