/**
 * What `cleanup` works on: the MLflow server (or, when it is down, the
 * backend store with MLflow's Python client), the SQLite file behind it when
 * it is ours, and the experiment the current project's settings name.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadConfig, type LocalServerConfig } from '../adapters/config-store.js';
import { loadSettings } from '../adapters/settings-file.js';
import { venvBins } from '../adapters/venv-paths.js';
import { paths } from '../config.js';
import { isPostgresUri, withPsycopg2 } from '../core/backend-store.js';
import { DEFAULT_TRACKING_URI } from '../core/hook-settings.js';
import { isObject } from '../core/is-object.js';
import { settingsPath, type Scope } from '../core/scopes.js';
import { ensureServerRunning, isLoopback, serverState, stopServer } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';

/** A server we may pause for VACUUM: only one we started ourselves. */
export interface ServerControl {
  name: string;
  isRunning(): Promise<boolean>;
  /** Stop it; false when it was not running (or not ours to stop). */
  stop(): Promise<boolean>;
  start(): Promise<void>;
}

export interface CleanupTarget {
  /** The server to use when it answers. */
  trackingUri: string;
  /** The backend store, for MLflow's Python client when the server is down. */
  backendStoreUri?: string;
  /** The SQLite file behind it, when we know it (our local server, or a sqlite:// URI). */
  database?: string;
  /** The MLflow venv's Python (MLflow's client, and `sqlite3` for maintenance). */
  python?: string;
  /** Present when the server is ours to pause (the local server `init` set up, under any manager). */
  server?: ServerControl;
}

/** `sqlite:////abs/mlflow.db` → `/abs/mlflow.db`; undefined for any other store. */
export function sqliteFile(uri: string | undefined, base: string): string | undefined {
  const match = /^sqlite:\/\/\/(.*)$/.exec(uri ?? '');
  if (!match?.[1]) return undefined;
  const file = match[1].split('?')[0]!;
  return isAbsolute(file) ? file : resolve(base, file);
}

function pythonBeside(mlflowBin: string): string | undefined {
  const dir = dirname(mlflowBin);
  for (const name of process.platform === 'win32' ? ['python.exe'] : ['python', 'python3']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Pause and resume our local server, under whichever manager runs it (background process, launchd, systemd, Task Scheduler). */
export function serverControl(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv): ServerControl {
  return {
    name: `the local MLflow server (${serverUrl(server)})`,
    isRunning: async () => (await serverState(dataRoot, server, env)).running,
    stop: async () => (await stopServer(dataRoot, server, env)) === 'stopped',
    start: async () => {
      await ensureServerRunning(dataRoot, server, env);
    },
  };
}

const loopback = (host: string): boolean => isLoopback(host) || host === '0.0.0.0' || host === '::';

/** Whether a tracking URI points at our local server. */
export function isLocalServer(uri: string, server: Pick<LocalServerConfig, 'host' | 'port'>): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  const port = Number(url.port || 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return port === server.port && (host === server.host || (loopback(host) && loopback(server.host)));
}

/**
 * Which MLflow to clean: the tracking URI as the hook would see it
 * (MLFLOW_TRACKING_URI in the environment, then in the project's settings,
 * then our config). When that is the local server `init` set up, we also
 * know its SQLite file (backup, VACUUM) and can pause it; any other server
 * is cleaned through its API only.
 */
export function resolveTarget(dataRoot: string, env: NodeJS.ProcessEnv, settingsEnv: Record<string, string> = {}): CleanupTarget {
  const config = loadConfig(paths(dataRoot).config);
  const server = config.server;
  const uri = (
    env.MLFLOW_TRACKING_URI ||
    settingsEnv.MLFLOW_TRACKING_URI ||
    (server ? serverUrl(server) : config.trackingUri) ||
    DEFAULT_TRACKING_URI
  ).replace(/\/+$/, '');
  if (server && isLocalServer(uri, server)) {
    return {
      trackingUri: serverUrl(server),
      // PostgreSQL through the driver init installed (see withPsycopg2).
      backendStoreUri: isPostgresUri(server.backendStoreUri) ? withPsycopg2(server.backendStoreUri) : server.backendStoreUri,
      database: sqliteFile(server.backendStoreUri, dataRoot),
      python: pythonBeside(server.mlflowBin),
      server: serverControl(dataRoot, server, env),
    };
  }
  const venv = venvBins(paths(dataRoot).venv).pythonBin;
  const python = server ? pythonBeside(server.mlflowBin) : existsSync(venv) ? venv : undefined;
  if (uri.startsWith('sqlite:')) {
    return { trackingUri: uri, backendStoreUri: uri, database: sqliteFile(uri, process.cwd()), python };
  }
  return { trackingUri: uri, python };
}

export interface SettingsExperiment {
  experiment?: { id: string } | { name: string };
  /** The settings file it came from. */
  file?: string;
  /** MLFLOW_TRACKING_URI from the same settings, if any. */
  trackingUri?: string;
  /** Settings files we could not use (Claude Code ignores them too). */
  skipped: string[];
}

/**
 * The experiment the project's Claude Code settings name, with Claude Code's
 * precedence: local, then project, then user settings; within one file
 * MLFLOW_EXPERIMENT_ID wins over MLFLOW_EXPERIMENT_NAME (as in the hook).
 */
export function experimentFromSettings(project: string, home: string): SettingsExperiment {
  const skipped: string[] = [];
  let trackingUri: string | undefined;
  let found: Pick<SettingsExperiment, 'experiment' | 'file'> | undefined;
  for (const scope of ['local', 'project', 'user'] as Scope[]) {
    const file = settingsPath(scope, project, home);
    if (!existsSync(file)) continue;
    let env: Record<string, unknown> = {};
    try {
      const loaded = loadSettings(file);
      if (!loaded.strict) {
        skipped.push(`${file} (comments or trailing commas: Claude Code ignores it)`);
        continue;
      }
      const raw = loaded.doc.env;
      env = isObject(raw) ? raw : {};
    } catch (error) {
      skipped.push(`${file} (${(error as Error).message})`);
      continue;
    }
    const str = (key: string): string | undefined => {
      const v = env[key];
      return typeof v === 'string' || typeof v === 'number' ? String(v).trim() || undefined : undefined;
    };
    trackingUri ??= str('MLFLOW_TRACKING_URI');
    const id = str('MLFLOW_EXPERIMENT_ID');
    const name = str('MLFLOW_EXPERIMENT_NAME');
    if (!found && (id || name)) found = { experiment: id ? { id } : { name: name! }, file };
  }
  return { ...found, trackingUri, skipped };
}
