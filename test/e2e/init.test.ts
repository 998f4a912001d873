/**
 * The real thing, end to end, with a temp HOME and a fresh project:
 * `init` installs MLflow from PyPI into its own venv and starts the server;
 * the real Claude Code CLI runs sessions against the fake Messages API;
 * `disable` / `enable` switch tracing; `uninstall` restores the settings.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClaude } from '../helpers/claude-cli.js';
import { runCli } from '../helpers/cli.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { waitForSpoolEmpty } from '../helpers/delivery.js';
import { searchTracesAt } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let fake: FakeAnthropic;
let home: string;
let project: string;
let data: string;
let port: number;
const ORIGINAL = '{\n  "model": "opus",\n  "env": { "EDITOR": "vim" }\n}\n';

beforeAll(async () => {
  tmp = await makeTempDir();
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, 'shop');
  data = path.join(tmp.path, 'data');
  mkdirSync(home);
  mkdirSync(path.join(project, '.claude'), { recursive: true });
  writeFileSync(path.join(project, '.claude', 'settings.json'), ORIGINAL);
  writeFileSync(path.join(project, 'notes.txt'), 'hello from init\n');
  port = await freePort();
  // Every session: read notes.txt, then answer.
  fake = await startFakeAnthropic((_req, ctx) =>
    ctx.index % 2 === 0
      ? { toolUse: { name: 'Read', input: { file_path: path.join(project, 'notes.txt') } } }
      : { text: 'notes.txt says hello from init' },
  );
});
afterAll(async () => {
  await runCli(['server', 'stop'], { home, data });
  await fake?.close();
  await tmp?.cleanup();
});

async function session(prompt: string) {
  const run = await runClaude({
    cwd: project,
    home,
    baseUrl: fake.url,
    prompt,
    args: ['--allowedTools', 'Read'],
    env: { CLAUDE_MLFLOW_HOME: data },
  });
  expect(run.exitCode, run.stderr).toBe(0);
  // Usually delivered before claude -p returns (our SessionEnd hook waits up to 1 s); on a loaded machine, soon after.
  await waitForSpoolEmpty(data);
}

async function prompts(): Promise<string[]> {
  const traces = await searchTracesAt(`http://127.0.0.1:${port}`, 'shop');
  return traces.map((t) => t.info.request_preview ?? '').sort();
}

describe('init end to end', () => {
  it('installs MLflow into its own venv, starts the server, and traces a real session', async () => {
    const init = await runCli(['init', '--yes', '--port', String(port), '--no-service', '--mlflow-version', '3.12.0'], {
      cwd: project,
      home,
      data,
    });
    expect(init.exitCode, init.stderr + init.stdout).toBe(0);
    expect(init.stdout).toContain('Installed MLflow 3.12.0');
    expect(init.stdout).toContain(`http://127.0.0.1:${port}/#/experiments/`);
    await session('first session');
    expect(await prompts()).toEqual(['first session']);
  });

  it('disable stops tracing, enable brings it back', async () => {
    expect((await runCli(['disable'], { cwd: project, home, data })).exitCode).toBe(0);
    await session('while disabled');
    expect(await prompts()).toEqual(['first session']);
    expect((await runCli(['enable'], { cwd: project, home, data })).exitCode).toBe(0);
    await session('after enable');
    expect(await prompts()).toEqual(['after enable', 'first session']);
  });

  it('uninstall puts the settings back as they were and stops the server', async () => {
    const run = await runCli(['uninstall'], { cwd: project, home, data });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(project, '.claude', 'settings.json'), 'utf8'))).toEqual(JSON.parse(ORIGINAL));
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});
