/**
 * `claude-mlflow cleanup` through the built CLI (dist/cli.js): the commander
 * wiring of `cleanup` to runCleanupCommand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { createExperiment, DAY, listTraces, seedTraces } from './fixtures.js';

let home: TempDir;
let data: TempDir;

beforeAll(async () => {
  [home, data] = await Promise.all([makeTempDir('cleanup-cli-home-'), makeTempDir('cleanup-cli-data-')]);
});
afterAll(async () => {
  await Promise.all([home?.cleanup(), data?.cleanup()]);
});

const cli = (args: string[], cwd?: string) => runCli(['cleanup', ...args], { home: home.path, data: data.path, cwd: cwd ?? home.path });

describe('claude-mlflow cleanup (CLI)', () => {
  it('--help lists every option', async () => {
    const r = await cli(['--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of [
      '--older-than',
      '--before',
      '--experiment',
      '--all-experiments',
      '--keep-last',
      '--dry-run',
      '--yes',
      '--no-backup',
      '--no-vacuum',
      '--json',
      '--project',
      '--batch-size',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it.each([
    [['--older-than', '30'], /has no unit/],
    [['--older-than', '-1d'], /is negative/],
    [['--older-than', '3x'], /unknown unit "x"/],
    [['--older-than', '30d', '--before', '2026-01-01'], /not both/],
    [[], /--older-than 30d .* or --before/],
    [['--older-than', '30d', '--keep-last', 'many'], /--keep-last needs a whole number/],
  ])('%j is refused with exit 2', async (args, message) => {
    const r = await cli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  describe('against the local server that config.json names', () => {
    let server: MlflowServer;
    let project: TempDir;
    let experimentId: string;
    beforeAll(async () => {
      [server, project] = await Promise.all([startMlflowServer(), makeTempDir('cleanup-cli-project-')]);
      experimentId = await createExperiment(server.url, 'cli-project');
      await seedTraces(server.url, experimentId, [Date.now() - 40 * DAY, Date.now() - 50 * DAY, Date.now() - DAY]);
      writeFileSync(
        path.join(data.path, 'config.json'),
        JSON.stringify({
          server: {
            manager: 'background',
            mlflowBin: venvBin('mlflow'),
            host: '127.0.0.1',
            port: server.port,
            backendStoreUri: `sqlite:///${server.dbPath}`,
          },
        }),
      );
      mkdirSync(path.join(project.path, '.claude'), { recursive: true });
      writeFileSync(
        path.join(project.path, '.claude', 'settings.json'),
        JSON.stringify({ env: { MLFLOW_EXPERIMENT_NAME: 'cli-project' } }),
      );
    });
    afterAll(async () => {
      await server?.stop();
      await project?.cleanup();
    });

    it('--dry-run --json, then no terminal without --yes (exit 2), then --yes', async () => {
      const dry = await cli(['--older-than', '30d', '--dry-run', '--json'], project.path);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, planned: 2, experiments: [{ name: 'cli-project', planned: 2 }] });

      const refused = await cli(['--older-than', '30d'], project.path);
      expect(refused.exitCode).toBe(2);
      expect(refused.stdout).toMatch(/delete 2 traces of 3/);
      expect(refused.stderr).toMatch(/no terminal to confirm on/);
      expect(await listTraces(server.url, experimentId)).toHaveLength(3);

      const done = await cli(['--older-than', '30d', '--yes', '--experiment', 'cli-project', '--no-backup'], project.path);
      expect(done.exitCode, done.stderr).toBe(0);
      expect(done.stdout).toMatch(/Deleted 2 traces/);
      expect(await listTraces(server.url, experimentId)).toHaveLength(1);
    });
  });
});
