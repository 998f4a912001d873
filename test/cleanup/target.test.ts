/** Which MLflow, which file and which experiment `cleanup` works on. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { experimentFromSettings, isLocalServer, resolveTarget, sqliteFile } from '../../src/cleanup/target.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let data: TempDir;
let project: TempDir;
let home: TempDir;

beforeEach(async () => {
  [data, project, home] = await Promise.all([makeTempDir('target-data-'), makeTempDir('target-project-'), makeTempDir('target-home-')]);
});
afterEach(async () => {
  await Promise.all([data.cleanup(), project.cleanup(), home.cleanup()]);
});

function write(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
}

function withLocalServer(): { db: string; python: string } {
  const bin = path.join(data.path, 'venv', 'bin');
  write(path.join(bin, 'mlflow'), '');
  write(path.join(bin, 'python'), '');
  const db = path.join(data.path, 'mlflow.db');
  write(path.join(data.path, 'config.json'), {
    server: {
      manager: 'background',
      mlflowBin: path.join(bin, 'mlflow'),
      host: '127.0.0.1',
      port: 5123,
      backendStoreUri: `sqlite:///${db}`,
    },
  });
  return { db, python: path.join(bin, 'python') };
}

describe('resolveTarget', () => {
  it('the local server init set up: its URL, its SQLite file, its venv python, pausable', () => {
    const { db, python } = withLocalServer();
    const t = resolveTarget(data.path, {});
    expect(t).toMatchObject({ trackingUri: 'http://127.0.0.1:5123', database: db, python, backendStoreUri: `sqlite:///${db}` });
    expect(t.server?.name).toMatch(/5123/);
    // The same server by another name is still ours.
    expect(resolveTarget(data.path, { MLFLOW_TRACKING_URI: 'http://localhost:5123/' }).database).toBe(db);
  });

  it('a tracking URI elsewhere (environment, then settings) is cleaned through its API only', () => {
    withLocalServer();
    const fromEnv = resolveTarget(
      data.path,
      { MLFLOW_TRACKING_URI: 'http://mlflow.example:5000' },
      { MLFLOW_TRACKING_URI: 'http://other:1' },
    );
    expect(fromEnv).toMatchObject({ trackingUri: 'http://mlflow.example:5000' });
    expect(fromEnv.database).toBeUndefined();
    expect(fromEnv.server).toBeUndefined();
    expect(resolveTarget(data.path, {}, { MLFLOW_TRACKING_URI: 'http://other:1' }).trackingUri).toBe('http://other:1');
  });

  it('no config: the default server, nothing local', () => {
    const t = resolveTarget(data.path, {});
    expect(t.trackingUri).toBe('http://127.0.0.1:5000');
    expect(t.database).toBeUndefined();
  });

  it('parses sqlite URIs and recognises the local server', () => {
    expect(sqliteFile('sqlite:////abs/mlflow.db', '/base')).toBe('/abs/mlflow.db');
    expect(sqliteFile('sqlite:///rel/mlflow.db', '/base')).toBe('/base/rel/mlflow.db');
    expect(sqliteFile('postgresql://u@h/db', '/base')).toBeUndefined();
    expect(isLocalServer('http://[::1]:5000', { host: '127.0.0.1', port: 5000 })).toBe(true);
    expect(isLocalServer('http://127.0.0.1:5001', { host: '127.0.0.1', port: 5000 })).toBe(false);
    expect(isLocalServer('https://127.0.0.1:5000', { host: '127.0.0.1', port: 5000 })).toBe(false);
  });
});

describe('experimentFromSettings', () => {
  it("follows Claude Code's precedence: local, project, user; an id wins over a name in one file", () => {
    const file = (scope: string) =>
      scope === 'user'
        ? path.join(home.path, '.claude', 'settings.json')
        : path.join(project.path, '.claude', scope === 'local' ? 'settings.local.json' : 'settings.json');
    write(file('user'), { env: { MLFLOW_EXPERIMENT_NAME: 'user-exp', MLFLOW_TRACKING_URI: 'http://user:1' } });
    expect(experimentFromSettings(project.path, home.path)).toMatchObject({
      experiment: { name: 'user-exp' },
      trackingUri: 'http://user:1',
    });
    write(file('project'), { env: { MLFLOW_EXPERIMENT_NAME: 'project-exp', MLFLOW_EXPERIMENT_ID: '7' } });
    expect(experimentFromSettings(project.path, home.path)).toMatchObject({ experiment: { id: '7' }, file: file('project') });
    write(file('local'), { env: { MLFLOW_EXPERIMENT_NAME: 'local-exp' } });
    expect(experimentFromSettings(project.path, home.path).experiment).toEqual({ name: 'local-exp' });
  });

  it('skips a file Claude Code would ignore (comments), and says so', () => {
    write(path.join(project.path, '.claude', 'settings.json'), '{ // mine\n "env": { "MLFLOW_EXPERIMENT_NAME": "x" } }');
    const found = experimentFromSettings(project.path, home.path);
    expect(found.experiment).toBeUndefined();
    expect(found.skipped[0]).toMatch(/Claude Code ignores it/);
  });
});
