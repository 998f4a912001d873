/**
 * The migration worker on its own, with the test venv's MLflow: the SQLite
 * file is opened read-only whatever its path holds (a space, # and ? as in
 * macOS's "Application Support"), and a missing file is an error, never a new
 * empty database.
 */
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrationWorker } from '../../src/migrate/worker.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

let tmp: TempDir;
let plain: string;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-worker-');
  plain = path.join(tmp.path, 'plain', 'mlflow.db');
  mkdirSync(path.dirname(plain));
  // A database as MLflow makes it: its schema at the head, the Default experiment.
  await execa(
    venvBin('python'),
    [
      '-c',
      'import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; SqlAlchemyStore("sqlite:///" + sys.argv[1], sys.argv[2])',
      plain,
      path.join(tmp.path, 'artifacts'),
    ],
    {
      env: { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
    },
  );
}, 120_000);

afterAll(async () => {
  await tmp?.cleanup();
});

describe('the migration worker', () => {
  it('reads a database whose path has a space, # and ?, without writing it', async () => {
    const dir = path.join(tmp.path, 'Application Support', 'odd #1?x');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'mlflow.db');
    copyFileSync(plain, file);
    const before = statSync(file).mtimeMs;
    const event = await runMigrationWorker(venvBin('python'), { mode: 'inspect', sourceFile: file, target: null });
    expect(event.event, JSON.stringify(event)).toBe('inspect');
    if (event.event !== 'inspect') return;
    expect(event.source.revision).toBe(event.head);
    expect(event.source.counts).toMatchObject({ experiments: 1, trace_info: 0, alembic_version: 1 });
    expect(event.target.state).toBe('unknown');
    expect(statSync(file).mtimeMs).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['mlflow.db']);
    expect(readdirSync(path.join(tmp.path, 'Application Support')).sort()).toEqual(['odd #1?x']);
  });

  it("a database behind the installed MLflow's schema is refused, naming both revisions", async () => {
    const file = path.join(tmp.path, 'older.db');
    copyFileSync(plain, file);
    // Test-only: pretend an older MLflow made it (the revision before MLflow 3.12.0's head).
    await execa(venvBin('python'), [
      '-c',
      'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE alembic_version SET version_num = \'ae8bbe7743c9\'"); c.commit()',
      file,
    ]);
    const event = await runMigrationWorker(venvBin('python'), { mode: 'inspect', sourceFile: file, target: null });
    expect(event).toMatchObject({ event: 'error', kind: 'source-schema' });
    expect(event.event === 'error' && event.message).toMatch(
      /^the SQLite database is at schema revision ae8bbe7743c9, the installed MLflow's is [0-9a-f]{12}$/,
    );
  });

  it('a missing file is an error, and no file is created', async () => {
    const file = path.join(tmp.path, 'nowhere', 'mlflow.db');
    mkdirSync(path.dirname(file));
    const event = await runMigrationWorker(venvBin('python'), { mode: 'inspect', sourceFile: file, target: null });
    expect(event).toMatchObject({ event: 'error', kind: 'source' });
    expect(existsSync(file)).toBe(false);
  });
});
