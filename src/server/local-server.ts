/** The local MLflow server that `init` runs: its files, and starting or reusing it. */
import { join } from 'node:path';
import type { LocalServerConfig } from '../adapters/config-store.js';
import { backgroundState, startBackground, waitForHealth, type ServerSpec } from '../adapters/service/background.js';

export const SERVER_START_TIMEOUT_MS = 120_000;

export function serverFiles(dataRoot: string) {
  return {
    database: join(dataRoot, 'mlflow.db'),
    artifacts: join(dataRoot, 'artifacts'),
    log: join(dataRoot, 'logs', 'server.log'),
    pidFile: join(dataRoot, 'server.pid'),
  };
}

export function sqliteUri(file: string): string {
  return `sqlite:///${file}`;
}

export function serverUrl(server: Pick<LocalServerConfig, 'host' | 'port'>): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `http://${host}:${server.port}`;
}

export function serverSpec(dataRoot: string, server: LocalServerConfig, env?: NodeJS.ProcessEnv): ServerSpec {
  const files = serverFiles(dataRoot);
  return {
    mlflowBin: server.mlflowBin,
    backendStoreUri: server.backendStoreUri,
    artifactsDir: files.artifacts,
    host: server.host,
    port: server.port,
    logFile: files.log,
    pidFile: files.pidFile,
    env,
  };
}

/** Start the server unless ours is already running; wait for /health either way. */
export async function ensureServerRunning(
  dataRoot: string,
  server: LocalServerConfig,
  env?: NodeJS.ProcessEnv,
): Promise<{ started: boolean; pid: number }> {
  const files = serverFiles(dataRoot);
  const current = await backgroundState(files.pidFile);
  if (current.state === 'running' && current.record && current.record.port === server.port) {
    await waitForHealth(serverUrl(server), SERVER_START_TIMEOUT_MS);
    return { started: false, pid: current.record.pid };
  }
  const record = await startBackground(serverSpec(dataRoot, server, env));
  const alive = (): boolean => {
    try {
      process.kill(record.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitForHealth(serverUrl(server), SERVER_START_TIMEOUT_MS, alive);
  return { started: true, pid: record.pid };
}
