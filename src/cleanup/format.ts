/** Human-readable dates for the cleanup plan and report (counts and sizes: src/core/format.ts). */

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
