/**
 * A real `mlflow server` on a free loopback port with a temp SQLite database,
 * for integration and end-to-end tests.
 */
import net from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir, type TempDir } from './temp-dir.js';
import { freePort } from './ports.js';
import { venvBin } from './venv.js';

export interface MlflowServer {
  url: string;
  port: number;
  dbPath: string;
  dir: TempDir;
  stop(): Promise<void>;
  /** Python one-off against this server, with MLflow's own client. */
  python(code: string, args?: string[]): Promise<string>;
}

async function waitForHealth(url: string, child: ResultPromise, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.then(
    () => (exited = true),
    () => (exited = true),
  );
  while (Date.now() < deadline) {
    if (exited) throw new Error('mlflow server exited before it was healthy');
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`mlflow server at ${url} not healthy within ${timeoutMs} ms`);
}

/** No telemetry, and no background job runner competing for the CPU of a small CI machine. */
const SERVER_ENV = { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' };

export interface StartOptions {
  port?: number;
  dir?: TempDir;
  /** `mlflow server --app-name` (e.g. `basic-auth`). */
  appName?: string;
  /** Added to the server's environment. */
  env?: Record<string, string>;
  /** The mlflow to run (default: the test venv's); `python()` and sessionTurns use the Python beside it. */
  mlflowBin?: string;
}

/**
 * MLflow's basic-auth app on this server: an auth config with its own user
 * database in `dir`, and `admin` as the admin account. Needs Flask-WTF in the
 * test venv (MLflow's `auth` extra; scripts/setup-test-venv.sh installs it).
 *
 * `cacheSeconds`: the app's `auth_cache_ttl_seconds`. It checks the password
 * hash (scrypt, ~0.15 s idle, ~0.5 s on a loaded 2-core machine) on every
 * request unless this cache is on; only successful checks are cached.
 */
export function basicAuth(
  dir: string,
  admin: { username: string; password: string },
  options: { cacheSeconds?: number } = {},
): Pick<StartOptions, 'appName' | 'env'> {
  const ini = path.join(dir, 'basic_auth.ini');
  writeFileSync(
    ini,
    [
      '[mlflow]',
      'default_permission = READ',
      `database_uri = sqlite:///${path.join(dir, 'basic_auth.db')}`,
      `admin_username = ${admin.username}`,
      `admin_password = ${admin.password}`,
      'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
      `auth_cache_ttl_seconds = ${options.cacheSeconds ?? 0}`,
      '',
    ].join('\n'),
  );
  return { appName: 'basic-auth', env: { MLFLOW_AUTH_CONFIG_PATH: ini, MLFLOW_FLASK_SERVER_SECRET_KEY: 'claude-mlflow-test-csrf-key' } };
}

/** Wait until nothing accepts connections on 127.0.0.1:`port` (or `timeoutMs` passed). */
async function untilNothingListens(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  const listening = (): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  while (Date.now() < until && (await listening())) await new Promise((r) => setTimeout(r, 50));
}

export async function startMlflowServer(options: StartOptions = {}): Promise<MlflowServer> {
  const dir = options.dir ?? (await makeTempDir('claude-mlflow-server-'));
  const port = options.port ?? (await freePort());
  const dbPath = path.join(dir.path, 'mlflow.db');
  const artifacts = path.join(dir.path, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const mlflowBin = options.mlflowBin ?? venvBin('mlflow');
  const pythonBin = path.join(path.dirname(mlflowBin), 'python');
  const child = execa(
    mlflowBin,
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${dbPath}`,
      '--artifacts-destination',
      artifacts,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      ...(options.appName ? ['--app-name', options.appName] : []),
    ],
    { cwd: dir.path, reject: false, stdout: 'ignore', stderr: ['pipe'], env: { ...SERVER_ENV, ...options.env }, cleanup: true },
  );
  let stderrTail = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  try {
    await waitForHealth(url, child, 90_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderrTail}`);
  }
  return {
    url,
    port,
    dbPath,
    dir,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child.catch(() => undefined);
      clearTimeout(timer);
      // Its worker may still answer on the port for a moment: a server started next on it must not meet it.
      await untilNothingListens(port, 10_000);
      if (!options.dir) await dir.cleanup();
    },
    async python(code: string, args: string[] = []) {
      const { stdout } = await execa(pythonBin, ['-c', code, ...args], {
        env: { MLFLOW_TRACKING_URI: url, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
      });
      return stdout;
    },
  };
}

/** A Python function: one MLflow Trace as the JSON shape of FoundTrace. */
const TRACE_DICT_PY = `
def trace_dict(t):
    return {
        "info": t.info.to_dict(),
        "spans": [{
            "name": s.name, "span_type": s.span_type, "span_id": s.span_id, "parent_id": s.parent_id,
            "start_ns": s.start_time_ns, "end_ns": s.end_time_ns, "status": s.status.status_code.value,
            "inputs": s.inputs, "outputs": s.outputs,
            "attributes": {k: v for k, v in s.attributes.items() if k not in ("mlflow.spanInputs", "mlflow.spanOutputs")},
        } for s in t.data.spans],
    }
`;

/** Every trace of an experiment, through MLflow's own Python client: info and spans. */
export const SEARCH_TRACES_PY = `
import json, sys, mlflow
from mlflow import MlflowClient
${TRACE_DICT_PY}
c = MlflowClient()
exp = sys.argv[1]
ids = [exp] if exp.isdigit() else [c.get_experiment_by_name(exp).experiment_id]
print(json.dumps([trace_dict(t) for t in c.search_traces(locations=ids, max_results=500)]))
`;

/** One trace by id, through MLflow's own Python client (`get_trace`), as FoundTrace. */
export const GET_TRACE_PY = `
import json, sys
from mlflow import MlflowClient
${TRACE_DICT_PY}
print(json.dumps(trace_dict(MlflowClient().get_trace(sys.argv[1]))))
`;

export interface FoundSpan {
  name: string;
  span_type: string;
  span_id: string;
  parent_id: string | null;
  start_ns: number;
  end_ns: number;
  status: string;
  inputs: any;
  outputs: any;
  attributes: Record<string, any>;
}

export interface FoundTrace {
  info: {
    trace_id: string;
    trace_metadata: Record<string, string>;
    request_preview?: string;
    response_preview?: string;
    state: string;
    [k: string]: any;
  };
  spans: FoundSpan[];
}

export async function searchTraces(server: MlflowServer, experiment: string): Promise<FoundTrace[]> {
  return searchTracesAt(server.url, experiment);
}

/** The same, against any server URL (e.g. one that `init` started). */
export async function searchTracesAt(url: string, experiment: string): Promise<FoundTrace[]> {
  const { stdout } = await execa(venvBin('python'), ['-c', SEARCH_TRACES_PY, experiment], {
    env: { MLFLOW_TRACKING_URI: url, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  return JSON.parse(stdout) as FoundTrace[];
}

/** MLflow's own session view of an experiment (`mlflow.search_sessions`): session id → how many turns (traces) it lists. */
const SESSION_TURNS_PY = `
import json, sys, mlflow
from mlflow import MlflowClient
exp = MlflowClient().get_experiment_by_name(sys.argv[1]).experiment_id
print(json.dumps({s.id: len(list(s)) for s in mlflow.search_sessions(locations=[exp], include_spans=False)}))
`;

/** The turns of each session, as the server's own MLflow groups them (mlflow.search_sessions, the Sessions view's grouping). */
export async function sessionTurns(server: MlflowServer, experiment: string): Promise<Record<string, number>> {
  const stdout = await server.python(SESSION_TURNS_PY, [experiment]);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}
