/**
 * The last step of a cleanup that deleted traces from a SQLite file: VACUUM,
 * which gives the freed pages back to the disk. It needs the database to
 * itself: directly when MLflow's Python client was ours (closed first), by
 * pausing the server when it is ours to pause; otherwise the user is told how.
 */
import { sizeBytes, vacuum } from '../adapters/sqlite.js';
import { commandLine } from '../core/shell-quote.js';
import { isolatedPython } from '../core/python-isolated.js';
import type { CleanupContext } from './context.js';
import { formatBytes } from '../core/format.js';
import { rotateServerLog } from './own-files.js';
import type { CleanupTarget, ServerControl } from './target.js';

/** VACUUM when it can (not with --no-vacuum), then the database's size before and after, or how to do it later. */
export async function giveSpaceBack(ctx: CleanupContext): Promise<undefined> {
  const { report, database } = ctx;
  if (!(report.deleted > 0 && database)) return undefined;
  const server = ctx.target.server;
  if (ctx.options.vacuum === false) {
    leaveVacuumToUser(ctx, 'skipped');
  } else if (ctx.backend.kind === 'python') {
    await ctx.backend.close();
    ctx.backendOpen = false;
    await vacuumNow(ctx, database);
  } else if (server && (await server.isRunning())) {
    await pauseServerToVacuum(ctx, server, database);
  } else {
    leaveVacuumToUser(ctx, 'manual');
  }
  report.bytesAfter = sizeBytes(database);
  if (report.vacuum === 'done') {
    ctx.print(`Database: ${formatBytes(report.bytesBefore)} → ${formatBytes(report.bytesAfter)} (VACUUM).`);
  } else {
    ctx.print(
      `Database: ${formatBytes(report.bytesBefore)}; the freed pages are reused by new traces, but the file does not shrink until VACUUM.`,
    );
    ctx.print(`To give the space back to the disk, ${report.vacuumHint}.`);
  }
  return undefined;
}

/** VACUUM the database, which nothing else has open; a failure is reported with how to do it later. */
async function vacuumNow(ctx: CleanupContext, database: string): Promise<void> {
  try {
    rotateServerLog(ctx.deps.dataRoot);
    await vacuum(ctx.tool!, database);
    ctx.report.vacuum = 'done';
  } catch (error) {
    ctx.report.vacuum = 'failed';
    ctx.report.vacuumHint = `${(error as Error).message}; later, ${vacuumHint(ctx.target)}`;
  }
}

/** Stop our server, VACUUM, start it again: a step Ctrl-C must not cut short (onCritical). */
async function pauseServerToVacuum(ctx: CleanupContext, server: ServerControl, database: string): Promise<void> {
  ctx.deps.onCritical?.(true);
  const started = Date.now();
  try {
    const stopped = await server.stop();
    if (!stopped) {
      leaveVacuumToUser(ctx, 'manual');
      return;
    }
    ctx.report.serverPaused = true;
    try {
      await vacuumNow(ctx, database);
    } finally {
      await server.start();
    }
    ctx.print(`Paused ${server.name} for ${((Date.now() - started) / 1000).toFixed(1)} s to VACUUM the database; it is running again.`);
  } finally {
    ctx.deps.onCritical?.(false);
  }
}

function leaveVacuumToUser(ctx: CleanupContext, outcome: 'skipped' | 'manual'): void {
  ctx.report.vacuum = outcome;
  ctx.report.vacuumHint = vacuumHint(ctx.target);
}

/** How to VACUUM by hand: stop the server, run sqlite's VACUUM with the venv's Python (isolated: -I, see core/python-isolated.ts), start it again. */
function vacuumHint(target: CleanupTarget): string {
  const python = target.python ?? 'python3';
  const code = `import sqlite3; sqlite3.connect(${JSON.stringify(target.database ?? 'mlflow.db')}, isolation_level=None).execute("VACUUM")`;
  const run = commandLine(isolatedPython(python, '-c', code));
  return target.server
    ? `stop the server (claude-mlflow server stop), run ${run}, and start it again (claude-mlflow server start)`
    : `stop the MLflow server that uses ${target.database}, run ${run}, and start it again`;
}
