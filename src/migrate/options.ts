/**
 * `migrate`'s flags: what commander hands over, as the options runMigrate
 * takes. `--to` is checked by runMigrate first of all, before anything is read.
 */
import type { MigrateOptions } from './run-migrate.js';

/** commander's flags for `migrate` (`--to` is required by commander). */
export interface MigrateFlags {
  to: string;
  dryRun?: boolean;
  yes?: boolean;
}

export function parseMigrateOptions(flags: MigrateFlags): MigrateOptions {
  return { to: flags.to, dryRun: flags.dryRun, yes: flags.yes };
}
