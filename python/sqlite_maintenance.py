"""SQLite maintenance on MLflow's database file, through the standard sqlite3
module: online backup, VACUUM, integrity check, lock probe and page statistics.
Never a SELECT, INSERT or DELETE on MLflow's tables. Run by
src/adapters/sqlite.ts.

argv: <operation> <its arguments> (see OPERATIONS)
Output: one JSON object on stdout; a failure is a traceback on stderr (exit 1).
"""
import sys

# Python put this file's folder first on sys.path: take it out, so that every import comes from the venv.
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]

import json, sqlite3


def backup(src_path, dest_path, timeout):
    src = sqlite3.connect(src_path, timeout=float(timeout))
    dst = sqlite3.connect(dest_path)
    try:
        src.backup(dst)
        ok = dst.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    return {"quick_check": ok}


def vacuum(db, timeout):
    con = sqlite3.connect(db, timeout=float(timeout), isolation_level=None)
    try:
        con.execute("VACUUM")
    finally:
        con.close()
    return {"ok": True}


def integrity(uri_path, timeout):
    con = sqlite3.connect("file:" + uri_path + "?mode=ro", uri=True, timeout=float(timeout))
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()
    return {"rows": rows}


def writable(db, timeout):
    con = sqlite3.connect(db, timeout=float(timeout), isolation_level=None)
    try:
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return {"ok": True}
        except sqlite3.OperationalError as e:
            return {"ok": False, "error": str(e)}
    finally:
        con.close()


def pages(uri_path, timeout):
    con = sqlite3.connect("file:" + uri_path + "?mode=ro", uri=True, timeout=float(timeout))
    try:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        page_count = con.execute("PRAGMA page_count").fetchone()[0]
        freelist = con.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        con.close()
    return {"page_size": page_size, "page_count": page_count, "freelist_count": freelist}


OPERATIONS = {"backup": backup, "vacuum": vacuum, "integrity": integrity, "writable": writable, "pages": pages}

print(json.dumps(OPERATIONS[sys.argv[1]](*sys.argv[2:])))
