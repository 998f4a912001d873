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
 */
import type { PostgresStore } from '../core/backend-store.js';
import type { PostgresFacts } from '../core/checks.js';
import { psycopg2Params } from '../core/backend-store.js';
import { runProcess } from '../adapters/spawn.js';

export type PostgresProbeMode = 'connect' | 'size' | 'full';

export const POSTGRES_PROBE_PY = String.raw`
import json, os, re, sys, time
out = {}
def done():
    print(json.dumps(out))
    sys.exit(0)
mode, timeout = sys.argv[1], int(sys.argv[2])
params = json.loads(sys.stdin.read() or "{}")
try:
    import psycopg2
    out["driver"] = psycopg2.__version__.split()[0]
except Exception as e:
    out["driverError"] = "%s: %s" % (type(e).__name__, e)
    done()
t0 = time.time()
try:
    con = psycopg2.connect(connect_timeout=timeout, application_name="claude-mlflow-probe", **params)
except Exception as e:
    out["connectError"] = " ".join(str(e).split())
    done()
out["connectMs"] = int((time.time() - t0) * 1000)
try:
    con.autocommit = True
    cur = con.cursor()
    cur.execute("SET statement_timeout = %d" % (timeout * 1000))
    cur.execute("SELECT 1")
    cur.execute("SHOW server_version")
    out["serverVersion"] = cur.fetchone()[0].split()[0]
    if mode in ("size", "full"):
        cur.execute("SELECT pg_database_size(current_database())")
        out["sizeBytes"] = int(cur.fetchone()[0])
    if mode == "full":
        try:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        except Exception:
            cur.execute("SELECT count(*) FROM pg_stat_activity")
        out["connections"] = int(cur.fetchone()[0])
        cur.execute("SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int")
        out["maxConnections"], out["reservedConnections"] = cur.fetchone()
        schema = {}
        cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT version_num FROM alembic_version")
            rows = [r[0] for r in cur.fetchall()]
            schema["current"] = rows[0] if len(rows) == 1 else (None if not rows else ",".join(rows))
        else:
            schema["current"] = None
        try:
            import importlib.util
            spec = importlib.util.find_spec("mlflow")
            if spec is None or not spec.origin:
                raise RuntimeError("MLflow is not installed in this Python")
            base = os.path.join(os.path.dirname(spec.origin), "store", "db_migrations")
            revs, downs = set(), set()
            for name in os.listdir(os.path.join(base, "versions")):
                if not name.endswith(".py"):
                    continue
                with open(os.path.join(base, "versions", name), encoding="utf-8") as f:
                    text = f.read()
                r = re.search(r"^revision\s*(?::[^=\n]*)?=\s*[\"']([^\"']+)[\"']", text, re.M)
                if not r:
                    continue
                revs.add(r.group(1))
                d = re.search(r"^down_revision\s*(?::[^=\n]*)?=\s*(\([^)]*\)|.+)$", text, re.M)
                if d:
                    downs.update(re.findall(r"[\"']([^\"']+)[\"']", d.group(1)))
            heads = sorted(revs - downs)
            if len(heads) != 1:
                from alembic.script import ScriptDirectory
                script = ScriptDirectory(base)
                heads = list(script.get_heads())
                revs = set(r.revision for r in script.walk_revisions())
            if len(heads) != 1:
                raise RuntimeError("MLflow's migration scripts have %d heads: %s" % (len(heads), heads))
            schema["head"] = heads[0]
            if schema["current"] is not None:
                schema["known"] = schema["current"] in revs
        except Exception as e:
            schema["headError"] = "%s: %s" % (type(e).__name__, e)
        out["schema"] = schema
except Exception as e:
    out["queryError"] = " ".join(str(e).split())
finally:
    con.close()
done()
`;

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
  const r = await runProcess(python, ['-c', POSTGRES_PROBE_PY, options.mode, String(timeoutS)], {
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
