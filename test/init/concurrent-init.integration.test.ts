/**
 * Twenty `init`s at once on one project whose settings hold the user's own
 * MLFLOW_* keys: on a fresh machine, with our server already running, and
 * with a remote tracking URI. Every run succeeds, our hooks are there once,
 * one server runs on a healthy database, a later `init` works, and
 * `uninstall` gives back the user's files byte for byte.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_EVENTS } from '../../src/core/settings.js';
import { runCli } from '../helpers/cli.js';
import { serversOn } from '../helpers/server-processes.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

const INITS = 20;

/** Strict JSON with the user's own keys, an empty event list and a number JavaScript cannot hold. */
const ORIGINAL = `{
  "model": "opus",
  "cleanupPeriodDays": 1e400,
  "env": {
    "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
    "MLFLOW_EXPERIMENT_ID": "42"
  },
  "hooks": {
    "SubagentStop": []
  }
}
`;

let tmp: TempDir;
let remote: MlflowServer;
const cases: Array<{ home: string; data: string }> = [];

beforeAll(async () => {
  tmp = await makeTempDir();
  remote = await startMlflowServer();
});
afterAll(async () => {
  for (const c of cases) await runCli(['server', 'stop'], c);
  await remote?.stop();
  await tmp?.cleanup();
});

function project(root: string, name: string): { dir: string; file: string } {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, '.claude'), { recursive: true });
  const file = path.join(dir, '.claude', 'settings.json');
  writeFileSync(file, ORIGINAL);
  return { dir, file };
}

function freshCase(label: string) {
  const root = path.join(tmp.path, label);
  const c = { home: path.join(root, 'home'), data: path.join(root, 'data') };
  mkdirSync(c.home, { recursive: true });
  cases.push(c);
  return { root, c };
}

function ourHooksOnce(file: string): void {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  for (const event of HOOK_EVENTS) expect(doc.hooks[event], event).toHaveLength(1);
  expect(readFileSync(file, 'utf8')).toContain('"cleanupPeriodDays": 1e400');
}

async function twentyInits(args: string[], c: { home: string; data: string }): Promise<void> {
  const runs = await Promise.all(Array.from({ length: INITS }, () => runCli(args, c)));
  for (const r of runs) expect(r.exitCode, r.stderr + r.stdout).toBe(0);
}

async function expectOneHealthyServer(c: { home: string; data: string }): Promise<void> {
  expect(serversOn(path.join(c.data, 'mlflow.db'))).toHaveLength(1);
  const status = await runCli(['status', '--json'], c);
  expect(status.exitCode, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout).server).toMatchObject({ state: 'running', healthy: true });
}

describe(`${INITS} inits at once on one project`, () => {
  it('on a fresh machine: one server, and uninstall gives back the file byte for byte', async () => {
    const { root, c } = freshCase('fresh');
    const app = project(root, 'app');
    const args = ['init', '--yes', '--no-service', '--port', String(await freePort()), '--mlflow', venvBin('mlflow'), '--project', app.dir];
    await twentyInits(args, c);
    ourHooksOnce(app.file);
    await expectOneHealthyServer(c);
    const later = await runCli(args, c);
    expect(later.exitCode, later.stderr + later.stdout).toBe(0);

    const un = await runCli(['uninstall', '--project', app.dir], c);
    expect(un.exitCode, un.stderr + un.stdout).toBe(0);
    expect(readFileSync(app.file, 'utf8')).toBe(ORIGINAL);
    expect(serversOn(path.join(c.data, 'mlflow.db'))).toEqual([]);
  });

  it('with our server already running for another project: both files come back byte for byte', async () => {
    const { root, c } = freshCase('running');
    const other = project(root, 'other');
    const app = project(root, 'app');
    const base = ['init', '--yes', '--no-service', '--port', String(await freePort()), '--mlflow', venvBin('mlflow')];
    const first = await runCli([...base, '--project', other.dir], c);
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    await twentyInits([...base, '--project', app.dir], c);
    ourHooksOnce(app.file);
    await expectOneHealthyServer(c);

    const un = await runCli(['uninstall', '--project', app.dir], c);
    expect(un.exitCode, un.stderr + un.stdout).toBe(0);
    expect(readFileSync(app.file, 'utf8')).toBe(ORIGINAL);
    expect(readFileSync(other.file, 'utf8')).toBe(ORIGINAL);
  });

  it('with a remote tracking URI: uninstall gives back the file byte for byte', async () => {
    const { root, c } = freshCase('remote');
    const app = project(root, 'app');
    const args = ['init', '--yes', '--project', app.dir, '--tracking-uri', remote.url, '--experiment', 'twenty'];
    await twentyInits(args, c);
    ourHooksOnce(app.file);
    expect(JSON.parse(readFileSync(app.file, 'utf8')).env.MLFLOW_TRACKING_URI).toBe(remote.url);
    const later = await runCli(args, c);
    expect(later.exitCode, later.stderr + later.stdout).toBe(0);

    const un = await runCli(['uninstall', '--project', app.dir], c);
    expect(un.exitCode, un.stderr + un.stdout).toBe(0);
    expect(readFileSync(app.file, 'utf8')).toBe(ORIGINAL);
  });
});
