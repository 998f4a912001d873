/**
 * `doctor`'s checks: pure functions from facts to results, no I/O.
 *
 * The adapters in `src/doctor/facts.ts` gather the facts; each check names
 * the facts it reads (`needs`), so `doctor --check <id>` gathers only those.
 * A check never reads a fact it did not declare (test/core/checks.test.ts
 * holds every check to that with a proxy that throws).
 *
 * Statuses:
 * - `fail`: traces do not arrive (or arrive twice, or get lost) until this is fixed;
 * - `warn`: traces arrive, but something is degraded or about to break;
 * - `ok`: checked and fine;
 * - `skip`: does not apply here, or could not be checked (the message says why).
 */
import { isTestedMlflow, TESTED_MLFLOW_VERSIONS } from './mlflow-versions.js';
import semver from 'semver';
import { isPostgresUri, PSYCOPG2_REQUIREMENT } from './backend-store.js';
import { isTruthy } from './hook-settings.js';
import { findForeignTracers, formatPath, HOOK_EVENTS, isOurHookCommand } from './settings.js';
import { commandLine } from './shell-quote.js';

// ---------------------------------------------------------------------------
// Results

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** The fixes `doctor --fix` can apply by itself. */
export const FIX_IDS = [
  'rewrite-strict-json',
  'migrate-environment',
  'dedupe-hooks',
  'enable-tracing',
  'set-tracking-uri',
  'reinstall-hook-runtime',
  'rewrite-hook-command',
  'reinstall-mlflow',
  'move-port',
  'start-server',
  'flush-spool',
] as const;
export type FixId = (typeof FIX_IDS)[number];

export interface Fix {
  /** A command to copy. */
  command?: string;
  /** A fix `doctor --fix` applies. */
  auto?: FixId;
}

export interface CheckResult {
  id: string;
  status: CheckStatus;
  message: string;
  details?: string[];
  fix?: Fix;
}

export type GroupId = 'runtime' | 'python' | 'server' | 'database' | 'settings' | 'service' | 'spool' | 'deep';

export const GROUPS: ReadonlyArray<{ id: GroupId; title: string }> = [
  { id: 'runtime', title: 'Runtime' },
  { id: 'python', title: 'Python and MLflow' },
  { id: 'server', title: 'Server' },
  { id: 'database', title: 'Database' },
  { id: 'settings', title: 'Claude Code settings' },
  { id: 'service', title: 'Service' },
  { id: 'spool', title: 'Spool and hook log' },
  { id: 'deep', title: 'End to end (--deep)' },
];

// ---------------------------------------------------------------------------
// Facts (gathered by src/doctor/facts.ts)

export type SettingsScope = 'managed' | 'local' | 'project' | 'user';
/** Claude Code's precedence, highest first. */
export const SCOPE_PRECEDENCE: readonly SettingsScope[] = ['managed', 'local', 'project', 'user'];

export interface ServerConfigFacts {
  manager: string;
  mlflowBin: string;
  host: string;
  port: number;
  backendStoreUri: string;
  url: string;
}

export interface ContextFacts {
  cli: string;
  dataRoot: string;
  project: string;
  platform: NodeJS.Platform;
  nodeVersion: string;
  nodePath: string;
  floors: { node: string };
  /** config.json exists (init ran). */
  configured: boolean;
  trackingUri?: string;
  experimentName?: string;
  experimentId?: string;
  /** The local server init set up; undefined with a remote --tracking-uri. */
  server?: ServerConfigFacts;
  installs: Array<{ file: string; scope: string }>;
  /** Secret redaction in the hook, as config.json sets it. */
  redaction?: RedactionFacts;
  files: {
    config: string;
    hookScript: string;
    spool: string;
    hookLog: string;
    serverLog: string;
    pidFile: string;
    venv: string;
    /** The SQLite file of the local server (from backendStoreUri), if it is one. */
    database?: string;
  };
}

export interface RedactionFacts {
  enabled: boolean;
  /** Rules loaded from the bundled rule set. */
  rules: number;
  source: string;
  extraPatterns: number;
  allow: number;
  /** Extra patterns that do not compile (the hook skips them). */
  badPatterns: string[];
}

export interface ScopeSettings {
  scope: SettingsScope;
  file: string;
  exists: boolean;
  /** ok: strict JSON; relaxed: comments or trailing commas (Claude Code ignores it); error: cannot be read. */
  parse: 'ok' | 'relaxed' | 'error' | 'missing';
  relaxed?: { line: number; column: number; kind: 'comment' | 'trailing-comma' };
  error?: { line: number; column: number; detail: string };
  doc?: Record<string, unknown>;
  /**
   * git tracks this file (`git ls-files --error-unmatch`). Looked up only for
   * a file whose env holds a secret (see secretEnvKeys); undefined otherwise,
   * and when there is no git or the file is in no repository.
   */
  gitTracked?: boolean;
}

export interface SettingsFacts {
  scopes: ScopeSettings[];
}

export interface RuntimeFacts {
  script: string;
  exists: boolean;
  /** The installed runtime equals the one this CLI ships (undefined: could not tell). */
  current?: boolean;
}

export interface HookProcessFacts {
  /** Our hook command as configured (the first one Claude Code would run), if any. */
  command?: string;
  scope?: SettingsScope;
  nodePath?: string;
  nodeExists?: boolean;
  nodeVersion?: string;
  scriptPath?: string;
  scriptExists?: boolean;
  /** Our node on our runtime, with tracing switched off and empty stdin; only when the command names exactly those. */
  start?: { exitCode?: number; ms: number; timedOut: boolean; stderr: string };
  /** The command names another node or script than ours: doctor runs none of it. */
  notOurs?: boolean;
}

export interface PythonFacts {
  /** Whether a local server is configured at all. */
  local: boolean;
  /** The oldest Python and MLflow claude-mlflow supports. */
  floors: { python: string; mlflow: string };
  mlflowBin?: string;
  mlflowBinExists?: boolean;
  pythonBin?: string;
  pythonExists?: boolean;
  pythonVersion?: string;
  mlflowVersion?: string;
  /** Why the venv probe failed. */
  error?: string;
  /** mlflowBin is inside our data folder's venv (so --fix may reinstall it). */
  ownVenv?: boolean;
  /** When the venv's Python is missing: a Python on PATH to rebuild it with. */
  system?: { path: string; version: string } | null;
}

export interface ServerFacts {
  url?: string;
  /** A Databricks workspace's host (the URI is databricks or databricks://profile); it has no /health, so the token is what is checked. */
  workspace?: string;
  /** Why a Databricks URI has no host and token to sign in with (no profile, no token); nothing was asked. */
  signIn?: string;
  local: boolean;
  healthy: boolean;
  status?: number;
  version?: string;
  error?: string;
  ms?: number;
}

export interface ServiceFacts {
  manager?: string;
  /** background: the pidfile's state; an OS service manager: running or stopped. */
  state: 'running' | 'dead' | 'not-ours' | 'no-pidfile' | 'stopped' | 'unknown';
  /** OS service managers only: the unit / plist / task exists, and starts at login. */
  installed?: boolean;
  enabled?: boolean;
  detail?: string;
  pid?: number;
  startedAt?: string;
  strays?: number[];
  logFile?: string;
  logTail: string[];
}

export interface ProcessInfo {
  pid?: number;
  command?: string;
  user?: string;
  /** Process group: ours when it equals our server's recorded pid. */
  pgid?: number;
  /** Parent process. */
  ppid?: number;
  ours?: boolean;
}

export interface PortFacts {
  port?: number;
  host?: string;
  free: boolean;
  holders: ProcessInfo[];
}

export interface SqliteProbeFacts {
  lock: 'free' | 'locked' | 'error';
  lockError?: string;
  /** null: not run (file too big without --deep). */
  quickCheck?: string[] | null;
  quickCheckError?: string;
  journalMode?: string;
  traceCount?: number;
  oldestMs?: number | null;
  noTraceTable?: boolean;
  /** `_alembic_tmp_<table>` copies that an interrupted schema migration left, and whether `<table>` is still there. */
  leftoverMigrationTables?: Array<{ table: string; original: string; originalExists: boolean }>;
}

export interface DatabaseFacts {
  file?: string;
  exists: boolean;
  sizeBytes: number;
  probe?: SqliteProbeFacts;
  /** Why there is no probe. */
  probeError?: string;
  holders: Array<ProcessInfo & { role: 'our-server' | 'mlflow-server' | 'other' }>;
  /** For db-size: now, so the age of the oldest trace is pure. */
  nowMs: number;
}

/** The local server's PostgreSQL backend store, probed through the venv's psycopg2 (system catalogs and alembic_version only). */
export interface PostgresFacts {
  /** The local server's backend store is PostgreSQL. */
  applicable: boolean;
  /** `PostgreSQL database "x" on host:port as user "u"`: never the password. */
  target?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** The Python that ran the probe (the one that runs our mlflow). */
  python?: string;
  /** `mlflow db upgrade` for this database, runnable as is (the password comes from the pgpass file). */
  upgradeCommand?: string;
  /** The probe did not run (no Python, a crash). */
  probeError?: string;
  driver?: string;
  driverError?: string;
  connectError?: string;
  connectMs?: number;
  queryError?: string;
  serverVersion?: string;
  sizeBytes?: number;
  /** Client connections (pg_stat_activity), and the limit for them: max_connections less the superuser reserve. */
  connections?: number;
  maxConnections?: number;
  reservedConnections?: number;
  /** alembic_version's revision (null: no MLflow schema yet) and the head of the installed MLflow's migrations. */
  schema?: { current: string | null; head?: string; known?: boolean; headError?: string };
}

export interface SpoolFacts {
  dir: string;
  count: number;
  unreadable: number;
  rejected: number;
  /** When the oldest waiting trace was spooled (ISO). */
  oldest?: string;
  nowMs?: number;
  /** The delivery process: its pid while it runs, its last success and last failure (epoch ms). */
  delivery?: { runningPid?: number; lastSuccessAt?: number; lastFailureAt?: number; lastError?: string };
}

/** A trace waiting longer than this is worth a warning, whatever the delivery process is doing. */
export const SPOOL_WAIT_WARN_MS = 60 * 60_000;

export interface HookLogFacts {
  file: string;
  lastError?: { at?: string; text: string };
  /** Traces the hook dropped from a full spool, never delivered (its `spool full` warnings), and when it last did. */
  evicted?: { count: number; lastAt?: string };
  nowMs: number;
}

export interface LingerFacts {
  applicable: boolean;
  user?: string;
  enabled?: boolean;
}

export interface DeepFacts {
  requested: boolean;
  ran?: boolean;
  reason?: string;
  command?: string;
  ms?: number;
  exitCode?: number;
  traceId?: string;
  arrived?: boolean;
  spooled?: boolean;
  deleted?: boolean;
  error?: string;
}

export interface Facts {
  context: ContextFacts;
  settings: SettingsFacts;
  runtime: RuntimeFacts;
  hookProcess: HookProcessFacts;
  python: PythonFacts;
  server: ServerFacts;
  service: ServiceFacts;
  port: PortFacts;
  database: DatabaseFacts;
  postgres: PostgresFacts;
  spool: SpoolFacts;
  hookLog: HookLogFacts;
  linger: LingerFacts;
  deep: DeepFacts;
}

export type FactKey = keyof Facts;

// ---------------------------------------------------------------------------
// Checks

export interface Check {
  id: string;
  group: GroupId;
  title: string;
  needs: readonly FactKey[];
  /** Runs only with --deep (or --check <id>). */
  deep?: boolean;
  run(facts: Facts): Omit<CheckResult, 'id'>;
}

/** pg-connections warns from this share of the connections PostgreSQL allows. */
export const PG_CONNECTIONS_WARN = 0.8;

/** Past these, db-size suggests a cleanup. */
export const TRACE_COUNT_THRESHOLD = 20_000;
export const DB_SIZE_THRESHOLD = 1024 ** 3;
export const CLEANUP_AGE = '30d';
/** A hook error newer than this is reported. */
export const HOOK_ERROR_WINDOW_MS = 24 * 3600 * 1000;
/** The hook runtime must start and exit (tracing off) within this. */
export const HOOK_START_LIMIT_MS = 3000;

const ok = (message: string, details?: string[]): Omit<CheckResult, 'id'> => ({ status: 'ok', message, ...(details?.length ? { details } : {}) });
const skip = (message: string): Omit<CheckResult, 'id'> => ({ status: 'skip', message });

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function atLeast(version: string | undefined, floor: string): boolean | undefined {
  const v = version ? semver.coerce(version) : null;
  return v ? semver.gte(v, floor) : undefined;
}

function describeProcess(p: ProcessInfo): string {
  const parts = [`PID ${p.pid ?? '?'}`];
  if (p.command) parts.push(p.command.length > 160 ? `${p.command.slice(0, 160)}…` : p.command);
  if (p.user) parts.push(`(user ${p.user})`);
  return parts.join(' ');
}

/** The known PIDs of some processes. */
function pidsOf(processes: readonly ProcessInfo[]): number[] {
  return processes.map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
}

/** An `mlflow server` process, or one of its uvicorn / gunicorn / huey children. */
export function isMlflowServerCommand(command: string | undefined): boolean {
  return /(?:^|[\s/\\])mlflow(?:\.exe)?['"]?\s+server(?:\s|$)|\bmlflow\.server\b/.test(command ?? '');
}

/** The same URL, normalised for comparison: localhost = 127.0.0.1, no trailing slash, default ports. */
export function sameTrackingUri(a: string, b: string): boolean {
  const norm = (u: string): string => {
    try {
      const url = new URL(u.trim());
      const host = url.hostname === 'localhost' || url.hostname === '[::1]' || url.hostname === '::1' ? '127.0.0.1' : url.hostname;
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      return `${url.protocol}//${host}:${port}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return u.trim().replace(/\/+$/, '');
    }
  };
  return norm(a) === norm(b);
}

// ---------------------------------------------------------------------------
// Settings, derived

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Files Claude Code actually reads (strict JSON), highest precedence first. */
export function readScopes(settings: SettingsFacts): ScopeSettings[] {
  return SCOPE_PRECEDENCE.flatMap((scope) => settings.scopes.filter((s) => s.scope === scope && s.parse === 'ok' && s.doc));
}

export interface OurHook {
  scope: SettingsScope;
  file: string;
  event: string;
  where: string;
  command: string;
}

/** Our hook entries in one document, in file order. */
export function ourHooksIn(doc: Record<string, unknown>): Array<{ event: string; where: string; command: string }> {
  const found: Array<{ event: string; where: string; command: string }> = [];
  if (!isObject(doc.hooks)) return found;
  for (const [event, groups] of Object.entries(doc.hooks)) {
    if (!Array.isArray(groups)) continue;
    groups.forEach((group, g) => {
      if (!isObject(group) || !Array.isArray(group.hooks)) return;
      group.hooks.forEach((hook, h) => {
        const command = isObject(hook) && typeof hook.command === 'string' ? hook.command : undefined;
        if (command !== undefined && isOurHookCommand(command)) {
          found.push({ event, where: formatPath(['hooks', event, g, 'hooks', h]), command });
        }
      });
    });
  }
  return found;
}

export function ourHooks(scopes: ScopeSettings[]): OurHook[] {
  return scopes.flatMap((s) => (s.doc ? ourHooksIn(s.doc).map((h) => ({ ...h, scope: s.scope, file: s.file })) : []));
}

/** The value Claude Code uses for an env key: the highest-precedence file that sets it. */
export function effectiveEnv(settings: SettingsFacts, key: string): { value: unknown; scope: SettingsScope; file: string } | undefined {
  for (const s of readScopes(settings)) {
    const env = s.doc?.env;
    if (isObject(env) && Object.prototype.hasOwnProperty.call(env, key)) return { value: env[key], scope: s.scope, file: s.file };
  }
  return undefined;
}

function effectiveSetting(settings: SettingsFacts, key: string): { value: unknown; scope: SettingsScope; file: string } | undefined {
  const scopes = readScopes(settings);
  // A managed `true` cannot be overridden.
  const managed = scopes.find((s) => s.scope === 'managed' && s.doc?.[key] === true);
  if (managed) return { value: true, scope: 'managed', file: managed.file };
  for (const s of scopes) {
    if (s.doc && Object.prototype.hasOwnProperty.call(s.doc, key)) return { value: s.doc[key], scope: s.scope, file: s.file };
  }
  return undefined;
}

const scopeLabel = (s: { scope: SettingsScope; file: string }): string => `${s.scope} (${s.file})`;

// ---------------------------------------------------------------------------
// Fixes that more than one check offers

/** An auto fix, with `doctor --fix` as the command to copy. */
const doctorFix = (cli: string, auto: FixId): Fix => ({ command: `${cli} doctor --fix`, auto });
const reinstallHookRuntime = (cli: string): Fix => ({ command: `${cli} hook --print-command`, auto: 'reinstall-hook-runtime' });
const startServer = (cli: string): Fix => ({ command: `${cli} server start`, auto: 'start-server' });
const restartServer = (cli: string): Fix => ({ command: `${cli} server stop && ${cli} server start` });

// ---------------------------------------------------------------------------
// The checks

function notSetUp(facts: Pick<Facts, 'context'>): Omit<CheckResult, 'id'> | undefined {
  if (facts.context.configured) return undefined;
  return { status: 'fail', message: 'claude-mlflow is not set up here (no config.json in the data folder).', fix: { command: `${facts.context.cli} init` } };
}

/** For the checks after the first: one "not set up" failure is enough. */
function skipNotSetUp(facts: Pick<Facts, 'context'>): Omit<CheckResult, 'id'> | undefined {
  return facts.context.configured ? undefined : skip('claude-mlflow is not set up here (see server).');
}

/** For db-lock and db-health: our local server's SQLite file and the venv's probe of it, or why there is none to check. */
function probedDatabase({ context, database: db }: Pick<Facts, 'context' | 'database'>): { file: string; probe: SqliteProbeFacts } | Omit<CheckResult, 'id'> {
  if (!context.server) return skip('No local server.');
  if (isPostgresUri(context.server.backendStoreUri)) return skip('Not applicable: the server stores traces in PostgreSQL (see pg-connection).');
  if (!db.file) return skip('The server does not use a SQLite file.');
  if (!db.exists) return skip(`No database yet (${db.file}).`);
  if (!db.probe) return skip(`Cannot probe the database: ${db.probeError ?? 'no Python'}.`);
  return { file: db.file, probe: db.probe };
}

const nodeCheck: Check = {
  id: 'node',
  group: 'runtime',
  title: 'Node.js version',
  needs: ['context', 'hookProcess'],
  run({ context, hookProcess }) {
    const floor = context.floors.node;
    const details = [`claude-mlflow runs on Node ${context.nodeVersion} (${context.nodePath})`];
    if (hookProcess.nodeVersion) details.push(`the hook runs on Node ${hookProcess.nodeVersion} (${hookProcess.nodePath})`);
    if (atLeast(context.nodeVersion, floor) === false) {
      return { status: 'fail', message: `Node ${context.nodeVersion} is older than ${floor}.`, details, fix: { command: 'install Node.js 20.6 or newer (https://nodejs.org), then run `claude-mlflow init` again' } };
    }
    if (hookProcess.nodeVersion && atLeast(hookProcess.nodeVersion, floor) === false) {
      return {
        status: 'fail',
        message: `The hook runs on Node ${hookProcess.nodeVersion} (${hookProcess.nodePath}), older than ${floor}.`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    return ok(`Node ${context.nodeVersion}${hookProcess.nodeVersion && hookProcess.nodeVersion !== context.nodeVersion ? `; the hook uses Node ${hookProcess.nodeVersion}` : ''}`, details);
  },
};

const hookRuntimeCheck: Check = {
  id: 'hook-runtime',
  group: 'runtime',
  title: 'Hook runtime installed',
  needs: ['context', 'runtime'],
  run({ context, runtime }) {
    const unset = skipNotSetUp({ context });
    if (unset && !runtime.exists) return unset;
    if (!runtime.exists) {
      return {
        status: 'fail',
        message: `The hook runtime ${runtime.script} is missing: Claude Code cannot run our hook.`,
        fix: reinstallHookRuntime(context.cli),
      };
    }
    if (runtime.current === false) {
      return {
        status: 'warn',
        message: `The hook runtime ${runtime.script} is from another claude-mlflow version.`,
        fix: reinstallHookRuntime(context.cli),
      };
    }
    return ok(`${runtime.script}`);
  },
};

const hookCommandCheck: Check = {
  id: 'hook-command',
  group: 'runtime',
  title: 'Hook command points at a node and a script that exist',
  needs: ['context', 'hookProcess'],
  run({ context, hookProcess: h }) {
    if (!h.command) return skip('No hook of ours in the settings Claude Code reads (see hook-once).');
    const details = [`command: ${h.command}`, `from ${h.scope} settings`];
    if (!h.nodePath || !h.scriptPath) {
      return { status: 'warn', message: 'The hook command is not `<node> <script>`: doctor cannot check its parts.', details };
    }
    if (!h.nodeExists) {
      return {
        status: 'fail',
        message: `The hook command runs ${h.nodePath}, which does not exist (Node moved or was upgraded?).`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    if (!h.scriptExists) {
      const own = h.scriptPath === context.files.hookScript;
      return {
        status: 'fail',
        message: `The hook command runs ${h.scriptPath}, which does not exist.`,
        details,
        fix: own ? reinstallHookRuntime(context.cli) : doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    if (h.notOurs) {
      return {
        status: 'warn',
        message: `The hook command runs ${h.nodePath} ${h.scriptPath}, not this node (${context.nodePath}) and the runtime in the data folder; doctor runs none of it.`,
        details,
        fix: doctorFix(context.cli, 'rewrite-hook-command'),
      };
    }
    return ok(h.command, details);
  },
};

const hookStartsCheck: Check = {
  id: 'hook-starts',
  group: 'runtime',
  title: 'Hook runtime starts',
  needs: ['hookProcess'],
  run({ hookProcess: h }) {
    if (h.notOurs) return skip(`The hook command is not exactly ours (this node, and the runtime in the data folder), so doctor runs none of it: ${h.command}`);
    if (!h.start) return skip(h.command ? 'The hook command cannot be started (see hook-command).' : 'No hook command to start.');
    const { exitCode, ms, timedOut, stderr } = h.start;
    const tail = stderr.trim().split('\n').filter(Boolean).slice(-5);
    if (timedOut) return { status: 'fail', message: `The hook runtime did not exit within ${HOOK_START_LIMIT_MS} ms.`, details: tail };
    if (exitCode !== 0) return { status: 'fail', message: `The hook runtime exited with ${exitCode ?? 'a signal'}.`, details: tail };
    return ok(`starts and exits cleanly in ${Math.round(ms)} ms`);
  },
};

const pythonCheck: Check = {
  id: 'python',
  group: 'python',
  title: 'Python found',
  needs: ['python'],
  run({ python: p }) {
    if (!p.local) return skip('No local server: MLflow runs elsewhere.');
    if (p.pythonExists && p.pythonVersion) return ok(`Python ${p.pythonVersion} (${p.pythonBin})`);
    if (p.system) {
      return ok(`Python ${p.system.version} (${p.system.path}); the venv's own Python ${p.pythonBin ?? ''} is missing (see mlflow-installed)`);
    }
    return {
      status: 'fail',
      message: `No Python 3.10 or newer: neither the venv's ${p.pythonBin ?? 'python'} nor one on PATH.`,
      details: p.error ? [p.error] : undefined,
      fix: { command: 'install Python 3.10 or newer (https://www.python.org/downloads/), then run `claude-mlflow init`' },
    };
  },
};

const mlflowInstalledCheck: Check = {
  id: 'mlflow-installed',
  group: 'python',
  title: 'MLflow installed in the venv',
  needs: ['context', 'python'],
  run({ context, python: p }) {
    const unset = skipNotSetUp({ context });
    if (unset) return unset;
    if (!p.local) return skip('No local server: MLflow runs elsewhere.');
    const fix = p.ownVenv ? { command: `${context.cli} init`, auto: 'reinstall-mlflow' as const } : { command: `${context.cli} init` };
    const details = p.error ? [p.error] : undefined;
    if (!p.mlflowBinExists) {
      return { status: 'fail', message: `${p.mlflowBin} does not exist: the venv is missing or broken.`, details, fix };
    }
    if (!p.mlflowVersion) {
      return { status: 'fail', message: `MLflow is not installed in ${p.pythonBin ?? 'the venv'}.`, details, fix };
    }
    return ok(`MLflow ${p.mlflowVersion} (${p.mlflowBin})`);
  },
};

const mlflowVersionCheck: Check = {
  id: 'mlflow-version',
  group: 'python',
  title: 'MLflow version',
  needs: ['context', 'python', 'server'],
  run({ context, python: p, server }) {
    const floor = p.floors.mlflow;
    const installed = p.local ? p.mlflowVersion : undefined;
    const running = server.healthy ? server.version : undefined;
    const version = installed ?? running;
    if (!version) return skip('MLflow version unknown (see mlflow-installed and server).');
    const upgrade = p.pythonBin
      ? `${p.pythonBin} -m pip install --upgrade 'mlflow>=${floor}' && ${context.cli} server stop && ${context.cli} server start`
      : `pip install --upgrade 'mlflow>=${floor}'`;
    for (const [what, v] of [['installed', installed], ['server', running]] as const) {
      if (v && atLeast(v, floor) === false) {
        return {
          status: 'fail',
          message: `MLflow ${v} (${what}) is older than ${floor}, the first release that ingests OTLP traces at /v1/traces.`,
          fix: { command: upgrade },
        };
      }
    }
    if (installed && running && semver.coerce(installed)?.version !== semver.coerce(running)?.version && server.local) {
      return {
        status: 'warn',
        message: `The server runs MLflow ${running} but the venv has ${installed}: restart the server.`,
        fix: restartServer(context.cli),
      };
    }
    const tested = isTestedMlflow(semver.coerce(version)?.version ?? version);
    return ok(`MLflow ${version} ≥ ${floor}, ${tested ? 'a version claude-mlflow tests' : `not a version claude-mlflow tests (${TESTED_MLFLOW_VERSIONS.join(', ')})`}`);
  },
};

const serverCheck: Check = {
  id: 'server',
  group: 'server',
  title: 'Server reachable (/health, /version)',
  needs: ['context', 'server', 'service'],
  run({ context, server, service }) {
    const missing = notSetUp({ context });
    if (missing) return missing;
    if (!server.url) return { status: 'fail', message: 'No tracking URI configured.', fix: { command: `${context.cli} init` } };
    if (server.signIn) {
      return {
        status: 'fail',
        message: `${server.signIn}: the hook cannot sign in to the workspace, so traces are spooled.`,
        fix: { command: 'add the profile (host and token) to ~/.databrickscfg, or set DATABRICKS_HOST and DATABRICKS_TOKEN, then `claude-mlflow flush`' },
      };
    }
    if (server.workspace) {
      if (server.healthy) return ok(`the Databricks workspace at ${server.workspace} takes the token of ${server.url} (${Math.round(server.ms ?? 0)} ms)`);
      const why = server.status !== undefined ? `HTTP ${server.status}` : (server.error ?? 'no answer');
      return {
        status: 'fail',
        message: `The Databricks workspace at ${server.workspace} does not take the token of ${server.url} (${why}); traces are spooled meanwhile.`,
        fix: { command: `check the profile's host and token (or DATABRICKS_HOST and DATABRICKS_TOKEN), then ${context.cli} flush` },
      };
    }
    if (server.healthy) {
      return ok(`${server.url} answers /health${server.version ? `, MLflow ${server.version}` : ''} (${Math.round(server.ms ?? 0)} ms)`);
    }
    const why = server.status !== undefined ? `HTTP ${server.status}` : (server.error ?? 'no answer');
    const message = `The MLflow server at ${server.url} does not answer /health (${why}); traces are spooled meanwhile.`;
    if (server.local) {
      const details = service.state !== 'running' ? [`the server process is not running (${service.state}; see service)`] : [];
      return { status: 'fail', message, details, fix: startServer(context.cli) };
    }
    return { status: 'fail', message, fix: { command: `curl ${server.url}/health` } };
  },
};

const trackingUriCheck: Check = {
  id: 'tracking-uri',
  group: 'server',
  title: 'Tracking URI in settings matches our server',
  needs: ['context', 'settings'],
  run({ context, settings }) {
    const unset = skipNotSetUp({ context });
    if (unset) return unset;
    const expected = context.server?.url ?? context.trackingUri;
    if (!expected) return skip('No tracking URI recorded by init.');
    const set = effectiveEnv(settings, 'MLFLOW_TRACKING_URI');
    if (!set) return ok(`not set in settings; the hook uses ${expected} from config.json`);
    if (typeof set.value === 'string' && sameTrackingUri(set.value, expected)) return ok(`${set.value} (${set.scope} settings)`);
    return {
      status: 'fail',
      message: `MLFLOW_TRACKING_URI in ${scopeLabel(set)} is ${JSON.stringify(set.value)}, but our server is ${expected}: traces go elsewhere.`,
      fix: doctorFix(context.cli, 'set-tracking-uri'),
    };
  },
};

const portCheck: Check = {
  id: 'port',
  group: 'server',
  title: 'Port',
  needs: ['context', 'port'],
  run({ context, port }) {
    if (!context.server || port.port === undefined) return skip('No local server.');
    const where = `${port.host}:${port.port}`;
    const foreign = port.holders.filter((h) => !h.ours);
    if (port.free && port.holders.length === 0) return ok(`${where} is free (the server is not running: see server)`);
    if (foreign.length === 0 && port.holders.length > 0) {
      return ok(`${where} is held by our server (PID ${port.holders.map((h) => h.pid).join(', ')})`);
    }
    const hint =
      context.platform === 'darwin' && (port.port === 5000 || port.port === 7000)
        ? `On macOS, port ${port.port} is often taken by AirPlay Receiver (System Settings → General → AirDrop & Handoff → AirPlay Receiver off).`
        : undefined;
    const who = foreign.length ? foreign.map(describeProcess) : ['a process doctor cannot see (another user, or a container)'];
    const stray = foreign.find((h) => isMlflowServerCommand(h.command));
    const pids = pidsOf(foreign);
    const message = stray
      ? `Port ${port.port} is held by an MLflow server that claude-mlflow did not start (PID ${stray.pid ?? '?'}).`
      : `Port ${port.port} is held by another program, not our MLflow server.`;
    return {
      status: 'fail',
      message,
      details: [
        ...who,
        ...(hint ? [hint] : []),
        `Choose: move our server to a free port (doctor --fix), or stop that program yourself${pids.length ? ` (kill ${pids.join(' ')})` : ''} and run \`${context.cli} server start\`.`,
      ],
      fix: doctorFix(context.cli, 'move-port'),
    };
  },
};

const dbLockCheck: Check = {
  id: 'db-lock',
  group: 'database',
  title: 'Database not locked',
  needs: ['context', 'database'],
  run({ context, database: db }) {
    const probed = probedDatabase({ context, database: db });
    if ('status' in probed) return probed;
    const { file, probe } = probed;
    const strays = db.holders.filter((h) => h.role === 'mlflow-server');
    const others = db.holders.filter((h) => h.role === 'other');
    const ours = db.holders.filter((h) => h.role === 'our-server');
    if (probe.lock === 'error') {
      return { status: 'fail', message: `Cannot open ${file}: ${probe.lockError ?? 'unknown error'}.` };
    }
    if (probe.lock === 'locked') {
      const details = [...strays.map((h) => `a second MLflow server: ${describeProcess(h)}`), ...others.map((h) => `another writer: ${describeProcess(h)}`)];
      if (strays.length || others.length) {
        const pids = pidsOf([...strays, ...others]);
        return {
          status: 'fail',
          message: `${file} is locked by ${strays.length ? 'a second MLflow server' : 'another process'}, not our server: the server cannot store traces.`,
          details: [...details, `Stop it yourself (kill ${pids.join(' ')}); doctor never stops a process it did not start.`],
          fix: { command: `kill ${pids.join(' ')}` },
        };
      }
      if (ours.length) {
        return {
          status: 'fail',
          message: `Our own server has held a write lock on ${file} for longer than the probe waited: a stuck writer.`,
          details: ours.map((h) => `our server: ${describeProcess(h)}`),
          fix: restartServer(context.cli),
        };
      }
      return { status: 'fail', message: `${file} is locked, by a process doctor cannot see.`, fix: { command: `fuser -v ${file}` } };
    }
    if (strays.length) {
      return {
        status: 'warn',
        message: 'A second MLflow server, not ours, has the database open: two servers on one SQLite file lock each other out.',
        details: strays.map(describeProcess),
        fix: { command: `kill ${strays.map((h) => h.pid).join(' ')}` },
      };
    }
    return ok(`a write transaction starts at once${ours.length ? ` (open by our server: ${ours.map((h) => h.pid).join(', ')})` : ''}`);
  },
};

const dbHealthCheck: Check = {
  id: 'db-health',
  group: 'database',
  title: 'Database health',
  needs: ['context', 'database', 'python'],
  run({ context, database: db, python: p }) {
    const probed = probedDatabase({ context, database: db });
    if ('status' in probed) return probed;
    const { file, probe } = probed;
    const recover = `sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered  # then stop the server and move the recovered file in place`;
    if (probe.quickCheckError) {
      return { status: 'fail', message: `${file} is damaged: ${probe.quickCheckError}.`, fix: { command: recover } };
    }
    const check = probe.quickCheck;
    if (check === undefined) return skip(`${file} is locked: quick_check could not read it (see db-lock).`);
    if (check && !(check.length === 1 && check[0] === 'ok')) {
      return { status: 'fail', message: `${file} is corrupted (PRAGMA quick_check).`, details: check.slice(0, 8), fix: { command: recover } };
    }
    const leftovers = probe.leftoverMigrationTables ?? [];
    if (leftovers.length > 0) return interruptedMigration(file, leftovers, context, p.pythonBin ?? 'python3');
    const details = [`journal mode ${probe.journalMode ?? '?'}`, `size ${formatBytes(db.sizeBytes)}`];
    if (check === null) details.push('quick_check skipped for a large file; run with --deep');
    return ok(`quick_check ${check === null ? 'skipped' : 'ok'}, journal mode ${probe.journalMode ?? '?'}, ${formatBytes(db.sizeBytes)}`, details);
  },
};

/**
 * A schema migration cut short (two servers migrating one file at once, or a
 * kill): alembic's copy of a table is left, and MLflow's server will not
 * start. The repair: back up; where the table is still there the copy is
 * dropped, where it is gone the copy becomes it; then MLflow's own upgrade.
 */
function interruptedMigration(file: string, leftovers: NonNullable<SqliteProbeFacts['leftoverMigrationTables']>, context: Facts['context'], python: string): Omit<CheckResult, 'id'> {
  const statements = leftovers.map((l) => (l.originalExists ? `DROP TABLE ${l.table}` : `ALTER TABLE ${l.table} RENAME TO ${l.original}`));
  const repair = `import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); [c.execute(s) for s in sys.argv[2:]]; c.commit()`;
  const steps = [
    `${context.cli} server stop`,
    commandLine(['cp', file, `${file}.before-repair`]),
    commandLine([python, '-c', repair, file, ...statements]),
    ...(context.server ? [commandLine([context.server.mlflowBin, 'db', 'upgrade', context.server.backendStoreUri])] : []),
    `${context.cli} server start`,
  ];
  return {
    status: 'fail',
    message: `A schema migration of ${file} was cut short (${leftovers.map((l) => l.table).join(', ')} left behind): MLflow's server does not start on it ("table ${leftovers[0]!.table} already exists").`,
    details: leftovers.map((l) => (l.originalExists ? `${l.table}: a leftover copy of ${l.original}, which is intact` : `${l.table}: holds ${l.original}, which the migration had already dropped`)),
    fix: { command: steps.join(' && ') },
  };
}

/** For the pg-* checks: our server's PostgreSQL, connected, or why there is nothing to check. */
function connectedPostgres({ context, postgres: pg }: Pick<Facts, 'context' | 'postgres'>): Omit<CheckResult, 'id'> | undefined {
  if (!context.server) return skip('No local server.');
  if (!pg.applicable) return skip('Not applicable: the server stores traces in SQLite (see db-lock).');
  if (pg.probeError || pg.driverError || pg.connectError) return skip('Not connected (see pg-connection).');
  return undefined;
}

const pgConnectionCheck: Check = {
  id: 'pg-connection',
  group: 'database',
  title: 'PostgreSQL connection',
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    if (!context.server) return skip('No local server.');
    if (!pg.applicable) return skip('Not applicable: the server stores traces in SQLite (see db-lock).');
    const target = pg.target ?? 'the PostgreSQL database';
    if (pg.probeError) return { status: 'fail', message: `Cannot check ${target}: ${pg.probeError}.`, fix: { command: `${context.cli} init` } };
    if (pg.driverError) {
      return {
        status: 'fail',
        message: `The PostgreSQL driver psycopg2 does not import in ${pg.python ?? "the venv's Python"}: MLflow's server cannot reach ${target}.`,
        details: [pg.driverError],
        fix: { command: pg.python ? commandLine([pg.python, '-m', 'pip', 'install', PSYCOPG2_REQUIREMENT], context.platform) : `${context.cli} init` },
      };
    }
    if (pg.connectError) {
      const ready = ['pg_isready', ...(pg.host ? ['-h', pg.host] : []), ...(pg.port ? ['-p', String(pg.port)] : []), ...(pg.database ? ['-d', pg.database] : [])];
      return {
        status: 'fail',
        message: `Cannot connect to ${target}: ${pg.connectError.replace(/\.$/, '')}. The server cannot store traces; they are spooled meanwhile.`,
        details: ['Is PostgreSQL running there, and are the user and password in `--backend-store-uri` right? (`init --backend-store-uri …` changes them.)'],
        fix: { command: commandLine(ready, context.platform) },
      };
    }
    if (pg.queryError) return { status: 'fail', message: `Connected to ${target}, but a catalog query failed: ${pg.queryError}.` };
    const details = [`driver psycopg2 ${pg.driver ?? '?'} (${pg.python ?? '?'})`];
    return ok(`PostgreSQL ${pg.serverVersion ?? '?'}, ${target}${pg.connectMs !== undefined ? ` (connected in ${pg.connectMs} ms)` : ''}`, details);
  },
};

const pgConnectionsCheck: Check = {
  id: 'pg-connections',
  group: 'database',
  title: 'PostgreSQL connections in use',
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    const none = connectedPostgres({ context, postgres: pg });
    if (none) return none;
    if (pg.connections === undefined || pg.maxConnections === undefined) return skip('Connection counts unknown (see pg-connection).');
    const limit = Math.max(1, pg.maxConnections - (pg.reservedConnections ?? 0));
    const share = pg.connections / limit;
    const summary = `${pg.connections} of ${limit} connections in use (${Math.round(share * 100)}%; max_connections ${pg.maxConnections}, ${pg.reservedConnections ?? 0} reserved for superusers)`;
    if (share >= PG_CONNECTIONS_WARN) {
      return {
        status: 'warn',
        message: `${summary}: near the limit, where PostgreSQL refuses new connections and MLflow's server cannot store traces.`,
        fix: { command: 'close idle sessions (SELECT pid, usename, application_name, state FROM pg_stat_activity), or raise max_connections in postgresql.conf and restart PostgreSQL' },
      };
    }
    return ok(summary);
  },
};

const pgMigrationCheck: Check = {
  id: 'pg-migration',
  group: 'database',
  title: "Database schema matches MLflow's migrations",
  needs: ['context', 'postgres'],
  run({ context, postgres: pg }) {
    const none = connectedPostgres({ context, postgres: pg });
    if (none) return none;
    const schema = pg.schema;
    if (!schema) return skip('Schema revision unknown (see pg-connection).');
    if (schema.headError) return skip(`Cannot tell which schema the installed MLflow expects: ${schema.headError}.`);
    if (schema.current === null) {
      return {
        status: 'warn',
        message: `${pg.target ?? 'The database'} has no MLflow schema yet (no alembic_version table): the server creates it when it starts.`,
        fix: startServer(context.cli),
      };
    }
    if (schema.current === schema.head) return ok(`at revision ${schema.current}, the newest the installed MLflow knows`);
    if (schema.known === false) {
      return {
        status: 'fail',
        message: `The database schema is at revision ${schema.current}, which the installed MLflow does not know (it expects ${schema.head}): a newer MLflow upgraded it, and this one's server refuses to start on it.`,
        fix: { command: `install that newer MLflow: ${context.cli} init --mlflow-version <the newer version>` },
      };
    }
    const upgrade = pg.upgradeCommand ?? 'mlflow db upgrade <backend store URI>';
    return {
      status: 'fail',
      message: `The database schema is at revision ${schema.current}, but the installed MLflow expects ${schema.head}: MLflow's server refuses to start until the database is upgraded.`,
      details: ['Back up the database first (pg_dump): the migration changes MLflow\'s tables.'],
      fix: { command: `${context.cli} server stop; ${upgrade} && ${context.cli} server start` },
    };
  },
};

const dbSizeCheck: Check = {
  id: 'db-size',
  group: 'database',
  title: 'Traces stored',
  needs: ['context', 'database', 'postgres'],
  run({ context, database: db, postgres: pg }) {
    if (!context.server) return skip('No local server.');
    if (pg.applicable) {
      if (pg.sizeBytes === undefined) return skip('Database size unknown (see pg-connection).');
      const summary = `${formatBytes(pg.sizeBytes)} in ${pg.target ?? 'PostgreSQL'}`;
      if (pg.sizeBytes > DB_SIZE_THRESHOLD) {
        return { status: 'warn', message: `${summary}: the database is getting large; delete old traces.`, fix: { command: `${context.cli} cleanup --older-than ${CLEANUP_AGE}` } };
      }
      return ok(summary);
    }
    if (!db.file || !db.exists) return skip('No database yet.');
    if (!db.probe || db.probe.traceCount === undefined) {
      if (db.probe?.noTraceTable) return ok('no traces yet');
      return skip('Trace count unknown (see db-lock and db-health).');
    }
    const count = db.probe.traceCount;
    const oldest = db.probe.oldestMs ?? undefined;
    const age = oldest !== undefined ? ` oldest ${formatAge(db.nowMs - oldest)} old` : '';
    const summary = `${plural(count, 'trace')},${age || ' none yet'}, ${formatBytes(db.sizeBytes)}`;
    if (count > TRACE_COUNT_THRESHOLD || db.sizeBytes > DB_SIZE_THRESHOLD) {
      return {
        status: 'warn',
        message: `${summary}: the database is getting large; delete old traces.`,
        fix: { command: `${context.cli} cleanup --older-than ${CLEANUP_AGE}` },
      };
    }
    return ok(summary);
  },
};

const settingsJsonCheck: Check = {
  id: 'settings-json',
  group: 'settings',
  title: 'Settings files are strict JSON',
  needs: ['settings'],
  run({ settings }) {
    const present = settings.scopes.filter((s) => s.exists);
    const relaxed = present.filter((s) => s.parse === 'relaxed');
    const broken = present.filter((s) => s.parse === 'error');
    if (broken.length) {
      return {
        status: 'fail',
        message: `Claude Code cannot read ${broken.map((s) => s.file).join(', ')}.`,
        details: broken.map((s) => `${s.file}:${s.error?.line}:${s.error?.column}: ${s.error?.detail}`),
        fix: { command: `fix ${broken[0]!.file} by hand (line ${broken[0]!.error?.line}, column ${broken[0]!.error?.column})` },
      };
    }
    if (relaxed.length) {
      return {
        status: 'fail',
        message: `Claude Code ignores this whole file: ${relaxed
          .map((s) => `${s.file}:${s.relaxed?.line}:${s.relaxed?.column} has a ${s.relaxed?.kind === 'comment' ? 'comment' : 'trailing comma'}`)
          .join('; ')}.`,
        details: relaxed.map((s) => `${s.scope}: ${s.file} (line ${s.relaxed?.line}, column ${s.relaxed?.column}: ${s.relaxed?.kind})`),
        fix: { command: 'claude-mlflow doctor --fix', auto: 'rewrite-strict-json' },
      };
    }
    if (present.length === 0) return ok('no settings files yet');
    return ok(`${present.length === 1 ? '1 file parses' : `${present.length} files parse`} as strict JSON`, present.map((s) => `${s.scope}: ${s.file}`));
  },
};

/** What a user loses when our hook is missing from an event. */
const MISSING_EVENT_COST: Record<(typeof HOOK_EVENTS)[number], string> = {
  Stop: 'sessions are not traced',
  SubagentStop: 'subagents that run in the background are not traced',
  StopFailure: 'turns that an API error ends are not traced',
  SessionEnd: 'nothing waits for the last traces of a session to be delivered before Claude Code exits (a container may take them with it)',
};

const hookOnceCheck: Check = {
  id: 'hook-once',
  group: 'settings',
  title: 'Our hook is configured exactly once',
  needs: ['settings'],
  run({ settings }) {
    const hooks = ourHooks(readScopes(settings));
    const ignored = ourHooks(settings.scopes.filter((s) => s.parse === 'relaxed' && s.doc));
    const on = (event: string): OurHook[] => hooks.filter((h) => h.event === event);
    const stop = on('Stop');
    const other = hooks.filter((h) => !(HOOK_EVENTS as readonly string[]).includes(h.event));
    const where = (list: OurHook[]): string[] => list.map((h) => `${h.scope}: ${h.file} ${h.where}`);
    const scopes = [...new Set(hooks.map((h) => h.scope))];
    const repeated = HOOK_EVENTS.filter((event) => on(event).length > 1);
    if (repeated.length > 0 || other.length > 0) {
      const parts = repeated.map((event) => `${on(event).length} times on ${event}`);
      if (other.length) parts.push(`also on ${[...new Set(other.map((h) => h.event))].join(', ')}`);
      return {
        status: 'fail',
        message: `Our hook runs ${parts.join(' and ')} (in ${scopes.join(' and ')} settings): every turn is traced more than once.`,
        details: where(hooks),
        fix: { command: 'claude-mlflow doctor --fix', auto: 'dedupe-hooks' },
      };
    }
    if (stop.length === 0) {
      const details = ignored.length ? [`our hook is in ${[...new Set(ignored.map((h) => h.file))].join(', ')}, which Claude Code ignores (see settings-json)`] : [];
      return {
        status: 'fail',
        message: 'No Stop hook of ours in any settings file Claude Code reads: sessions are not traced.',
        details,
        fix: ignored.length ? { command: 'claude-mlflow doctor --fix', auto: 'rewrite-strict-json' } : { command: 'claude-mlflow init' },
      };
    }
    const missing = HOOK_EVENTS.filter((event) => on(event).length === 0);
    if (missing.length > 0) {
      const why = missing.map((event) => MISSING_EVENT_COST[event]).join('; ');
      return {
        status: 'warn',
        message: `Our hook is on Stop (${stop[0]!.scope}) but not on ${missing.join(' or ')}: ${why}.`,
        details: where(hooks),
        fix: { command: 'claude-mlflow init' },
      };
    }
    return ok(`once on each of ${HOOK_EVENTS.join(', ')} (${scopes.join(', ')} settings)`, where(hooks));
  },
};

const foreignTracerCheck: Check = {
  id: 'foreign-tracer',
  group: 'settings',
  title: 'No second tracer',
  needs: ['settings'],
  run({ settings }) {
    const found = readScopes(settings).flatMap((s) => (s.doc ? findForeignTracers(s.doc).map((f) => ({ ...f, scope: s.scope, file: s.file })) : []));
    if (found.length === 0) return ok("MLflow's own hook and plugin are not configured");
    const first = found[0]!;
    return {
      status: 'fail',
      message: `MLflow's own tracer is configured too (${found.map((f) => `${f.kind} in ${f.scope} settings`).join(', ')}): every session is traced twice.`,
      details: found.map((f) => `${f.file} ${f.where}${f.command ? `: ${f.command}` : ''}`),
      fix: {
        command:
          first.kind === 'mlflow-plugin'
            ? `claude plugin disable ${first.where.replace(/^enabledPlugins\["?|"?\]$/g, '')}`
            : `remove ${first.where} from ${first.file} (or run \`claude-mlflow init --yes\`, which replaces it)`,
      },
    };
  },
};

const hooksEnabledCheck: Check = {
  id: 'hooks-enabled',
  group: 'settings',
  title: 'Hooks are not switched off',
  needs: ['settings'],
  run({ settings }) {
    const disabled = effectiveSetting(settings, 'disableAllHooks');
    if (disabled?.value === true) {
      return {
        status: 'fail',
        message: `disableAllHooks is true in ${scopeLabel(disabled)}: Claude Code runs no hooks, ours included.`,
        fix: { command: disabled.scope === 'managed' ? 'ask your administrator: managed settings switch hooks off' : `remove "disableAllHooks" from ${disabled.file}` },
      };
    }
    const managedOnly = effectiveSetting(settings, 'allowManagedHooksOnly');
    if (managedOnly?.value === true && managedOnly.scope === 'managed') {
      const inManaged = ourHooks(readScopes(settings).filter((s) => s.scope === 'managed')).length > 0;
      if (!inManaged) {
        return {
          status: 'fail',
          message: `allowManagedHooksOnly is true in ${scopeLabel(managedOnly)}: Claude Code ignores hooks from user and project settings, ours included.`,
          fix: { command: 'ask your administrator to add our hook to the managed settings' },
        };
      }
    }
    return ok('neither disableAllHooks nor allowManagedHooksOnly is set');
  },
};

const tracingEnabledCheck: Check = {
  id: 'tracing-enabled',
  group: 'settings',
  title: 'MLFLOW_CLAUDE_TRACING_ENABLED is true',
  needs: ['settings'],
  run({ settings }) {
    const set = effectiveEnv(settings, 'MLFLOW_CLAUDE_TRACING_ENABLED');
    if (!set && ourHooks(readScopes(settings)).length === 0) return skip('No hook of ours to enable (see hook-once).');
    if (!set) {
      return {
        status: 'fail',
        message: 'MLFLOW_CLAUDE_TRACING_ENABLED is not set under `env` in any settings file Claude Code reads: the hook does nothing.',
        fix: { command: 'claude-mlflow enable', auto: 'enable-tracing' },
      };
    }
    if (typeof set.value === 'string' && isTruthy(set.value)) return ok(`"${set.value}" (${set.scope} settings)`);
    return {
      status: 'warn',
      message: `Tracing is paused: MLFLOW_CLAUDE_TRACING_ENABLED is ${JSON.stringify(set.value)} in ${scopeLabel(set)}.`,
      fix: { command: 'claude-mlflow enable' },
    };
  },
};

/**
 * Names that hold a secret: TOKEN, PASSWORD, SECRET, API_KEY… as a whole
 * `_`-separated part of the name, so MLFLOW_TRACKING_TOKEN, DATABRICKS_TOKEN
 * and AWS_SECRET_ACCESS_KEY count but CLAUDE_CODE_MAX_OUTPUT_TOKENS does not.
 */
const SECRET_ENV_KEY = /(?:^|_)(?:TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|ACCESS_KEY|PRIVATE_KEY)(?:_|$)/i;

/** The env keys of a settings document that hold a non-empty secret-looking value. */
/** A URL with a password in it: `scheme://user:password@host`. */
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i;

/** Keys whose name says secret (and that have a value), or whose value is a URL with a password. */
export function secretEnvKeys(doc: Record<string, unknown> | undefined): string[] {
  if (!doc || !isObject(doc.env)) return [];
  return Object.entries(doc.env)
    .filter(([key, value]) => {
      const text = value === null || value === undefined ? '' : String(value);
      return (SECRET_ENV_KEY.test(key) && text.trim() !== '') || URL_WITH_PASSWORD.test(text);
    })
    .map(([key]) => key);
}

/** The folder and name of a file, without node:path (this module does no I/O and runs anywhere). */
function splitFile(file: string): { dir: string; name: string } {
  const at = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return at < 0 ? { dir: '.', name: file } : { dir: file.slice(0, at) || '/', name: file.slice(at + 1) };
}

/**
 * A token or password in a settings file that git tracks is in the repository
 * (and its history) for anyone who can read it. It does not stop traces, so
 * this is a warning: doctor's exit code stays 0 for it.
 */
const settingsSecretsCheck: Check = {
  id: 'settings-secrets',
  group: 'settings',
  title: 'No token or password in a settings file that git tracks',
  needs: ['settings', 'context'],
  run({ settings, context }) {
    const found = settings.scopes
      .filter((s) => s.doc && s.parse !== 'error')
      .map((s) => ({ s, keys: secretEnvKeys(s.doc) }))
      .filter((x) => x.keys.length > 0);
    const tracked = found.filter((x) => x.s.gitTracked === true);
    const list = (keys: string[]): string => keys.map((k) => `env.${k}`).join(', ');
    if (tracked.length === 0) {
      if (found.length === 0) return ok('no token or password in the env of any settings file');
      return ok(
        `${found.length === 1 ? '1 settings file holds' : `${found.length} settings files hold`} a token or password, but git does not track ${found.length === 1 ? 'it' : 'them'}`,
        found.map((x) => `${x.s.scope}: ${x.s.file}: ${list(x.keys)} (not tracked by git)`),
      );
    }
    const first = tracked[0]!;
    const { dir, name } = splitFile(first.s.file);
    const move = `move ${list(first.keys)} out of ${first.s.file} into ${first.s.scope === 'user' ? 'your shell environment (e.g. ~/.profile)' : '~/.claude/settings.json or your shell environment'}`;
    // The project file is meant to be shared (it holds our hooks): take the secret out of it, not the file out of git.
    const untrack = first.s.scope === 'project' ? 'and commit' : `or stop tracking the file: \`${commandLine(['git', '-C', dir, 'rm', '--cached', name], context.platform)}\` (and add it to .gitignore)`;
    return {
      status: 'warn',
      message:
        tracked.length === 1
          ? `${list(first.keys)} in ${first.s.scope} settings (${first.s.file}), which git tracks: anyone who can read the repository can read ${first.keys.length === 1 ? 'it' : 'them'}.`
          : `Tokens or passwords in ${tracked.length} settings files that git tracks: anyone who can read the repository can read them.`,
      details: tracked.map((x) => `${x.s.scope}: ${x.s.file}: ${list(x.keys)} (tracked by git)`),
      fix: { command: `${move}, ${untrack}; git history keeps the old value, so rotate it` },
    };
  },
};

const settingsEnvCheck: Check = {
  id: 'settings-env',
  group: 'settings',
  title: 'env block well-formed',
  needs: ['settings'],
  run({ settings }) {
    const problems: string[] = [];
    for (const s of settings.scopes) {
      if (!s.doc || s.parse === 'error') continue;
      if (Object.prototype.hasOwnProperty.call(s.doc, 'environment')) {
        const keys = isObject(s.doc.environment) ? Object.keys(s.doc.environment) : [];
        problems.push(`${s.file}: legacy "environment" key${keys.length ? ` (${keys.join(', ')})` : ''}: Claude Code never reads it`);
      }
      if (isObject(s.doc.env)) {
        for (const [key, value] of Object.entries(s.doc.env)) {
          if (typeof value !== 'string') problems.push(`${s.file}: env.${key} is ${value === null ? 'null' : typeof value}, not a string`);
        }
      }
    }
    if (problems.length === 0) return ok('env values are strings; no legacy "environment" key');
    return {
      status: 'fail',
      message: problems.length === 1 ? `${problems[0]}.` : `${problems.length} problems in env blocks.`,
      details: problems,
      fix: { command: 'claude-mlflow doctor --fix', auto: 'migrate-environment' },
    };
  },
};

const serviceCheck: Check = {
  id: 'service',
  group: 'service',
  title: 'Server process running',
  needs: ['context', 'service'],
  run({ context, service }) {
    if (!context.server) return skip('No local server: nothing to run.');
    const tail = service.logTail.length ? [`last lines of ${service.logFile}:`, ...service.logTail.map((l) => `  ${l}`)] : [];
    const fix = startServer(context.cli);
    if (service.manager && service.manager !== 'background') {
      const name = service.manager;
      const detail = service.detail ? [service.detail] : [];
      if (service.state === 'unknown') return { status: 'warn', message: `Could not ask ${name} about the server.`, details: [...detail, ...tail] };
      if (service.installed === false) {
        return { status: 'fail', message: `The ${name} service for the server is not installed.`, details: [...detail, ...tail], fix: { command: `${context.cli} init` } };
      }
      if (service.state !== 'running') {
        return { status: 'fail', message: `The ${name} service is installed but not running.`, details: [...detail, ...tail], fix };
      }
      if (service.enabled === false) {
        return { status: 'warn', message: `The ${name} service runs, but does not start by itself at login.`, details: detail, fix: { command: `${context.cli} init` } };
      }
      return ok(`running under ${name}${service.pid ? ` (PID ${service.pid})` : ''}, installed and enabled`, detail);
    }
    switch (service.state) {
      case 'running':
        return ok(`running (PID ${service.pid}${service.startedAt ? `, since ${service.startedAt}` : ''})`);
      case 'not-ours':
        return {
          status: 'fail',
          message: `${context.files.pidFile} points at PID ${service.pid}, which is not our MLflow server (the PID was reused).`,
          details: tail,
          fix,
        };
      case 'dead':
        return {
          status: 'fail',
          message: `The server (PID ${service.pid ?? '?'}) is gone${service.strays?.length ? `, but its workers ${service.strays.join(', ')} linger` : ''}.`,
          details: tail,
          fix,
        };
      case 'no-pidfile':
        return { status: 'fail', message: 'The server is not running.', details: tail, fix };
      default:
        return skip('Server state unknown.');
    }
  },
};

const lingerCheck: Check = {
  id: 'linger',
  group: 'service',
  title: 'Linger (systemd user service)',
  needs: ['linger'],
  run({ linger }) {
    if (!linger.applicable) return skip('Only for a systemd user service on Linux.');
    if (linger.enabled) return ok(`enabled for ${linger.user}`);
    return {
      status: 'warn',
      message: `Linger is off for ${linger.user}: systemd stops the server when you log out.`,
      fix: { command: `loginctl enable-linger ${linger.user ?? '$USER'}` },
    };
  },
};

function deliveryDetails(spool: SpoolFacts, now: number): string[] {
  const d = spool.delivery ?? {};
  const details: string[] = [];
  details.push(d.runningPid ? `a delivery process is at work (PID ${d.runningPid})` : 'no delivery process is running');
  if (d.lastSuccessAt) details.push(`last delivery ${formatAge(now - d.lastSuccessAt)} ago`);
  if (d.lastFailureAt && d.lastError) details.push(`last failure ${formatAge(now - d.lastFailureAt)} ago: ${d.lastError}`);
  return details;
}

const spoolCheck: Check = {
  id: 'spool',
  group: 'spool',
  title: 'Traces are delivered from the spool',
  needs: ['spool'],
  run({ spool }) {
    const now = spool.nowMs ?? Date.now();
    const details: string[] = [];
    if (spool.unreadable) details.push(`${plural(spool.unreadable, 'unreadable file')} in ${spool.dir}`);
    if (spool.rejected) details.push(`${plural(spool.rejected, 'trace')} the server refused, kept in ${spool.dir}/rejected`);
    const delivery = deliveryDetails(spool, now);
    if (spool.count === 0) {
      if (details.length) return { status: 'warn', message: 'The spool is empty, but has leftovers.', details: [...details, ...delivery] };
      return ok('empty', delivery);
    }
    const oldestAt = spool.oldest ? Date.parse(spool.oldest) : NaN;
    const waited = Number.isNaN(oldestAt) ? undefined : now - oldestAt;
    const waiting = `${plural(spool.count, 'trace')} waiting${waited !== undefined ? ` (the oldest for ${formatAge(waited)})` : ''}`;
    const d = spool.delivery ?? {};
    const failing = d.lastFailureAt !== undefined && d.lastFailureAt >= (d.lastSuccessAt ?? 0);
    if ((waited ?? 0) > SPOOL_WAIT_WARN_MS || failing || !d.runningPid) {
      const why = (waited ?? 0) > SPOOL_WAIT_WARN_MS ? 'waited more than an hour' : failing ? 'the server does not take them' : 'no delivery process is at work';
      return { status: 'warn', message: `${waiting}: ${why}.`, details: [...delivery, ...details], fix: { command: 'claude-mlflow flush', auto: 'flush-spool' } };
    }
    return ok(`${waiting}, being delivered`, [...delivery, ...details]);
  },
};

const hookLogCheck: Check = {
  id: 'hook-log',
  group: 'spool',
  title: 'No recent hook errors',
  needs: ['hookLog'],
  run({ hookLog }) {
    const last = hookLog.lastError;
    const evicted = hookLog.evicted;
    const evictedAt = evicted?.lastAt ? Date.parse(evicted.lastAt) : NaN;
    if (evicted && evicted.count > 0 && (Number.isNaN(evictedAt) || hookLog.nowMs - evictedAt < HOOK_ERROR_WINDOW_MS)) {
      return {
        status: 'warn',
        message: `The spool was full: the hook dropped ${plural(evicted.count, 'trace')} without delivering ${evicted.count === 1 ? 'it' : 'them'}${Number.isNaN(evictedAt) ? '' : ` (last ${formatAge(hookLog.nowMs - evictedAt)} ago)`}.`,
        details: [
          'The server was unreachable for longer than the spool holds: make it reachable, or raise CLAUDE_MLFLOW_SPOOL_MAX (default 1000).',
          `log (the dropped trace ids): ${hookLog.file}`,
          ...(last ? [`last error: ${last.text.length > 200 ? `${last.text.slice(0, 200)}…` : last.text}`] : []),
        ],
      };
    }
    if (!last) return ok('no errors logged');
    const at = last.at ? Date.parse(last.at) : NaN;
    const recent = Number.isNaN(at) || hookLog.nowMs - at < HOOK_ERROR_WINDOW_MS;
    if (!recent) return ok(`last error ${formatAge(hookLog.nowMs - at)} ago`, [last.text]);
    return {
      status: 'warn',
      message: `The hook logged an error${Number.isNaN(at) ? '' : ` ${formatAge(hookLog.nowMs - at)} ago`}: ${last.text.length > 200 ? `${last.text.slice(0, 200)}…` : last.text}`,
      details: [`log: ${hookLog.file}`],
    };
  },
};

const redactionCheck: Check = {
  id: 'redaction',
  group: 'spool',
  title: 'Secrets are redacted before traces leave this machine',
  needs: ['context'],
  run({ context }) {
    const r = context.redaction;
    if (!r) return skip('Not known (no config).');
    if (!r.enabled) {
      return {
        status: 'warn',
        message: 'Redaction is off (config.json): tokens, passwords and keys that sessions type, read or run go to MLflow as they are.',
        fix: { command: `${context.cli} init --redact` },
      };
    }
    const extra = [r.extraPatterns ? plural(r.extraPatterns, 'extra pattern') : undefined, r.allow ? plural(r.allow, 'allowed value') : undefined].filter(Boolean).join(', ');
    const message = `on: ${r.rules} rules (${r.source}) and ours${extra ? `; ${extra}` : ''}`;
    if (r.badPatterns.length) {
      return { status: 'warn', message: `${message}; ${plural(r.badPatterns.length, 'extra pattern')} in config.json ${r.badPatterns.length === 1 ? 'does' : 'do'} not compile and ${r.badPatterns.length === 1 ? 'is' : 'are'} skipped.`, details: r.badPatterns };
    }
    return ok(message);
  },
};

const deepCheck: Check = {
  id: 'deep',
  group: 'deep',
  title: 'A synthetic session is traced end to end',
  needs: ['deep'],
  deep: true,
  run({ deep }) {
    if (!deep.requested) return skip('Run with --deep.');
    if (!deep.ran) return skip(deep.reason ?? 'Could not run the hook.');
    const details = [`command: ${deep.command}`, `trace ${deep.traceId}`];
    const ms = Math.round(deep.ms ?? 0);
    if (deep.arrived) {
      return ok(`the hook delivered a trace in ${ms} ms${deep.deleted ? ' (deleted again)' : ' (could not delete it again)'}`, details);
    }
    const failDetails = [...details, ...(deep.error ? [deep.error] : [])];
    if (deep.spooled) {
      return { status: 'fail', message: `The hook ran (${ms} ms) but the trace was still in the spool 10 s later: the server did not take it.`, details: failDetails };
    }
    return { status: 'fail', message: `The hook ran (exit ${deep.exitCode ?? '?'}, ${ms} ms) but no trace arrived.`, details: failDetails };
  },
};

export const CHECKS: readonly Check[] = [
  nodeCheck,
  hookRuntimeCheck,
  hookCommandCheck,
  hookStartsCheck,
  pythonCheck,
  mlflowInstalledCheck,
  mlflowVersionCheck,
  serverCheck,
  trackingUriCheck,
  portCheck,
  dbLockCheck,
  dbHealthCheck,
  pgConnectionCheck,
  pgConnectionsCheck,
  pgMigrationCheck,
  dbSizeCheck,
  settingsJsonCheck,
  hookOnceCheck,
  foreignTracerCheck,
  hooksEnabledCheck,
  tracingEnabledCheck,
  settingsEnvCheck,
  settingsSecretsCheck,
  serviceCheck,
  lingerCheck,
  spoolCheck,
  hookLogCheck,
  redactionCheck,
  deepCheck,
];

export const CHECK_IDS: readonly string[] = CHECKS.map((c) => c.id);

export function findCheck(id: string): Check | undefined {
  return CHECKS.find((c) => c.id === id);
}

/** The checks to run: one by id, or all (the deep one only when asked). */
export function selectChecks(options: { check?: string; deep?: boolean }): Check[] {
  if (options.check !== undefined) {
    const one = findCheck(options.check);
    return one ? [one] : [];
  }
  return CHECKS.filter((c) => !c.deep || options.deep);
}

/** The facts a set of checks needs. */
export function neededFacts(checks: readonly Check[]): FactKey[] {
  return [...new Set(checks.flatMap((c) => c.needs))];
}

/** Run one check; a check that throws is reported as failed, never thrown. */
export function runCheck(check: Check, facts: Facts): CheckResult {
  try {
    return { id: check.id, ...check.run(facts) };
  } catch (error) {
    return { id: check.id, status: 'fail', message: `doctor could not run this check: ${(error as Error).message}` };
  }
}

export interface Summary {
  checks: number;
  passed: number;
  warnings: number;
  failed: number;
  skipped: number;
  /** Checks that failed: the exit code is 1 when there is one. Warnings are counted apart. */
  problems: number;
}

export function summarize(results: readonly CheckResult[]): Summary {
  const count = (s: CheckStatus): number => results.filter((r) => r.status === s).length;
  const failed = count('fail');
  const warnings = count('warn');
  return { checks: results.length, passed: count('ok'), warnings, failed, skipped: count('skip'), problems: failed };
}

/** 0 when nothing failed (warnings allowed), 1 when a check failed. Bad usage (2) is decided before. */
export function exitCodeFor(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/** The auto fixes offered by these results, once each, in the order they are applied. */
export function offeredFixes(results: readonly CheckResult[]): FixId[] {
  const wanted = new Set(results.filter((r) => r.status === 'fail' || r.status === 'warn').map((r) => r.fix?.auto).filter((f): f is FixId => !!f));
  return FIX_IDS.filter((id) => wanted.has(id));
}
