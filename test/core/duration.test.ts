import { describe, expect, it } from 'vitest';
import { cutoffFrom, formatDuration, parseDate, parseDuration } from '../../src/core/duration.js';
import { CliError } from '../../src/errors.js';

const H = 3_600_000;
const D = 24 * H;

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
}

describe('parseDuration', () => {
  it.each([
    ['12h', 12 * H],
    ['30d', 30 * D],
    ['2w', 14 * D],
    ['1h', H],
    [' 30d ', 30 * D],
    ['30D', 30 * D],
    ['+7d', 7 * D],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([
    ['30', /"30" has no unit.*12h, 30d or 2w.*not taken as milliseconds/],
    ['0', /has no unit/],
    ['-5', /has no unit/],
    ['1.5', /has no unit/],
    ['0d', /is zero/],
    ['0h', /is zero/],
    ['-1d', /is negative/],
    ['-0d', /is negative/],
    ['3x', /unknown unit "x"/],
    ['30days', /unknown unit "days"/],
    ['30ms', /unknown unit "ms"/],
    ['1.5d', /not a whole number/],
    ['1,5d', /not a whole number/],
    ['d', /not a duration/],
    ['30 d', /not a duration/],
    ['1e3d', /not a duration/],
    ['', /needs a duration/],
    ['999999999w', /too long/],
  ])('%j is refused', (text, message) => expect(usage(() => parseDuration(text))).toMatch(message));

  it('formats back', () => {
    expect(formatDuration(30 * D)).toBe('30 days');
    expect(formatDuration(14 * D)).toBe('2 weeks');
    expect(formatDuration(H)).toBe('1 hour');
    expect(formatDuration(36 * H)).toBe('36 hours');
  });
});

describe('parseDate', () => {
  const now = new Date(2026, 10, 25, 12, 0).getTime();
  it('YYYY-MM-DD is local midnight', () => {
    expect(parseDate('2026-10-01', now)).toBe(new Date(2026, 9, 1).getTime());
    expect(parseDate('2024-02-29', now)).toBe(new Date(2024, 1, 29).getTime());
  });
  it('an ISO date-time with a zone is that instant', () => {
    expect(parseDate('2026-10-01T12:30:00Z', now)).toBe(Date.UTC(2026, 9, 1, 12, 30));
    expect(parseDate('2026-10-01T12:30+02:00', now)).toBe(Date.UTC(2026, 9, 1, 10, 30));
  });
  it.each([
    ['2026-02-30', /not a calendar date/],
    ['2025-02-29', /not a calendar date/],
    ['2026-13-01', /not a calendar date/],
    ['2026-1-1', /not a date/],
    ['01/10/2026', /not a date/],
    ['2026-10-01T12:00', /not a date/], // no zone: ambiguous
    ['2026-10-01T25:00Z', /not a valid date-time/],
    ['tomorrow', /not a date/],
    ['2027-01-01', /in the future/],
    ['1969-12-31', /before 1970/],
  ])('%j is refused', (text, message) => expect(usage(() => parseDate(text, now))).toMatch(message));
});

describe('cutoffFrom', () => {
  const now = Date.UTC(2026, 10, 25);
  it('takes exactly one of --older-than and --before', () => {
    expect(cutoffFrom({ olderThan: '30d' }, now)).toEqual({ cutoffMs: now - 30 * D, label: 'older than 30 days' });
    expect(cutoffFrom({ before: '2026-10-01' }, now).cutoffMs).toBe(new Date(2026, 9, 1).getTime());
    expect(usage(() => cutoffFrom({}, now))).toMatch(/--older-than 30d .* or --before YYYY-MM-DD/);
    expect(usage(() => cutoffFrom({ olderThan: '1d', before: '2026-01-01' }, now))).toMatch(/not both/);
  });
});
