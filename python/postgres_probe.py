"""The PostgreSQL probe, through psycopg2: connection, server version and, by
mode, size, connections and schema revision. Run by
src/services/store/postgres-probe.ts, which says what it measures and why.

argv: <mode: connect|size|full> <timeout in seconds>
stdin: the psycopg2 connection parameters as JSON (the password never goes on argv).
Output: one JSON object on stdout.
"""
import sys

# Python put this file's folder first on sys.path: take it out, so that every import comes from the venv.
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]

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
