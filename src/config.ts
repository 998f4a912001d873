/**
 * Where our files live, and what `init` decided. One folder holds the config,
 * the venv, the hook runtime, the spool, the logs and the default database.
 * `CLAUDE_MLFLOW_HOME` moves it (tests always set it).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DATA_DIR_ENV = 'CLAUDE_MLFLOW_HOME';
/** The delivery process's runtime file: beside the hook runtime, in the package and in the data folder. */
export const DELIVER_SCRIPT_NAME = 'claude-mlflow-deliver.mjs';

export function dataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const override = env[DATA_DIR_ENV];
  if (override) return override;
  const home = env.HOME || env.USERPROFILE || homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'claude-mlflow');
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'claude-mlflow');
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'claude-mlflow');
}

export interface Paths {
  root: string;
  config: string;
  spool: string;
  logs: string;
  hookLog: string;
  runtime: string;
  hookScript: string;
  /** The delivery process's runtime, beside the hook's. */
  deliverScript: string;
  /** The MLflow virtualenv that `init` creates. */
  venv: string;
  /** The background server's pidfile, log, database and artifacts. */
  serverPid: string;
  serverLog: string;
  database: string;
  artifacts: string;
}

export function paths(root: string): Paths {
  return {
    root,
    config: join(root, 'config.json'),
    spool: join(root, 'spool'),
    logs: join(root, 'logs'),
    hookLog: join(root, 'logs', 'hook.log'),
    runtime: join(root, 'runtime'),
    hookScript: join(root, 'runtime', 'claude-mlflow-hook.mjs'),
    deliverScript: join(root, 'runtime', DELIVER_SCRIPT_NAME),
    venv: join(root, 'venv'),
    serverPid: join(root, 'server.pid'),
    serverLog: join(root, 'logs', 'server.log'),
    database: join(root, 'mlflow.db'),
    artifacts: join(root, 'artifacts'),
  };
}

/** What `init` decided. Every field is optional: environment variables win. */
export interface Config {
  trackingUri?: string;
  experimentId?: string;
  experimentName?: string;
  /** Secret redaction in the hook: on unless `enabled` is false. */
  redaction?: RedactionConfig;
  /** A span input or output longer than this (bytes, as JSON) is cut (default 64 KiB). */
  maxSpanFieldBytes?: number;
  /** A whole trace longer than this (bytes, as JSON) gets tighter cuts (default 8 MiB). */
  maxTraceBytes?: number;
}

export interface RedactionConfig {
  enabled?: boolean;
  /** Extra JavaScript regular expressions whose matches are secrets. */
  extraPatterns?: string[];
  /** Values never redacted (false positives). */
  allow?: string[];
}

/**
 * config.json as an object: {} when it is missing, unreadable, or not a JSON
 * object. The one reader of the file (adapters/config-store.ts's loadConfig
 * adds init's records to the type).
 */
export function readConfig(file: string): Config {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Config) : {};
  } catch {
    return {};
  }
}
