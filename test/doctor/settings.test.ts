/**
 * doctor's settings checks against real files in every scope, on a project
 * set up by `init`: each problem seen failing, then passing after --fix (or
 * after the user's own change, where doctor does not fix it).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { venvBin } from '../helpers/venv.js';
import { check, initSetup, type Setup } from './setup.js';

let s: Setup;
let original: string;

beforeAll(async () => {
  s = await initSetup();
  original = readFileSync(s.projectSettings, 'utf8');
}, 240_000);

afterAll(async () => {
  await s?.stop();
});

beforeEach(() => {
  writeFileSync(s.projectSettings, original);
  for (const file of [s.userSettings, s.localSettings, `${s.projectSettings}.claude-mlflow.bak`]) rmSync(file, { force: true });
});

const read = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const write = (file: string, value: unknown) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
};

describe('settings-json', () => {
  it('a comment: Claude Code ignores the file (line and column); --fix rewrites it as strict JSON with a backup', async () => {
    const text = original.replace('{\n', '{\n  // added by hand\n');
    writeFileSync(s.projectSettings, text);

    const bad = await s.doctor({ check: 'settings-json' });
    const c = check(bad.report, 'settings-json');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('Claude Code ignores this whole file');
    expect(c.message).toContain(`${s.projectSettings}:2:3 has a comment`);
    expect(check((await s.doctor({ check: 'hook-once' })).report, 'hook-once').status).toBe('fail');

    const fixed = await s.doctor({ check: 'settings-json', fix: true, yes: true });
    expect(fixed.report?.fixes?.[0]).toMatchObject({ id: 'rewrite-strict-json', status: 'applied' });
    expect(check(fixed.report, 'settings-json').status).toBe('ok');
    expect(readFileSync(`${s.projectSettings}.claude-mlflow.bak`, 'utf8')).toBe(text);
    expect(read(s.projectSettings)).toEqual(JSON.parse(original));
    expect(check((await s.doctor({ check: 'hook-once' })).report, 'hook-once').status).toBe('ok');
  });

  it('a trailing comma: same, with its position', async () => {
    const text = original.replace(/"MLFLOW_EXPERIMENT_NAME": "my-app"\n/, '"MLFLOW_EXPERIMENT_NAME": "my-app",\n');
    expect(text).not.toBe(original);
    writeFileSync(s.projectSettings, text);
    const line = text.split('\n').findIndex((l) => l.includes('"my-app",')) + 1;
    const column = text.split('\n')[line - 1]!.indexOf('",') + 2;

    const bad = await s.doctor({ check: 'settings-json' });
    expect(check(bad.report, 'settings-json')).toMatchObject({ status: 'fail', fix: { auto: 'rewrite-strict-json' } });
    expect(check(bad.report, 'settings-json').message).toContain(`${s.projectSettings}:${line}:${column} has a trailing comma`);

    const fixed = await s.doctor({ check: 'settings-json', fix: true, yes: true });
    expect(check(fixed.report, 'settings-json').status).toBe('ok');
    expect(read(s.projectSettings)).toEqual(JSON.parse(original));
  });
});

describe('hook-once', () => {
  it('our hook in both project and user scope fails; --fix keeps it once, in the scope init recorded', async () => {
    const project = read(s.projectSettings);
    write(s.userSettings, { hooks: project.hooks, permissions: { allow: ['Bash(ls)'] } });

    const bad = await s.doctor({ check: 'hook-once' });
    const c = check(bad.report, 'hook-once');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('2 times on Stop');
    expect(c.message).toContain('project and user');
    expect(c.fix?.auto).toBe('dedupe-hooks');

    const fixed = await s.doctor({ check: 'hook-once', fix: true, yes: true });
    expect(check(fixed.report, 'hook-once').status).toBe('ok');
    expect(read(s.userSettings)).toEqual({ permissions: { allow: ['Bash(ls)'] } });
    expect(read(s.projectSettings)).toEqual(JSON.parse(original));
  });
});

describe('settings-env', () => {
  it('a legacy environment key and a non-string env value fail; --fix migrates them', async () => {
    const doc = JSON.parse(original);
    doc.environment = { MY_FLAG: '1' };
    doc.env.DEBUG = 1;
    write(s.projectSettings, doc);

    const bad = await s.doctor({ check: 'settings-env' });
    const c = check(bad.report, 'settings-env');
    expect(c.status).toBe('fail');
    expect(c.details).toEqual([
      `${s.projectSettings}: legacy "environment" key (MY_FLAG): Claude Code never reads it`,
      `${s.projectSettings}: env.DEBUG is number, not a string`,
    ]);

    const fixed = await s.doctor({ check: 'settings-env', fix: true, yes: true });
    expect(check(fixed.report, 'settings-env').status).toBe('ok');
    const after = read(s.projectSettings);
    expect(after.environment).toBeUndefined();
    expect(after.env).toMatchObject({ MY_FLAG: '1', DEBUG: '1', MLFLOW_CLAUDE_TRACING_ENABLED: 'true' });
  });
});

describe('hooks-enabled', () => {
  it('disableAllHooks in local settings fails (doctor does not undo it); passes when removed', async () => {
    write(s.localSettings, { disableAllHooks: true });
    const bad = await s.doctor({ check: 'hooks-enabled', fix: true, yes: true });
    const c = check(bad.report, 'hooks-enabled');
    expect(c.status).toBe('fail');
    expect(c.message).toContain(`disableAllHooks is true in local (${s.localSettings})`);
    expect(c.fix).toEqual({ command: `remove "disableAllHooks" from ${s.localSettings}` });
    expect(bad.lines).toContain('Nothing doctor can fix by itself.');
    expect(read(s.localSettings)).toEqual({ disableAllHooks: true });

    write(s.localSettings, { disableAllHooks: false });
    expect(check((await s.doctor({ check: 'hooks-enabled' })).report, 'hooks-enabled').status).toBe('ok');
  });
});

describe('tracing-enabled', () => {
  it('paused by `disable` warns; missing fails and --fix enables it', async () => {
    const disable = await s.cli(['disable', '--project', s.project]);
    expect(disable.exitCode, disable.stderr).toBe(0);
    const paused = await s.doctor({ check: 'tracing-enabled' });
    expect(check(paused.report, 'tracing-enabled')).toMatchObject({ status: 'warn', fix: { command: 'claude-mlflow enable' } });
    expect(paused.exitCode).toBe(0);

    const doc = read(s.projectSettings);
    delete doc.env.MLFLOW_CLAUDE_TRACING_ENABLED;
    write(s.projectSettings, doc);
    const missing = await s.doctor({ check: 'tracing-enabled' });
    expect(check(missing.report, 'tracing-enabled')).toMatchObject({ status: 'fail', fix: { auto: 'enable-tracing' } });

    const fixed = await s.doctor({ check: 'tracing-enabled', fix: true, yes: true });
    expect(check(fixed.report, 'tracing-enabled').status).toBe('ok');
    expect(read(s.projectSettings).env.MLFLOW_CLAUDE_TRACING_ENABLED).toBe('true');
  });
});

describe('foreign-tracer', () => {
  it("MLflow's own hook, written by `mlflow autolog claude`, fails; passes once it is gone", async () => {
    const url = read(s.projectSettings).env.MLFLOW_TRACKING_URI;
    await execa(venvBin('mlflow'), ['autolog', 'claude', '-d', s.project, '-u', url, '-n', 'my-app'], {
      env: { MLFLOW_DISABLE_TELEMETRY: 'true' },
    });
    const bad = await s.doctor({ check: 'foreign-tracer' });
    const c = check(bad.report, 'foreign-tracer');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('every session is traced twice');
    expect(c.details!.join('\n')).toContain('mlflow autolog claude stop-hook');

    writeFileSync(s.projectSettings, original);
    expect(check((await s.doctor({ check: 'foreign-tracer' })).report, 'foreign-tracer').status).toBe('ok');
  });
});

describe('tracking-uri', () => {
  it('a URI that is not our server fails; --fix points it back', async () => {
    const doc = read(s.projectSettings);
    doc.env.MLFLOW_TRACKING_URI = 'http://127.0.0.1:1';
    write(s.projectSettings, doc);
    expect(check((await s.doctor({ check: 'tracking-uri' })).report, 'tracking-uri')).toMatchObject({
      status: 'fail',
      fix: { auto: 'set-tracking-uri' },
    });
    const fixed = await s.doctor({ check: 'tracking-uri', fix: true, yes: true });
    expect(check(fixed.report, 'tracking-uri').status).toBe('ok');
    expect(read(s.projectSettings)).toEqual(JSON.parse(original));
  });
});

describe('hook runtime', () => {
  it('the runtime deleted: hook-runtime and hook-command fail; --fix reinstalls it and it starts', async () => {
    const script = path.join(s.data, 'runtime', 'claude-mlflow-hook.mjs');
    rmSync(script);
    const bad = await s.doctor();
    expect(check(bad.report, 'hook-runtime')).toMatchObject({ status: 'fail', fix: { auto: 'reinstall-hook-runtime' } });
    expect(check(bad.report, 'hook-command').status).toBe('fail');
    expect(check(bad.report, 'hook-starts').status).toBe('skip');

    const fixed = await s.doctor({ fix: true, yes: true });
    expect(fixed.report?.fixes?.map((f) => f.id)).toEqual(['reinstall-hook-runtime']);
    expect(existsSync(script)).toBe(true);
    for (const id of ['hook-runtime', 'hook-command', 'hook-starts']) expect([id, check(fixed.report, id).status]).toEqual([id, 'ok']);
  });

  it('a hook command whose node is gone fails; --fix rewrites it with this node', async () => {
    writeFileSync(s.projectSettings, original.replaceAll(JSON.stringify(process.execPath).slice(1, -1), '/nonexistent/bin/node'));
    const bad = await s.doctor({ check: 'hook-command' });
    const c = check(bad.report, 'hook-command');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('/nonexistent/bin/node, which does not exist');
    const fixed = await s.doctor({ check: 'hook-command', fix: true, yes: true });
    expect(check(fixed.report, 'hook-command').status).toBe('ok');
    expect(read(s.projectSettings)).toEqual(JSON.parse(original));
  });
});
