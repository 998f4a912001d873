/**
 * `cleanup --schedule`'s input: the `cleanup` arguments the scheduled job runs
 * with, and the input refused (exit 2) before anything is written.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_SIZE } from '../../src/cleanup/flag-checks.js';
import { scheduledCleanupArgs } from '../../src/cleanup/schedule.js';
import { CliError } from '../../src/errors.js';

describe('scheduledCleanupArgs', () => {
  const project = '/home/me/project';

  it('always --older-than, --yes and --project; the options that change the cleanup pass through', () => {
    expect(scheduledCleanupArgs({ olderThan: '30d' }, project)).toEqual(['--older-than', '30d', '--yes', '--project', project]);
    expect(
      scheduledCleanupArgs(
        { olderThan: ' 2w ', experiment: ['a', ' b '], keepLast: '010', batchSize: '500', backup: false, vacuum: false },
        project,
      ),
    ).toEqual([
      '--older-than',
      '2w',
      '--yes',
      '--experiment',
      'a',
      '--experiment',
      'b',
      '--keep-last',
      '10',
      '--batch-size',
      '500',
      '--no-backup',
      '--no-vacuum',
      '--project',
      project,
    ]);
    expect(scheduledCleanupArgs({ olderThan: '12h', allExperiments: true }, project)).toEqual([
      '--older-than',
      '12h',
      '--yes',
      '--all-experiments',
      '--project',
      project,
    ]);
  });

  it.each([
    [{ before: '2026-01-01', olderThan: '30d' }, /fixed --before date/],
    [{}, /--schedule needs --older-than/],
    [{ olderThan: '30' }, /has no unit/],
    [{ olderThan: '0d' }, /is zero/],
    [{ olderThan: '30d', keepLast: 'many' }, /--keep-last needs a whole number/],
    [{ olderThan: '30d', batchSize: String(MAX_BATCH_SIZE + 1) }, /--batch-size needs a whole number from 1 to 10,000/],
    [{ olderThan: '30d', experiment: ['a'], allExperiments: true }, /not both/],
    [{ olderThan: '30d', experiment: [' '] }, /--experiment needs a name/],
  ])('%j is refused with exit 2', (options, message) => {
    let error: unknown;
    try {
      scheduledCleanupArgs(options, project);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(message);
  });
});
