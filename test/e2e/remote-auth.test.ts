/**
 * A shared tracking server with MLflow's basic-auth app (`mlflow server
 * --app-name basic-auth`, a real user created through its API): `init
 * --tracking-uri` checks the credentials before it writes anything, and the
 * hook delivers traces with them.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessDeniedMessage } from '../../src/init/remote-server.js';
import { runCli } from '../helpers/cli.js';
import { deliveryProcesses, waitForSpoolEmpty } from '../helpers/delivery.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { basicAuth, startMlflowServer, type MlflowServer } from '../helpers/mlflow-server.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { freshWorkspace, spooledTraces, waitForHookLog } from '../helpers/workspace.js';

const ADMIN = { username: 'admin', password: 'admin-pass-7392' };
const ALICE = { username: 'alice', password: 'alice-pass-5518' };
const WRONG = 'not-her-password-0042';

let tmp: TempDir;
let server: MlflowServer;

function basic(user: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
}

async function api(
  user: { username: string; password: string } | undefined,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers: { ...(user ? { authorization: basic(user) } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

const experimentId = async (name: string): Promise<string | undefined> => {
  const r = await api(ADMIN, 'GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  return r.status === 200 ? r.json.experiment.experiment_id : undefined;
};

/** A fresh HOME, data folder and project for one init. */
const fresh = (name: string) => freshWorkspace(tmp.path, name);

const creds = (password: string) => ({ MLFLOW_TRACKING_USERNAME: ALICE.username, MLFLOW_TRACKING_PASSWORD: password });

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-auth-');
  const serverDir = await makeTempDir('claude-mlflow-auth-server-');
  // The credential cache on: without it each request pays a scrypt check (~0.5 s on a loaded
  // 2-core machine), and each delivery's three requests take seconds.
  server = await startMlflowServer({ dir: serverDir, ...basicAuth(serverDir.path, ADMIN, { cacheSeconds: 300 }) });
  const created = await api(ADMIN, 'POST', '/api/2.0/mlflow/users/create', ALICE);
  expect(created.status, JSON.stringify(created.json)).toBe(200);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await server?.dir.cleanup();
  await tmp?.cleanup();
});

describe('the basic-auth server itself', () => {
  it('serves /health to anyone but the API only with valid credentials', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const search = (user?: { username: string; password: string }) =>
      api(user, 'POST', '/api/2.0/mlflow/experiments/search', { max_results: 1 });
    expect((await search()).status).toBe(401);
    expect((await search({ ...ALICE, password: WRONG })).status).toBe(401);
    expect((await search(ALICE)).status).toBe(200);
  });
});

describe('init --tracking-uri against a server with auth', () => {
  it('a wrong password: exit 1, one clear line naming the server and the variables, nothing written, no secret printed', async () => {
    const c = fresh('wrong');
    const run = await runCli(
      ['init', '--yes', '--tracking-uri', server.url, '--project', c.project, '--scope', 'project', '--experiment', 'team-wrong'],
      {
        ...c,
        env: creds(WRONG),
      },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`the MLflow server at ${server.url} refused the credentials of user "alice"`);
    expect(lines[0]).toContain('HTTP 401');
    for (const name of ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN']) expect(lines[0]).toContain(name);
    expect(lines[0]).toContain('nothing was changed');
    expect(run.stdout + run.stderr).not.toContain(WRONG);

    expect(existsSync(path.join(c.project, '.claude'))).toBe(false);
    expect(existsSync(c.config)).toBe(false);
    expect(existsSync(path.join(c.data, 'runtime'))).toBe(false);
    expect(readdirSync(c.data)).toEqual([]);
    expect(await experimentId('team-wrong')).toBeUndefined();
  });

  it('no credentials at all: says which variables to set', async () => {
    const c = fresh('none');
    const run = await runCli(['init', '--yes', '--tracking-uri', server.url, '--project', c.project, '--scope', 'project'], c);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(
      `the MLflow server at ${server.url} requires credentials (HTTP 401): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)`,
    );
    expect(existsSync(c.settings)).toBe(false);
    expect(existsSync(c.config)).toBe(false);
  });

  it('good credentials: settings written (without the password), the experiment created, no local server or venv; the hook delivers with them', async () => {
    const c = fresh('good');
    const run = await runCli(
      ['init', '--yes', '--tracking-uri', server.url, '--project', c.project, '--scope', 'project', '--experiment', 'team'],
      {
        ...c,
        env: creds(ALICE.password),
      },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(ALICE.password);

    const text = readFileSync(c.settings, 'utf8');
    expect(text).not.toContain(ALICE.password);
    const doc = JSON.parse(text);
    expect(doc.env).toEqual({ MLFLOW_CLAUDE_TRACING_ENABLED: 'true', MLFLOW_TRACKING_URI: server.url, MLFLOW_EXPERIMENT_NAME: 'team' });
    expect(doc.hooks.Stop).toHaveLength(1);
    const id = await experimentId('team');
    expect(id).toMatch(/^\d+$/);

    // A remote init installs no MLflow and starts no server.
    const config = JSON.parse(readFileSync(c.config, 'utf8'));
    expect(config.trackingUri).toBe(server.url);
    expect(config.server).toBeUndefined();
    expect(readFileSync(c.config, 'utf8')).not.toContain(ALICE.password);
    expect(existsSync(path.join(c.data, 'venv'))).toBe(false);
    expect(readdirSync(c.data).filter((n) => /server|\.pid$|\.db$/.test(n))).toEqual([]);

    // The hook command init wrote, as Claude Code runs it: settings env + the user's own environment (the credentials).
    const command: string = doc.hooks.Stop[0].hooks[0].command;
    const script = command
      .split(' ')
      .at(-1)!
      .replace(/^['"]|['"]$/g, '');
    expect(existsSync(script)).toBe(true);
    const session = 'a11ce000-0000-4000-8000-000000000001';
    const { stdin } = sampleWithSession(path.join(tmp.path, 'good'), session);
    const env = makeHookEnv(
      { home: c.home, dataRoot: c.data, trackingUri: server.url },
      { ...doc.env, ...creds(ALICE.password), USER: 'alice' },
    );
    const hook = await runHookProcess(stdin, env, script);
    expect(hook.exitCode).toBe(0);
    // The hook spools; the delivery process it started sends, with the credentials it was given.
    await waitForSpoolEmpty(c.data);
    const log = path.join(c.data, 'logs', 'hook.log');
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
    expect(
      existsSync(path.join(c.data, 'spool')) ? readdirSync(path.join(c.data, 'spool')).filter((n) => n.endsWith('.trace.json')) : [],
    ).toEqual([]);

    const found = await api(ALICE, 'POST', '/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } }],
      max_results: 10,
    });
    expect(found.status).toBe(200);
    expect(found.json.traces).toHaveLength(1);
    expect(found.json.traces[0].trace_metadata).toMatchObject({ 'mlflow.trace.session': session, 'mlflow.trace.user': 'alice' });
    expect(found.json.traces[0].request_preview).toBe('read notes.txt');

    // Without the credentials the same hook cannot deliver: the trace waits in the spool.
    const other = sampleWithSession(path.join(tmp.path, 'good'), 'a11ce000-0000-4000-8000-000000000002');
    const { MLFLOW_TRACKING_USERNAME: _u, MLFLOW_TRACKING_PASSWORD: _p, ...noCreds } = env;
    expect((await runHookProcess(other.stdin, noCreds, script)).exitCode).toBe(0);
    // Its delivery process is refused, says so, and leaves the trace for later without retrying.
    expect(await waitForHookLog(c.data, /delivery failed, 1 trace\(s\) wait in the spool: .*HTTP 401/)).not.toContain(ALICE.password);
    const until = Date.now() + 30_000;
    while (deliveryProcesses(c.data).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(deliveryProcesses(c.data)).toEqual([]);
    expect(readdirSync(path.join(c.data, 'spool')).filter((n) => n.endsWith('.trace.json'))).toHaveLength(1);
    // `flush` with the credentials delivers it.
    const flush = await runCli(['flush'], { ...c, env: creds(ALICE.password) });
    expect(flush.exitCode, flush.stdout + flush.stderr).toBe(0);
    expect(flush.stdout).toContain('Delivered 1 of 1');
    const after = await api(ALICE, 'POST', '/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } }],
      max_results: 10,
    });
    expect(after.json.traces).toHaveLength(2);
  });
});

describe('init --tracking-uri: saving the credentials only when the user agrees', () => {
  const spooled = spooledTraces;
  const tracesIn = async (name: string): Promise<number> => {
    const id = await experimentId(name);
    const found = await api(ADMIN, 'POST', '/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: id } }],
      max_results: 50,
    });
    return (found.json.traces ?? []).length;
  };
  /** The hook command init wrote, run as Claude Code runs it: with the env of every settings file, and nothing from the shell. */
  async function runHookAsClaude(c: ReturnType<typeof fresh>, project: any, user: any, session: string): Promise<void> {
    const command: string = project.hooks.Stop[0].hooks[0].command;
    const script = command
      .split(' ')
      .at(-1)!
      .replace(/^['"]|['"]$/g, '');
    const { stdin } = sampleWithSession(path.join(c.home, '..'), session);
    const env = makeHookEnv(
      { home: c.home, dataRoot: c.data, trackingUri: server.url },
      { ...(user?.env ?? {}), ...project.env, USER: 'alice' },
    );
    expect((await runHookProcess(stdin, env, script)).exitCode).toBe(0);
  }

  it('--yes alone saves nothing, and says how the hook gets the credentials', async () => {
    const c = fresh('not-saved');
    const run = await runCli(
      ['init', '--yes', '--tracking-uri', server.url, '--project', c.project, '--scope', 'project', '--experiment', 'team-unsaved'],
      { ...c, env: creds(ALICE.password) },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD were not saved: the hook sends traces only from Claude Code sessions started with them in their environment.',
    );
    expect(run.stdout).toContain(`run init again with --store-credentials`);
    expect(existsSync(path.join(c.home, '.claude', 'settings.json'))).toBe(false);
    expect(readFileSync(c.settings, 'utf8')).not.toContain(ALICE.password);
  });

  it('--store-credentials without credentials in the environment: exit 2, nothing written', async () => {
    const c = fresh('no-creds-to-store');
    const run = await runCli(
      ['init', '--yes', '--store-credentials', '--tracking-uri', server.url, '--project', c.project, '--scope', 'project'],
      c,
    );
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(
      '--store-credentials: none of MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD is set',
    );
    expect(existsSync(c.settings)).toBe(false);
    expect(existsSync(c.config)).toBe(false);
  });

  it('project scope: the credentials go to the user settings (0600), never the project file; sessions trace without them in the shell; uninstall takes them out', async () => {
    const c = fresh('saved-project');
    const userFile = path.join(c.home, '.claude', 'settings.json');
    const run = await runCli(
      [
        'init',
        '--yes',
        '--store-credentials',
        '--tracking-uri',
        server.url,
        '--project',
        c.project,
        '--scope',
        'project',
        '--experiment',
        'team-saved',
      ],
      {
        ...c,
        env: creds(ALICE.password),
      },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `Saved MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in ${userFile}; \`claude-mlflow uninstall\` removes them again.`,
    );
    expect(run.stdout + run.stderr).not.toContain(ALICE.password);
    const project = JSON.parse(readFileSync(c.settings, 'utf8'));
    expect(readFileSync(c.settings, 'utf8')).not.toContain(ALICE.password);
    expect(
      Object.keys(project.env).filter((k) => ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN'].includes(k)),
    ).toEqual([]);
    const user = JSON.parse(readFileSync(userFile, 'utf8'));
    expect(user).toEqual({ env: creds(ALICE.password) });
    expect(statSync(userFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(c.config, 'utf8')).not.toContain(ALICE.password);

    await runHookAsClaude(c, project, user, 'a11ce000-0000-4000-8000-0000000000a1');
    await waitForSpoolEmpty(c.data);
    expect(spooled(c.data)).toEqual([]);
    expect(await tracesIn('team-saved')).toBe(1);

    const uninstall = await runCli(['uninstall', '--project', c.project], c);
    expect(uninstall.exitCode, uninstall.stdout + uninstall.stderr).toBe(0);
    // init created the user file for the credentials alone: it goes again.
    expect(existsSync(userFile)).toBe(false);
  });

  it('a password inside --tracking-uri: moved to the user settings (0600), never printed, never in the project file, config.json or the hook log', async () => {
    const c = fresh('in-uri');
    const userFile = path.join(c.home, '.claude', 'settings.json');
    const secretPassword = 'p@ss:w/rd-8812';
    const changed = await api(ADMIN, 'PATCH', '/api/2.0/mlflow/users/update-password', {
      username: ALICE.username,
      password: secretPassword,
    });
    expect(changed.status).toBe(200);
    try {
      const url = new URL(server.url);
      url.username = ALICE.username;
      url.password = encodeURIComponent(secretPassword);
      const run = await runCli(
        ['init', '--yes', '--tracking-uri', url.toString(), '--project', c.project, '--scope', 'project', '--experiment', 'team-in-uri'],
        c,
      );
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const printed = run.stdout + run.stderr;
      for (const secret of [secretPassword, encodeURIComponent(secretPassword)]) expect(printed).not.toContain(secret);
      expect(printed).toContain(
        `Saved the user name and password in --tracking-uri (as MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) in ${userFile}`,
      );
      const project = JSON.parse(readFileSync(c.settings, 'utf8'));
      expect(project.env.MLFLOW_TRACKING_URI).toBe(server.url);
      const user = JSON.parse(readFileSync(userFile, 'utf8'));
      expect(user.env).toEqual({ MLFLOW_TRACKING_USERNAME: ALICE.username, MLFLOW_TRACKING_PASSWORD: secretPassword });
      expect(statSync(userFile).mode & 0o777).toBe(0o600);

      await runHookAsClaude(c, project, user, 'a11ce000-0000-4000-8000-0000000000c1');
      await waitForSpoolEmpty(c.data);
      expect(await tracesIn('team-in-uri')).toBe(1);
      const written = [c.settings, c.config, path.join(c.data, 'logs', 'hook.log')].filter(existsSync).map((f) => readFileSync(f, 'utf8'));
      for (const text of written)
        for (const secret of [secretPassword, encodeURIComponent(secretPassword)]) expect(text).not.toContain(secret);

      expect((await runCli(['uninstall', '--project', c.project], c)).exitCode).toBe(0);
      expect(existsSync(userFile)).toBe(false);
    } finally {
      await api(ADMIN, 'PATCH', '/api/2.0/mlflow/users/update-password', { username: ALICE.username, password: ALICE.password });
    }
  });

  it('user scope: one write with the tracing (the backup is the original), the file tightened to 0600; uninstall gives back the original', async () => {
    const c = fresh('saved-user');
    const userFile = path.join(c.home, '.claude', 'settings.json');
    mkdirSync(path.dirname(userFile), { recursive: true });
    const original = `${JSON.stringify({ model: 'opus', env: { EDITOR: 'vim' } }, null, 2)}\n`;
    writeFileSync(userFile, original, { mode: 0o644 });
    chmodSync(userFile, 0o644);
    const run = await runCli(
      [
        'init',
        '--yes',
        '--store-credentials',
        '--tracking-uri',
        server.url,
        '--project',
        c.project,
        '--scope',
        'user',
        '--experiment',
        'team-user',
      ],
      {
        ...c,
        env: creds(ALICE.password),
      },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `Saved MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in ${userFile}, and made that file readable by you only`,
    );
    expect(run.stdout + run.stderr).not.toContain(ALICE.password);
    const user = JSON.parse(readFileSync(userFile, 'utf8'));
    expect(user.model).toBe('opus');
    expect(user.env).toMatchObject({ EDITOR: 'vim', MLFLOW_TRACKING_URI: server.url, ...creds(ALICE.password) });
    expect(statSync(userFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${userFile}.claude-mlflow.bak`, 'utf8')).toBe(original);

    await runHookAsClaude(c, user, undefined, 'a11ce000-0000-4000-8000-0000000000b1');
    await waitForSpoolEmpty(c.data);
    expect(spooled(c.data)).toEqual([]);
    expect(await tracesIn('team-user')).toBe(1);

    expect((await runCli(['uninstall', '--project', c.project], c)).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(userFile, 'utf8'))).toEqual({ model: 'opus', env: { EDITOR: 'vim' } });
  });
});

describe('the access-denied message', () => {
  const url = 'https://mlflow.example.com';
  it('names the token, or a 403 on the experiment, never a value', () => {
    const token = accessDeniedMessage(url, { status: 401, on: 'server' }, 'x', { MLFLOW_TRACKING_TOKEN: 'tok-secret-123' });
    expect(token).toContain('refused the token in MLFLOW_TRACKING_TOKEN (HTTP 401)');
    expect(token).not.toContain('tok-secret-123');
    const forbidden = accessDeniedMessage(url, { status: 403, on: 'experiment' }, 'team', creds('pw-secret-456'));
    expect(forbidden).toContain(
      `the MLflow server at ${url} denies user "alice" (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) access to the experiment "team" (HTTP 403)`,
    );
    expect(forbidden).toContain('--experiment');
    expect(forbidden).not.toContain('pw-secret-456');
  });
});
