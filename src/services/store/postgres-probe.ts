/**
 * The PostgreSQL probe: one Python process, the MLflow environment's own,
 * connects through psycopg2 (the driver MLflow's server uses) and asks the
 * system catalogs, never MLflow's trace tables:
 *
 * - `connect`: `SELECT 1` and the server version (init, before the server starts);
 * - `size`: also `pg_database_size(current_database())` (status);
 * - `full`: also the client connections in `pg_stat_activity` against
 *   `max_connections` (less the superuser reserve), and the schema revision
 *   in MLflow's `alembic_version` table against the head of the migration
 *   scripts that ship with the installed MLflow (doctor).
 *
 * MLflow itself compares those two revisions when its server starts
 * (`mlflow.store.db.utils._verify_schema`, head from alembic's
 * `ScriptDirectory.get_heads()` over `mlflow/store/db_migrations`). Loading
 * the scripts through alembic imports MLflow (seconds), so the probe reads the
 * `revision` / `down_revision` lines of the scripts instead: the head is the
 * revision no other script names as its `down_revision`. Should that not give
 * exactly one, it falls back to alembic.
 *
 * The connection parameters (password included) go in on stdin, never on the
 * command line, where any user of the machine could read them.
 * The program is python/postgres_probe.py.
 */
import type { PostgresStore } from '../../core/backend-store.js';
import type { PostgresFacts } from '../../core/checks/facts.js';
import { psycopg2Params } from '../../core/backend-store.js';
import { runProcess } from '../../adapters/process.js';
import { pythonScript } from '../../adapters/python-scripts.js';

export type PostgresProbeMode = 'connect' | 'size' | 'full';

/** What the probe prints: the measured part of PostgresFacts, or why it did not run. */
export type PostgresProbe = Pick<
  PostgresFacts,
  | 'driver'
  | 'driverError'
  | 'connectError'
  | 'connectMs'
  | 'serverVersion'
  | 'sizeBytes'
  | 'connections'
  | 'maxConnections'
  | 'reservedConnections'
  | 'schema'
  | 'queryError'
> & {
  /** The probe itself did not run (no Python, a crash, a timeout). */
  error?: string;
};

/** Run the probe with `python` (the one that runs our mlflow) against `store`. */
export async function runPostgresProbe(
  python: string,
  store: PostgresStore,
  options: { mode: PostgresProbeMode; timeoutS?: number; env?: NodeJS.ProcessEnv },
): Promise<PostgresProbe> {
  const timeoutS = options.timeoutS ?? 5;
  const r = await runProcess(python, [pythonScript('postgres_probe'), options.mode, String(timeoutS)], {
    input: JSON.stringify(psycopg2Params(store)),
    // Connect, three queries and (full) a directory of small files: well within twice the connect timeout.
    timeoutMs: (timeoutS * 3 + 10) * 1000,
    env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: '1', PYTHONNOUSERSITE: '1', PGCONNECT_TIMEOUT: String(timeoutS) },
  });
  if (r.exitCode !== 0) {
    const why = r.error ?? (r.stderr.trim().split('\n').pop() || (r.timedOut ? 'timed out' : `exit ${r.exitCode ?? 'by a signal'}`));
    return { error: why };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as PostgresProbe;
  } catch {
    return { error: `unexpected output: ${r.stdout.slice(0, 200)}` };
  }
}
