/**
 * python/sqlite_probe.py on its own: the versions, then a tiny SQLite file
 * (made with the venv's sqlite3) probed for its lock, checks, leftover
 * migration tables and trace count; a missing file is reported, never created.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdExclusiveLock } from '../cleanup/fixtures.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { json, runScript } from './run-script.js';

interface Probe {
  python: string;
  mlflow?: string;
  sqlite?: Record<string, unknown>;
}

let tmp: TempDir;
let db: string;

async function sqlite(file: string, sql: string): Promise<void> {
  await execa(venvBin('python'), [
    '-c',
    'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()',
    file,
    sql,
  ]);
}

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-sqlite-probe-');
  db = path.join(tmp.path, 'mlflow.db');
  await sqlite(
    db,
    'CREATE TABLE trace_info (request_id TEXT, timestamp_ms INTEGER); INSERT INTO trace_info VALUES ("a", 2000), ("b", 1000);' +
      'CREATE TABLE tags (k TEXT); CREATE TABLE _alembic_tmp_tags (k TEXT); CREATE TABLE _alembic_tmp_gone (k TEXT);',
  );
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('the SQLite probe', () => {
  it('without a database: the Python and MLflow versions only', async () => {
    const r = await runScript('sqlite_probe', []);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = json<Probe>(r);
    expect(out.python).toMatch(/^\d+\.\d+\.\d+$/);
    expect(out.mlflow).toMatch(/^\d+\.\d+/);
    expect(out.sqlite).toBeUndefined();
  });

  it('with a database: lock, journal mode, quick check, leftover migration tables, traces', async () => {
    const out = json<Probe>(await runScript('sqlite_probe', [db, '1', '0.25']));
    expect(out.sqlite).toEqual({
      lock: 'free',
      journalMode: 'delete',
      quickCheck: ['ok'],
      leftoverMigrationTables: [
        { table: '_alembic_tmp_gone', original: 'gone', originalExists: false },
        { table: '_alembic_tmp_tags', original: 'tags', originalExists: true },
      ],
      traceCount: 2,
      oldestMs: 1000,
    });
  });

  it('without the quick check: quickCheck is null', async () => {
    const out = json<Probe>(await runScript('sqlite_probe', [db, '0', '0.25']));
    expect(out.sqlite?.quickCheck).toBeNull();
    expect(out.sqlite?.lock).toBe('free');
  });

  it('a database without MLflow tables: noTraceTable', async () => {
    const other = path.join(tmp.path, 'other.db');
    await sqlite(other, 'CREATE TABLE t (x);');
    expect(json<Probe>(await runScript('sqlite_probe', [other, '0', '0.25'])).sqlite).toMatchObject({ lock: 'free', noTraceTable: true });
  });

  it('a database another process holds: locked', async () => {
    const lock = await holdExclusiveLock(db);
    try {
      const out = json<Probe>(await runScript('sqlite_probe', [db, '0', '0.1']));
      expect(out.sqlite?.lock).toBe('locked');
    } finally {
      await lock.release();
    }
  });

  it('a missing database: an error, and no file is made', async () => {
    const missing = path.join(tmp.path, 'missing.db');
    const r = await runScript('sqlite_probe', [missing, '1', '0.25']);
    expect(r.exitCode).toBe(0);
    expect(json<Probe>(r).sqlite).toMatchObject({ lock: 'error', lockError: expect.stringContaining('unable to open') });
    expect(existsSync(missing)).toBe(false);
  });
});
