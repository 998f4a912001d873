/**
 * What `status` shows, gathered concurrently: tracing per settings scope,
 * the server, the experiment, trace counts and tokens per day (through
 * MLflow's REST search API, page by page), the database size and the spool.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../adapters/config-store.js';
import { httpRequestText } from '../adapters/http.js';
import { trackingConnection, type TrackingConnection } from '../adapters/tracking-connection.js';
import { deliveryState } from '../services/delivery/state.js';
import { paths } from '../config.js';
import { effectiveEnv, ourHooksIn, type SettingsScope } from '../core/checks.js';
import { isTruthy } from '../core/hook-settings.js';
import type { HostEnvironment } from '../doctor/environment.js';
import { pythonForMlflow, sqliteFile } from '../doctor/facts.js';
import { runPostgresProbe } from '../doctor/postgres-probe.js';
import { isPostgresUri, parsePostgresUri, shortPostgres } from '../core/backend-store.js';
import { readAllScopes } from '../doctor/settings-scan.js';
import { serverState, serverUrl } from '../server/local-server.js';

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
  server: { url: string | null; local: boolean; manager: string | null; healthy: boolean; version: string | null; state: string | null; pid: number | null };
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
  const daily: DayBucket[] = Array.from({ length: CHART_DAYS }, (_, i) => ({ date: localDate(startOfDay(now, CHART_DAYS - 1 - i)), traces: 0, tokens: 0, cost: 0 }));
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
    for (const [since, key] of [[bounds.d30, 'last30Days'], [bounds.d7, 'last7Days'], [bounds.today, 'today']] as const) {
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

export async function collectStatus(environment: StatusEnvironment): Promise<StatusData> {
  const { dataRoot, project, home, env } = environment;
  const now = environment.now ?? new Date();
  const files = paths(dataRoot);
  const config = loadConfig(files.config);
  const errors: string[] = [];

  const settings = readAllScopes({ project, home, platform: environment.platform, managedFile: environment.managedSettingsFile });
  const scopes: ScopeStatus[] = settings.scopes.map((s) => {
    const block = s.doc?.env;
    const value = block && typeof block === 'object' && !Array.isArray(block) ? (block as Record<string, unknown>).MLFLOW_CLAUDE_TRACING_ENABLED : undefined;
    return {
      scope: s.scope,
      file: s.file,
      exists: s.exists,
      readable: s.parse === 'ok',
      hook: s.doc ? ourHooksIn(s.doc).some((h) => h.event === 'Stop') : false,
      enabled: value === undefined ? null : String(value),
    };
  });
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

  const url = config.server ? serverUrl(config.server) : (effectiveEnv(settings, 'MLFLOW_TRACKING_URI')?.value as string | undefined) ?? config.trackingUri ?? null;
  let conn: TrackingConnection | undefined;
  try {
    conn = url ? trackingConnection(url, env) : undefined;
  } catch (error) {
    errors.push((error as Error).message);
  }
  const experimentName = (effectiveEnv(settings, 'MLFLOW_EXPERIMENT_NAME')?.value as string | undefined) ?? config.experimentName ?? null;
  const experimentIdSet = (effectiveEnv(settings, 'MLFLOW_EXPERIMENT_ID')?.value as string | undefined) ?? config.experimentId ?? null;
  const dbFile = config.server ? (sqliteFile(config.server.backendStoreUri, dataRoot) ?? null) : null;
  const pg = config.server && isPostgresUri(config.server.backendStoreUri) ? parsePostgresUri(config.server.backendStoreUri) : undefined;
  const pgStore = pg?.ok ? pg.store : undefined;
  // Started now, read at the end: the catalog's size of the database, while the server is asked the rest.
  const pgSize: Promise<number | null> =
    pgStore && config.server
      ? runPostgresProbe(pythonForMlflow(config.server.mlflowBin), pgStore, { mode: 'size', timeoutS: 3, env }).then(
          (p) => p.sizeBytes ?? null,
          () => null,
        )
      : Promise.resolve(null);

  const [health, state] = await Promise.all([
    conn
      ? httpRequestText(`${conn.baseUrl}${conn.healthPath}`, { timeoutMs: 3000, headers: conn.headers }).then(
          (r) => r.status === 200,
          () => false,
        )
      : Promise.resolve(false),
    config.server ? serverState(dataRoot, config.server, env).catch(() => undefined) : Promise.resolve(undefined),
  ]);

  let version: string | null = null;
  let experimentId: string | null = experimentIdSet;
  let traces: StatusData['traces'] = null;
  let tokens: StatusData['tokens'] = null;
  let cost: StatusData['cost'] = null;
  let daily: StatusData['daily'] = null;
  let topSessions: StatusData['topSessions'] = null;
  if (conn && health) {
    const [v, id] = await Promise.all([
      httpRequestText(`${conn.baseUrl}/version`, { timeoutMs: 3000, headers: conn.headers }).then(
        (r) => (r.status === 200 ? r.body.trim() : null),
        () => null,
      ),
      experimentId
        ? Promise.resolve(experimentId)
        : call<{ experiment?: { experiment_id?: string } }>(conn, `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(experimentName ?? 'Default')}`).then(
            (r) => r.experiment?.experiment_id ?? null,
            (e: { status?: number; message?: string }) => {
              if (e.status !== 404) errors.push(`experiment lookup: ${e.message}`);
              return null;
            },
          ),
    ]);
    version = v;
    experimentId = id;
    if (experimentId) {
      try {
        const found = await searchTracesSince(conn, experimentId, startOfDay(now, WINDOW_DAYS - 1), environment.user);
        const b = bucketTraces(found.traces, now);
        traces = { ...b.counts, truncated: found.truncated };
        tokens = b.tokens;
        cost = b.cost;
        daily = b.daily;
        topSessions = b.topSessions;
      } catch (error) {
        errors.push(`trace search: ${(error as Error).message}`);
      }
    } else {
      traces = { today: 0, last7Days: 0, last30Days: 0, truncated: false };
      tokens = { today: 0, last7Days: 0, last30Days: 0 };
      cost = { today: 0, last7Days: 0, last30Days: 0 };
      daily = bucketTraces([], now).daily;
      topSessions = [];
    }
  }

  let rejected = 0;
  try {
    rejected = readdirSync(join(files.spool, 'rejected')).filter((n) => n.endsWith('.trace.json')).length;
  } catch {
    // none
  }

  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt: now.toISOString(),
    dataDir: dataRoot,
    project,
    user: environment.user ?? null,
    tracing: { on, reason, scopes },
    server: {
      url,
      local: Boolean(config.server),
      healthy: health,
      version,
      manager: config.server?.manager ?? null,
      state: state ? (state.running ? 'running' : (state.detail ?? 'stopped')) : null,
      pid: state?.running ? (state.pid ?? null) : null,
    },
    experiment: { name: experimentName, id: experimentId },
    traces,
    tokens,
    cost,
    daily,
    topSessions,
    database: pgStore
      ? { file: null, bytes: await pgSize, postgres: shortPostgres(pgStore) }
      : { file: dbFile, bytes: dbFile && existsSync(dbFile) ? statSync(dbFile).size : null },
    spool: spoolStatus(files.spool, rejected),
    errors,
  };
}
