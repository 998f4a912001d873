/**
 * One Python process, the venv's own, tells us its version, MLflow's version
 * (from package metadata: MLflow is not imported, which would take seconds)
 * and, given the database, probes it through the standard sqlite3 module:
 *
 * - a write transaction (`BEGIN IMMEDIATE`, then `ROLLBACK`) with a short
 *   busy timeout: it writes nothing, and fails fast when another process
 *   holds a write lock (tried twice, 0.3 s apart, so that a write in
 *   progress is not taken for a stuck one);
 * - `PRAGMA quick_check` and `PRAGMA journal_mode`;
 * - the tables an interrupted schema migration left (`_alembic_tmp_<table>`);
 * - read-only `COUNT(*)` and `MIN(timestamp_ms)` on MLflow's `trace_info`.
 *
 * The file is opened with `mode=rw`: a missing database is never created.
 * The program is python/sqlite_probe.py.
 */
import type { SqliteProbeFacts } from '../../core/checks/facts.js';
import { runProcess } from '../../adapters/process.js';
import { pythonScript } from '../../adapters/python-scripts.js';

/** How long the probe waits for a lock before it calls the database locked. */
export const LOCK_TIMEOUT_S = 0.25;

export interface VenvProbe {
  python?: string;
  mlflow?: string;
  mlflowError?: string;
  sqlite?: SqliteProbeFacts;
  /** The probe itself failed (no python, a crash). */
  error?: string;
}

/**
 * Run the probe with `pythonBin`. With `database`, also probe that SQLite file
 * (`quickCheck`: run PRAGMA quick_check, which reads the whole file).
 */
export async function runVenvProbe(
  pythonBin: string,
  database?: { file: string; quickCheck: boolean; lockTimeoutS?: number },
): Promise<VenvProbe> {
  const args = [pythonScript('sqlite_probe')];
  if (database) args.push(database.file, database.quickCheck ? '1' : '0', String(database.lockTimeoutS ?? LOCK_TIMEOUT_S));
  const r = await runProcess(pythonBin, args, {
    timeoutMs: database?.quickCheck ? 60_000 : 15_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONNOUSERSITE: '1' },
  });
  if (r.exitCode !== 0) {
    const why = r.error ?? (r.stderr.trim().split('\n').pop() || (r.timedOut ? 'timed out' : `exit ${r.exitCode ?? 'by a signal'}`));
    return { error: why };
  }
  try {
    return JSON.parse(String(r.stdout)) as VenvProbe;
  } catch {
    return { error: `unexpected output: ${String(r.stdout).slice(0, 200)}` };
  }
}
