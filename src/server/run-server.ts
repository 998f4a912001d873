/** `server start|stop|status` for the local server that `init` set up. */
import { existsSync, statSync } from 'node:fs';
import { loadConfig, type LocalServerConfig } from '../adapters/config-store.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { backgroundState, stopBackground } from '../adapters/service/background.js';
import { paths } from '../config.js';
import { CliError, EXIT } from '../errors.js';
import { ensureServerRunning, serverFiles, serverUrl } from './local-server.js';

export interface ServerCommandOptions {
  dataRoot: string;
  env: NodeJS.ProcessEnv;
  json?: boolean;
  print: (line: string) => void;
}

function localServer(dataRoot: string): LocalServerConfig {
  const server = loadConfig(paths(dataRoot).config).server;
  if (!server) {
    throw new CliError('no local MLflow server is set up: run `claude-mlflow init` (without --tracking-uri) first.', EXIT.failure);
  }
  return server;
}

export async function runServerStart(options: ServerCommandOptions): Promise<number> {
  const server = localServer(options.dataRoot);
  const result = await ensureServerRunning(options.dataRoot, server, options.env);
  options.print(
    result.started
      ? `Started the MLflow server at ${serverUrl(server)} (PID ${result.pid}).`
      : `The MLflow server is already running at ${serverUrl(server)} (PID ${result.pid}).`,
  );
  return EXIT.ok;
}

export async function runServerStop(options: ServerCommandOptions): Promise<number> {
  localServer(options.dataRoot);
  const result = await stopBackground(serverFiles(options.dataRoot).pidFile);
  if (result === 'not-ours') {
    throw new CliError(
      `the server pidfile ${serverFiles(options.dataRoot).pidFile} points at a process that is not our MLflow server; it was left alone.`,
      EXIT.failure,
    );
  }
  options.print(result === 'stopped' ? 'Stopped the MLflow server.' : 'The MLflow server was not running.');
  return EXIT.ok;
}

export async function runServerStatus(options: ServerCommandOptions): Promise<number> {
  const server = localServer(options.dataRoot);
  const files = serverFiles(options.dataRoot);
  const state = await backgroundState(files.pidFile);
  const url = serverUrl(server);
  const client = new MlflowClient({ trackingUri: url, env: options.env, timeoutMs: 2000 });
  const healthy = state.state === 'running' && (await client.health());
  const version = healthy ? await client.version().catch(() => undefined) : undefined;
  const startedAt = state.record?.startedAt;
  const status = {
    manager: server.manager,
    state: state.state,
    pid: state.record?.pid,
    port: server.port,
    url,
    healthy,
    version,
    uptimeSeconds: state.state === 'running' && startedAt ? Math.round((Date.now() - Date.parse(startedAt)) / 1000) : undefined,
    database: files.database,
    databaseBytes: existsSync(files.database) ? statSync(files.database).size : 0,
  };
  if (options.json) {
    options.print(JSON.stringify(status));
  } else {
    options.print(`Server:   ${status.state}${status.pid ? ` (PID ${status.pid})` : ''}, managed by ${status.manager}`);
    options.print(`URL:      ${url}  ${healthy ? 'healthy' : 'not answering /health'}${version ? `, MLflow ${version}` : ''}`);
    if (status.uptimeSeconds !== undefined) options.print(`Uptime:   ${status.uptimeSeconds} s`);
    options.print(`Database: ${files.database} (${(status.databaseBytes / 1e6).toFixed(1)} MB)`);
  }
  return healthy ? EXIT.ok : EXIT.failure;
}
