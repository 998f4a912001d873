/** A cleanup asks before it deletes: on a terminal, or --yes; with neither, nothing is deleted. */
import { CliError, EXIT } from '../errors.js';
import { stopBeforeDeleting, type CleanupContext } from './context.js';
import { count } from '../core/format.js';
import { ownFilesCount } from './own-files.js';

/** Ask (unless --yes); "no" cancels, and so does a Ctrl-C pressed meanwhile. */
export async function confirmCleanup(ctx: CleanupContext): Promise<number | undefined> {
  const { options, deps, plan, own } = ctx;
  if (!options.yes) {
    if (!deps.confirm) {
      throw new CliError(
        'there is no terminal to confirm on, so nothing was deleted. Re-run with --yes to go ahead, or with --dry-run to only see the plan.',
        EXIT.usage,
      );
    }
    const what = [
      plan.toDelete > 0 ? `delete ${count(plan.toDelete, 'trace')}` : '',
      ownFilesCount(own) > 0 ? `tidy ${count(ownFilesCount(own), 'old log file')}` : '',
    ].filter(Boolean);
    if (what.length > 0 && !(await deps.confirm(`${what.join(' and ')}?`.replace(/^./, (c) => c.toUpperCase())))) {
      throw new CliError('Cancelled; nothing was deleted.', EXIT.cancelled);
    }
  }
  return ctx.interrupted() ? stopBeforeDeleting(ctx) : undefined;
}
