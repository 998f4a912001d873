/** doctor's checks on a local server whose backend store is PostgreSQL: facts in, results out. */
import { describe, expect, it } from 'vitest';
import type { Facts, PostgresFacts } from '../../src/core/checks/facts.js';
import { findCheck, runCheck } from '../../src/core/checks/registry.js';

const URI = 'postgresql+psycopg2://app:s3cret-pw@127.0.0.1:5432/traces';
const HEAD = '7d34483879f0';

function connected(): PostgresFacts {
  return {
    applicable: true,
    target: 'PostgreSQL database "traces" on 127.0.0.1:5432 as user "app"',
    host: '127.0.0.1',
    port: 5432,
    database: 'traces',
    user: 'app',
    python: '/data/venv/bin/python',
    upgradeCommand: `PGUSER=app PGPASSFILE=/data/pgpass /data/venv/bin/mlflow db upgrade postgresql+psycopg2://127.0.0.1:5432/traces`,
    driver: '2.9.11',
    connectMs: 12,
    serverVersion: '15.18',
    sizeBytes: 9_000_000,
    connections: 6,
    maxConnections: 100,
    reservedConnections: 3,
    schema: { current: HEAD, head: HEAD, known: true },
  };
}

/** Only the facts the database checks read (each declares them; see checks.test.ts). */
function facts(postgres: PostgresFacts, uri = URI): Facts {
  return {
    context: {
      cli: 'claude-mlflow',
      dataRoot: '/data',
      project: '/p',
      platform: 'linux',
      nodeVersion: '20.20.2',
      nodePath: '/usr/bin/node',
      floors: { node: '20.6.0' },
      configured: true,
      server: {
        manager: 'background',
        mlflowBin: '/data/venv/bin/mlflow',
        host: '127.0.0.1',
        port: 5000,
        backendStoreUri: uri,
        url: 'http://127.0.0.1:5000',
      },
      installs: [],
      files: {
        config: '/data/config.json',
        hookScript: '/data/runtime/h.mjs',
        spool: '/data/spool',
        hookLog: '/data/logs/hook.log',
        serverLog: '/data/logs/server.log',
        pidFile: '/data/server.pid',
        venv: '/data/venv',
      },
    },
    database: { exists: false, sizeBytes: 0, holders: [], nowMs: 0 },
    postgres,
  } as unknown as Facts;
}

const run = (id: string, f: Facts) => runCheck(findCheck(id)!, f);

describe('doctor on PostgreSQL', () => {
  it('a healthy database: the pg checks pass, the SQLite lock and health checks do not apply', () => {
    const f = facts(connected());
    expect(run('pg-connection', f)).toMatchObject({
      status: 'ok',
      message: 'PostgreSQL 15.18, PostgreSQL database "traces" on 127.0.0.1:5432 as user "app" (connected in 12 ms)',
    });
    expect(run('pg-connections', f)).toMatchObject({
      status: 'ok',
      message: '6 of 97 connections in use (6%; max_connections 100, 3 reserved for superusers)',
    });
    expect(run('pg-migration', f)).toMatchObject({ status: 'ok', message: `at revision ${HEAD}, the newest the installed MLflow knows` });
    expect(run('db-size', f)).toMatchObject({
      status: 'ok',
      message: '8.6 MB in PostgreSQL database "traces" on 127.0.0.1:5432 as user "app"',
    });
    for (const id of ['db-lock', 'db-health']) {
      expect(run(id, f)).toEqual({
        id,
        status: 'skip',
        message: 'Not applicable: the server stores traces in PostgreSQL (see pg-connection).',
      });
    }
  });

  it('on SQLite the pg checks do not apply', () => {
    const f = facts({ applicable: false }, 'sqlite:////data/mlflow.db');
    for (const id of ['pg-connection', 'pg-connections', 'pg-migration']) {
      expect(run(id, f)).toMatchObject({ status: 'skip', message: 'Not applicable: the server stores traces in SQLite (see db-lock).' });
    }
  });

  it('cannot connect: pg-connection fails with pg_isready as the command to copy; the others skip', () => {
    const f = facts({
      ...connected(),
      connectError: 'connection to server at "127.0.0.1", port 5432 failed: Connection refused.',
      serverVersion: undefined,
      schema: undefined,
      connections: undefined,
    });
    const r = run('pg-connection', f);
    expect(r.status).toBe('fail');
    expect(r.message).toBe(
      'Cannot connect to PostgreSQL database "traces" on 127.0.0.1:5432 as user "app": connection to server at "127.0.0.1", port 5432 failed: Connection refused. The server cannot store traces; they are spooled meanwhile.',
    );
    expect(r.fix).toEqual({ command: 'pg_isready -h 127.0.0.1 -p 5432 -d traces' });
    expect(run('pg-connections', f)).toMatchObject({ status: 'skip', message: 'Not connected (see pg-connection).' });
    expect(run('pg-migration', f)).toMatchObject({ status: 'skip', message: 'Not connected (see pg-connection).' });
  });

  it('no driver: pg-connection fails with the pip command for that Python', () => {
    const f = facts({ ...connected(), driverError: "ModuleNotFoundError: No module named 'psycopg2'", driver: undefined });
    expect(run('pg-connection', f)).toMatchObject({
      status: 'fail',
      details: ["ModuleNotFoundError: No module named 'psycopg2'"],
      fix: { command: '/data/venv/bin/python -I -m pip install psycopg2-binary==2.9.11' },
    });
  });

  it('connections: warns from 80% of what max_connections leaves after the superuser reserve', () => {
    expect(run('pg-connections', facts({ ...connected(), connections: 77 })).status).toBe('ok'); // 77 / 97 = 79%
    const r = run('pg-connections', facts({ ...connected(), connections: 78 })); // 80%
    expect(r.status).toBe('warn');
    expect(r.message).toMatch(/^78 of 97 connections in use \(80%.*near the limit/);
    expect(r.fix?.command).toContain('max_connections');
  });

  it('migration: an older schema fails with `mlflow db upgrade`; a newer one asks for a newer MLflow; none yet is a warning', () => {
    const older = run('pg-migration', facts({ ...connected(), schema: { current: 'ae8bbe7743c9', head: HEAD, known: true } }));
    expect(older.status).toBe('fail');
    expect(older.message).toContain(`at revision ae8bbe7743c9, but the installed MLflow expects ${HEAD}`);
    expect(older.fix?.command).toBe(
      'claude-mlflow server stop; PGUSER=app PGPASSFILE=/data/pgpass /data/venv/bin/mlflow db upgrade postgresql+psycopg2://127.0.0.1:5432/traces && claude-mlflow server start',
    );
    const newer = run('pg-migration', facts({ ...connected(), schema: { current: 'ffffffffffff', head: HEAD, known: false } }));
    expect(newer.status).toBe('fail');
    expect(newer.message).toContain('which the installed MLflow does not know');
    const none = run('pg-migration', facts({ ...connected(), schema: { current: null, head: HEAD } }));
    expect(none).toMatchObject({ status: 'warn', fix: { auto: 'start-server' } });
    expect(run('pg-migration', facts({ ...connected(), schema: { current: HEAD, headError: 'RuntimeError: 2 heads' } })).status).toBe(
      'skip',
    );
  });

  it('a large database: db-size suggests a cleanup', () => {
    expect(run('db-size', facts({ ...connected(), sizeBytes: 2 * 1024 ** 3 }))).toMatchObject({
      status: 'warn',
      fix: { command: 'claude-mlflow cleanup --older-than 30d' },
    });
  });

  it('the probe did not run: pg-connection fails and says why', () => {
    expect(
      run('pg-connection', facts({ applicable: true, probeError: '/data/venv/bin/python is missing (see mlflow-installed)' })),
    ).toMatchObject({
      status: 'fail',
      message: 'Cannot check the PostgreSQL database: /data/venv/bin/python is missing (see mlflow-installed).',
    });
  });
});
