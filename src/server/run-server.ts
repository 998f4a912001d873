/** `server start|stop|restart|status|logs` for the local server that `init` set up. */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { loadConfig, type LocalServerConfig } from '../adapters/config-store.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { logTail, SERVER_WORKERS } from '../adapters/service/background.js';
import { paths } from '../config.js';
import { parsePostgresUri, shortPostgres } from '../core/backend-store.js';
import { plural } from '../core/format.js';
import { pythonForMlflow } from '../services/mlflow-python.js';
import { runPostgresProbe } from '../services/store/postgres-probe.js';
import { CliError, EXIT } from '../errors.js';
import { ensureServerRunning, restartServer, serverFiles, serverState, stopServer } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';
import { parseLines } from './options.js';

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
  const pid = result.pid ? ` (PID ${result.pid})` : '';
  options.print(
    result.started
      ? `Started the MLflow server at ${serverUrl(server)}${pid}.`
      : `The MLflow server is already running at ${serverUrl(server)}${pid}.`,
  );
  return EXIT.ok;
}

export async function runServerStop(options: ServerCommandOptions): Promise<number> {
  const server = localServer(options.dataRoot);
  const result = await stopServer(options.dataRoot, server, options.env);
  if (result === 'not-ours') {
    throw new CliError(
      `the server pidfile ${serverFiles(options.dataRoot).pidFile} points at a process that is not our MLflow server; it was left alone.`,
      EXIT.failure,
    );
  }
  options.print(result === 'stopped' ? 'Stopped the MLflow server.' : 'The MLflow server was not running.');
  return EXIT.ok;
}

export async function runServerRestart(options: ServerCommandOptions): Promise<number> {
  const server = localServer(options.dataRoot);
  const { pid } = await restartServer(options.dataRoot, server, options.env);
  options.print(`Restarted the MLflow server at ${serverUrl(server)}${pid ? ` (PID ${pid})` : ''}.`);
  return EXIT.ok;
}

/** The SQLite file `migrate` left behind, while it is still there. */
function leftBehind(dataRoot: string): { file: string; bytes: number; since: string } | undefined {
  const from = loadConfig(paths(dataRoot).config).migratedFrom;
  const file = from?.backendStoreUri.startsWith('sqlite:///') ? from.backendStoreUri.slice('sqlite:///'.length) : undefined;
  if (!file || !existsSync(file)) return undefined;
  return { file, bytes: statSync(file).size, since: from!.at };
}

export async function runServerStatus(options: ServerCommandOptions): Promise<number> {
  const server = localServer(options.dataRoot);
  const files = serverFiles(options.dataRoot);
  const state = await serverState(options.dataRoot, server, options.env);
  const url = serverUrl(server);
  const client = new MlflowClient({ trackingUri: url, env: options.env, timeoutMs: 2000 });
  const healthy = await client.health();
  const version = healthy ? await client.version().catch(() => undefined) : undefined;
  const status = {
    manager: server.manager,
    state: state.running ? 'running' : 'stopped',
    pid: state.pid,
    port: server.port,
    url,
    healthy,
    version,
    uptimeSeconds: state.running && state.startedAt ? Math.round((Date.now() - Date.parse(state.startedAt)) / 1000) : undefined,
    workers: SERVER_WORKERS,
    /** MLflow's job execution (`init --server-jobs`). */
    jobExecution: server.jobExecution === true,
    database: files.database,
    databaseBytes: existsSync(files.database) ? statSync(files.database).size : 0,
    /** The SQLite file a migrate moved away from, kept until the user removes it. */
    oldSqlite: undefined as { file: string; bytes: number; since: string } | undefined,
  };
  const postgres = parsePostgresUri(server.backendStoreUri);
  if (postgres.ok) {
    // PostgreSQL: where (never the password), and its size from the catalog when it answers.
    status.database = `PostgreSQL ${shortPostgres(postgres.store)}`;
    const probe = await runPostgresProbe(pythonForMlflow(server.mlflowBin), postgres.store, {
      mode: 'size',
      timeoutS: 3,
      env: options.env,
    });
    status.databaseBytes = probe.sizeBytes ?? 0;
    status.oldSqlite = leftBehind(options.dataRoot);
  }
  if (options.json) {
    options.print(JSON.stringify(status));
  } else {
    options.print(`Server:   ${status.state}${status.pid ? ` (PID ${status.pid})` : ''}, managed by ${status.manager}`);
    options.print(`URL:      ${url}  ${healthy ? 'healthy' : 'not answering /health'}${version ? `, MLflow ${version}` : ''}`);
    if (status.uptimeSeconds !== undefined) options.print(`Uptime:   ${status.uptimeSeconds} s`);
    options.print(
      `Settings: ${plural(status.workers, 'worker')}, MLflow job execution ${status.jobExecution ? 'on (init --no-server-jobs turns it off)' : 'off (init --server-jobs turns it on, for judges and evaluation run from its UI)'}`,
    );
    options.print(`Database: ${status.database} (${(status.databaseBytes / 1e6).toFixed(1)} MB)`);
    if (status.oldSqlite) {
      options.print(
        `Old:      ${status.oldSqlite.file} (${(status.oldSqlite.bytes / 1e6).toFixed(1)} MB), the SQLite database before \`migrate\` on ${status.oldSqlite.since.slice(0, 10)}; nothing reads it: remove it when you are satisfied`,
      );
    }
    if (!healthy) options.print(`Last lines of ${files.log}:\n${logTail(files.log, 10)}`);
  }
  return healthy ? EXIT.ok : EXIT.failure;
}

export interface LogsOptions extends ServerCommandOptions {
  lines: string;
  follow?: boolean;
  /** Stops following (tests); by default Ctrl-C does. */
  signal?: AbortSignal;
}

export async function runServerLogs(options: LogsOptions): Promise<number> {
  localServer(options.dataRoot);
  const lines = parseLines(options.lines);
  const file = serverFiles(options.dataRoot).log;
  if (!existsSync(file)) {
    options.print(`No server log yet (${file}).`);
    return EXIT.ok;
  }
  const tail = logTail(file, lines);
  if (tail) options.print(tail);
  if (!options.follow) return EXIT.ok;
  let offset = statSync(file).size;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const size = existsSync(file) ? statSync(file).size : 0;
      if (size < offset) offset = 0; // rotated or truncated
      if (size > offset) {
        const fd = openSync(file, 'r');
        const buffer = Buffer.alloc(size - offset);
        readSync(fd, buffer, 0, buffer.length, offset);
        closeSync(fd);
        offset = size;
        process.stdout.write(buffer);
      }
    }, 300);
    const stop = (): void => {
      clearInterval(timer);
      resolve();
    };
    options.signal?.addEventListener('abort', stop);
    process.once('SIGINT', stop);
  });
  return EXIT.ok;
}
