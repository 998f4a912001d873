/**
 * The copy itself, in the MLflow environment's own Python: SQLAlchemy and
 * MLflow's schema tooling (`mlflow.store.db.utils`), the same code the
 * server runs on.
 *
 * - `inspect`: the source's schema revision, its row count per table and its
 *   traces per experiment; the target's state: `empty` (no tables),
 *   `fresh` (MLflow's schema with only what a new server writes: the Default
 *   experiment and the default workspace), `has-data` or `other-tables`.
 * - `copy`: the target's schema from MLflow itself (`_initialize_tables`:
 *   `create_all` then alembic up to the head), then every table in foreign-key
 *   order, streamed in batches, in ONE PostgreSQL transaction. Generated
 *   columns are left to PostgreSQL, SQLite's 0/1 booleans become booleans, and
 *   the serial sequences (experiment ids) are moved past the copied ids. Row
 *   counts per table and trace counts per experiment are compared inside the
 *   transaction: a difference, or any error, rolls everything back.
 *
 * Both databases must be at the installed MLflow's schema head, so the two
 * schemas are the same by construction. The SQLite file is opened read-only, by an SQLite
 * URI built in Python (`file:<percent-encoded path>?mode=ro`): never created, never written.
 * The target URI (with its password) comes in on stdin, never on the command
 * line, as one line; stdin then stays open, and the worker exits at once when
 * it closes (migrate was killed), before it can commit a copy nobody waits for; errors carry the driver's first line only, never the statement or its
 * parameters (trace data).
 *
 * Output: one JSON object per line: `inspect`, then `progress` per batch,
 * then `done`, or `error` with a kind and a message.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { MigrationEvent } from '../core/migration.js';

export const MIGRATE_PY = String.raw`
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
`;

export interface WorkerRequest {
  mode: 'inspect' | 'copy';
  /** The SQLite file (opened read-only). */
  sourceFile: string;
  /** The PostgreSQL URI with its password, or null to inspect the source alone. */
  target: string | null;
  /** Seconds to wait for PostgreSQL to answer a connection. */
  timeout?: number;
  /** Rows per INSERT. */
  batch?: number;
  /** The target holds an interrupted migrate's own copy: replace it (copy mode). */
  replace?: boolean;
}

/** Run the worker; `onEvent` sees every line as it comes. Resolves with the last event (`inspect`, `done` or `error`). */
export function runMigrationWorker(
  python: string,
  request: WorkerRequest,
  options: { env?: NodeJS.ProcessEnv; onEvent?: (event: MigrationEvent) => void; signal?: AbortSignal } = {},
): Promise<MigrationEvent> {
  return new Promise((resolve) => {
    const child = spawn(python, ['-c', MIGRATE_PY], {
      env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: '1', PYTHONNOUSERSITE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Out of the terminal's process group: Ctrl-C reaches us, and we stop the worker (so that the server is started again).
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      child.kill('SIGTERM');
    };
    if (options.signal?.aborted) cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    let last: MigrationEvent | undefined;
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk.toString('utf8'));
      if (stderr.length > 200) stderr.shift();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: MigrationEvent;
      try {
        event = JSON.parse(line) as MigrationEvent;
      } catch {
        return; // a library printing to stdout
      }
      if (event.event !== 'progress') last = event;
      options.onEvent?.(event);
    });
    child.on('error', (error) => resolve({ event: 'error', kind: 'start', message: `could not run ${python}: ${error.message}` }));
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', cancel);
      if (cancelled) return resolve({ event: 'error', kind: 'cancelled', message: 'stopped by the user' });
      if (last) return resolve(last);
      const tail = stderr.join('').trim().split('\n').pop() ?? '';
      resolve({ event: 'error', kind: 'crash', message: `${python} exited (${signal ?? `exit ${code}`}) without a result${tail ? `: ${tail.slice(0, 300)}` : ''}` });
    });
    // One line, and stdin stays open: the worker exits when it closes, i.e. when this process dies.
    child.stdin.on('error', () => undefined);
    child.stdin.write(`${JSON.stringify(request)}\n`);
  });
}
