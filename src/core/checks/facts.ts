/**
 * The facts the checks read, gathered by doctor (src/doctor/gather-*.ts). Each check
 * names the facts it reads (`needs`), so `doctor --check <id>` gathers only those.
 */
import type { SettingsScope } from '../scopes.js';

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
