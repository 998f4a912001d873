"""The venv probe: this Python's version, MLflow's version (from package metadata,
without importing MLflow) and, given a database, a probe of that SQLite file.
Run by src/services/store/sqlite-probe.ts, which says what it measures.

argv: [<database> <quick_check: 1|0> <lock timeout in seconds>]
Output: one JSON object on stdout.
"""
import sys

# Python put this file's folder first on sys.path: take it out, so that every import comes from the venv.
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]

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
