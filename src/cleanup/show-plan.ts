/** A cleanup's plan on the screen: per experiment, the total, our own old files, the backup to come. */
import { EXIT } from '../errors.js';
import type { CleanupContext } from './context.js';
import { count, formatBytes } from '../core/format.js';
import { dateRange, localTime } from './format.js';
import { ownFilesCount, type OwnFilesPlan } from './own-files.js';
import type { ExperimentPlan } from './plan.js';

/** Print the plan; --dry-run stops here, and so does a plan with nothing in it. */
export async function showPlan(ctx: CleanupContext): Promise<number | undefined> {
  printPlan(ctx);
  if (ctx.options.dryRun) {
    ctx.print('Dry run: nothing was changed.');
    return EXIT.ok;
  }
  if (ctx.plan.toDelete === 0 && ownFilesCount(ctx.own) === 0 && ctx.spoolCount === 0) {
    ctx.print('Nothing to clean up.');
    return EXIT.ok;
  }
  return undefined;
}

function printPlan(ctx: CleanupContext): void {
  const { plan, print, keepLast, database } = ctx;
  print(
    `Cleanup plan: traces ${ctx.label} (started before ${localTime(plan.cutoffMs)})${keepLast ? `, keeping the newest ${keepLast} of each experiment` : ''}.`,
  );
  for (const e of plan.experiments) printExperimentPlan(print, e, keepLast);
  const space = plan.estimatedBytes === undefined ? '' : `, ≈ ${formatBytes(plan.estimatedBytes)} to free`;
  const db = database ? ` (database ${formatBytes(ctx.report.bytesBefore)})` : '';
  print(`Total: ${count(plan.toDelete, 'trace')}${space}${db}.`);
  printOwnFilesPlan(print, ctx.own);
  if (plan.toDelete > 0 && database) {
    print(
      ctx.wantBackup
        ? `Before deleting, the database is backed up into the data folder (--no-backup skips it).`
        : 'No backup (--no-backup).',
    );
  } else if (plan.toDelete > 0) {
    print("The server's database is not a SQLite file on this machine: no backup and no VACUUM from here (use the database's own).");
  }
}

function printExperimentPlan(print: (line: string) => void, e: ExperimentPlan, keepLast: number | undefined): void {
  const label = `${e.name} (id ${e.id}${e.deleted ? ', deleted' : ''})`;
  if (e.toDelete === 0) {
    print(
      `  ${label}: nothing to delete (${count(e.total, 'trace')}${e.keptByKeepLast ? `; ${e.keptByKeepLast} older kept by --keep-last` : ''}).`,
    );
    return;
  }
  const size = e.estimatedBytes === undefined ? '' : `, ≈ ${formatBytes(e.estimatedBytes)}`;
  print(
    `  ${label}: delete ${count(e.toDelete, 'trace')} of ${e.total.toLocaleString('en-US')}, ${dateRange(e.oldestMs, e.newestMs)}${size}.`,
  );
  if (e.keptByKeepLast) print(`    ${count(e.keptByKeepLast, 'older trace')} kept by --keep-last ${keepLast}.`);
}

/** Our own old logs, MLflow's hook log, and the spool files from before the cut-off. */
function printOwnFilesPlan(print: (line: string) => void, own: OwnFilesPlan): void {
  const logs = own.logs.length + own.mlflowHookLogs.length;
  if (logs > 0) {
    const freed = [...own.logs, ...own.mlflowHookLogs].reduce((s, a) => s + a.bytes, 0);
    print(
      `Old logs: ${count(logs, 'file')} to delete or trim (${formatBytes(freed)})${own.mlflowHookLogs.length ? `, including MLflow's hook log in ${own.mlflowHookLogs[0]!.file}` : ''}.`,
    );
  }
  if (own.spool.length + own.rejected.length > 0) {
    const parts = [
      own.spool.length ? `${count(own.spool.length, 'trace')} waiting in the spool` : '',
      own.rejected.length ? `${count(own.rejected.length, 'refused trace')} in spool/rejected` : '',
    ].filter(Boolean);
    print(`Spool: ${parts.join(' and ')}, spooled before the cut-off.`);
  }
}
