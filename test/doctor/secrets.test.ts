/**
 * doctor's settings-secrets check against real files and a real git
 * repository: a token in a settings file is only a problem once git tracks
 * the file, and its value never shows in doctor's output.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Facts } from '../../src/core/checks/facts.js';
import { findCheck, runCheck } from '../../src/core/checks/registry.js';
import { secretEnvKeys } from '../../src/core/checks/settings-derived.js';
import { runDoctor } from '../../src/doctor/run-doctor.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { distHook } from '../helpers/venv.js';
import { assertSchema, check } from './setup.js';

const TOKEN = 'mlflow-tok-3f9a1c77e2';
const PASSWORD = 'hunter2-secret-pw';
const DATABRICKS = 'dapi0123456789abcdef';

let tmp: TempDir;
let home: string;
let project: string;
let data: string;
const file = {
  project: () => path.join(project, '.claude', 'settings.json'),
  local: () => path.join(project, '.claude', 'settings.local.json'),
  user: () => path.join(home, '.claude', 'settings.json'),
};

function write(target: string, env: Record<string, string>): void {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, `${JSON.stringify({ env: { MLFLOW_CLAUDE_TRACING_ENABLED: 'true', ...env } }, null, 2)}\n`);
}

const git = (cwd: string, ...args: string[]) => execa('git', args, { cwd, env: { GIT_CONFIG_NOSYSTEM: '1', HOME: home } });

async function doctor(options: { json?: boolean; env?: Record<string, string> } = {}) {
  const lines: string[] = [];
  const outcome = await runDoctor({
    dataRoot: data,
    project,
    home,
    env: { PATH: process.env.PATH ?? '', HOME: home, ...options.env },
    managedSettingsFile: null,
    hookRuntimeSource: distHook,
    check: 'settings-secrets',
    json: options.json,
    print: (line) => lines.push(line),
  });
  return { ...outcome, lines, text: lines.join('\n'), result: check(outcome.report, 'settings-secrets') };
}

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-secrets-');
});

afterAll(async () => {
  await tmp?.cleanup();
});

beforeEach(async (ctx) => {
  const root = path.join(tmp.path, ctx.task.id);
  home = path.join(root, 'home');
  project = path.join(root, 'project');
  data = path.join(root, 'data');
  for (const dir of [home, project, data]) mkdirSync(dir, { recursive: true });
});

describe('settings-secrets', () => {
  it('a token in the project settings: fine while git does not track the file, a warning once it does; the value is never printed', async () => {
    write(file.project(), { MLFLOW_TRACKING_URI: 'https://mlflow.example.com', MLFLOW_TRACKING_TOKEN: TOKEN });

    // No repository at all.
    expect((await doctor()).result).toMatchObject({ status: 'ok' });

    // A repository, the file not added.
    await git(project, 'init', '-q');
    const untracked = await doctor();
    expect(untracked.result.status).toBe('ok');
    expect(untracked.result.message).toBe('1 settings file holds a token or password, but git does not track it');
    expect(untracked.result.details).toEqual([`project: ${file.project()}: env.MLFLOW_TRACKING_TOKEN (not tracked by git)`]);

    // git add: tracked (a commit is not needed for it to be in the repository's index).
    await git(project, 'add', '.claude/settings.json');
    const tracked = await doctor();
    expect(tracked.exitCode).toBe(0);
    expect(tracked.result).toMatchObject({
      status: 'warn',
      group: 'settings',
      message: `env.MLFLOW_TRACKING_TOKEN in project settings (${file.project()}), which git tracks: anyone who can read the repository can read it.`,
      details: [`project: ${file.project()}: env.MLFLOW_TRACKING_TOKEN (tracked by git)`],
    });
    expect(tracked.result.fix?.command).toContain(
      `move env.MLFLOW_TRACKING_TOKEN out of ${file.project()} into ~/.claude/settings.json or your shell environment, and commit`,
    );
    expect(tracked.result.fix?.command).toContain('rotate it');
    // The shared project file keeps our hooks: doctor does not suggest taking it out of git.
    expect(tracked.result.fix?.command).not.toContain('rm --cached');
    expect(tracked.text).toContain('  ! No token or password in a settings file that git tracks');
    expect(tracked.text).toContain('      Fix: move env.MLFLOW_TRACKING_TOKEN');
    expect(tracked.text).toMatch(/1 warning · 1 check, 0 problems$/);
    expect(tracked.text).not.toContain(TOKEN);

    const json = await doctor({ json: true });
    assertSchema(JSON.parse(json.text));
    expect(JSON.parse(json.text).checks[0]).toMatchObject({ id: 'settings-secrets', status: 'warn' });
    expect(json.text).not.toContain(TOKEN);

    // Moved out of the tracked file into the user's own settings: fine again.
    write(file.project(), { MLFLOW_TRACKING_URI: 'https://mlflow.example.com' });
    write(file.user(), { MLFLOW_TRACKING_TOKEN: TOKEN });
    const moved = await doctor();
    expect(moved.result.status).toBe('ok');
    expect(moved.result.details).toEqual([`user: ${file.user()}: env.MLFLOW_TRACKING_TOKEN (not tracked by git)`]);
  });

  it('the built CLI: `doctor --check settings-secrets --json` masks the value and exits 0 on the warning', async () => {
    write(file.project(), { MLFLOW_TRACKING_PASSWORD: PASSWORD, MLFLOW_TRACKING_USERNAME: 'alice' });
    await git(project, 'init', '-q');
    await git(project, 'add', '-A');
    const run = await runCli(['doctor', '--check', 'settings-secrets', '--json', '--project', project], { home, data, cwd: project });
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    assertSchema(report);
    expect(report.checks[0]).toMatchObject({ id: 'settings-secrets', status: 'warn' });
    expect(report.checks[0].message).toContain('env.MLFLOW_TRACKING_PASSWORD');
    expect(report.checks[0].message).not.toContain('USERNAME');
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const human = await runCli(['doctor', '--check', 'settings-secrets', '-v', '--project', project], { home, data, cwd: project });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain('! No token or password in a settings file that git tracks');
    expect(human.stdout).not.toContain(PASSWORD);
  });

  it('the local file (which Claude Code gitignores) is fine until someone adds it anyway; then: git rm --cached', async () => {
    write(file.project(), { MLFLOW_TRACKING_URI: 'https://mlflow.example.com' });
    write(file.local(), { DATABRICKS_TOKEN: DATABRICKS });
    await git(project, 'init', '-q');
    writeFileSync(path.join(project, '.claude', '.gitignore'), 'settings.local.json\n');
    await git(project, 'add', '-A');
    expect((await doctor()).result).toMatchObject({
      status: 'ok',
      details: [`local: ${file.local()}: env.DATABRICKS_TOKEN (not tracked by git)`],
    });

    await git(project, 'add', '-f', '.claude/settings.local.json');
    const tracked = await doctor();
    expect(tracked.result.status).toBe('warn');
    expect(tracked.result.message).toContain(`env.DATABRICKS_TOKEN in local settings (${file.local()}), which git tracks`);
    expect(tracked.result.fix?.command).toContain(
      `\`git -C ${path.join(project, '.claude')} rm --cached settings.local.json\` (and add it to .gitignore)`,
    );
    expect(tracked.text).not.toContain(DATABRICKS);
  });

  it('the user file in a dotfiles repository counts too; several tracked files are listed', async () => {
    write(file.user(), { MLFLOW_TRACKING_PASSWORD: PASSWORD, ANTHROPIC_AUTH_TOKEN: TOKEN });
    write(file.project(), { MY_SERVICE_SECRET: 's3cr3t-value-99' });
    await git(home, 'init', '-q');
    await git(home, 'add', '.claude/settings.json');
    await git(project, 'init', '-q');
    await git(project, 'add', '-A');
    const r = await doctor();
    expect(r.result.status).toBe('warn');
    expect(r.result.message).toBe(
      'Tokens or passwords in 2 settings files that git tracks: anyone who can read the repository can read them.',
    );
    expect(r.result.details).toEqual([
      `project: ${file.project()}: env.MY_SERVICE_SECRET (tracked by git)`,
      `user: ${file.user()}: env.MLFLOW_TRACKING_PASSWORD, env.ANTHROPIC_AUTH_TOKEN (tracked by git)`,
    ]);
    for (const value of [PASSWORD, TOKEN, 's3cr3t-value-99']) expect(r.text).not.toContain(value);
  });

  it('not secrets: token counts, empty values; and no git on PATH means nothing to report', async () => {
    write(file.project(), { CLAUDE_CODE_MAX_OUTPUT_TOKENS: '32000', MAX_THINKING_TOKENS: '8000', MLFLOW_TRACKING_TOKEN: '' });
    await git(project, 'init', '-q');
    await git(project, 'add', '-A');
    expect((await doctor()).result).toMatchObject({ status: 'ok', message: 'no token or password in the env of any settings file' });

    write(file.project(), { MLFLOW_TRACKING_TOKEN: TOKEN });
    await git(project, 'add', '-A');
    expect((await doctor()).result.status).toBe('warn');
    const noGit = await doctor({ env: { PATH: path.join(tmp.path, 'empty-bin') } });
    expect(noGit.result.status).toBe('ok');
    rmSync(path.join(project, '.git'), { recursive: true, force: true });
    expect((await doctor()).result.status).toBe('ok');
  });
});

describe('settings-secrets, pure', () => {
  it('secret names are whole parts of the name; token counts and empty values are not secrets', () => {
    expect(
      secretEnvKeys({
        env: {
          MLFLOW_TRACKING_TOKEN: 'a',
          MLFLOW_TRACKING_PASSWORD: 'b',
          DATABRICKS_TOKEN: 'c',
          AWS_SECRET_ACCESS_KEY: 'd',
          ANTHROPIC_API_KEY: 'e',
          CLAUDE_CODE_MAX_OUTPUT_TOKENS: '32000',
          MLFLOW_TRACKING_USERNAME: 'alice',
          GITHUB_TOKEN: ' ',
          MLFLOW_TRACKING_URI: 'http://x',
        },
      }),
    ).toEqual(['MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_PASSWORD', 'DATABRICKS_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'ANTHROPIC_API_KEY']);
    expect(secretEnvKeys({ environment: { MLFLOW_TRACKING_TOKEN: 'a' } })).toEqual([]);
    // A password inside a URL counts, whatever the key's name; a user name alone does not.
    expect(
      secretEnvKeys({
        env: {
          MLFLOW_TRACKING_URI: 'http://alice:S3cretPW@mlflow.example.com:5000',
          DATABASE_URL: 'postgresql://app:pw@db/app',
          PLAIN_URI: 'http://alice@mlflow.example.com',
          PORT_ONLY: 'http://mlflow.example.com:5000/path',
        },
      }),
    ).toEqual(['MLFLOW_TRACKING_URI', 'DATABASE_URL']);
    expect(secretEnvKeys(undefined)).toEqual([]);
  });

  it('reads only settings and context; unknown tracking (no git) is not a problem; a relaxed file still counts', () => {
    const check = findCheck('settings-secrets')!;
    expect(check.needs).toEqual(['settings', 'context']);
    const facts = (gitTracked: boolean | undefined, parse: 'ok' | 'relaxed' = 'ok') =>
      ({
        context: { platform: 'linux' },
        settings: {
          scopes: [
            {
              scope: 'project',
              file: '/p/.claude/settings.json',
              exists: true,
              parse,
              doc: { env: { MLFLOW_TRACKING_TOKEN: 'x1234' } },
              gitTracked,
            },
          ],
        },
      }) as unknown as Facts;
    expect(runCheck(check, facts(undefined)).status).toBe('ok');
    expect(runCheck(check, facts(false)).status).toBe('ok');
    expect(runCheck(check, facts(true)).status).toBe('warn');
    expect(runCheck(check, facts(true, 'relaxed')).status).toBe('warn');
    expect(JSON.stringify(runCheck(check, facts(true)))).not.toContain('x1234');
  });
});
