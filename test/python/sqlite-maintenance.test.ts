/**
 * python/sqlite_maintenance.py on its own, one operation per call: backup,
 * VACUUM, integrity check, lock probe and page statistics on a tiny SQLite
 * file made with the venv's sqlite3. A failure is a traceback and exit 1.
 * `integrity` and `pages` open the file read-only by URI: they take its path
 * with `%`, `?` and `#` escaped (as src/adapters/sqlite.ts does).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdExclusiveLock } from '../cleanup/fixtures.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { json, runScript } from './run-script.js';

let tmp: TempDir;
let db: string;
let dbUriPath: string;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-sqlite-ops-');
  db = path.join(tmp.path, 'a #1.db');
  dbUriPath = db.replace(/%/g, '%25').replace(/\?/g, '%3f').replace(/#/g, '%23');
  const code =
    'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute("CREATE TABLE t (x)")\nc.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 50)\nc.commit()\nc.execute("DELETE FROM t")\nc.commit()';
  await execa(venvBin('python'), ['-c', code, db]);
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('the SQLite maintenance program', () => {
  it('pages: page size, count and free pages', async () => {
    const out = json<{ page_size: number; page_count: number; freelist_count: number }>(
      await runScript('sqlite_maintenance', ['pages', dbUriPath, '5']),
    );
    expect(out.page_size).toBeGreaterThan(0);
    expect(out.freelist_count).toBeGreaterThan(0);
    expect(out.page_count).toBeGreaterThan(out.freelist_count);
  });

  it('vacuum: the free pages go', async () => {
    expect(json(await runScript('sqlite_maintenance', ['vacuum', db, '5']))).toEqual({ ok: true });
    expect(json(await runScript('sqlite_maintenance', ['pages', dbUriPath, '5']))).toMatchObject({ freelist_count: 0 });
  });

  it('integrity: ok', async () => {
    expect(json(await runScript('sqlite_maintenance', ['integrity', dbUriPath, '5']))).toEqual({ rows: ['ok'] });
  });

  it('backup: a copy, quick-checked', async () => {
    const dest = path.join(tmp.path, 'backup.db');
    expect(json(await runScript('sqlite_maintenance', ['backup', db, dest, '5']))).toEqual({ quick_check: 'ok' });
    expect(existsSync(dest)).toBe(true);
    expect(readdirSync(tmp.path).sort()).toEqual(['a #1.db', 'backup.db']);
  });

  it('writable: ok, and not while another process holds the database', async () => {
    expect(json(await runScript('sqlite_maintenance', ['writable', db, '0.1']))).toEqual({ ok: true });
    const lock = await holdExclusiveLock(db);
    try {
      expect(json(await runScript('sqlite_maintenance', ['writable', db, '0.1']))).toEqual({ ok: false, error: 'database is locked' });
    } finally {
      await lock.release();
    }
  });

  it('a failure: a traceback on stderr, exit 1', async () => {
    const r = await runScript('sqlite_maintenance', ['integrity', path.join(tmp.path, 'missing.db'), '1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/unable to open database file/);
  });
});
