/**
 * doctor's gatherers for the local MLflow server: its Python and MLflow, its
 * health, the manager that runs it, its port, and its store (the SQLite file
 * or the PostgreSQL database).
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { loadConfig } from '../adapters/config-store.js';
import { isExecutableFile } from '../adapters/executable.js';
import { httpRequestText } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { TrackingConnectionError } from '../adapters/tracking-connection.js';
import {
  describePostgres,
  isPostgresUri,
  parsePostgresUri,
  uriWithoutCredentials,
  uriWithoutPassword,
  withPsycopg2,
} from '../core/backend-store.js';
import type {
  ContextFacts,
  DatabaseFacts,
  PortFacts,
  PostgresFacts,
  PythonFacts,
  ServerFacts,
  ServiceFacts,
} from '../core/checks/facts.js';
import { isMlflowServerCommand } from '../core/checks/processes.js';
import { commandLine } from '../core/shell-quote.js';
import { pythonForMlflow } from '../services/mlflow-python.js';
import { runVenvProbe } from '../services/store/sqlite-probe.js';
import type { GatherContext, VenvProbeResult } from './facts.js';
import { fileHolders, processInfo, selfOrAncestor } from './proc.js';

// The larger adapters are imported where they are used, after doctor's own
// probes have started (process.ts loads execa only when the first child runs).
const portsModule = () => import('../adapters/ports.js');
const pythonModule = () => import('../adapters/python.js');
const backgroundModule = () => import('../adapters/service/background.js');

/** Above this size, PRAGMA quick_check (which reads the whole file) runs only with --deep. */
export const QUICK_CHECK_MAX_BYTES = 256 * 1024 ** 2;

/** One Python process for the venv and (when wanted) the database. */
export async function gatherVenvProbe({ environment, wanted, facts }: GatherContext): Promise<VenvProbeResult> {
  const ctx = await facts.context();
  if (!ctx.server) return { venvPython: false };
  const pythonBin = pythonForMlflow(ctx.server.mlflowBin);
  const venvPython = isExecutableFile(pythonBin);
  let system: { path: string; version: string } | null | undefined;
  let runner = venvPython ? pythonBin : undefined;
  if (!venvPython) {
    const { findPython } = await pythonModule();
    system = await findPython({ env: environment.env }).then(
      (p) => ({ path: p.path, version: p.version }),
      () => null,
    );
    runner = system?.path;
  }
  if (!runner) return { pythonBin, venvPython, system };
  const db = wanted.includes('database') ? ctx.files.database : undefined;
  let database: { file: string; quickCheck: boolean } | undefined;
  if (db && existsSync(db)) {
    const size = statSync(db).size;
    database = { file: db, quickCheck: size <= QUICK_CHECK_MAX_BYTES || Boolean(environment.deep) };
  }
  const probe = await runVenvProbe(runner, database);
  return { pythonBin, venvPython, probe, system };
}

export async function gatherPython({ files, facts: gathered, venvProbe }: GatherContext): Promise<PythonFacts> {
  const ctx = await gathered.context();
  const floorsOf = async () => {
    const { MLFLOW_FLOOR, PYTHON_FLOOR } = await pythonModule();
    return { mlflow: MLFLOW_FLOOR, python: PYTHON_FLOOR };
  };
  if (!ctx.server) return { local: false, floors: await floorsOf() };
  const [{ pythonBin, venvPython, probe, system }, floors] = await Promise.all([venvProbe(), floorsOf()]);
  const mlflowBin = ctx.server.mlflowBin;
  const facts: PythonFacts = {
    local: true,
    floors,
    mlflowBin,
    mlflowBinExists: isExecutableFile(mlflowBin),
    pythonBin,
    pythonExists: venvPython,
    ownVenv: mlflowBin.startsWith(files.venv + sep),
  };
  if (system !== undefined) facts.system = system;
  if (venvPython && probe) {
    if (probe.error) facts.error = probe.error;
    if (probe.python) facts.pythonVersion = probe.python;
    if (probe.mlflow) facts.mlflowVersion = probe.mlflow;
    else if (probe.mlflowError) facts.error = probe.mlflowError;
  }
  return facts;
}

export async function gatherServer({ environment, facts }: GatherContext): Promise<ServerFacts> {
  const ctx = await facts.context();
  const url = ctx.server?.url ?? ctx.trackingUri;
  const local = Boolean(ctx.server);
  if (!url) return { local, healthy: false };
  const t0 = performance.now();
  try {
    const client = new MlflowClient({ trackingUri: url, env: environment.env, timeoutMs: 3000 });
    const workspace = client.connection.databricks ? { workspace: client.baseUrl } : {};
    const res = await httpRequestText(`${client.baseUrl}${client.connection.healthPath}`, {
      timeoutMs: 3000,
      headers: client.connection.headers,
    });
    const ms = performance.now() - t0;
    if (res.status !== 200) return { url, local, healthy: false, status: res.status, ms, ...workspace };
    if (client.connection.databricks) return { url, local, healthy: true, ms, ...workspace };
    const version = await client.version().catch(() => undefined);
    return { url, local, healthy: true, ms, ...(version && /^\d/.test(version) ? { version } : {}) };
  } catch (error) {
    if (error instanceof TrackingConnectionError) return { url, local, healthy: false, signIn: error.message };
    return { url, local, healthy: false, error: (error as Error).message, ms: performance.now() - t0 };
  }
}

export async function gatherService(g: GatherContext): Promise<ServiceFacts> {
  const ctx = await g.facts.context();
  if (!ctx.server) return { state: 'unknown', logTail: [] };
  const { logTail } = await backgroundModule();
  const tail = (): string[] =>
    logTail(ctx.files.serverLog, 12)
      .split('\n')
      .filter((l) => l.trim() !== '');
  if (ctx.server.manager !== 'background') return osServiceFacts(g, ctx.server.manager, ctx, tail);
  const { backgroundState } = await backgroundModule();
  const state = await backgroundState(ctx.files.pidFile);
  const facts: ServiceFacts = {
    manager: ctx.server.manager,
    state: state.state,
    logFile: ctx.files.serverLog,
    logTail: [],
    ...(state.record ? { pid: state.record.pid, startedAt: state.record.startedAt } : {}),
    ...(state.strays ? { strays: state.strays } : {}),
  };
  if (state.state !== 'running') facts.logTail = tail();
  return facts;
}

/** An OS service manager (launchd, systemd --user, Task Scheduler): ask it. */
async function osServiceFacts(
  { environment, files }: GatherContext,
  manager: string,
  ctx: ContextFacts,
  tail: () => string[],
): Promise<ServiceFacts> {
  const { dataRoot, env } = environment;
  const [{ createManager }, { defaultContext, serviceSpecFor }, { serverSpec }] = await Promise.all([
    import('../adapters/service/detect.js'),
    import('../adapters/service/common.js'),
    import('../services/local-server.js'),
  ]);
  try {
    const config = loadConfig(files.config);
    const os = createManager(manager as Parameters<typeof createManager>[0], defaultContext(env));
    const status = await os.status(serviceSpecFor(serverSpec(dataRoot, config.server!, env)));
    return {
      manager,
      state: status.running ? 'running' : 'stopped',
      installed: status.installed,
      enabled: status.enabled,
      ...(status.pid ? { pid: status.pid } : {}),
      ...(status.detail ? { detail: status.detail } : {}),
      logFile: ctx.files.serverLog,
      logTail: status.running ? [] : tail(),
    };
  } catch (error) {
    return { manager, state: 'unknown', detail: (error as Error).message, logFile: ctx.files.serverLog, logTail: tail() };
  }
}

/** Our server's process group: the recorded pid, while it (or its strays) live. */
export async function ourServerGroup({ facts }: GatherContext): Promise<number | undefined> {
  const s = await facts.service();
  return s.state === 'running' || (s.state === 'dead' && s.strays?.length) ? s.pid : undefined;
}

export async function gatherPort({ facts, ourGroup }: GatherContext): Promise<PortFacts> {
  const ctx = await facts.context();
  if (!ctx.server) return { free: true, holders: [] };
  const { port: p, host } = ctx.server;
  const { isPortFree, whoListens } = await portsModule();
  const [free, holders, group] = await Promise.all([isPortFree(p, host), whoListens(p), ourGroup()]);
  const detailed = await Promise.all(
    holders.map(async (h) => {
      const info = h.pid !== undefined ? await processInfo(h.pid) : {};
      const pgid = info.pgid;
      const ours = group !== undefined && h.pid !== undefined && (h.pid === group || pgid === group);
      return { ...h, ...(pgid !== undefined ? { pgid } : {}), ours };
    }),
  );
  return { port: p, host, free, holders: detailed };
}

export async function gatherDatabase({ facts: gathered, venvProbe, ourGroup }: GatherContext): Promise<DatabaseFacts> {
  const ctx = await gathered.context();
  const file = ctx.files.database;
  const nowMs = Date.now();
  if (!file || !existsSync(file)) return { file, exists: false, sizeBytes: 0, holders: [], nowMs };
  const sizeBytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
  const { probe, venvPython, system } = await venvProbe();
  // After the probe: its own Python must not show up as a holder.
  const group = await ourGroup();
  let real = file;
  try {
    real = realpathSync(file);
  } catch {
    // keep the configured path
  }
  const holders = await Promise.all(
    (await fileHolders([real, `${real}-journal`, `${real}-wal`])).map(async (h) => {
      const role: 'our-server' | 'mlflow-server' | 'other' =
        group !== undefined && (h.pid === group || h.pgid === group)
          ? 'our-server'
          : (await selfOrAncestor(h, (p) => isMlflowServerCommand(p.command)))
            ? 'mlflow-server'
            : 'other';
      return { ...h, ours: role === 'our-server', role };
    }),
  );
  const facts: DatabaseFacts = { file, exists: true, sizeBytes, holders, nowMs };
  if (probe?.sqlite) facts.probe = probe.sqlite;
  else facts.probeError = probe?.error ?? (venvPython || system ? 'the probe did not run' : 'no Python to run sqlite3 with');
  return facts;
}

export async function gatherPostgres({ environment, platform, files, facts: gathered }: GatherContext): Promise<PostgresFacts> {
  const ctx = await gathered.context();
  const parsed = ctx.server && isPostgresUri(ctx.server.backendStoreUri) ? parsePostgresUri(ctx.server.backendStoreUri) : undefined;
  if (!ctx.server || !parsed) return { applicable: false };
  if (!parsed.ok) return { applicable: true, probeError: `the backend store URI in ${files.config} is not usable: ${parsed.error}` };
  const store = parsed.store;
  const python = pythonForMlflow(ctx.server.mlflowBin);
  // Copyable as printed: doctor masks `user@` in URLs, so the user goes in PGUSER, the password stays in the server's pgpass file.
  const upgrade = commandLine(
    [ctx.server.mlflowBin, 'db', 'upgrade', withPsycopg2(platform === 'win32' ? uriWithoutPassword(store) : uriWithoutCredentials(store))],
    platform,
  );
  const prefix =
    platform === 'win32'
      ? ''
      : [
          store.user ? `PGUSER=${commandLine([store.user], platform)}` : '',
          store.password !== undefined ? `PGPASSFILE=${commandLine([join(environment.dataRoot, 'pgpass')], platform)}` : '',
        ]
          .filter(Boolean)
          .map((a) => `${a} `)
          .join('');
  const facts: PostgresFacts = {
    applicable: true,
    target: describePostgres(store),
    ...(store.host ? { host: store.host } : {}),
    port: store.port,
    database: store.database,
    ...(store.user ? { user: store.user } : {}),
    python,
    // The password comes from the pgpass file the server uses, so the command shows none.
    upgradeCommand: `${prefix}${upgrade}`,
  };
  if (!isExecutableFile(python)) return { ...facts, probeError: `${python} is missing (see mlflow-installed)` };
  const { runPostgresProbe } = await import('../services/store/postgres-probe.js');
  const probe = await runPostgresProbe(python, store, { mode: 'full', env: environment.env });
  const { error, ...rest } = probe;
  return { ...facts, ...rest, ...(error ? { probeError: error } : {}) };
}
