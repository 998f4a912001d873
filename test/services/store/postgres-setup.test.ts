/**
 * `init --backend-store-uri`: the flag's validation (usage errors, exit 2,
 * the password masked), and the driver: installed into a venv of ours,
 * checked (never installed) in an environment `--mlflow` points at.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/errors.js';
import { parseBackendStoreFlag, resolveAnswers, type InitFlags } from '../../../src/init/options.js';
import { checkGivenDriver, checkReachable, ensureDriver, postgresStoreOf } from '../../../src/services/store/postgres-setup.js';
import { freePort } from '../../helpers/ports.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

const base: InitFlags = { project: '/home/dev/my-app', service: true, yes: true };

function usage(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return error as CliError;
  }
  throw new Error('no error');
}

describe('--backend-store-uri', () => {
  it('takes postgresql:// and postgresql+psycopg2://, naming the driver we install', () => {
    expect(parseBackendStoreFlag('postgresql://u:p@127.0.0.1:5432/db')).toBe('postgresql+psycopg2://u:p@127.0.0.1:5432/db');
    expect(parseBackendStoreFlag(' postgresql+psycopg2://u@h/db ')).toBe('postgresql+psycopg2://u@h/db');
    expect(parseBackendStoreFlag('sqlite:////data/mlflow.db')).toBe('sqlite:////data/mlflow.db');
  });

  it('a malformed URI is a usage error of one line that never shows the password', () => {
    for (const bad of [
      'postgres://u:hunter22@h/db',
      'postgresql://u:hunter22@h/',
      'postgresql://u:hunter22@h:0/db',
      'mysql://u:hunter22@h/db',
    ]) {
      const e = usage(() => parseBackendStoreFlag(bad));
      expect(e.message).toMatch(/^--backend-store-uri "[^"]*:\*\*\*@h[^"]*": /);
      expect(e.message).not.toContain('hunter22');
      expect(e.message).not.toContain('\n');
    }
  });

  it('is checked before any question, and refused with --tracking-uri (your own server stores its traces)', async () => {
    await expect(resolveAnswers({ ...base, yes: false, backendStoreUri: 'nope' }, undefined)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('--backend-store-uri'),
    });
    await expect(
      resolveAnswers({ ...base, trackingUri: 'http://mlflow:5000', backendStoreUri: 'postgresql://u@h/db' }, undefined),
    ).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('with --tracking-uri your own server decides'),
    });
    const answers = await resolveAnswers({ ...base, backendStoreUri: 'postgresql://u:p@h/db' }, undefined);
    expect(answers.backendStoreUri).toBe('postgresql+psycopg2://u:p@h/db');
    expect((await resolveAnswers(base, undefined)).backendStoreUri).toBeUndefined();
  });

  it('an unreachable host:port fails at once, naming host, port, database and user', async () => {
    const port = await freePort();
    const store = postgresStoreOf(`postgresql://app:hunter22@127.0.0.1:${port}/traces`)!;
    const error = await checkReachable(store).catch((e: Error) => e);
    expect((error as Error).message).toBe(
      `cannot reach PostgreSQL database "traces" on 127.0.0.1:${port} as user "app" (ECONNREFUSED): is PostgreSQL running and listening there? Nothing was changed.`,
    );
  });
});

describe('the PostgreSQL driver', () => {
  let tmp: TempDir;
  let mlflowBin: string;
  let python: string;

  beforeAll(async () => {
    tmp = await makeTempDir('claude-mlflow-driver-');
    // A venv without psycopg2, and an `mlflow` script whose #! names its python (as pip writes them).
    await execa('python3', ['-m', 'venv', path.join(tmp.path, 'venv')]);
    python = path.join(tmp.path, 'venv', 'bin', 'python');
    mlflowBin = path.join(tmp.path, 'venv', 'bin', 'mlflow');
    writeFileSync(mlflowBin, `#!${python}\nprint("mlflow, version 3.12.0")\n`);
    chmodSync(mlflowBin, 0o755);
  });
  afterAll(async () => {
    await tmp?.cleanup();
  });

  it('--mlflow in an environment without it: a clear error with the command to run; the environment is left alone', async () => {
    const error = await checkGivenDriver(mlflowBin, process.env).catch((e: Error) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain(`its Python (${python}) has no psycopg2 driver`);
    expect((error as Error).message).toContain(`\`${python} -I -m pip install psycopg2-binary==2.9.11\``);
    const r = await execa(python, ['-c', 'import psycopg2'], { reject: false });
    expect(r.exitCode).not.toBe(0);
  });

  it('our venv: installs the pinned psycopg2-binary, then finds it there the next time', async () => {
    const first = await ensureDriver(mlflowBin, process.env);
    expect(first).toMatchObject({ version: '2.9.11', installed: true });
    const again = await ensureDriver(mlflowBin, process.env);
    expect(again).toEqual({ version: '2.9.11', installed: false });
    expect(await checkGivenDriver(mlflowBin, process.env)).toBe('2.9.11');
  });
});
