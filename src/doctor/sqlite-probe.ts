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
 */
import type { SqliteProbeFacts } from '../core/checks.js';
import { runProcess } from '../adapters/spawn.js';

/** How long the probe waits for a lock before it calls the database locked. */
export const LOCK_TIMEOUT_S = 0.25;

export const PROBE_PY = String.raw`
import json, sys
out = {"python": "%d.%d.%d" % sys.version_info[:3]}
try:
    import importlib.metadata as md
    out["mlflow"] = md.version("mlflow")
except Exception as e:
    out["mlflowError"] = "%s: %s" % (type(e).__name__, e)
db = sys.argv[1] if len(sys.argv) > 1 else ""
if db:
    import pathlib, sqlite3
    full = sys.argv[2] == "1"
    timeout = float(sys.argv[3])
    r = {}
    def locked(e):
        m = str(e).lower()
        return "locked" in m or "busy" in m
    try:
        c = sqlite3.connect(pathlib.Path(db).as_uri() + "?mode=rw", uri=True, timeout=timeout, isolation_level=None)
    except Exception as e:
        r["lock"] = "error"
        r["lockError"] = str(e)
        c = None
    if c is not None:
        import time
        for attempt in (1, 2):
            try:
                c.execute("BEGIN IMMEDIATE")
                c.execute("ROLLBACK")
                r["lock"] = "free"
                break
            except Exception as e:
                if not locked(e):
                    r["lock"] = "error"
                    r["lockError"] = str(e)
                    break
                r["lock"] = "locked"
                # A write the server is busy with passes: only a lock held twice in a row counts.
                if attempt == 1:
                    time.sleep(0.3)
        try:
            r["journalMode"] = c.execute("PRAGMA journal_mode").fetchone()[0]
        except Exception as e:
            if not locked(e):
                r["quickCheckError"] = str(e)
        if full and "quickCheckError" not in r:
            try:
                r["quickCheck"] = [row[0] for row in c.execute("PRAGMA quick_check(20)").fetchall()]
            except Exception as e:
                if not locked(e):
                    r["quickCheckError"] = str(e)
        elif not full:
            r["quickCheck"] = None
        try:
            # A schema migration (alembic's batch mode) cut short leaves its _alembic_tmp_<table> copy behind, and
            # MLflow's server then refuses to start ("table _alembic_tmp_tags already exists").
            names = {row[0] for row in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            r["leftoverMigrationTables"] = [{"table": n, "original": n[len("_alembic_tmp_"):], "originalExists": n[len("_alembic_tmp_"):] in names}
                                            for n in sorted(names) if n.startswith("_alembic_tmp_")]
        except Exception as e:
            pass
        try:
            n, oldest = c.execute("SELECT COUNT(*), MIN(timestamp_ms) FROM trace_info").fetchone()
            r["traceCount"] = n
            r["oldestMs"] = oldest
        except Exception as e:
            if "no such table" in str(e):
                r["noTraceTable"] = True
        c.close()
    out["sqlite"] = r
print(json.dumps(out))
`;

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
  const args = ['-c', PROBE_PY];
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
