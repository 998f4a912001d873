/**
 * SQLite maintenance on MLflow's database file: online backup, VACUUM,
 * integrity check, lock probe and page statistics. Done through the MLflow
 * venv's Python `sqlite3` module (Node 20 has no SQLite of its own), and never
 * touching MLflow's tables: no SELECT, INSERT or DELETE on them here.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { CliError, EXIT } from '../errors.js';
import { pythonScript } from './python-scripts.js';
import { runProcess } from './process.js';

/** The operations of python/sqlite_maintenance.py: paths come in as argv, results go out as one JSON line. */
type Operation = 'backup' | 'vacuum' | 'integrity' | 'writable' | 'pages';

export interface SqliteTool {
  /** The Python with the `sqlite3` module (the MLflow venv's). */
  python: string;
  env?: NodeJS.ProcessEnv;
}

/** Python's sqlite3 takes a path; a URI needs `?` and `#` escaped. */
function uriPath(file: string): string {
  return file.replace(/%/g, '%25').replace(/\?/g, '%3f').replace(/#/g, '%23');
}

async function run<T>(tool: SqliteTool, script: Operation, args: string[], timeoutMs: number): Promise<T> {
  // Detached from the terminal's process group, so that Ctrl-C does not cut a
  // backup or a VACUUM short: the caller stops after it.
  const r = await runProcess(tool.python, [pythonScript('sqlite_maintenance'), script, ...args], {
    env: { ...(tool.env ?? process.env), PYTHONIOENCODING: 'utf-8' },
    timeoutMs,
    detached: true,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.exitCode === 0 && line.startsWith('{')) return JSON.parse(line) as T;
  const stderr = `${r.stderr}${r.error ? `\n${r.error}` : ''}`.trim();
  const last = stderr.split('\n').pop() ?? '';
  const why = r.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : last || `exit ${r.exitCode ?? 'unknown'}`;
  if (/database is locked|database table is locked/i.test(stderr)) throw new SqliteLockedError(why);
  throw new CliError(`sqlite ${script} failed: ${why}`, EXIT.failure);
}

export class SqliteLockedError extends CliError {
  constructor(detail: string) {
    super(`the database is locked by another writer (${detail})`, EXIT.failure);
  }
}

/** Size of the database file, plus its -wal file when there is one. */
export function sizeBytes(db: string): number {
  let total = 0;
  for (const file of [db, `${db}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // no such file
    }
  }
  return total;
}

/**
 * A consistent copy of `db` at `dest` (mode 0600) with sqlite's online backup
 * API: safe while the MLflow server writes. The copy is quick-checked.
 */
export async function backup(tool: SqliteTool, db: string, dest: string, options: { timeoutMs?: number } = {}): Promise<void> {
  if (!existsSync(db)) throw new CliError(`cannot back up ${db}: no such file`, EXIT.failure);
  closeSync(openSync(dest, 'wx', 0o600));
  chmodSync(dest, 0o600);
  const result = await run<{ quick_check: string }>(tool, 'backup', [db, dest, '20'], options.timeoutMs ?? 30 * 60_000);
  if (result.quick_check !== 'ok') throw new CliError(`the backup ${dest} failed its check: ${result.quick_check}`, EXIT.failure);
}

/** VACUUM: rebuild the file without its free pages. Needs the database to itself. */
export async function vacuum(tool: SqliteTool, db: string, options: { timeoutMs?: number; busySeconds?: number } = {}): Promise<void> {
  await run(tool, 'vacuum', [db, String(options.busySeconds ?? 10)], options.timeoutMs ?? 60 * 60_000);
}

/** PRAGMA integrity_check: ['ok'] when the file is sound. */
export async function integrityCheck(tool: SqliteTool, db: string): Promise<string[]> {
  return (await run<{ rows: string[] }>(tool, 'integrity', [uriPath(db), '20'], 30 * 60_000)).rows;
}

/**
 * Whether a write transaction could start within `waitMs`. Another process
 * that holds the database (a `BEGIN EXCLUSIVE`, a long write) makes it false.
 * Changes nothing: the transaction is rolled back before it writes.
 */
export async function probeWritable(tool: SqliteTool, db: string, waitMs = 3000): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    return await run<{ ok: true } | { ok: false; error: string }>(tool, 'writable', [db, String(waitMs / 1000)], waitMs + 30_000);
  } catch (error) {
    if (error instanceof SqliteLockedError) return { ok: false, error: error.message };
    throw error;
  }
}

/** Bytes in use (pages minus free pages) and free bytes inside the file. */
export async function pageStats(tool: SqliteTool, db: string): Promise<{ usedBytes: number; freeBytes: number }> {
  const r = await run<{ page_size: number; page_count: number; freelist_count: number }>(tool, 'pages', [uriPath(db), '5'], 60_000);
  return { usedBytes: (r.page_count - r.freelist_count) * r.page_size, freeBytes: r.freelist_count * r.page_size };
}
