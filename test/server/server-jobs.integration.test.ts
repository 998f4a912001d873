/**
 * The server `init` starts, through the built CLI with a real MLflow: one
 * worker and MLflow's job execution off (two processes: the mlflow CLI and
 * uvicorn), whatever the shell says; `init --server-jobs` turns job execution
 * on (MLflow's job runner and its Huey consumers join the tree), config.json
 * keeps it across inits and restarts, and `--no-server-jobs` turns it off.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';

let tmp: TempDir;
let c: { home: string; project: string; data: string; env: Record<string, string> };
/** The folders MLflow's job execution made for its queues (in /dev/shm), which MLflow never removes. */
const jobQueueFolders = new Set<string>();

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-jobs-');
  c = {
    home: path.join(tmp.path, 'home'),
    project: path.join(tmp.path, 'my-app'),
    data: path.join(tmp.path, 'data'),
    // As a user's shell might say: our setting wins over it, either way.
    env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'true' },
  };
  mkdirSync(c.home, { recursive: true });
  mkdirSync(c.project, { recursive: true });
});
afterAll(async () => {
  await runCli(['server', 'stop'], c);
  for (const folder of jobQueueFolders) rmSync(folder, { recursive: true, force: true });
  await tmp?.cleanup();
});

const config = () => JSON.parse(readFileSync(path.join(c.data, 'config.json'), 'utf8'));
const pidRecord = () => JSON.parse(readFileSync(path.join(c.data, 'server.pid'), 'utf8'));

/** The argv and environment of every live process in the server's process group. */
function tree(pgid: number): Array<{ argv: string[]; environment: string[] }> {
  const members: Array<{ argv: string[]; environment: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || Number(fields[2]) !== pgid) continue;
      const read = (file: string) => readFileSync(`/proc/${entry}/${file}`, 'utf8').split('\0').filter(Boolean);
      members.push({ argv: read('cmdline'), environment: read('environ') });
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/** Whether MLflow's job runner is in the tree; notes its queue folder, to remove after the test. */
function runsJobs(pgid: number): boolean {
  const members = tree(pgid);
  for (const variable of members.flatMap((m) => m.environment)) {
    if (variable.startsWith('_MLFLOW_HUEY_STORAGE_PATH=')) jobQueueFolders.add(variable.slice(variable.indexOf('=') + 1));
  }
  return members.some((m) => m.argv.join(' ').includes('mlflow.server.jobs'));
}

describe('the server init starts', () => {
  it('is light by default; --server-jobs turns job execution on and it stays on until --no-server-jobs', { timeout: 300_000 }, async () => {
    const port = await freePort();
    const init = (...flags: string[]) =>
      runCli(['init', '--yes', '--project', c.project, '--port', String(port), '--no-service', '--mlflow', venvBin('mlflow'), ...flags], c);

    const first = await init();
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    expect(config().server.jobExecution).toBe(false);
    const light = pidRecord();
    expect(light.environment).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' });
    expect(light.command.slice(-2)).toEqual(['--workers', '1']);
    // The mlflow CLI and uvicorn, serving on one worker: no job runner, no Huey consumers.
    expect(tree(light.pid)).toHaveLength(2);
    const status = await runCli(['server', 'status', '--json'], c);
    expect(JSON.parse(status.stdout)).toMatchObject({ healthy: true, workers: 1, jobExecution: false });

    const withJobs = await init('--server-jobs');
    expect(withJobs.exitCode, withJobs.stderr + withJobs.stdout).toBe(0);
    expect(config().server.jobExecution).toBe(true);
    const heavy = pidRecord();
    expect(heavy.pid).not.toBe(light.pid);
    expect(heavy.environment).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'true' });
    await expect.poll(() => runsJobs(heavy.pid), { timeout: 30_000 }).toBe(true);
    const statusText = await runCli(['server', 'status'], c);
    expect(statusText.stdout).toContain('Settings: 1 worker, MLflow job execution on');

    // Kept: init without the flag leaves the running server as it is, a restart keeps job execution on.
    const again = await init();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('Already set up: nothing changed.');
    expect(pidRecord().pid).toBe(heavy.pid);
    const restarted = await runCli(['server', 'restart'], c);
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    expect(pidRecord().environment).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'true' });
    await expect.poll(() => runsJobs(pidRecord().pid), { timeout: 30_000 }).toBe(true);

    const off = await init('--no-server-jobs');
    expect(off.exitCode, off.stderr + off.stdout).toBe(0);
    expect(config().server.jobExecution).toBe(false);
    const lightAgain = pidRecord();
    expect(lightAgain.environment).toEqual({ MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' });
    expect(tree(lightAgain.pid)).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).ok).toBe(true);
  });
});
