/**
 * `init --tracking-uri databricks` and `databricks://<profile>`, against a
 * workspace on loopback (test/helpers/fake-databricks.ts: token check,
 * signed-in user, signed cloud-storage URLs) in front of a real `mlflow
 * server`. The hook's trace data is read back with MLflow's own Databricks
 * client (`get_trace` → DatabricksArtifactRepository), for each cloud's
 * upload, and compared with the same transcript sent over OTLP.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { stopDelivery, waitForSpoolEmpty } from '../helpers/delivery.js';
import { startFakeDatabricks, type CloudKind, type FakeDatabricks } from '../helpers/fake-databricks.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { GET_TRACE_PY, searchTraces, startMlflowServer, type FoundTrace, type MlflowServer } from '../helpers/mlflow-server.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { freshWorkspace, hookLogOf, spooledTraces, waitForHookLog } from '../helpers/workspace.js';
import { venvBin } from '../helpers/venv.js';

let tmp: TempDir;
let server: MlflowServer;
let workspace: FakeDatabricks;
const USER = 'dev@example.com';

const fresh = (name: string) => freshWorkspace(tmp.path, name);

const envCreds = () => ({ DATABRICKS_HOST: workspace.url, DATABRICKS_TOKEN: workspace.token });
const spooled = spooledTraces;
const hookLog = hookLogOf;

async function experimentId(name: string): Promise<string | undefined> {
  const res = await fetch(`${server.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  return res.ok ? ((await res.json()) as any).experiment.experiment_id : undefined;
}

/** The trace as MLflow's own Databricks client reads it from the workspace. */
async function readThroughDatabricks(traceId: string): Promise<FoundTrace> {
  const { stdout } = await execa(venvBin('python'), ['-c', GET_TRACE_PY, traceId], {
    env: { MLFLOW_TRACKING_URI: 'databricks', ...envCreds(), HOME: tmp.path, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  return JSON.parse(stdout) as FoundTrace;
}

/**
 * Span trees without what differs between two sessions of the same
 * transcript (ids, the session id), and without `service.name`: the OTLP
 * resource attribute, which MLflow's OTLP ingest copies into the spans.
 */
function comparable(trace: FoundTrace, sessionId: string): unknown {
  const index = new Map(trace.spans.map((s, i) => [s.span_id, i]));
  const spans = trace.spans.map((s) => {
    const { 'mlflow.traceRequestId': _id, 'service.name': _service, ...attributes } = s.attributes;
    return { ...s, span_id: index.get(s.span_id), parent_id: s.parent_id ? index.get(s.parent_id) : null, attributes };
  });
  return JSON.parse(JSON.stringify(spans).replaceAll(sessionId, '<session>'));
}

beforeAll(async () => {
  tmp = await makeTempDir('claude-mlflow-databricks-');
  server = await startMlflowServer();
  workspace = await startFakeDatabricks({ mlflowUrl: server.url, userName: USER });
}, 120_000);

afterAll(async () => {
  await workspace?.close();
  await server?.stop();
  await server?.dir.cleanup();
  await tmp?.cleanup();
});

describe('init --tracking-uri databricks', () => {
  it('a token the workspace refuses: exit 1, one line, nothing written, the token not shown', async () => {
    const c = fresh('wrong');
    const run = await runCli(['init', '--yes', '--tracking-uri', 'databricks', '--project', c.project, '--scope', 'project'], {
      ...c,
      env: { DATABRICKS_HOST: workspace.url, DATABRICKS_TOKEN: 'dapi-wrong-0042' },
    });
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`the Databricks workspace at ${workspace.url} refused the token (HTTP 401)`);
    expect(run.stderr).toContain('nothing was changed');
    expect(run.stdout + run.stderr).not.toContain('dapi-wrong-0042');
    expect(existsSync(path.join(c.project, '.claude'))).toBe(false);
    expect(readdirSync(c.data)).toEqual([]);
  });

  it('no host and token, and no profile: exit 2, naming the config file', async () => {
    const c = fresh('none');
    const run = await runCli(['init', '--yes', '--tracking-uri', 'databricks://dev', '--project', c.project, '--scope', 'project'], c);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim()).toBe(
      `claude-mlflow: --tracking-uri databricks://dev: ${path.join(c.home, '.databrickscfg')} does not exist, so it has no profile [dev]; nothing was changed.`,
    );
    expect(existsSync(c.settings)).toBe(false);
    expect(readdirSync(c.data)).toEqual([]);
  });

  it('a secret-scope URI is refused before anything is asked', async () => {
    const c = fresh('scope');
    const run = await runCli(['init', '--yes', '--tracking-uri', 'databricks://scope:prefix', '--project', c.project], c);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('only works inside Databricks');
  });

  it("DATABRICKS_HOST and DATABRICKS_TOKEN: the experiment goes into the user's workspace folder, the hook delivers, MLflow's Databricks client reads it", async () => {
    const c = fresh('env');
    const run = await runCli(
      ['init', '--yes', '--tracking-uri', 'databricks', '--project', c.project, '--scope', 'project', '--experiment', 'claude-code'],
      { ...c, env: envCreds() },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(workspace.token);
    const experiment = `/Users/${USER}/claude-code`;
    const id = await experimentId(experiment);
    expect(id).toMatch(/^\d+$/);
    expect(run.stdout).toContain(`Traces of every Claude Code session go to ${workspace.url}/ml/experiments/${id}/traces`);
    // The token was not saved (--yes alone), and the summary says how sessions get it.
    expect(run.stdout).toContain('DATABRICKS_HOST and DATABRICKS_TOKEN were not saved');
    const doc = JSON.parse(readFileSync(c.settings, 'utf8'));
    expect(doc.env).toEqual({
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
      MLFLOW_TRACKING_URI: 'databricks',
      MLFLOW_EXPERIMENT_NAME: experiment,
    });
    const config = JSON.parse(readFileSync(c.config, 'utf8'));
    expect(config).toMatchObject({ trackingUri: 'databricks', experimentName: experiment });
    expect(config.server).toBeUndefined();
    expect(existsSync(path.join(c.data, 'venv'))).toBe(false);

    const session = 'db000000-0000-4000-8000-000000000001';
    const { stdin } = sampleWithSession(c.root, session);
    const hook = await runHookProcess(
      stdin,
      makeHookEnv({ home: c.home, dataRoot: c.data, trackingUri: 'databricks' }, { ...doc.env, ...envCreds() }),
    );
    expect(hook.exitCode).toBe(0);
    // The hook spools; its delivery process sends.
    await waitForSpoolEmpty(c.data);
    expect(hookLog(c.data)).toBe('');
    expect(spooled(c.data)).toEqual([]);
    const [traceId] = [...workspace.blobs.keys()];
    const trace = await readThroughDatabricks(traceId!);
    expect(trace.info.trace_metadata).toMatchObject({ 'mlflow.trace.session': session });
    expect(trace.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
  });

  it('--store-credentials: DATABRICKS_HOST and DATABRICKS_TOKEN go to the user settings (0600), sessions trace without them in the shell, uninstall takes them out', async () => {
    const c = fresh('store-env');
    const userFile = path.join(c.home, '.claude', 'settings.json');
    const run = await runCli(
      [
        'init',
        '--yes',
        '--store-credentials',
        '--tracking-uri',
        'databricks',
        '--project',
        c.project,
        '--scope',
        'project',
        '--experiment',
        'stored',
      ],
      { ...c, env: envCreds() },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Saved DATABRICKS_HOST and DATABRICKS_TOKEN in ${userFile}`);
    expect(run.stdout + run.stderr).not.toContain(workspace.token);
    expect(readFileSync(c.settings, 'utf8')).not.toContain(workspace.token);
    const user = JSON.parse(readFileSync(userFile, 'utf8'));
    expect(user).toEqual({ env: envCreds() });
    expect(statSync(userFile).mode & 0o777).toBe(0o600);

    // As Claude Code runs the hook: the env of both settings files, nothing from the shell.
    const before = workspace.blobs.size;
    const { stdin } = sampleWithSession(c.root, 'db000000-0000-4000-8000-000000000401');
    const project = JSON.parse(readFileSync(c.settings, 'utf8'));
    expect(
      (
        await runHookProcess(
          stdin,
          makeHookEnv({ home: c.home, dataRoot: c.data, trackingUri: 'databricks' }, { ...user.env, ...project.env }),
        )
      ).exitCode,
    ).toBe(0);
    await waitForSpoolEmpty(c.data);
    expect(spooled(c.data)).toEqual([]);
    expect(workspace.blobs.size).toBe(before + 1);

    const uninstall = await runCli(['uninstall', '--project', c.project], c);
    expect(uninstall.exitCode, uninstall.stdout + uninstall.stderr).toBe(0);
    expect(existsSync(userFile)).toBe(false);
  });

  it('--store-credentials with a profile: nothing to store, exit 2', async () => {
    const c = fresh('store-profile');
    writeFileSync(path.join(c.home, '.databrickscfg'), `[dev]\nhost = ${workspace.url}\ntoken = ${workspace.token}\n`);
    const run = await runCli(['init', '--yes', '--store-credentials', '--tracking-uri', 'databricks://dev', '--project', c.project], c);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('nothing to store');
    expect(existsSync(c.settings)).toBe(false);
  });
});

describe("databricks://<profile>: every cloud's upload, read back by MLflow's own client", () => {
  let c: ReturnType<typeof fresh>;
  let settingsEnv: Record<string, string>;
  let reference: FoundTrace;
  const referenceSession = 'db000000-0000-4000-8000-0000000000ff';

  beforeAll(async () => {
    c = fresh('profile');
    // ~/.databrickscfg as the Databricks CLI writes it: the host without a scheme is https; this one is http on loopback.
    writeFileSync(
      path.join(c.home, '.databrickscfg'),
      `[DEFAULT]\nhost = https://other.cloud.databricks.com\n\n[dev]\nhost = ${workspace.url}\ntoken = ${workspace.token}\n`,
    );
    const run = await runCli(
      ['init', '--yes', '--tracking-uri', 'databricks://dev', '--project', c.project, '--scope', 'project', '--experiment', 'team'],
      c,
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    settingsEnv = JSON.parse(readFileSync(c.settings, 'utf8')).env;
    expect(settingsEnv).toMatchObject({ MLFLOW_TRACKING_URI: 'databricks://dev', MLFLOW_EXPERIMENT_NAME: `/Users/${USER}/team` });

    // The same transcript over OTLP to the MLflow server itself: what MLflow makes of our spans there.
    const ref = fresh('reference');
    const { stdin } = sampleWithSession(ref.root, referenceSession);
    const hook = await runHookProcess(
      stdin,
      makeHookEnv({ home: ref.home, dataRoot: ref.data, trackingUri: server.url, experiment: 'otlp-reference' }),
    );
    expect(hook.exitCode).toBe(0);
    await waitForSpoolEmpty(ref.data);
    [reference] = (await searchTraces(server, 'otlp-reference')) as [FoundTrace];
    expect(reference).toBeDefined();
  }, 120_000);

  const clouds: CloudKind[] = ['AWS_PRESIGNED_URL', 'GCP_SIGNED_URL', 'AZURE_SAS_URI', 'AZURE_ADLS_GEN2_SAS_URI'];
  it.each(clouds.map((cloud, i) => [cloud, i] as const))('%s', async (cloud, i) => {
    workspace.cloud = cloud;
    const before = workspace.storageRequests.length;
    const session = `db000000-0000-4000-8000-00000000010${i}`;
    const { stdin } = sampleWithSession(c.root, session);
    // Nothing from the shell: the hook reads the profile from ~/.databrickscfg itself.
    const hook = await runHookProcess(stdin, makeHookEnv({ home: c.home, dataRoot: c.data, trackingUri: 'databricks://dev' }, settingsEnv));
    expect(hook.exitCode).toBe(0);
    await waitForSpoolEmpty(c.data);
    expect(hookLog(c.data)).toBe('');
    expect(spooled(c.data)).toEqual([]);

    const requests = workspace.storageRequests.slice(before);
    const shape = requests.map((r) =>
      `${r.method} ${Object.keys(r.query)
        .filter((k) => k !== 'sig' && k !== 'mode')
        .sort()
        .join('&')}`.trim(),
    );
    expect(shape).toEqual(cloud === 'AZURE_ADLS_GEN2_SAS_URI' ? ['PUT resource', 'PATCH action&flush&position'] : ['PUT']);
    if (cloud === 'AZURE_SAS_URI') expect(requests[0]!.headers['x-ms-blob-type']).toBe('BlockBlob');

    const traceId = [...workspace.blobs.keys()].at(-1)!; // this session's trace is the newest key
    const trace = await readThroughDatabricks(traceId);
    expect(trace.info.trace_metadata['mlflow.trace.session']).toBe(session);
    expect(trace.info.trace_location).toMatchObject({ mlflow_experiment: { experiment_id: await experimentId(`/Users/${USER}/team`) } });
    expect(comparable(trace, session)).toEqual(comparable(reference, referenceSession));
  });

  it('cloud storage down: the trace waits in the spool, and `flush` delivers it once', async () => {
    workspace.cloud = 'AWS_PRESIGNED_URL';
    workspace.storageDown = true;
    const session = 'db000000-0000-4000-8000-000000000201';
    const { stdin } = sampleWithSession(c.root, session);
    const env = makeHookEnv({ home: c.home, dataRoot: c.data, trackingUri: 'databricks://dev' }, settingsEnv);
    const before = workspace.storageRequests.length;
    expect((await runHookProcess(stdin, env)).exitCode).toBe(0);
    // The delivery process meets the outage, says so once, and retries.
    await waitForHookLog(c.data, /delivery failed, 1 trace\(s\) wait in the spool: PUT trace data to 127\.0\.0\.1:\d+ → HTTP 503/);
    const until = Date.now() + 30_000;
    while (workspace.storageRequests.length - before < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await stopDelivery(c.data);
    expect(workspace.storageRequests.length - before).toBeGreaterThanOrEqual(2);
    expect(spooled(c.data)).toHaveLength(1);
    expect(hookLog(c.data).match(/delivery failed/g)).toHaveLength(1);
    expect(hookLog(c.data)).not.toContain('sig=');
    workspace.storageDown = false;
    const flush = await runCli(['flush'], c);
    expect(flush.exitCode, flush.stdout + flush.stderr).toBe(0);
    expect(flush.stdout).toContain('Delivered 1 of 1');
    expect(spooled(c.data)).toEqual([]);
    // The rows in the workspace (MLflow's Python search would also fetch each trace's data from the server's own artifact store, which a workspace trace does not use).
    const res = await fetch(`${server.url}/api/3.0/mlflow/traces/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: await experimentId(`/Users/${USER}/team`) } }],
        max_results: 100,
      }),
    });
    const rows = ((await res.json()) as any).traces as { trace_metadata: Record<string, string> }[];
    expect(rows.filter((t) => t.trace_metadata['mlflow.trace.session'] === session)).toHaveLength(1);
    expect(rows).toHaveLength(5);
  });

  it('status and doctor talk to the workspace, not to a /health it does not have', async () => {
    const status = await runCli(['status', '--json'], { ...c, cwd: c.project });
    expect(status.exitCode, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.server).toMatchObject({ url: 'databricks://dev', local: false, healthy: true });
    expect(s.traces.last30Days).toBe(5);
    const doctor = await runCli(['doctor', '--json'], { ...c, cwd: c.project });
    const report = JSON.parse(doctor.stdout);
    const serverCheck = report.checks.find((k: any) => k.id === 'server');
    expect(serverCheck).toMatchObject({
      status: 'ok',
      message: expect.stringContaining(`the Databricks workspace at ${workspace.url} takes the token of databricks://dev`),
    });
    expect(doctor.stdout).not.toContain(workspace.token);
  });

  it('a profile that is gone: the hook spools and says why; nothing is lost', async () => {
    const d = fresh('profile-gone');
    const { stdin } = sampleWithSession(d.root, 'db000000-0000-4000-8000-000000000301');
    const hook = await runHookProcess(stdin, makeHookEnv({ home: d.home, dataRoot: d.data, trackingUri: 'databricks://dev' }, settingsEnv));
    expect(hook.exitCode).toBe(0);
    expect(spooled(d.data)).toHaveLength(1);
    const log = await waitForHookLog(d.data, /delivery failed/);
    await stopDelivery(d.data);
    expect(log).toContain(
      `delivery failed, 1 trace(s) wait in the spool: databricks://dev: ${path.join(d.home, '.databrickscfg')} does not exist, so it has no profile [dev]`,
    );
    expect(spooled(d.data)).toHaveLength(1);
    // doctor says the same, in its server check.
    writeFileSync(
      path.join(d.data, 'config.json'),
      JSON.stringify({ trackingUri: 'databricks://dev', experimentName: `/Users/${USER}/team` }),
    );
    const doctor = JSON.parse((await runCli(['doctor', '--json'], { ...d, cwd: d.project })).stdout);
    expect(doctor.checks.find((k: any) => k.id === 'server')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('has no profile [dev]: the hook cannot sign in to the workspace'),
    });
  });

  it("cleanup deletes the workspace's old traces through its API", async () => {
    const dry = await runCli(['cleanup', '--older-than', '1d', '--dry-run', '--json'], { ...c, cwd: c.project });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ backend: 'server', where: workspace.url, planned: 5 });
    const run = await runCli(['cleanup', '--older-than', '1d', '--yes', '--json'], { ...c, cwd: c.project });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ backend: 'server', planned: 5, deleted: 5 });
    expect(workspace.apiRequests.some((r) => r.path === '/api/2.0/mlflow/traces/delete-traces')).toBe(true);
    const status = JSON.parse((await runCli(['status', '--json'], { ...c, cwd: c.project })).stdout);
    expect(status.traces.last30Days).toBe(0);
  });
});
