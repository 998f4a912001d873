/**
 * The backup a cleanup makes before its first deletion: sqlite's online
 * backup of the database into the data folder's backups/, the newest
 * BACKUPS_KEPT kept.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backup } from '../adapters/sqlite.js';
import { CliError, EXIT } from '../errors.js';
import { stopBeforeDeleting, type CleanupContext } from './context.js';

export const BACKUPS_KEPT = 3;

/** Back up the database when traces are to be deleted from it (unless --no-backup); a failed backup deletes nothing. */
export async function backUpDatabase(ctx: CleanupContext): Promise<number | undefined> {
  const { database, report } = ctx;
  if (!(ctx.plan.toDelete > 0 && database && ctx.wantBackup)) return undefined;
  const dir = join(ctx.deps.dataRoot, 'backups');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = backupName(dir, Date.now());
  try {
    await backup(ctx.tool!, database, file);
  } catch (error) {
    rmSync(file, { force: true });
    throw new CliError(`the backup failed, so nothing was deleted: ${(error as Error).message}`, EXIT.failure);
  }
  report.backup = file;
  report.prunedBackups = pruneBackups(dir);
  ctx.print(`Backed up the database to ${file}.`);
  return ctx.interrupted() ? stopBeforeDeleting(ctx) : undefined;
}

/** The last line of a cleanup that made a backup: where it is. */
export async function printBackupNote(ctx: CleanupContext): Promise<undefined> {
  const { report } = ctx;
  if (report.backup) {
    ctx.print(
      `Backup: ${report.backup}${report.prunedBackups.length ? ` (older backups removed: ${report.prunedBackups.length}; the last ${BACKUPS_KEPT} are kept)` : ''}.`,
    );
  }
  return undefined;
}

function backupName(dir: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let file = join(dir, `mlflow-${stamp}.db`);
  for (let n = 1; existsSync(file); n++) file = join(dir, `mlflow-${stamp}-${n}.db`);
  return file;
}

/** Keep the newest `keep` backups (by modification time, then name); remove the rest. */
export function pruneBackups(dir: string, keep = BACKUPS_KEPT): string[] {
  let found: { file: string; mtimeMs: number }[] = [];
  try {
    found = readdirSync(dir)
      .filter((n) => /^mlflow-.*\.db$/.test(n))
      .map((n) => ({ file: join(dir, n), mtimeMs: statSync(join(dir, n)).mtimeMs }));
  } catch {
    return [];
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.file.localeCompare(b.file));
  const removed: string[] = [];
  for (const { file } of found.slice(0, Math.max(0, found.length - keep))) {
    rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}
