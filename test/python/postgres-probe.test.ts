/**
 * python/postgres_probe.py on its own, without a PostgreSQL server: the
 * connection parameters come in on stdin, a refused connection is an answer
 * (exit 0, `connectError`), and a missing driver is one too (`driverError`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { json, runScript } from './run-script.js';

let tmp: TempDir;

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-pg-probe-');
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('the PostgreSQL probe', () => {
  it('a port nobody listens on: the driver version and the connection error', async () => {
    const port = await freePort();
    const params = { host: '127.0.0.1', port, user: 'u', password: 'secret-pw', dbname: 'd' };
    const r = await runScript('postgres_probe', ['full', '2'], { input: JSON.stringify(params) });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = json<{ driver?: string; connectError?: string; serverVersion?: string }>(r);
    expect(out.driver).toMatch(/^\d+\.\d+/);
    expect(out.connectError).toMatch(/127\.0\.0\.1|refused/i);
    expect(out.serverVersion).toBeUndefined();
  });

  it('no psycopg2: driverError, and nothing else', async () => {
    const fake = path.join(tmp.path, 'fake');
    mkdirSync(fake);
    writeFileSync(path.join(fake, 'psycopg2.py'), 'raise ImportError("no driver here")\n');
    const r = await runScript('postgres_probe', ['connect', '1'], { input: '{}', env: { PYTHONPATH: fake } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(json(r)).toEqual({ driverError: 'ImportError: no driver here' });
  });
});
