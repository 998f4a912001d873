/**
 * Where `cleanup` reads and deletes traces (and `migrate` counts them on the
 * server): always through MLflow.
 *
 * - `RestBackend`: a running MLflow server, through its REST API
 *   (`traces/metrics` to count, `traces/search` to list, `traces/delete-traces`
 *   to delete).
 * - `PythonBackend`: no server running; MLflow's own Python client
 *   (`MlflowClient(tracking_uri='sqlite:///…')`) in the venv, against the same
 *   backend store URI, as one long-lived worker process.
 *
 * Neither ever runs SQL against MLflow's tables: the schema is MLflow's.
 *
 * Request shapes, checked against MLflow 3.12.0 (mlflow/server/handlers.py):
 * - `POST /api/2.0/mlflow/traces/delete-traces`
 *   `{experiment_id, max_timestamp_millis, max_traces}` deletes the oldest
 *   `max_traces` traces with `timestamp_ms <= max_timestamp_millis` (inclusive);
 *   `{experiment_id, request_ids: [...]}` deletes those ids (the field is
 *   `request_ids`; `trace_ids` is ignored). Answer `{traces_deleted}`. One call
 *   is one database transaction, spans and tags go with their trace (ON DELETE
 *   CASCADE, foreign keys on). MLflow's own client sends at most 100 ids per call.
 * - `POST /api/3.0/mlflow/traces/search`
 *   `{locations: [{type: 'MLFLOW_EXPERIMENT', mlflow_experiment: {experiment_id}}],
 *   filter, max_results (≤ 500), order_by, page_token}` → `{traces: [TraceInfoV3], next_page_token}`.
 * - `POST /api/3.0/mlflow/traces/metrics`
 *   `{experiment_ids, view_type: 'TRACES', metric_name: 'trace_count',
 *   aggregations: [{aggregation_type: 'COUNT'}], end_time_ms}` (end inclusive)
 *   → `{data_points: [{values: {COUNT}}]}`.
 */
import { createInterface } from 'node:readline';
import { CliError, EXIT } from '../errors.js';
import { httpRequestText } from '../adapters/http.js';
import { startPiped, type PipedChild } from '../adapters/process.js';
import { trackingConnection } from '../adapters/tracking-connection.js';
import { pythonScript } from '../adapters/python-scripts.js';
import { maskBackendStoreUri, parsePostgresUri } from '../core/backend-store.js';

export interface ExperimentRef {
  id: string;
  name: string;
  deleted?: boolean;
}

export interface TraceSummary {
  id: string;
  timestampMs: number;
}

export interface SearchPage {
  traces: TraceSummary[];
  next?: string;
}

export interface SearchQuery {
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
}

export type DeleteRequest = { maxTimestampMs: number; maxTraces: number } | { ids: string[] };

export interface TraceBackend {
  readonly kind: 'server' | 'python';
  /** What we talk to, for messages: the server URL or the backend store URI. */
  readonly where: string;
  getExperiment(id: string): Promise<ExperimentRef | undefined>;
  getExperimentByName(name: string): Promise<ExperimentRef | undefined>;
  /** Every experiment, deleted ones too (their traces still take space). */
  listExperiments(): Promise<ExperimentRef[]>;
  /** Traces of these experiments with `timestamp_ms <= maxTimestampMs` (all when undefined). */
  countTraces(experimentIds: string[], maxTimestampMs?: number): Promise<number>;
  searchTraces(experimentId: string, query: SearchQuery): Promise<SearchPage>;
  /** One call, one transaction: returns how many traces went. */
  deleteTraces(experimentId: string, request: DeleteRequest): Promise<number>;
  close(): Promise<void>;
}

/** MLflow's own limit per delete-traces call with ids (MLFLOW_DELETE_TRACES_MAX_BATCH_SIZE). */
export const MAX_IDS_PER_DELETE = 100;
/** The server refuses more than this per search page. */
export const MAX_SEARCH_RESULTS = 500;

const LOCKED = /database is locked|database table is locked/i;

export function lockedError(where: string, detail: string): CliError {
  return new CliError(
    `the database ${where.startsWith('http') ? `behind ${where} ` : `${where} `}is locked by another writer (${detail.trim().slice(0, 200)}); ` +
      'try again when the other process is done.',
    EXIT.failure,
  );
}

/** Every trace of one query, page by page, up to `limit`. */
export async function collectTraces(
  backend: TraceBackend,
  experimentId: string,
  query: Omit<SearchQuery, 'pageToken' | 'maxResults'>,
  limit = Number.POSITIVE_INFINITY,
): Promise<TraceSummary[]> {
  const out: TraceSummary[] = [];
  let pageToken: string | undefined;
  do {
    const page = await backend.searchTraces(experimentId, {
      ...query,
      maxResults: Math.max(1, Math.min(MAX_SEARCH_RESULTS, limit - out.length)),
      pageToken,
    });
    out.push(...page.traces);
    pageToken = page.next;
  } while (pageToken && out.length < limit);
  return out.slice(0, limit);
}

// ---------------------------------------------------------------- REST

interface MlflowErrorBody {
  error_code?: string;
  message?: string;
}

export class RestBackend implements TraceBackend {
  readonly kind = 'server' as const;
  readonly where: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly healthPath: string;
  private metricsMissing = false;

  /** Throws TrackingConnectionError for a Databricks URI with no host and token. */
  constructor(
    trackingUri: string,
    env: NodeJS.ProcessEnv = process.env,
    private readonly timeoutMs = 120_000,
  ) {
    const connection = trackingConnection(trackingUri, env);
    this.base = connection.baseUrl;
    this.where = this.base;
    this.headers = connection.headers;
    this.healthPath = connection.healthPath;
  }

  /** Whether the server answers its liveness call (`/health`; a Databricks workspace: the signed-in user). */
  async reachable(timeoutMs = 3000): Promise<boolean> {
    try {
      return (await httpRequestText(`${this.base}${this.healthPath}`, { timeoutMs, headers: this.headers })).status === 200;
    } catch {
      return false;
    }
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T & MlflowErrorBody }> {
    let res;
    try {
      res = await httpRequestText(`${this.base}${path}`, {
        method,
        timeoutMs: this.timeoutMs,
        headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new CliError(`the MLflow server at ${this.base} did not answer ${method} ${path}: ${(error as Error).message}`, EXIT.failure);
    }
    let json = {} as T & MlflowErrorBody;
    try {
      json = (res.body ? JSON.parse(res.body) : {}) as T & MlflowErrorBody;
    } catch {
      // not JSON (a proxy's error page): handled below by the status
    }
    return { status: res.status, json };
  }

  private fail(path: string, status: number, json: MlflowErrorBody): never {
    const detail = json.message ?? json.error_code ?? `HTTP ${status}`;
    if (LOCKED.test(detail)) throw lockedError(this.base, detail);
    throw new CliError(`MLflow at ${this.base} refused ${path} (HTTP ${status}): ${detail.slice(0, 300)}`, EXIT.failure);
  }

  private async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, json } = await this.call<T>(method, path, body);
    if (status < 200 || status >= 300) this.fail(path, status, json);
    return json;
  }

  async getExperiment(id: string): Promise<ExperimentRef | undefined> {
    const path = `/api/2.0/mlflow/experiments/get?experiment_id=${encodeURIComponent(id)}`;
    const { status, json } = await this.call<{ experiment?: { experiment_id: string; name: string; lifecycle_stage?: string } }>(
      'GET',
      path,
    );
    if (json.error_code === 'RESOURCE_DOES_NOT_EXIST' || json.error_code === 'INVALID_PARAMETER_VALUE') return undefined;
    if (status < 200 || status >= 300 || !json.experiment) this.fail(path, status, json);
    const e = json.experiment;
    return { id: e.experiment_id, name: e.name, deleted: e.lifecycle_stage === 'deleted' };
  }

  async getExperimentByName(name: string): Promise<ExperimentRef | undefined> {
    const path = `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`;
    const { status, json } = await this.call<{ experiment?: { experiment_id: string; name: string; lifecycle_stage?: string } }>(
      'GET',
      path,
    );
    if (json.error_code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
    if (status < 200 || status >= 300 || !json.experiment) this.fail(path, status, json);
    const e = json.experiment;
    return { id: e.experiment_id, name: e.name, deleted: e.lifecycle_stage === 'deleted' };
  }

  async listExperiments(): Promise<ExperimentRef[]> {
    const out: ExperimentRef[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.ok<{
        experiments?: { experiment_id: string; name: string; lifecycle_stage?: string }[];
        next_page_token?: string;
      }>('POST', '/api/2.0/mlflow/experiments/search', {
        max_results: 1000,
        view_type: 'ALL',
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      for (const e of res.experiments ?? []) out.push({ id: e.experiment_id, name: e.name, deleted: e.lifecycle_stage === 'deleted' });
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async countTraces(experimentIds: string[], maxTimestampMs?: number): Promise<number> {
    if (experimentIds.length === 0) return 0;
    if (!this.metricsMissing) {
      const path = '/api/3.0/mlflow/traces/metrics';
      const { status, json } = await this.call<{ data_points?: { values?: { COUNT?: number } }[] }>('POST', path, {
        experiment_ids: experimentIds,
        view_type: 'TRACES',
        metric_name: 'trace_count',
        aggregations: [{ aggregation_type: 'COUNT' }],
        ...(maxTimestampMs === undefined ? {} : { end_time_ms: maxTimestampMs }),
      });
      if (status >= 200 && status < 300) {
        return (json.data_points ?? []).reduce((sum, p) => sum + Number(p.values?.COUNT ?? 0), 0);
      }
      // An MLflow without the metrics endpoint (older than 3.7; 3.6's UI route answers a POST there with 405): count by listing.
      if (status !== 404 && status !== 405 && json.error_code !== 'ENDPOINT_NOT_FOUND') this.fail(path, status, json);
      this.metricsMissing = true;
    }
    let total = 0;
    for (const id of experimentIds) {
      const filter = maxTimestampMs === undefined ? undefined : `trace.timestamp_ms <= ${maxTimestampMs}`;
      total += (await collectTraces(this, id, { filter })).length;
    }
    return total;
  }

  async searchTraces(experimentId: string, query: SearchQuery): Promise<SearchPage> {
    const res = await this.ok<{ traces?: { trace_id: string; request_time: string }[]; next_page_token?: string }>(
      'POST',
      '/api/3.0/mlflow/traces/search',
      {
        locations: [{ type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } }],
        ...(query.filter ? { filter: query.filter } : {}),
        max_results: Math.min(MAX_SEARCH_RESULTS, query.maxResults ?? MAX_SEARCH_RESULTS),
        ...(query.orderBy ? { order_by: query.orderBy } : {}),
        ...(query.pageToken ? { page_token: query.pageToken } : {}),
      },
    );
    return {
      traces: (res.traces ?? []).map((t) => ({ id: t.trace_id, timestampMs: Date.parse(t.request_time) })),
      next: res.next_page_token || undefined,
    };
  }

  async deleteTraces(experimentId: string, request: DeleteRequest): Promise<number> {
    const body =
      'ids' in request
        ? { experiment_id: experimentId, request_ids: request.ids }
        : { experiment_id: experimentId, max_timestamp_millis: request.maxTimestampMs, max_traces: request.maxTraces };
    if ('maxTimestampMs' in request && !(request.maxTimestampMs > 0)) throw new Error('max_timestamp_millis must be positive');
    const res = await this.ok<{ traces_deleted?: number }>('POST', '/api/2.0/mlflow/traces/delete-traces', body);
    return Number(res.traces_deleted ?? 0);
  }

  async close(): Promise<void> {
    // stateless
  }
}

// ---------------------------------------------------------------- Python

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The worker, python/trace_worker.py: one JSON request per stdin line, one JSON answer per stdout
 * line. It ignores SIGINT (the terminal's Ctrl-C reaches the whole process
 * group): we stop between batches, never in the middle of one. It exits when
 * its stdin closes, after the request in hand.
 */
export class PythonBackend implements TraceBackend {
  readonly kind = 'python' as const;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderrTail = '';
  private exited = false;
  readonly version: Promise<string>;

  private constructor(
    private readonly child: PipedChild,
    readonly where: string,
    private readonly uri: string = where,
  ) {
    this.version = new Promise<string>((resolve, reject) =>
      this.pending.set(0, { resolve: (v) => resolve((v as { version: string }).version), reject }),
    );
    child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: { id: number; ok: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return; // a library printed to stdout
      }
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(this.error(msg.error ?? 'failed'));
    });
    const gone = (why: string): void => {
      this.exited = true;
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
      for (const [, waiter] of this.pending) waiter.reject(this.error(`${why}${tail ? `: ${tail}` : ''}`));
      this.pending.clear();
    };
    void child.ended.then(({ exitCode, signal, error }) =>
      gone(error !== undefined ? `could not run ${error}` : `the MLflow Python client exited (${signal ?? `exit ${exitCode}`})`),
    );
  }

  /**
   * Start the worker with `python` (the MLflow venv's) against `backendStoreUri`; waits until MLflow is loaded.
   * The URI goes in through the environment, its password-masked form on the command line (which every user can read).
   */
  static async start(python: string, backendStoreUri: string, env: NodeJS.ProcessEnv = process.env): Promise<PythonBackend> {
    const shown = maskBackendStoreUri(backendStoreUri);
    const child = await startPiped(python, [pythonScript('trace_worker'), shown], {
      env: {
        ...env,
        CLAUDE_MLFLOW_BACKEND_STORE_URI: backendStoreUri,
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
        PYTHONUNBUFFERED: '1',
        PYTHONIOENCODING: 'utf-8',
      },
      detached: true, // out of the terminal's process group: Ctrl-C is ours to handle
    });
    const backend = new PythonBackend(child, shown, backendStoreUri);
    try {
      await backend.version;
    } catch (error) {
      await backend.close();
      throw new CliError(
        `could not open ${shown} with MLflow's Python client (${python}): ${backend.scrub((error as Error).message)}`,
        EXIT.failure,
      );
    }
    return backend;
  }

  /** An error text without the backend store's password (SQLAlchemy errors may quote the URL). */
  scrub(message: string): string {
    const parsed = parsePostgresUri(this.uri);
    const password = parsed.ok ? parsed.store.password : undefined;
    let out = message.split(this.uri).join(this.where);
    if (password && password.length >= 4) out = out.split(password).join('***');
    return out;
  }

  private error(message: string): CliError {
    const text = this.scrub(message);
    if (LOCKED.test(text)) return lockedError(this.where, text);
    return new CliError(`MLflow's Python client failed on ${this.where}: ${text.slice(0, 400)}`, EXIT.failure);
  }

  private request<T>(op: string, args: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(this.error('the MLflow Python client is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  getExperiment(id: string): Promise<ExperimentRef | undefined> {
    return this.request<ExperimentRef | null>('get_experiment', { id }).then((e) => e ?? undefined);
  }

  getExperimentByName(name: string): Promise<ExperimentRef | undefined> {
    return this.request<ExperimentRef | null>('get_experiment_by_name', { name }).then((e) => e ?? undefined);
  }

  listExperiments(): Promise<ExperimentRef[]> {
    return this.request('list_experiments', {});
  }

  countTraces(experimentIds: string[], maxTimestampMs?: number): Promise<number> {
    if (experimentIds.length === 0) return Promise.resolve(0);
    return this.request('count', {
      experiment_ids: experimentIds,
      ...(maxTimestampMs === undefined ? {} : { max_timestamp_ms: maxTimestampMs }),
    });
  }

  async searchTraces(experimentId: string, query: SearchQuery): Promise<SearchPage> {
    const page = await this.request<{ traces: { id: string; timestamp_ms: number }[]; next?: string | null }>('search', {
      experiment_id: experimentId,
      filter: query.filter ?? null,
      max_results: Math.min(MAX_SEARCH_RESULTS, query.maxResults ?? MAX_SEARCH_RESULTS),
      order_by: query.orderBy ?? null,
      page_token: query.pageToken ?? null,
    });
    return { traces: page.traces.map((t) => ({ id: t.id, timestampMs: t.timestamp_ms })), next: page.next || undefined };
  }

  deleteTraces(experimentId: string, request: DeleteRequest): Promise<number> {
    if ('maxTimestampMs' in request && !(request.maxTimestampMs > 0)) throw new Error('max_timestamp_millis must be positive');
    return this.request(
      'delete',
      'ids' in request
        ? { experiment_id: experimentId, ids: request.ids }
        : { experiment_id: experimentId, max_timestamp_ms: request.maxTimestampMs, max_traces: request.maxTraces },
    );
  }

  /** Close stdin: the worker finishes the request in hand and exits. Killed after 30 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.child.ended;
    clearTimeout(timer);
  }
}
