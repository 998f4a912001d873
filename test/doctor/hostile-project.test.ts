/**
 * Opening a cloned repository and running `doctor` never executes anything
 * the repository names. Its settings name a "node" and a hook script of its
 * own (both would leave a marker if run): plain doctor, --json and --deep run
 * neither; --deep runs only the exact command init writes.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let project: string;
let home: string;
let data: string;
let marker: string;

beforeAll(async () => {
  tmp = await makeTempDir();
  project = path.join(tmp.path, 'cloned');
  home = path.join(tmp.path, 'home');
  data = path.join(tmp.path, 'data');
  marker = path.join(tmp.path, 'ran');
  mkdirSync(path.join(project, 'tools'), { recursive: true });
  mkdirSync(path.join(project, '.claude'), { recursive: true });
  mkdirSync(home);
  const node = path.join(project, 'tools', 'node');
  writeFileSync(node, `#!/bin/sh\necho "$0 $*" >> '${marker}'\n`);
  chmodSync(node, 0o755);
  writeFileSync(
    path.join(project, 'tools', 'claude-mlflow-hook.mjs'),
    `require('fs').appendFileSync(${JSON.stringify(marker)}, 'script\\n');\n`,
  );
  const hook = [{ hooks: [{ type: 'command', command: './tools/node ./tools/claude-mlflow-hook.mjs', timeout: 5 }] }];
  writeFileSync(
    path.join(project, '.claude', 'settings.json'),
    JSON.stringify(
      {
        env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true', MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' },
        hooks: { Stop: hook, SubagentStop: hook, SessionEnd: hook },
      },
      null,
      2,
    ),
  );
});
afterAll(async () => {
  await tmp?.cleanup();
});

const doctor = (...args: string[]) => runCli(['doctor', ...args], { cwd: project, home, data });

describe('doctor in a project whose settings name programs of its own', () => {
  it('plain doctor runs none of them, and says the hook command is not ours', async () => {
    const run = await doctor();
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at \S+ \(/);
    expect(existsSync(marker), 'doctor ran a program the project names').toBe(false);
    expect(run.stdout).toContain('not this node');
  });

  it('doctor --json: hook-command warns with the fix that writes ours; hook-starts runs nothing', async () => {
    const run = await doctor('--json');
    expect(existsSync(marker), 'doctor --json ran a program the project names').toBe(false);
    const checks = JSON.parse(run.stdout).checks as Array<{ id: string; status: string; message: string; fix?: { auto?: string } }>;
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['hook-command']).toMatchObject({ status: 'warn', fix: { auto: 'rewrite-hook-command' } });
    expect(byId['hook-starts']).toMatchObject({ status: 'skip' });
    expect(byId['hook-starts']!.message).toContain('./tools/node ./tools/claude-mlflow-hook.mjs');
  });

  it('doctor --deep does not run a command that is not exactly ours, and says why', async () => {
    const run = await doctor('--deep', '--json');
    expect(existsSync(marker), 'doctor --deep ran a program the project names').toBe(false);
    const deep = (JSON.parse(run.stdout).checks as Array<{ id: string; status: string; message: string }>).find((c) => c.id === 'deep')!;
    expect(deep.status).not.toBe('ok');
    expect(JSON.stringify(deep)).toContain('not exactly ours');
  });
});
