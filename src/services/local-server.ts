/**
 * The local MLflow server that `init` runs: its files, and starting,
 * stopping and installing it under whichever manager keeps it alive — the
 * OS's own service manager, or our pidfile-managed background process.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LocalServerConfig } from '../adapters/config-store.js';
import { ensurePrivateDir, writeFileAtomic } from '../adapters/fs-atomic.js';
import { parsePostgresUri, pgpassLine, uriWithoutPassword, withPsycopg2 } from '../core/backend-store.js';
import { CliError } from '../errors.js';
import {
  backgroundState,
  serverArgs,
  serverEnvironment,
  serversOfDataFolder,
  startFailureCause,
  startBackground,
  stopBackground,
  waitForHealth,
  type PidRecord,
  type ServerSpec,
} from '../adapters/service/background.js';
import { defaultContext, serviceSpecFor } from '../adapters/service/common.js';
import { chooseManager, createManager } from '../adapters/service/detect.js';
import { withLock } from '../adapters/file-lock.js';
import { warmTracePath } from '../adapters/server-warmup.js';
import { startDelivery } from './delivery/launch.js';
import { serverUrl } from './server-url.js';
import { ensureLinger } from '../adapters/service/systemd.js';
import type { ServiceManager, ServiceSpec } from '../adapters/service/types.js';

export const SERVER_START_TIMEOUT_MS = 120_000;

/** A start, stop or restart that waits longer than this for another one on the same data folder gives up. */
const SERVER_LOCK = { staleMs: 60_000, timeoutMs: SERVER_START_TIMEOUT_MS + 60_000 };

/**
 * One start, stop or restart at a time per data folder, across processes:
 * five `server start`s at once otherwise start five servers on one database,
 * and the last pidfile written may name one that loses the port. The lock is
 * refreshed while held, however long a start takes.
 */
function underServerLock<T>(dataRoot: string, fn: () => Promise<T>, options: { starts: boolean }): Promise<T> {
  if (options.starts) ensurePrivateDir(dataRoot);
  // Stopping a server whose data folder is gone: nothing to share it with, and nothing to create.
  else if (!existsSync(dataRoot)) return fn();
  return withLock(serverFiles(dataRoot).lock, SERVER_LOCK, fn);
}

/**
 * The server answers /health: warm its trace path (so that the next hook's
 * delivery does not pay each worker's first-request cost), then set off the
 * delivery of whatever was spooled while it was down.
 */
async function whenServing(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv, isAlive?: () => boolean): Promise<void> {
  try {
    await waitForHealth(serverUrl(server), SERVER_START_TIMEOUT_MS, isAlive);
  } catch (error) {
    throw withCause(error, serverFiles(dataRoot).log);
  } finally {
    // Also when the server died on the way: it may have created the database by then.
    protectServerFiles(dataRoot);
  }
  await warmTracePath(serverUrl(server), env).catch(() => undefined);
  startDelivery(dataRoot, env);
}

/** A failed start's error, with the cause its log gives and where that log is. */
function withCause(error: unknown, logFile: string): unknown {
  if (!(error instanceof CliError)) return error;
  const cause = startFailureCause(logFile);
  return new CliError(`${error.message}${cause ? `: ${cause}` : ''} (server log: ${logFile})`, error.exitCode);
}

export function serverFiles(dataRoot: string) {
  return {
    database: join(dataRoot, 'mlflow.db'),
    artifacts: join(dataRoot, 'artifacts'),
    log: join(dataRoot, 'logs', 'server.log'),
    pidFile: join(dataRoot, 'server.pid'),
    /** Held while the server is started, stopped or restarted. */
    lock: join(dataRoot, 'server.lock'),
    /** libpq password file for a PostgreSQL backend store: the server's PGPASSFILE (0600). */
    pgpass: join(dataRoot, 'pgpass'),
  };
}

/**
 * How the server gets its backend store. A PostgreSQL password never goes on
 * the server's command line (which every user of the machine can read in
 * `ps`) nor into the service files: the URI is passed without it, and libpq
 * reads it from PGPASSFILE, a 0600 file in the 0700 data folder.
 */
export function serverStore(
  dataRoot: string,
  server: Pick<LocalServerConfig, 'backendStoreUri'>,
): {
  uri: string;
  environment: Record<string, string>;
  /** The password file's text, when there is a password. */
  pgpass?: string;
} {
  const parsed = parsePostgresUri(server.backendStoreUri);
  if (!parsed.ok) return { uri: server.backendStoreUri, environment: {} };
  const line = pgpassLine(parsed.store);
  if (line === undefined) return { uri: withPsycopg2(server.backendStoreUri), environment: {} };
  return { uri: withPsycopg2(uriWithoutPassword(parsed.store)), environment: { PGPASSFILE: serverFiles(dataRoot).pgpass }, pgpass: line };
}

/**
 * Before the server starts: the database file in our data folder exists and
 * is 0600 (SQLite keeps an existing file's mode, and MLflow creates its
 * tables in an empty one), so it is never readable by others, even when the
 * server fails right after creating it; and the password file is written (or
 * removed).
 */
export function writeServerSecrets(dataRoot: string, server: Pick<LocalServerConfig, 'backendStoreUri'>): void {
  if (server.backendStoreUri === sqliteUri(serverFiles(dataRoot).database)) createPrivateFile(serverFiles(dataRoot).database);
  const file = serverFiles(dataRoot).pgpass;
  const { pgpass } = serverStore(dataRoot, server);
  if (pgpass === undefined) {
    rmSync(file, { force: true });
    return;
  }
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  ensurePrivateDir(dataRoot);
  if (current !== pgpass) writeFileAtomic(file, pgpass, 0o600);
  // libpq ignores a password file that group or others can read.
  chmodSync(file, 0o600);
}

/** Create `file` empty with mode 0600 unless it exists. */
function createPrivateFile(file: string): void {
  ensurePrivateDir(dirname(file));
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

export function sqliteUri(file: string): string {
  return `sqlite:///${file}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function serverSpec(dataRoot: string, server: LocalServerConfig, env?: NodeJS.ProcessEnv): ServerSpec {
  const files = serverFiles(dataRoot);
  const store = serverStore(dataRoot, server);
  return {
    mlflowBin: server.mlflowBin,
    backendStoreUri: store.uri,
    artifactsDir: files.artifacts,
    host: server.host,
    port: server.port,
    logFile: files.log,
    pidFile: files.pidFile,
    env: Object.keys(store.environment).length ? { ...(env ?? process.env), ...store.environment } : env,
    jobExecution: server.jobExecution === true,
  };
}

/** What an OS service manager runs: the background server's command, with PGPASSFILE (never the password) in its environment. */
export function serviceSpecOf(
  dataRoot: string,
  server: LocalServerConfig,
  env?: NodeJS.ProcessEnv,
  platform?: NodeJS.Platform,
): ServiceSpec {
  return serviceSpecFor(serverSpec(dataRoot, server, env), { environment: serverStore(dataRoot, server).environment, platform });
}

function osService(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv): { manager: ServiceManager; spec: ServiceSpec } {
  if (server.manager === 'background') throw new Error('not an OS service');
  const manager = createManager(server.manager, defaultContext(env));
  return { manager, spec: serviceSpecOf(dataRoot, server, env) };
}

function alive(pid: number): () => boolean {
  return () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
}

/** Traces hold prompts and code: the database is 0600 and its folders 0700, whatever MLflow's umask made them. */
export function protectServerFiles(dataRoot: string): void {
  const files = serverFiles(dataRoot);
  for (const [file, mode] of [
    [dataRoot, 0o700],
    [files.artifacts, 0o700],
    [files.database, 0o600],
    [files.log, 0o600],
  ] as const) {
    try {
      chmodSync(file, mode);
    } catch {
      // not there yet
    }
  }
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Whether a running background server was started the way `spec` asks: the
 * same command line (mlflow, backend store, address, workers) and the same
 * settings (job execution). One started by an older version (2 workers, job
 * execution left to MLflow) or before `init --server-jobs` differs, and is
 * started again. A record without a command (older still) counts as the same.
 */
function startedAs(record: PidRecord, spec: ServerSpec): boolean {
  if (!record.command?.length) return true;
  const asked = serverEnvironment(spec);
  const recorded = record.environment ?? {};
  return (
    sameList(record.command, [spec.mlflowBin, ...serverArgs(spec)]) &&
    sameList(Object.keys(recorded).sort(), Object.keys(asked).sort()) &&
    Object.entries(asked).every(([name, value]) => recorded[name] === value)
  );
}

/**
 * The service file on disk is not what the current settings render: written
 * by an older version, or before the settings changed. Then the service is
 * installed again (which restarts it), not just started.
 */
function serviceFileOutdated(manager: ServiceManager, spec: ServiceSpec): boolean {
  try {
    return readFileSync(manager.unitPath(spec), 'utf8') !== manager.render(spec);
  } catch {
    return true;
  }
}

/** Start the server unless it is already running; wait for /health either way. */
export function ensureServerRunning(
  dataRoot: string,
  server: LocalServerConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ started: boolean; pid?: number }> {
  return underServerLock(dataRoot, () => ensureRunning(dataRoot, server, env), { starts: true });
}

async function ensureRunning(
  dataRoot: string,
  server: LocalServerConfig,
  env: NodeJS.ProcessEnv,
): Promise<{ started: boolean; pid?: number }> {
  writeServerSecrets(dataRoot, server);
  if (server.manager !== 'background') {
    const { manager, spec } = osService(dataRoot, server, env);
    const before = await manager.status(spec);
    const outdated = serviceFileOutdated(manager, spec);
    if (outdated) await manager.install(spec);
    else if (!before.running) await manager.start(spec);
    await whenServing(dataRoot, server, env);
    const after = await manager.status(spec);
    return { started: outdated || !before.running, pid: after.pid };
  }
  const files = serverFiles(dataRoot);
  const spec = serverSpec(dataRoot, server, env);
  const current = await backgroundState(files.pidFile);
  if (current.state === 'running' && current.record) {
    if (current.record.port === server.port && current.record.host === server.host && startedAs(current.record, spec)) {
      await whenServing(dataRoot, server, env);
      return { started: false, pid: current.record.pid };
    }
    // Ours, on the old port or host, or with other settings: start it again as asked.
    await stopBackground(files.pidFile);
  }
  const record = await startBackground(spec);
  await whenServing(dataRoot, server, env, alive(record.pid));
  return { started: true, pid: record.pid };
}

export type StopResult = 'stopped' | 'not-running' | 'not-ours';

export function stopServer(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv = process.env): Promise<StopResult> {
  return underServerLock(dataRoot, () => stop(dataRoot, server, env), { starts: false });
}

async function stop(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv): Promise<StopResult> {
  if (server.manager === 'background') return stopBackground(serverFiles(dataRoot).pidFile);
  const { manager, spec } = osService(dataRoot, server, env);
  const before = await manager.status(spec);
  await manager.stop(spec);
  return before.running ? 'stopped' : 'not-running';
}

export function restartServer(
  dataRoot: string,
  server: LocalServerConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pid?: number }> {
  return underServerLock(dataRoot, () => restart(dataRoot, server, env), { starts: true });
}

async function restart(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv): Promise<{ pid?: number }> {
  writeServerSecrets(dataRoot, server);
  if (server.manager === 'background') {
    const result = await stopBackground(serverFiles(dataRoot).pidFile);
    if (result === 'not-ours') return { pid: undefined };
    return ensureRunning(dataRoot, server, env);
  }
  const { manager, spec } = osService(dataRoot, server, env);
  if (serviceFileOutdated(manager, spec)) await manager.install(spec);
  else await manager.restart(spec);
  await whenServing(dataRoot, server, env);
  return { pid: (await manager.status(spec)).pid };
}

/**
 * Whether a background server of this data folder listens on `port`: the one
 * its pidfile names (another `init` at the same time may have just started
 * it, before config.json names it), or one that no pidfile names (a command
 * killed before it wrote one), which the next start stops.
 */
export async function ourBackgroundServerOn(dataRoot: string, port: number): Promise<boolean> {
  const files = serverFiles(dataRoot);
  const state = await backgroundState(files.pidFile);
  if (state.state === 'running' && state.record?.port === port) return true;
  return (await serversOfDataFolder(files.artifacts)).some((server) => server.port === port);
}

export interface ServerState {
  manager: LocalServerConfig['manager'];
  running: boolean;
  pid?: number;
  startedAt?: string;
  detail?: string;
}

export async function serverState(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv = process.env): Promise<ServerState> {
  if (server.manager === 'background') {
    const state = await backgroundState(serverFiles(dataRoot).pidFile);
    return {
      manager: 'background',
      running: state.state === 'running',
      pid: state.record?.pid,
      startedAt: state.state === 'running' ? state.record?.startedAt : undefined,
      detail: state.state,
    };
  }
  const { manager, spec } = osService(dataRoot, server, env);
  const status = await manager.status(spec);
  return { manager: server.manager, running: status.running, pid: status.pid, detail: status.detail };
}

/** Which manager `init` uses: the OS's own when asked for and usable, else the background process. */
export async function pickManager(useService: boolean, env: NodeJS.ProcessEnv = process.env): Promise<LocalServerConfig['manager']> {
  if (!useService) return 'background';
  return chooseManager(defaultContext(env), process.platform);
}

/**
 * Put the server under its manager and wait for /health. A server of ours
 * under another manager (or on another port) is stopped first, so that the
 * two never fight over the port. Returns notes for the summary.
 */
export function installServer(
  dataRoot: string,
  server: LocalServerConfig,
  previous: LocalServerConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ started: boolean; pid?: number; notes: string[] }> {
  return underServerLock(dataRoot, () => install(dataRoot, server, previous, env), { starts: true });
}

async function install(
  dataRoot: string,
  server: LocalServerConfig,
  previous: LocalServerConfig | undefined,
  env: NodeJS.ProcessEnv,
): Promise<{ started: boolean; pid?: number; notes: string[] }> {
  const notes: string[] = [];
  if (previous && previous.manager !== server.manager) await remove(dataRoot, previous, env);
  if (server.manager === 'background') return { ...(await ensureRunning(dataRoot, server, env)), notes };

  await stopBackground(serverFiles(dataRoot).pidFile);
  writeServerSecrets(dataRoot, server);
  const { manager, spec } = osService(dataRoot, server, env);
  const before = await manager.status(spec);
  await manager.install(spec);
  await whenServing(dataRoot, server, env);
  const after = await manager.status(spec);
  if (server.manager === 'systemd') {
    const user = env.USER || env.LOGNAME || '';
    if (user) {
      const linger = await ensureLinger(defaultContext(env), user);
      if (!linger.enabled && linger.command) {
        notes.push(`To keep the server running when you are logged out, run: ${linger.command}`);
      }
    }
  }
  return { started: !before.running, pid: after.pid, notes };
}

/** Stop the server and take it out of its manager (uninstall); its password file goes with it. */
export function removeServer(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv = process.env): Promise<StopResult> {
  return underServerLock(dataRoot, () => remove(dataRoot, server, env), { starts: false });
}

async function remove(dataRoot: string, server: LocalServerConfig, env: NodeJS.ProcessEnv): Promise<StopResult> {
  let result: StopResult;
  if (server.manager === 'background') {
    result = await stopBackground(serverFiles(dataRoot).pidFile);
  } else {
    const { manager, spec } = osService(dataRoot, server, env);
    const before = await manager.status(spec);
    await manager.uninstall(spec);
    result = before.running ? 'stopped' : 'not-running';
  }
  if (result !== 'not-ours') rmSync(serverFiles(dataRoot).pgpass, { force: true });
  return result;
}
