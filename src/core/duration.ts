/**
 * Cut-offs for `cleanup`: `--older-than 30d` and `--before 2026-10-01`.
 *
 * A duration is a whole positive number and a unit: `h` (hours), `d` (days)
 * or `w` (weeks). There is no default unit: `30` is an error, never 30 ms.
 * A day is 24 hours (the cut-off is `now - n × 24 h`, whatever the DST).
 *
 * A date is `YYYY-MM-DD`, read as local midnight (the date the user sees on
 * their calendar), or an ISO 8601 date-time with a time zone
 * (`2026-10-01T12:00:00Z`, `2026-10-01T12:00+02:00`). It must not be in the
 * future: that would select every trace.
 */
import { CliError, EXIT } from '../errors.js';
import { plural } from './format.js';

const HOUR_MS = 3_600_000;
const UNITS: Record<string, { ms: number; name: string }> = {
  h: { ms: HOUR_MS, name: 'hour' },
  d: { ms: 24 * HOUR_MS, name: 'day' },
  w: { ms: 7 * 24 * HOUR_MS, name: 'week' },
};
/** Longer than this is surely a typo (and would overflow a date). */
const MAX_MS = 100 * 366 * 24 * HOUR_MS;

const EXAMPLES = 'use a whole number and a unit: 12h, 30d or 2w';

/** `30d` → 30 days in ms. Anything else (bare number, zero, negative, fraction, unknown unit) → CliError, exit 2. */
export function parseDuration(text: string, flag = '--older-than'): number {
  const value = String(text ?? '').trim();
  const shown = JSON.stringify(String(text ?? ''));
  if (value === '') throw new CliError(`${flag} needs a duration (${EXAMPLES})`, EXIT.usage);
  if (/^[+-]?\d+(\.\d+)?$/.test(value)) {
    throw new CliError(`${flag} ${shown} has no unit; ${EXAMPLES} (a bare number is not taken as milliseconds)`, EXIT.usage);
  }
  if (/^-/.test(value)) throw new CliError(`${flag} ${shown} is negative; ${EXAMPLES}`, EXIT.usage);
  const match = /^\+?(\d+)([a-zA-Z]+)$/.exec(value);
  if (!match) {
    const why = /^\+?\d*[.,]\d/.test(value) ? 'is not a whole number' : 'is not a duration';
    throw new CliError(`${flag} ${shown} ${why}; ${EXAMPLES}`, EXIT.usage);
  }
  const [, digits, rawUnit] = match as unknown as [string, string, string];
  const unit = UNITS[rawUnit.toLowerCase()];
  if (!unit) throw new CliError(`${flag} ${shown}: unknown unit "${rawUnit}"; ${EXAMPLES}`, EXIT.usage);
  const amount = Number(digits);
  if (amount === 0) throw new CliError(`${flag} ${shown} is zero, which would select every trace; ${EXAMPLES}`, EXIT.usage);
  const ms = amount * unit.ms;
  if (!Number.isSafeInteger(ms) || ms > MAX_MS) throw new CliError(`${flag} ${shown} is too long (at most 100 years)`, EXIT.usage);
  return ms;
}

/** `2592000000` → `30 days`; for messages. */
export function formatDuration(ms: number): string {
  for (const key of ['w', 'd', 'h'] as const) {
    const unit = UNITS[key]!;
    if (ms % unit.ms === 0 && ms >= unit.ms) {
      const n = ms / unit.ms;
      return plural(n, unit.name);
    }
  }
  return `${ms} ms`;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `2026-10-01` → epoch ms of that day's local midnight; an ISO date-time with
 * a zone → that instant. Invalid, or later than `now` → CliError, exit 2.
 */
export function parseDate(text: string, now = Date.now(), flag = '--before'): number {
  const value = String(text ?? '').trim();
  const shown = JSON.stringify(String(text ?? ''));
  const usage = 'use YYYY-MM-DD (local midnight) or an ISO date-time with a zone, e.g. 2026-10-01T00:00:00Z';
  let ms: number;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (month < 1 || month > 12 || date < 1 || date > daysInMonth(year, month)) {
      throw new CliError(`${flag} ${shown} is not a calendar date; ${usage}`, EXIT.usage);
    }
    ms = new Date(year, month - 1, date).getTime();
  } else {
    const stamp = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
    if (!stamp) throw new CliError(`${flag} ${shown} is not a date; ${usage}`, EXIT.usage);
    const [year, month, date, hour, minute, second] = stamp.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
    if (month! < 1 || month! > 12 || date! < 1 || date! > daysInMonth(year!, month!) || hour! > 23 || minute! > 59 || second! > 59) {
      throw new CliError(`${flag} ${shown} is not a valid date-time; ${usage}`, EXIT.usage);
    }
    ms = Date.parse(value);
    if (!Number.isFinite(ms)) throw new CliError(`${flag} ${shown} is not a date; ${usage}`, EXIT.usage);
  }
  if (ms > now) throw new CliError(`${flag} ${shown} is in the future: that would select every trace`, EXIT.usage);
  if (ms <= 0) throw new CliError(`${flag} ${shown} is before 1970`, EXIT.usage);
  return ms;
}

/** The cut-off from exactly one of --older-than and --before: traces that started before it are selected. */
export function cutoffFrom(options: { olderThan?: string; before?: string }, now = Date.now()): { cutoffMs: number; label: string } {
  const hasOlder = options.olderThan !== undefined;
  const hasBefore = options.before !== undefined;
  if (hasOlder && hasBefore) throw new CliError('give either --older-than or --before, not both', EXIT.usage);
  if (!hasOlder && !hasBefore) throw new CliError('say what to remove: --older-than 30d (h, d or w) or --before YYYY-MM-DD', EXIT.usage);
  if (hasOlder) {
    const ms = parseDuration(options.olderThan!);
    return { cutoffMs: now - ms, label: `older than ${formatDuration(ms)}` };
  }
  const cutoffMs = parseDate(options.before!, now);
  return { cutoffMs, label: `from before ${options.before!.trim()}` };
}
