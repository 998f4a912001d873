/**
 * The adapters behind `doctor`: each gathers one kind of fact. Gatherers are
 * memoised and await each other only where one needs another's answer, so
 * `gatherFacts` runs everything else concurrently.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { loadConfig } from '../adapters/config-store.js';
import { isExecutableFile } from '../adapters/executable.js';
import { bundledHookScript, hookRuntimeIsCurrent } from '../adapters/hook-runtime.js';
import { httpRequestText } from '../adapters/http.js';
import { TrackingConnectionError } from '../adapters/tracking-connection.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { deliveryState } from '../services/delivery/state.js';
import { paths, type RedactionConfig } from '../config.js';
import { loadedRuleCount } from '../core/redact.js';
import { SECRET_RULES_SOURCE } from '../core/secret-rules.js';
import {
  HOOK_START_LIMIT_MS,
  isMlflowServerCommand,
  ourHooks,
  readScopes,
  type ContextFacts,
  type DatabaseFacts,
  type FactKey,
  type Facts,
  type HookLogFacts,
  type HookProcessFacts,
  type LingerFacts,
  type PortFacts,
  type PostgresFacts,
  type PythonFacts,
  type RedactionFacts,
  type RuntimeFacts,
  type ServerFacts,
  type ServiceFacts,
  type SettingsFacts,
  type SpoolFacts,
} from '../core/checks.js';
import { readQuoted } from '../core/settings.js';
import { describePostgres, isPostgresUri, parsePostgresUri, uriWithoutCredentials, uriWithoutPassword, withPsycopg2 } from '../core/backend-store.js';
import { commandLine } from '../core/shell-quote.js';
import { runDeep } from './deep.js';
import type { HostEnvironment } from './environment.js';
import { fileHolders, processInfo, selfOrAncestor } from './proc.js';
import { markGitTracked, readAllScopes } from './settings-scan.js';
import { runProcess } from '../adapters/spawn.js';
import { runVenvProbe, type VenvProbe } from './sqlite-probe.js';

// The adapters that load execa (~100 ms) are imported where they are used,
// after doctor's own probes have started: see spawn.ts.
const portsModule = () => import('../adapters/ports.js');
const pythonModule = () => import('../adapters/python.js');
const backgroundModule = () => import('../adapters/service/background.js');

export const NODE_FLOOR = '20.6.0';
/** Above this size, PRAGMA quick_check (which reads the whole file) runs only with --deep. */
export const QUICK_CHECK_MAX_BYTES = 256 * 1024 ** 2;

export interface DoctorEnvironment extends HostEnvironment {
  deep?: boolean;
  /** Where doctor says what it is about to run (--deep). */
  announce?: (line: string) => void;
  /** The CLI's name in fix commands. */
  cli?: string;
  /** The hook runtime this CLI ships (default: the bundled one beside it). */
  hookRuntimeSource?: string;
}

/**
 * The local server's URL, exactly as src/server/local-server.ts serverUrl
 * builds it (that module loads the service managers and execa; this one runs
 * before anything heavy is loaded). test/core/checks.test.ts holds them equal.
 */
export function urlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${isIP(h) === 6 ? `[${h}]` : h}:${port}`;
}

/** The first executable called `name` on PATH. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(process.platform === 'win32' ? ';' : ':').filter(Boolean)) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** `sh`-style words of a command line ('…', "…" and \ quoting). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'" || ch === '"') {
      const quoted = readQuoted(command, i);
      word = (word ?? '') + quoted.text;
      i = quoted.end;
    } else if (ch === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[i + 1];
      i++;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The interpreter a script's `#!` line names. */
function shebangOf(file: string): string | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(512);
      const n = readSync(fd, buf, 0, 512, 0);
      const first = buf.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
      const m = /^#!\s*(\S+)/.exec(first);
      return m?.[1] && isAbsolute(m[1]) && !m[1].endsWith('/env') ? m[1] : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** The Python that runs this mlflow executable: its #! line, or the python beside it. */
export function pythonForMlflow(mlflowBin: string): string {
  const shebang = shebangOf(mlflowBin);
  if (shebang) return shebang;
  const dir = dirname(mlflowBin);
  return process.platform === 'win32' ? join(dir, 'python.exe') : join(dir, 'python');
}

/** `sqlite:////abs/mlflow.db` → `/abs/mlflow.db`; undefined for any other store. */
export function sqliteFile(backendStoreUri: string, dataRoot: string): string | undefined {
  const m = /^sqlite:\/\/\/(.*)$/.exec(backendStoreUri);
  if (!m || !m[1] || m[1] === ':memory:') return undefined;
  const file = m[1].split('?')[0]!;
  return isAbsolute(file) ? file : resolve(dataRoot, file);
}

function readTail(file: string, bytes: number): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const length = Math.min(size, bytes);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

type Gatherers = { [K in FactKey]: () => Promise<Facts[K]> };

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/**
 * The fact gatherers for one doctor run. `wanted` tells the shared venv probe
 * whether to include the database (one Python process for both).
 */
export function makeGatherers(environment: DoctorEnvironment, wanted: readonly FactKey[]): Gatherers {
  const { dataRoot, project, home, env } = environment;
  const platform = environment.platform ?? process.platform;
  const files = paths(dataRoot);

  const context = memo(async (): Promise<ContextFacts> => {
    const configured = existsSync(files.config);
    const config = loadConfig(files.config);
    const server = config.server
      ? {
          manager: config.server.manager,
          mlflowBin: config.server.mlflowBin,
          host: config.server.host,
          port: config.server.port,
          backendStoreUri: config.server.backendStoreUri,
          url: urlOf(config.server.host, config.server.port),
        }
      : undefined;
    return {
      cli: environment.cli ?? 'claude-mlflow',
      dataRoot,
      project,
      platform,
      nodeVersion: process.versions.node,
      nodePath: process.execPath,
      floors: { node: NODE_FLOOR },
      configured,
      trackingUri: config.trackingUri,
      experimentName: config.experimentName,
      experimentId: config.experimentId,
      server,
      installs: (config.installs ?? []).map((i) => ({ file: i.file, scope: i.scope })),
      redaction: redactionFacts(config.redaction),
      files: {
        config: files.config,
        hookScript: files.hookScript,
        spool: files.spool,
        hookLog: files.hookLog,
        serverLog: files.serverLog,
        pidFile: files.serverPid,
        venv: files.venv,
        database: server ? sqliteFile(server.backendStoreUri, dataRoot) : undefined,
      },
    };
  });

  const settings = memo(
    async (): Promise<SettingsFacts> => markGitTracked(readAllScopes({ project, home, platform, managedFile: environment.managedSettingsFile }), env),
  );

  const runtime = memo(async (): Promise<RuntimeFacts> => {
    const script = files.hookScript;
    if (!existsSync(script)) return { script, exists: false };
    try {
      return { script, exists: true, current: hookRuntimeIsCurrent(dataRoot, environment.hookRuntimeSource ?? bundledHookScript()) };
    } catch {
      return { script, exists: true };
    }
  });

  const hookProcess = memo(async (): Promise<HookProcessFacts> => {
    const s = await settings();
    const hooks = ourHooks(readScopes(s));
    const hook = hooks.find((h) => h.event === 'Stop') ?? hooks[0];
    if (!hook) return {};
    const words = splitCommand(hook.command);
    const facts: HookProcessFacts = { command: hook.command, scope: hook.scope };
    if (words.length !== 2 || !/\.m?js$/.test(words[1]!)) return facts;
    const nodePath = words[0]!.includes('/') || words[0]!.includes('\\') ? words[0]! : (onPath(words[0]!, env) ?? words[0]!);
    facts.nodePath = nodePath;
    facts.scriptPath = words[1]!;
    facts.nodeExists = isExecutableFile(nodePath);
    facts.scriptExists = existsSync(words[1]!);
    if (!facts.nodeExists) return facts;
    // Never run what a settings file names (a cloned project's can name anything): only our own
    // node, which is this process, and our own runtime, when the command names exactly those.
    const ourNode = samePath(nodePath, process.execPath);
    const ourScript = samePath(words[1]!, files.hookScript);
    if (ourNode) facts.nodeVersion = process.versions.node;
    if (!ourNode || !ourScript) {
      facts.notOurs = true;
      return facts;
    }
    if (!facts.scriptExists) return facts;
    const childEnv: NodeJS.ProcessEnv = { ...env };
    delete childEnv.MLFLOW_CLAUDE_TRACING_ENABLED;
    const t0 = performance.now();
    const r = await runProcess(process.execPath, [files.hookScript], {
      input: '',
      timeoutMs: HOOK_START_LIMIT_MS,
      env: childEnv,
      cwd: existsSync(project) ? project : undefined,
    });
    facts.start = { exitCode: r.exitCode, ms: performance.now() - t0, timedOut: r.timedOut, stderr: r.error ?? r.stderr };
    return facts;
  });

  /** One Python process for the venv and (when wanted) the database. */
  const venvProbe = memo(async (): Promise<{ pythonBin?: string; venvPython: boolean; probe?: VenvProbe; system?: { path: string; version: string } | null }> => {
    const ctx = await context();
    if (!ctx.server) return { venvPython: false };
    const pythonBin = pythonForMlflow(ctx.server.mlflowBin);
    const venvPython = isExecutableFile(pythonBin);
    let system: { path: string; version: string } | null | undefined;
    let runner = venvPython ? pythonBin : undefined;
    if (!venvPython) {
      const { findPython } = await pythonModule();
      system = await findPython({ env }).then(
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
  });

  const python = memo(async (): Promise<PythonFacts> => {
    const ctx = await context();
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
  });

  const server = memo(async (): Promise<ServerFacts> => {
    const ctx = await context();
    const url = ctx.server?.url ?? ctx.trackingUri;
    const local = Boolean(ctx.server);
    if (!url) return { local, healthy: false };
    const t0 = performance.now();
    try {
      const client = new MlflowClient({ trackingUri: url, env, timeoutMs: 3000 });
      const workspace = client.connection.databricks ? { workspace: client.baseUrl } : {};
      const res = await httpRequestText(`${client.baseUrl}${client.connection.healthPath}`, { timeoutMs: 3000, headers: client.connection.headers });
      const ms = performance.now() - t0;
      if (res.status !== 200) return { url, local, healthy: false, status: res.status, ms, ...workspace };
      if (client.connection.databricks) return { url, local, healthy: true, ms, ...workspace };
      const version = await client.version().catch(() => undefined);
      return { url, local, healthy: true, ms, ...(version && /^\d/.test(version) ? { version } : {}) };
    } catch (error) {
      if (error instanceof TrackingConnectionError) return { url, local, healthy: false, signIn: error.message };
      return { url, local, healthy: false, error: (error as Error).message, ms: performance.now() - t0 };
    }
  });

  const service = memo(async (): Promise<ServiceFacts> => {
    const ctx = await context();
    if (!ctx.server) return { state: 'unknown', logTail: [] };
    const manager = ctx.server.manager;
    const { logTail } = await backgroundModule();
    const tail = (): string[] => logTail(ctx.files.serverLog, 12).split('\n').filter((l) => l.trim() !== '');
    if (manager !== 'background') {
      // An OS service manager (launchd, systemd --user, Task Scheduler): ask it.
      const [{ createManager }, { defaultContext, serviceSpecFor }, { serverSpec }] = await Promise.all([
        import('../adapters/service/detect.js'),
        import('../adapters/service/common.js'),
        import('../server/local-server.js'),
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
    const { backgroundState } = await backgroundModule();
    const state = await backgroundState(ctx.files.pidFile);
    const facts: ServiceFacts = {
      manager,
      state: state.state,
      logFile: ctx.files.serverLog,
      logTail: [],
      ...(state.record ? { pid: state.record.pid, startedAt: state.record.startedAt } : {}),
      ...(state.strays ? { strays: state.strays } : {}),
    };
    if (state.state !== 'running') facts.logTail = tail();
    return facts;
  });

  /** Our server's process group: the recorded pid, while it (or its strays) live. */
  const ourGroup = async (): Promise<number | undefined> => {
    const s = await service();
    return s.state === 'running' || (s.state === 'dead' && s.strays?.length) ? s.pid : undefined;
  };

  const port = memo(async (): Promise<PortFacts> => {
    const ctx = await context();
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
  });

  const database = memo(async (): Promise<DatabaseFacts> => {
    const ctx = await context();
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
  });

  const postgres = memo(async (): Promise<PostgresFacts> => {
    const ctx = await context();
    const parsed = ctx.server && isPostgresUri(ctx.server.backendStoreUri) ? parsePostgresUri(ctx.server.backendStoreUri) : undefined;
    if (!ctx.server || !parsed) return { applicable: false };
    if (!parsed.ok) return { applicable: true, probeError: `the backend store URI in ${files.config} is not usable: ${parsed.error}` };
    const store = parsed.store;
    const python = pythonForMlflow(ctx.server.mlflowBin);
    // Copyable as printed: doctor masks `user@` in URLs, so the user goes in PGUSER, the password stays in the server's pgpass file.
    const upgrade = commandLine([ctx.server.mlflowBin, 'db', 'upgrade', withPsycopg2(platform === 'win32' ? uriWithoutPassword(store) : uriWithoutCredentials(store))], platform);
    const prefix =
      platform === 'win32'
        ? ''
        : [store.user ? `PGUSER=${commandLine([store.user], platform)}` : '', store.password !== undefined ? `PGPASSFILE=${commandLine([join(dataRoot, 'pgpass')], platform)}` : '']
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
    const { runPostgresProbe } = await import('./postgres-probe.js');
    const probe = await runPostgresProbe(python, store, { mode: 'full', env });
    const { error, ...rest } = probe;
    return { ...facts, ...rest, ...(error ? { probeError: error } : {}) };
  });

  const spool = memo(async (): Promise<SpoolFacts> => {
    const dir = files.spool;
    let rejected = 0;
    try {
      rejected = readdirSync(join(dir, 'rejected')).filter((n) => n.endsWith('.trace.json')).length;
    } catch {
      // none
    }
    const { waiting, oldestSpooledAt, runningPid, lastSuccessAt, lastFailureAt, lastError } = deliveryState(dir);
    return {
      dir,
      count: waiting,
      unreadable: 0,
      rejected,
      nowMs: Date.now(),
      ...(oldestSpooledAt !== undefined ? { oldest: new Date(oldestSpooledAt).toISOString() } : {}),
      delivery: { runningPid, lastSuccessAt, lastFailureAt, lastError },
    };
  });

  const hookLog = memo(async (): Promise<HookLogFacts> => {
    const text = readTail(files.hookLog, 64 * 1024);
    const lines = text.split('\n').filter((l) => / error /.test(l));
    const last = lines[lines.length - 1];
    const facts: HookLogFacts = { file: files.hookLog, nowMs: Date.now() };
    if (last) {
      const m = /^(\S+) error (.*)$/.exec(last);
      facts.lastError = m ? { at: m[1], text: m[2]! } : { text: last };
    }
    // The hook's own words when it drops traces from a full spool (src/hook/run-hook.ts).
    for (const line of text.split('\n')) {
      const m = /^(\S+) warn spool full \(\d+ traces\): removed the (\d+) oldest/.exec(line);
      if (m) facts.evicted = { count: (facts.evicted?.count ?? 0) + Number(m[2]), lastAt: m[1] };
    }
    return facts;
  });

  const linger = memo(async (): Promise<LingerFacts> => {
    const ctx = await context();
    if (platform !== 'linux' || ctx.server?.manager !== 'systemd') return { applicable: false };
    const user = env.USER || env.LOGNAME || '';
    const r = await runProcess('loginctl', ['show-user', user, '-p', 'Linger', '--value'], { timeoutMs: 5000 });
    return { applicable: true, user, enabled: r.stdout.trim() === 'yes' };
  });

  const deep = memo(async () => {
    if (!environment.deep) return { requested: false };
    return runDeep({ context: await context(), settings: await settings(), env, project, ...(environment.announce ? { announce: environment.announce } : {}) });
  });

  return { context, settings, runtime, hookProcess, python, server, service, port, database, postgres, spool, hookLog, linger, deep };
}

/** Whether two paths name the same file (both must exist). */
function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Gather the facts `keys` names, concurrently. The object holds only those keys. */
export async function gatherFacts(keys: readonly FactKey[], environment: DoctorEnvironment): Promise<Partial<Facts>> {
  const gatherers = makeGatherers(environment, keys);
  const entries = await Promise.all(keys.map(async (key) => [key, await gatherers[key]()] as const));
  return Object.fromEntries(entries) as Partial<Facts>;
}

function redactionFacts(config: RedactionConfig | undefined): RedactionFacts {
  const badPatterns = (config?.extraPatterns ?? []).filter((source) => {
    try {
      new RegExp(source, 'g');
      return false;
    } catch {
      return true;
    }
  });
  return {
    enabled: config?.enabled !== false,
    rules: loadedRuleCount(),
    source: SECRET_RULES_SOURCE,
    extraPatterns: (config?.extraPatterns ?? []).length - badPatterns.length,
    allow: (config?.allow ?? []).length,
    badPatterns,
  };
}
