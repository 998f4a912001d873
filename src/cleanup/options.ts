/**
 * `cleanup`'s flags: what commander hands over, and which of the two use cases
 * they ask for: a cleanup run now (runCleanup), or `--schedule` /
 * `--unschedule` (runCleanupSchedule). The values are checked by those two,
 * with the same checks (flag-checks.ts and core/duration.ts), before anything
 * is opened or written.
 */
import type { CleanupOptions } from './run-cleanup.js';
import type { CleanupScheduleOptions } from './schedule.js';

/** commander's flags for `cleanup`. */
export interface CleanupFlags {
  olderThan?: string;
  before?: string;
  /** Repeatable. */
  experiment?: string[];
  allExperiments?: boolean;
  keepLast?: string;
  dryRun?: boolean;
  yes?: boolean;
  /** commander's --no-backup. */
  backup?: boolean;
  /** commander's --no-vacuum. */
  vacuum?: boolean;
  json?: boolean;
  batchSize?: string;
  project?: string;
  /** daily | weekly | monthly: install a recurring job instead of cleaning now. */
  schedule?: string;
  /** Remove the recurring job. */
  unschedule?: boolean;
}

/** `--schedule` or `--unschedule`: manage the recurring job instead of cleaning now. */
export function isScheduleRequest(flags: CleanupFlags): boolean {
  return flags.schedule !== undefined || Boolean(flags.unschedule);
}

/** The flags of `--schedule` / `--unschedule`, as runCleanupSchedule checks them. */
export function parseScheduleOptions(flags: CleanupFlags): CleanupScheduleOptions {
  const { project: _project, yes: _yes, ...options } = flags;
  return options;
}

/** The flags of a cleanup run, as runCleanup takes them. */
export function parseCleanupOptions(flags: CleanupFlags): CleanupOptions {
  return {
    olderThan: flags.olderThan,
    before: flags.before,
    experiments: flags.experiment,
    allExperiments: flags.allExperiments,
    keepLast: flags.keepLast,
    dryRun: flags.dryRun,
    yes: flags.yes,
    backup: flags.backup,
    vacuum: flags.vacuum,
    json: flags.json,
    batchSize: flags.batchSize,
  };
}
