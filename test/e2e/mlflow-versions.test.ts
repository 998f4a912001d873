/**
 * The MLflow range we claim, end to end, one version at a time
 * (TESTED_MLFLOW_VERSIONS: the floor, 3.12.0 and the default): on a fresh
 * HOME, `init --yes --mlflow-version V` installs V from its lock into its
 * own venv (with the uv it bootstraps: none is on PATH) and starts the
 * server; a real Claude Code session is traced and loads whole in that
 * server; `status`, `doctor` and `cleanup` work against it.
 *
 * Then the floor's venv is broken the way an unpinned install breaks it
 * (SQLAlchemy 2.1 under MLflow 3.6.0): `init` with that MLflow exits 1 and
 * names the ImportError.
 */
import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESTED_MLFLOW_VERSIONS } from '../../src/core/mlflow-versions.js';
import { runClaude } from '../helpers/claude-cli.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { waitForSpoolEmpty } from '../helpers/delivery.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { listedTraces } from '../helpers/trace-visibility.js';
import type { DoctorReport } from '../../src/doctor/render.js';

let tmp: TempDir;
let fake: FakeAnthropic;
/** One uv cache for the three installs, empty at the start: what they share is downloaded once. */
let uvCache: string;
const stops: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-versions-');
  uvCache = path.join(tmp.path, 'uv-cache');
  fake = await startFakeAnthropic((_req, ctx) =>
    ctx.index % 2 === 0 ? { toolUse: { name: 'Read', input: { file_path: 'notes.txt' } } } : { text: 'notes.txt says hello' },
  );
});
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  await fake?.close();
  await tmp?.cleanup();
});

interface Machine {
  home: string;
  data: string;
  project: string;
  cli(args: string[]): Promise<CliRun>;
}

function freshMachine(name: string): Machine {
  const root = path.join(tmp.path, name);
  const m = { home: path.join(root, 'home'), data: path.join(root, 'data'), project: path.join(root, 'shop') };
  mkdirSync(m.home, { recursive: true });
  mkdirSync(m.project, { recursive: true });
  writeFileSync(path.join(m.project, 'notes.txt'), 'hello\n');
  const cli = (args: string[]): Promise<CliRun> => runCli(args, { ...m, cwd: m.project, env: { UV_CACHE_DIR: uvCache } });
  stops.push(() => cli(['server', 'stop']));
  return { ...m, cli };
}

describe('every MLflow version we claim', () => {
  for (const version of TESTED_MLFLOW_VERSIONS) {
    it(`MLflow ${version}: init from its lock, a traced session that loads whole, status, doctor and cleanup`, async () => {
      const m = freshMachine(`mlflow-${version}`);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const init = await m.cli(['init', '--yes', '--no-service', '--port', String(port), '--mlflow-version', version]);
      expect(init.exitCode, init.stderr + init.stdout).toBe(0);
      expect(init.stdout).toContain(`Installed MLflow ${version} into ${m.data}/venv, every package pinned by its lock.`);
      expect(init.stdout).not.toContain('not a version claude-mlflow tests');

      const run = await runClaude({
        cwd: m.project,
        home: m.home,
        baseUrl: fake.url,
        prompt: `hello ${version}`,
        args: ['--allowedTools', 'Read'],
        env: { CLAUDE_MLFLOW_HOME: m.data },
      });
      expect(run.exitCode, run.stderr).toBe(0);
      await waitForSpoolEmpty(m.data);
      const traces = await listedTraces(url, 'shop');
      expect(traces).toHaveLength(1);
      expect(traces[0]!.spans).toBeGreaterThanOrEqual(3); // the turn, two LLM calls and the Read between them

      const status = await m.cli(['status', '--json']);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(JSON.stringify(JSON.parse(status.stdout))).toContain(version);

      const doctor = await m.cli(['doctor', '--json']);
      const report = JSON.parse(doctor.stdout) as DoctorReport;
      const check = (id: string) => report.checks.find((c) => c.id === id);
      expect(check('mlflow-version')).toMatchObject({ status: 'ok', message: `MLflow ${version} ≥ 3.6.0, a version claude-mlflow tests` });
      expect(check('server')?.status).toBe('ok');
      expect(report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.message}`)).toEqual([]);

      const cleanup = await m.cli(['cleanup', '--before', new Date().toISOString(), '--yes', '--json']);
      expect(cleanup.exitCode, cleanup.stderr + cleanup.stdout).toBe(0);
      expect(await listedTraces(url, 'shop')).toEqual([]);

      expect((await m.cli(['server', 'stop'])).exitCode).toBe(0);
    }, 900_000);
  }

  it('an MLflow whose server cannot start: init exits 1 and names the exception from its log', async () => {
    // The floor's venv from its test above, given what an unpinned install of it gets today: SQLAlchemy 2.1,
    // which its server cannot import.
    const venv = path.join(tmp.path, `mlflow-${TESTED_MLFLOW_VERSIONS[0]}`, 'data', 'venv', 'bin');
    await execa(path.join(venv, 'uv'), ['pip', 'install', '--python', path.join(venv, 'python'), 'sqlalchemy==2.1.9'], {
      env: { ...process.env, UV_CACHE_DIR: uvCache },
    });

    const m = freshMachine('broken');
    const init = await m.cli(['init', '--yes', '--no-service', '--port', String(await freePort()), '--mlflow', path.join(venv, 'mlflow')]);
    expect(init.exitCode).toBe(1);
    expect(init.stderr).toMatch(/ImportError: cannot import name 'FallbackAsyncAdaptedQueuePool'/);
    expect(init.stderr).toContain(path.join(m.data, 'logs', 'server.log'));
  }, 900_000);
});
