/** After the traces, our own files: old logs (ours and MLflow's hook log), and the spool files from before the cut-off. */
import type { CleanupContext } from './context.js';
import { count } from '../core/format.js';
import { applyLogActions, deleteFiles } from './own-files.js';
import type { SpoolChoice } from './run-cleanup.js';

/** Delete or trim the old logs; deliver, delete or keep the old spool files. */
export async function tidyOwnFiles(ctx: CleanupContext): Promise<undefined> {
  tidyLogs(ctx);
  if (ctx.spoolCount > 0) {
    const choice = await askSpoolChoice(ctx);
    ctx.report.spool.action = choice;
    await applySpoolChoice(ctx, choice);
  }
  return undefined;
}

function tidyLogs(ctx: CleanupContext): void {
  const logs = applyLogActions(ctx.own, ctx.cutoffMs);
  ctx.report.logs = logs;
  if (logs.removed.length + logs.trimmed.length > 0) {
    ctx.print(`Logs: removed ${count(logs.removed.length, 'old file')}${logs.trimmed.length ? `, trimmed ${logs.trimmed.length}` : ''}.`);
  }
}

/** On a terminal and without --yes, ask; otherwise keep them. */
async function askSpoolChoice(ctx: CleanupContext): Promise<SpoolChoice> {
  const { options, deps, spoolCount } = ctx;
  if (options.yes || !deps.chooseSpool) return 'keep';
  const question = `${count(spoolCount, 'spooled trace')} ${spoolCount === 1 ? 'was' : 'were'} spooled before the cut-off. Deliver the waiting ones now, delete them, or keep them?`;
  try {
    return await deps.chooseSpool(question);
  } catch {
    return 'keep'; // Ctrl-C at the question: the traces are already deleted; keep the spool
  }
}

async function applySpoolChoice(ctx: CleanupContext, choice: SpoolChoice): Promise<void> {
  const { report, own, deps, print } = ctx;
  if (choice === 'flush') {
    const { deliverSpoolNow } = await import('../services/delivery/flush-now.js');
    const result = await deliverSpoolNow(deps.dataRoot, Date.now() + 60_000, deps.env);
    report.spool.delivered = result.delivered;
    print(`Spool: delivered ${count(result.delivered, 'trace')}; ${result.remaining} still waiting.`);
  } else if (choice === 'delete') {
    report.spool.removed = deleteFiles([...own.spool, ...own.rejected]).length;
    print(`Spool: removed ${count(report.spool.removed, 'old spooled trace')}.`);
  } else {
    print(`Spool: kept ${count(ctx.spoolCount, 'trace')} spooled before the cut-off; \`claude-mlflow flush\` delivers the waiting ones.`);
  }
}
