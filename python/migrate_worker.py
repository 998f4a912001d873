"""The migration copy from MLflow's SQLite database to PostgreSQL, with MLflow's
own schema tooling. Run by src/migrate/worker.ts, which describes the modes.

stdin: one JSON request line; stdin then stays open, and the worker exits
(code 70) as soon as it closes.
Output: one JSON event per line on stdout.
"""
import sys

# Python put this file's folder first on sys.path: take it out, so that every import comes from the venv.
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]

import json, os, sys, threading, time
req = json.loads(sys.stdin.readline())
mode = req["mode"]

def exit_when_orphaned():
    # migrate keeps stdin open while it waits for us: its end means migrate is
    # gone (killed), and a copy must not be committed behind its back.
    sys.stdin.read()
    os._exit(70)

threading.Thread(target=exit_when_orphaned, daemon=True).start()

def emit(**obj):
    print(json.dumps(obj), flush=True)

def fail(kind, error):
    # A driver error's first line: never the statement nor its parameters (they hold trace data).
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().split("\n")[0] if not isinstance(error, str) else error
    emit(event="error", kind=kind, message=" ".join(text.split())[:600])
    sys.exit(0)

try:
    import sqlalchemy as sa
    from mlflow.store.db.utils import _get_latest_schema_revision, _get_schema_version, _initialize_tables
except Exception as e:
    fail("import", "%s: %s" % (type(e).__name__, e))

# What a fresh MLflow schema holds before anyone uses it: its revision, the
# Default experiment (0) and the default workspace. Anything more is data.
FRESH = {"alembic_version", "experiments", "workspaces"}

def fresh_only(conn, md, counts):
    for name, n in counts.items():
        if n == 0 or name == "alembic_version":
            continue
        if name not in FRESH:
            return False
        if name == "experiments":
            ids = [r[0] for r in conn.execute(sa.text("SELECT experiment_id FROM experiments"))]
            if ids != [0]:
                return False
        if name == "workspaces" and n > 1:
            return False
    return True

def table_counts(conn, md):
    return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()) for t in md.sorted_tables}

def traces_by_experiment(conn, md):
    if "trace_info" not in md.tables:
        return {}
    rows = conn.execute(sa.text("SELECT experiment_id, count(*) FROM trace_info GROUP BY experiment_id"))
    return {str(r[0]): int(r[1]) for r in rows}

def reflect(engine):
    md = sa.MetaData()
    md.reflect(engine)
    return md

head = _get_latest_schema_revision()
t0 = time.time()
try:
    import sqlite3, urllib.parse
    # Read-only, by an SQLite URI built here: a path with a space, # or ? stays one path, and nothing is ever created.
    src_uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(req["sourceFile"]))
    src = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(src_uri, uri=True, check_same_thread=False))
    src_rev = _get_schema_version(src)
    src_md = reflect(src)
    with src.connect() as c:
        src_counts = table_counts(c, src_md)
        src_traces = traces_by_experiment(c, src_md)
except Exception as e:
    fail("source", e)
if src_rev != head:
    fail("source-schema", "the SQLite database is at schema revision %s, the installed MLflow's is %s" % (src_rev, head))

dst_rev, dst_state, dst_counts = None, "unknown", {}
if req.get("target") is None:
    emit(event="inspect", head=head, source={"revision": src_rev, "counts": src_counts, "traces": src_traces},
         target={"revision": None, "state": "unknown", "counts": {}})
    sys.exit(0)
try:
    dst = sa.create_engine(req["target"], connect_args={"connect_timeout": int(req.get("timeout", 10)), "application_name": "claude-mlflow-migrate"})
    dst_rev = _get_schema_version(dst)
    dst_state = "empty"
    dst_counts = {}
    if dst_rev is not None:
        if dst_rev != head:
            fail("target-schema", "the PostgreSQL database already has an MLflow schema at revision %s, the installed MLflow's is %s" % (dst_rev, head))
        dst_md = reflect(dst)
        with dst.connect() as c:
            dst_counts = table_counts(c, dst_md)
            dst_state = "fresh" if fresh_only(c, dst_md, dst_counts) else "has-data"
    else:
        with dst.connect() as c:
            names = sa.inspect(c).get_table_names()
        if names:
            dst_state = "other-tables"
            dst_counts = {n: None for n in names}
except Exception as e:
    fail("target", e)

emit(event="inspect", head=head, source={"revision": src_rev, "counts": src_counts, "traces": src_traces},
     target={"revision": dst_rev, "state": dst_state, "counts": dst_counts})
if mode == "inspect":
    sys.exit(0)
# "replace": the data there is an interrupted migrate's own copy (see planForTarget); it is deleted in the copy's transaction.
if dst_state not in ("empty", "fresh") and not (req.get("replace") and dst_state == "has-data"):
    fail("target-not-empty", "the PostgreSQL database is not empty")

if dst_rev is None:
    try:
        _initialize_tables(dst)
    except Exception as e:
        fail("target-init", e)
dst_md = reflect(dst)
batch = int(req.get("batch", 1000))
missing = [n for n in src_md.tables if n not in dst_md.tables]
if missing:
    fail("schema-mismatch", "tables only in the SQLite database: %s" % ", ".join(sorted(missing)))
copied = {}
try:
    with src.connect() as s, dst.begin() as d:
        for t in reversed(dst_md.sorted_tables):
            if t.name != "alembic_version":
                d.execute(t.delete())
        for t in dst_md.sorted_tables:
            if t.name == "alembic_version" or t.name not in src_md.tables:
                continue
            st = src_md.tables[t.name]
            # Generated columns (spans.duration_ns) are computed by PostgreSQL itself.
            cols = [c.name for c in t.columns if c.computed is None]
            extra = [c.name for c in st.columns if c.name not in t.columns]
            if extra:
                raise RuntimeError("%s: columns only in the SQLite database: %s" % (t.name, ", ".join(extra)))
            bools = {c.name for c in t.columns if isinstance(c.type, sa.Boolean)}
            n = 0
            result = s.execution_options(stream_results=True, yield_per=batch).execute(sa.select(*[st.c[c] for c in cols if c in st.c]))
            for part in result.partitions(batch):
                rows = []
                for r in part:
                    m = dict(r._mapping)
                    for b in bools:
                        if m.get(b) is not None:
                            m[b] = bool(m[b])
                    rows.append(m)
                try:
                    d.execute(t.insert(), rows)
                except Exception as e:
                    cause = getattr(e, "orig", None) or e
                    raise RuntimeError("table %s, rows %d to %d: %s" % (t.name, n + 1, n + len(rows), str(cause).strip().split("\n")[0]))
                n += len(rows)
                emit(event="progress", table=t.name, rows=n, of=src_counts.get(t.name, 0))
            copied[t.name] = n
        seqs = d.execute(sa.text(
            "SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')")).fetchall()
        for table, column, seq in seqs:
            if seq:
                d.execute(sa.text("SELECT setval(:s, (SELECT COALESCE(MAX(%s), 0) FROM %s) + 1, false)" % (
                    d.dialect.identifier_preparer.quote(column), d.dialect.identifier_preparer.quote(table))), {"s": seq})
        after = table_counts(d, dst_md)
        diff = {k: (src_counts.get(k), after.get(k)) for k in src_counts if k != "alembic_version" and src_counts.get(k) != after.get(k)}
        if diff:
            raise RuntimeError("row counts differ after the copy: %s" % json.dumps(diff))
        dst_traces = traces_by_experiment(d, dst_md)
        if dst_traces != src_traces:
            raise RuntimeError("trace counts differ after the copy: %s vs %s" % (json.dumps(src_traces), json.dumps(dst_traces)))
except Exception as e:
    fail("copy", e if not isinstance(e, RuntimeError) else str(e))
emit(event="done", copied=copied, traces=src_traces, seconds=round(time.time() - t0, 2))
