/**
 * A cleanup's deletion, through MLflow, in batches: Ctrl-C (the AbortSignal)
 * stops between two batches; a batch is one MLflow call, one transaction.
 *
 * Time-path batches start at FIRST_BATCH_SIZE traces and adapt: doubled while
 * a batch takes under half a second, halved when one takes over two (each
 * MLflow call has a fixed cost, ~0.1 s on SQLite; Ctrl-C waits for one batch).
 * --batch-size fixes the size instead.
 */
import type { ListrTask } from 'listr2';
import { sizeBytes } from '../adapters/sqlite.js';
import { CliError, EXIT } from '../errors.js';
import { MAX_IDS_PER_DELETE, type DeleteRequest } from '../services/trace-backend.js';
import type { CleanupContext } from './context.js';
import { MAX_BATCH_SIZE } from './flag-checks.js';
import { count } from '../core/format.js';
import { idBatches, type ExperimentPlan } from './plan.js';
import type { CleanupReport } from './run-cleanup.js';

export const FIRST_BATCH_SIZE = 1000;
const FAST_BATCH_MS = 500;
const SLOW_BATCH_MS = 2000;

/** The report's line for one experiment, counting its deletions. */
type ExperimentRow = CleanupReport['experiments'][number];

/** Delete what the plan says, experiment by experiment; after Ctrl-C, say how far it got and stop. */
export async function deleteTraces(ctx: CleanupContext): Promise<number | undefined> {
  const { report, print } = ctx;
  const work = ctx.plan.experiments.filter((e) => e.toDelete > 0);
  if (work.length > 0) await runDeleteTasks(ctx, work);
  if (ctx.interrupted()) {
    report.interrupted = true;
    print(
      `Interrupted: deleted ${count(report.deleted, 'trace')} of ${report.planned.toLocaleString('en-US')}; the other ` +
        `${(report.planned - report.deleted).toLocaleString('en-US')} are untouched. Run the same command again to finish.`,
    );
    if (ctx.database) report.bytesAfter = sizeBytes(ctx.database);
    return EXIT.cancelled;
  }
  if (ctx.plan.toDelete > 0) {
    const parts = report.experiments.filter((e) => e.deleted > 0).map((e) => `${e.name} ${e.deleted.toLocaleString('en-US')}`);
    print(`Deleted ${count(report.deleted, 'trace')}${parts.length > 1 ? ` (${parts.join(', ')})` : ''}.`);
  }
  return undefined;
}

/** One listr2 task per experiment; an error ends the run, saying what had been deleted before it. */
async function runDeleteTasks(ctx: CleanupContext, work: ExperimentPlan[]): Promise<void> {
  const byId = new Map(ctx.report.experiments.map((e) => [e.id, e]));
  const { Listr } = await import('listr2');
  const list: ListrTask[] = work.map((e) => ({
    title: `${e.name}: delete ${count(e.toDelete, 'trace')}`,
    task: async (_listrCtx, task) => {
      const row = byId.get(e.id)!;
      await deleteExperiment(ctx, e, row, (text) => {
        task.output = text;
      });
      const cut = row.deleted < e.toDelete && ctx.interrupted() ? ' (interrupted)' : '';
      task.title = `${e.name}: deleted ${row.deleted.toLocaleString('en-US')} of ${count(e.toDelete, 'trace')}${cut}`;
    },
  }));
  const tasks = new Listr(list, {
    renderer: ctx.options.json ? 'silent' : (ctx.deps.renderer ?? 'silent'),
    exitOnError: true,
    registerSignalListeners: false,
  });
  try {
    await tasks.run();
  } catch (error) {
    const deleted = ctx.report.deleted;
    const partial =
      deleted > 0 ? ` ${count(deleted, 'trace')} had been deleted before that; the rest is untouched.` : ' Nothing was deleted.';
    const code = error instanceof CliError ? error.exitCode : EXIT.failure;
    throw new CliError(`${(error as Error).message}${partial}`, code);
  }
}

/** One experiment: by time in adaptive batches, then by id; Ctrl-C stops it between two batches. */
async function deleteExperiment(
  ctx: CleanupContext,
  e: ExperimentPlan,
  row: ExperimentRow,
  progress: (text: string) => void,
): Promise<void> {
  const deleteBatch = async (request: DeleteRequest): Promise<number> => {
    const n = await ctx.backend.deleteTraces(e.id, request);
    row.deleted += n;
    ctx.report.deleted += n;
    progress(`${row.deleted.toLocaleString('en-US')}/${e.toDelete.toLocaleString('en-US')} deleted`);
    return n;
  };
  if (e.byTime) {
    let left = e.byTime.count;
    while (left > 0) {
      if (ctx.interrupted()) return;
      const started = Date.now();
      const n = await deleteBatch({ maxTimestampMs: e.byTime.maxTimestampMs, maxTraces: Math.min(ctx.batchSize, left) });
      left -= n;
      if (n === 0) break; // someone else deleted them meanwhile
      adaptBatchSize(ctx, Date.now() - started);
    }
  }
  for (const ids of idBatches(e.byIds, Math.min(ctx.fixedBatch ?? MAX_IDS_PER_DELETE, MAX_IDS_PER_DELETE))) {
    if (ctx.interrupted()) return;
    await deleteBatch({ ids });
  }
}

/** Double the next batch after a fast one, halve it after a slow one; --batch-size keeps it fixed. */
function adaptBatchSize(ctx: CleanupContext, ms: number): void {
  if (ctx.fixedBatch !== undefined) return;
  if (ms < FAST_BATCH_MS) ctx.batchSize = Math.min(MAX_BATCH_SIZE, ctx.batchSize * 2);
  else if (ms > SLOW_BATCH_MS) ctx.batchSize = Math.max(100, Math.floor(ctx.batchSize / 2));
}
