/**
 * What `status` shows, gathered concurrently: tracing per settings scope,
 * the server, the experiment, trace counts and tokens per day (through
 * MLflow's REST search API, page by page), the database size and the spool.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type StoredConfig } from '../adapters/config-store.js';
import { httpRequestText } from '../adapters/http.js';
import { trackingConnection, type TrackingConnection } from '../adapters/tracking-connection.js';
import { deliveryState } from '../services/delivery/state.js';
import { paths, type Paths } from '../config.js';
import type { ScopeSettings, SettingsFacts } from '../core/checks/facts.js';
import type { SettingsScope } from '../core/scopes.js';
import { effectiveEnv, ourHooksIn } from '../core/checks/settings-derived.js';
import { isTruthy } from '../core/hook-settings.js';
import type { HostEnvironment } from '../services/host-environment.js';
import { pythonForMlflow } from '../services/mlflow-python.js';
import { runPostgresProbe } from '../services/store/postgres-probe.js';
import { isPostgresUri, parsePostgresUri, shortPostgres, sqliteFile, type PostgresStore } from '../core/backend-store.js';
import { readAllScopes } from '../services/settings-scan.js';
import { serverState, type ServerState } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';

export const STATUS_SCHEMA_VERSION = 1;
export const CHART_DAYS = 14;
const WINDOW_DAYS = 30;
const PAGE_SIZE = 500;
/** Stop paging after this many traces (100 000): status must stay quick. */
const MAX_PAGES = 200;

export interface ScopeStatus {
  scope: SettingsScope;
  file: string;
  exists: boolean;
  /** Claude Code reads it (strict JSON). */
  readable: boolean;
  hook: boolean;
  /** MLFLOW_CLAUDE_TRACING_ENABLED as this file sets it (null: not set). */
  enabled: string | null;
}

export interface DayBucket {
  /** Local date, YYYY-MM-DD. */
  date: string;
  traces: number;
  tokens: number;
  /** USD, from the traces' `mlflow.trace.cost`. */
  cost: number;
}

/** A session among the costliest of the last 30 days. */
export interface SessionCost {
  session: string;
  /** USD. */
  cost: number;
  traces: number;
  /** When its newest trace started (ISO). */
  lastAt: string;
}

/** How many sessions `status` lists by cost. */
export const TOP_SESSIONS = 5;

export interface StatusData {
  schemaVersion: typeof STATUS_SCHEMA_VERSION;
  generatedAt: string;
  dataDir: string;
  project: string;
  /** `--user`: traces and tokens count only this user's traces (`mlflow.trace.user`); null: every user's. */
  user: string | null;
  tracing: { on: boolean; reason: string; scopes: ScopeStatus[] };
  server: {
    url: string | null;
    local: boolean;
    manager: string | null;
    healthy: boolean;
    version: string | null;
    state: string | null;
    pid: number | null;
  };
  experiment: { name: string | null; id: string | null };
  traces: { today: number; last7Days: number; last30Days: number; truncated: boolean } | null;
  tokens: { today: number; last7Days: number; last30Days: number } | null;
  /** USD, from the traces' `mlflow.trace.cost` (priced by the hook from MLflow's model catalog). */
  cost: { today: number; last7Days: number; last30Days: number } | null;
  daily: DayBucket[] | null;
  /** The costliest sessions of the last 30 days, most first. */
  topSessions: SessionCost[] | null;
  /** `postgres`: the local server stores traces in PostgreSQL (user@host:port/database, never the password); `bytes` is then the database's size. */
  database: { file: string | null; bytes: number | null; postgres?: string };
  spool: {
    waiting: number;
    rejected: number;
    /** When the oldest waiting trace was spooled (ISO), or null. */
    oldestSpooledAt: string | null;
    /** The pid of the delivery process at work, or null. */
    deliveryPid: number | null;
    /** When the server last took a trace from the spool (ISO), or null. */
    lastDeliveryAt: string | null;
  };
  errors: string[];
}

export interface StatusEnvironment extends HostEnvironment {
  /** For tests: the clock. */
  now?: Date;
  /** Count only the traces of this user (the `mlflow.trace.user` metadata the hook sets). */
  user?: string;
}

/** The metadata key the hook puts the user name in (src/core/transcript.ts). */
export const USER_METADATA_KEY = 'mlflow.trace.user';

/**
 * MLflow's search filter for one user's traces. MLflow's filter parser takes
 * a string in single or double quotes and has no escape for the quote itself,
 * so a name holding both kinds cannot be searched for (undefined).
 */
export function userFilter(user: string): string | undefined {
  const key = `request_metadata.\`${USER_METADATA_KEY}\``;
  if (!user.includes("'")) return `${key} = '${user}'`;
  if (!user.includes('"')) return `${key} = "${user}"`;
  return undefined;
}

/** Local calendar date of a moment, YYYY-MM-DD. */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function startOfDay(d: Date, daysBack = 0): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack);
}

function costOfTrace(metadata: Record<string, string> | undefined): number {
  const raw = metadata?.['mlflow.trace.cost'];
  if (!raw) return 0;
  try {
    const cost = (JSON.parse(raw) as { total_cost?: unknown }).total_cost;
    return typeof cost === 'number' && Number.isFinite(cost) ? cost : 0;
  } catch {
    return 0;
  }
}

/** The costliest sessions, most first (sessions that cost nothing are left out). */
function topSessionsOf(sessions: Map<string, SessionCost>): SessionCost[] {
  return [...sessions.values()]
    .filter((s) => s.cost > 0)
    .sort((a, b) => b.cost - a.cost)
    .slice(0, TOP_SESSIONS);
}

function tokensOf(metadata: Record<string, string> | undefined): number {
  const raw = metadata?.['mlflow.trace.tokenUsage'];
  if (!raw) return 0;
  try {
    const usage = JSON.parse(raw) as { total_tokens?: number; input_tokens?: number; output_tokens?: number };
    return usage.total_tokens ?? (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
  } catch {
    return 0;
  }
}

interface TraceInfoJson {
  request_time?: string;
  trace_metadata?: Record<string, string>;
}

async function call<T>(conn: TrackingConnection, path: string, body?: unknown): Promise<T> {
  const res = await httpRequestText(`${conn.baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    timeoutMs: 5000,
    headers: { ...conn.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status < 200 || res.status >= 300) throw Object.assign(new Error(`${path} → HTTP ${res.status}`), { status: res.status });
  return JSON.parse(res.body || '{}') as T;
}

/** Every trace of the experiment since `since`, newest first (request time and token metadata only). */
function spoolStatus(spoolDir: string, rejected: number): StatusData['spool'] {
  const state = deliveryState(spoolDir);
  const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    waiting: state.waiting,
    rejected,
    oldestSpooledAt: iso(state.oldestSpooledAt),
    deliveryPid: state.runningPid ?? null,
    lastDeliveryAt: iso(state.lastSuccessAt),
  };
}

export async function searchTracesSince(
  conn: TrackingConnection,
  experimentId: string,
  since: Date,
  user?: string,
): Promise<{ traces: TraceInfoJson[]; truncated: boolean }> {
  const traces: TraceInfoJson[] = [];
  const byUser = user === undefined ? undefined : userFilter(user);
  if (user !== undefined && byUser === undefined) throw new Error(`a user name with both ' and " cannot be searched for: ${user}`);
  const filter = [`trace.timestamp_ms >= ${since.getTime()}`, ...(byUser ? [byUser] : [])].join(' AND ');
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await call<{ traces?: TraceInfoJson[]; next_page_token?: string }>(conn, '/api/3.0/mlflow/traces/search', {
      locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } }],
      filter,
      max_results: PAGE_SIZE,
      order_by: ['timestamp_ms DESC'],
      ...(token ? { page_token: token } : {}),
    });
    traces.push(...(res.traces ?? []));
    token = res.next_page_token;
    if (!token || (res.traces ?? []).length === 0) return { traces, truncated: false };
  }
  return { traces, truncated: true };
}

/** Bucket traces by local day: counts, tokens and cost for today / 7 / 30 days, the last CHART_DAYS days, and the costliest sessions. */
export function bucketTraces(traces: TraceInfoJson[], now: Date) {
  const daily: DayBucket[] = Array.from({ length: CHART_DAYS }, (_, i) => ({
    date: localDate(startOfDay(now, CHART_DAYS - 1 - i)),
    traces: 0,
    tokens: 0,
    cost: 0,
  }));
  const index = new Map(daily.map((d, i) => [d.date, i]));
  const bounds = { today: startOfDay(now).getTime(), d7: startOfDay(now, 6).getTime(), d30: startOfDay(now, WINDOW_DAYS - 1).getTime() };
  const counts = { today: 0, last7Days: 0, last30Days: 0 };
  const tokens = { today: 0, last7Days: 0, last30Days: 0 };
  const cost = { today: 0, last7Days: 0, last30Days: 0 };
  const sessions = new Map<string, SessionCost>();
  for (const t of traces) {
    const at = t.request_time ? Date.parse(t.request_time) : NaN;
    if (Number.isNaN(at)) continue;
    const n = tokensOf(t.trace_metadata);
    const usd = costOfTrace(t.trace_metadata);
    for (const [since, key] of [
      [bounds.d30, 'last30Days'],
      [bounds.d7, 'last7Days'],
      [bounds.today, 'today'],
    ] as const) {
      if (at < since) continue;
      counts[key]++;
      tokens[key] += n;
      cost[key] += usd;
    }
    const i = index.get(localDate(new Date(at)));
    if (i !== undefined) {
      daily[i]!.traces++;
      daily[i]!.tokens += n;
      daily[i]!.cost += usd;
    }
    const session = t.trace_metadata?.['mlflow.trace.session'];
    if (session && at >= bounds.d30) {
      const s = sessions.get(session) ?? { session, cost: 0, traces: 0, lastAt: new Date(at).toISOString() };
      s.cost += usd;
      s.traces++;
      if (at > Date.parse(s.lastAt)) s.lastAt = new Date(at).toISOString();
      sessions.set(session, s);
    }
  }
  return { counts, tokens, cost, daily, topSessions: topSessionsOf(sessions) };
}

/** What status reads first, for the steps after it; each step adds what it finds, and problems go to `errors`. */
interface StatusContext {
  environment: StatusEnvironment;
  now: Date;
  files: Paths;
  config: StoredConfig;
  settings: SettingsFacts;
  /** Problems met on the way: status shows them, and goes on. */
  errors: string[];
}

/** The traces, tokens, cost and costliest sessions of the last 30 days: null when the server could not be asked. */
type TraceFigures = Pick<StatusData, 'traces' | 'tokens' | 'cost' | 'daily' | 'topSessions'>;

const NO_FIGURES: TraceFigures = { traces: null, tokens: null, cost: null, daily: null, topSessions: null };

/** The database: the SQLite file, or the PostgreSQL store whose size is being asked. */
interface DatabaseProbe {
  file: string | null;
  store?: PostgresStore;
  size: Promise<number | null>;
}

function scopeStatusOf(s: ScopeSettings): ScopeStatus {
  const block = s.doc?.env;
  const value =
    block && typeof block === 'object' && !Array.isArray(block)
      ? (block as Record<string, unknown>).MLFLOW_CLAUDE_TRACING_ENABLED
      : undefined;
  return {
    scope: s.scope,
    file: s.file,
    exists: s.exists,
    readable: s.parse === 'ok',
    hook: s.doc ? ourHooksIn(s.doc).some((h) => h.event === 'Stop') : false,
    enabled: value === undefined ? null : String(value),
  };
}

/** On when a settings file Claude Code reads has our hook and MLFLOW_CLAUDE_TRACING_ENABLED is truthy; the reason says which. */
function tracingStatus(settings: SettingsFacts): StatusData['tracing'] {
  const scopes = settings.scopes.map(scopeStatusOf);
  const enabled = effectiveEnv(settings, 'MLFLOW_CLAUDE_TRACING_ENABLED');
  const hooked = scopes.some((s) => s.readable && s.hook);
  const on = hooked && typeof enabled?.value === 'string' && isTruthy(enabled.value);
  const reason = !hooked
    ? 'no hook of ours in any settings file Claude Code reads'
    : !enabled
      ? 'MLFLOW_CLAUDE_TRACING_ENABLED is not set'
      : on
        ? `enabled in ${enabled.scope} settings`
        : `paused (MLFLOW_CLAUDE_TRACING_ENABLED=${String(enabled.value)} in ${enabled.scope} settings)`;
  return { on, reason, scopes };
}

/** The value a settings file (else config.json) gives. */
function settingOrConfig(ctx: StatusContext, key: string, stored: string | undefined): string | null {
  return (effectiveEnv(ctx.settings, key)?.value as string | undefined) ?? stored ?? null;
}

/** The server the traces go to: ours, else the settings' tracking URI, else config.json's; and how to reach it. */
function connectionOf(ctx: StatusContext): { url: string | null; conn?: TrackingConnection } {
  const { config } = ctx;
  const url = config.server ? serverUrl(config.server) : settingOrConfig(ctx, 'MLFLOW_TRACKING_URI', config.trackingUri);
  try {
    return { url, conn: url ? trackingConnection(url, ctx.environment.env) : undefined };
  } catch (error) {
    ctx.errors.push((error as Error).message);
    return { url };
  }
}

/** Started now, read at the end: the catalog's size of a PostgreSQL database, while the server is asked the rest. */
function startDatabaseProbe(ctx: StatusContext): DatabaseProbe {
  const { config } = ctx;
  const { dataRoot, env } = ctx.environment;
  const file = config.server ? (sqliteFile(config.server.backendStoreUri, dataRoot) ?? null) : null;
  const pg = config.server && isPostgresUri(config.server.backendStoreUri) ? parsePostgresUri(config.server.backendStoreUri) : undefined;
  const store = pg?.ok ? pg.store : undefined;
  const size: Promise<number | null> =
    store && config.server
      ? runPostgresProbe(pythonForMlflow(config.server.mlflowBin), store, { mode: 'size', timeoutS: 3, env }).then(
          (p) => p.sizeBytes ?? null,
          () => null,
        )
      : Promise.resolve(null);
  return { file, store, size };
}

async function databaseStatus(probe: DatabaseProbe): Promise<StatusData['database']> {
  if (probe.store) return { file: null, bytes: await probe.size, postgres: shortPostgres(probe.store) };
  return { file: probe.file, bytes: probe.file && existsSync(probe.file) ? statSync(probe.file).size : null };
}

/** At once: whether the server answers its health check, and the state of our local server. */
function probeServer(ctx: StatusContext, conn: TrackingConnection | undefined): Promise<[boolean, ServerState | undefined]> {
  const { config } = ctx;
  return Promise.all([
    conn
      ? httpRequestText(`${conn.baseUrl}${conn.healthPath}`, { timeoutMs: 3000, headers: conn.headers }).then(
          (r) => r.status === 200,
          () => false,
        )
      : Promise.resolve(false),
    config.server
      ? serverState(ctx.environment.dataRoot, config.server, ctx.environment.env).catch(() => undefined)
      : Promise.resolve(undefined),
  ]);
}

function serverVersion(conn: TrackingConnection): Promise<string | null> {
  return httpRequestText(`${conn.baseUrl}/version`, { timeoutMs: 3000, headers: conn.headers }).then(
    (r) => (r.status === 200 ? r.body.trim() : null),
    () => null,
  );
}

/** The experiment's id by its name; null when there is none (any other failure goes to `errors`). */
function experimentIdByName(ctx: StatusContext, conn: TrackingConnection, name: string | null): Promise<string | null> {
  return call<{ experiment?: { experiment_id?: string } }>(
    conn,
    `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name ?? 'Default')}`,
  ).then(
    (r) => r.experiment?.experiment_id ?? null,
    (e: { status?: number; message?: string }) => {
      if (e.status !== 404) ctx.errors.push(`experiment lookup: ${e.message}`);
      return null;
    },
  );
}

/** The experiment's traces of the last 30 days, bucketed; a failed search leaves them null (and says why in `errors`). */
async function traceFigures(ctx: StatusContext, conn: TrackingConnection, experimentId: string): Promise<TraceFigures> {
  try {
    const found = await searchTracesSince(conn, experimentId, startOfDay(ctx.now, WINDOW_DAYS - 1), ctx.environment.user);
    const b = bucketTraces(found.traces, ctx.now);
    return {
      traces: { ...b.counts, truncated: found.truncated },
      tokens: b.tokens,
      cost: b.cost,
      daily: b.daily,
      topSessions: b.topSessions,
    };
  } catch (error) {
    ctx.errors.push(`trace search: ${(error as Error).message}`);
    return NO_FIGURES;
  }
}

/** No experiment yet: nothing traced. */
function noTraces(now: Date): TraceFigures {
  return {
    traces: { today: 0, last7Days: 0, last30Days: 0, truncated: false },
    tokens: { today: 0, last7Days: 0, last30Days: 0 },
    cost: { today: 0, last7Days: 0, last30Days: 0 },
    daily: bucketTraces([], now).daily,
    topSessions: [],
  };
}

/** A healthy server: its version, the experiment's id (unless the settings give it), and the trace figures. */
async function askServer(
  ctx: StatusContext,
  conn: TrackingConnection,
  experiment: StatusData['experiment'],
): Promise<{ version: string | null; experimentId: string | null } & TraceFigures> {
  const [version, experimentId] = await Promise.all([
    serverVersion(conn),
    experiment.id ? Promise.resolve(experiment.id) : experimentIdByName(ctx, conn, experiment.name),
  ]);
  const figures = experimentId ? await traceFigures(ctx, conn, experimentId) : noTraces(ctx.now);
  return { version, experimentId, ...figures };
}

function rejectedTraces(spoolDir: string): number {
  try {
    return readdirSync(join(spoolDir, 'rejected')).filter((n) => n.endsWith('.trace.json')).length;
  } catch {
    return 0; // none
  }
}

function serverStatus(
  ctx: StatusContext,
  url: string | null,
  healthy: boolean,
  version: string | null,
  state: ServerState | undefined,
): StatusData['server'] {
  const { server } = ctx.config;
  return {
    url,
    local: Boolean(server),
    healthy,
    version,
    manager: server?.manager ?? null,
    state: state ? (state.running ? 'running' : (state.detail ?? 'stopped')) : null,
    pid: state?.running ? (state.pid ?? null) : null,
  };
}

export async function collectStatus(environment: StatusEnvironment): Promise<StatusData> {
  const { dataRoot, project, home } = environment;
  const now = environment.now ?? new Date();
  const files = paths(dataRoot);
  const config = loadConfig(files.config);
  const settings = readAllScopes({ project, home, platform: environment.platform, managedFile: environment.managedSettingsFile });
  const ctx: StatusContext = { environment, now, files, config, settings, errors: [] };
  const tracing = tracingStatus(settings);
  const { url, conn } = connectionOf(ctx);
  const experimentName = settingOrConfig(ctx, 'MLFLOW_EXPERIMENT_NAME', config.experimentName);
  const experimentIdSet = settingOrConfig(ctx, 'MLFLOW_EXPERIMENT_ID', config.experimentId);
  const database = startDatabaseProbe(ctx);
  const [health, state] = await probeServer(ctx, conn);
  const asked =
    conn && health
      ? await askServer(ctx, conn, { name: experimentName, id: experimentIdSet })
      : { version: null, experimentId: experimentIdSet, ...NO_FIGURES };
  const rejected = rejectedTraces(files.spool);

  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt: now.toISOString(),
    dataDir: dataRoot,
    project,
    user: environment.user ?? null,
    tracing,
    server: serverStatus(ctx, url, health, asked.version, state),
    experiment: { name: experimentName, id: asked.experimentId },
    traces: asked.traces,
    tokens: asked.tokens,
    cost: asked.cost,
    daily: asked.daily,
    topSessions: asked.topSessions,
    database: await databaseStatus(database),
    spool: spoolStatus(files.spool, rejected),
    errors: ctx.errors,
  };
}
