/**
 * `claude-mlflow doctor` and `status` through the built CLI: exit codes,
 * stdout, and the JSON schema. No server is needed: a folder that was never
 * set up is a real failing case, and a bad --check is bad usage.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { assertSchema } from './setup.js';

let tmp: TempDir;
let where: { home: string; data: string; cwd: string };

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-doctor-cli-');
  where = { home: path.join(tmp.path, 'home'), data: path.join(tmp.path, 'data'), cwd: path.join(tmp.path, 'project') };
  for (const dir of Object.values(where)) mkdirSync(dir, { recursive: true });
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('claude-mlflow doctor (CLI)', () => {
  it('--json on a folder that was never set up: exit 1, a report that follows the schema, no secrets', async () => {
    const run = await runCli(['doctor', '--json'], { ...where, env: { MLFLOW_TRACKING_TOKEN: 'very-secret-token' } });
    expect(run.exitCode, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout);
    assertSchema(report);
    expect(report.exitCode).toBe(1);
    expect(report.checks.find((c: { id: string }) => c.id === 'server')).toMatchObject({
      status: 'fail',
      fix: { command: 'claude-mlflow init' },
    });
    expect(report.summary.problems).toBe(report.summary.failed);
    expect(run.stdout).not.toContain('very-secret-token');
  });

  it('one check by id: exit 0 when it passes, and the human summary line', async () => {
    const run = await runCli(['doctor', '--check', 'settings-json'], where);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(/1 check, 0 problems$/);
  });

  it('an unknown --check id is bad usage: exit 2, the ids on stderr, nothing on stdout', async () => {
    const run = await runCli(['doctor', '--check', 'no-such-check'], where);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('unknown check "no-such-check"');
    expect(run.stderr).toContain('db-lock');
    expect(run.stdout).toBe('');
  });

  it('--fix without a terminal and without --yes lists the fixes and changes nothing', async () => {
    const file = path.join(where.cwd, '.claude', 'settings.json');
    mkdirSync(path.dirname(file), { recursive: true });
    const text = '{\n  // mine\n  "env": {}\n}\n';
    writeFileSync(file, text);
    const run = await runCli(['doctor', '--fix', '--check', 'settings-json'], where);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(`${file}:2:3 has a comment`);
    expect(run.stdout).toContain('[rewrite-strict-json]');
    expect(run.stdout).toContain('Nothing was changed');
    expect(readFileSync(file, 'utf8')).toBe(text);
    rmSync(file);
  });

  it('status --json: exit 0 and the same data as the screen', async () => {
    const run = await runCli(['status', '--json'], where);
    expect(run.exitCode, run.stderr).toBe(0);
    const data = JSON.parse(run.stdout);
    expect(data).toMatchObject({ schemaVersion: 1, server: { healthy: false }, tracing: { on: false } });
    const screen = await runCli(['status'], where);
    expect(screen.exitCode).toBe(0);
    expect(screen.stdout).toContain('Tracing    off');
  });
});
