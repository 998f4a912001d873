/** MLflow tracking server REST client: health, experiments, traces. */
import type { TraceModel } from '../core/trace-model.js';
import { mlflowTraceId } from '../core/trace-model.js';
import type { Agent as HttpAgent } from 'node:http';
import { HttpError, httpRequestText } from './http.js';
import type { CredentialInfo } from '../core/signed-upload.js';
import { DATABRICKS_ME_PATH, trackingConnection, type TrackingConnection } from './tracking-connection.js';

export interface MlflowClientOptions {
  trackingUri: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Reuse connections (see keepAliveAgents in http.ts). */
  agent?: HttpAgent;
  /** Already resolved from trackingUri (saves reading ~/.databrickscfg again). */
  connection?: TrackingConnection;
}

/**
 * Also a Databricks workspace's MLflow API, for a `databricks` URI (see
 * tracking-connection.ts); the constructor throws TrackingConnectionError
 * when that URI has no host and token.
 */
export class MlflowClient {
  readonly baseUrl: string;
  readonly connection: TrackingConnection;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly agent?: HttpAgent;

  constructor(options: MlflowClientOptions) {
    this.connection = options.connection ?? trackingConnection(options.trackingUri, options.env ?? process.env);
    this.baseUrl = this.connection.baseUrl;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.headers = this.connection.headers;
    this.agent = options.agent;
  }

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const res = await httpRequestText(`${this.baseUrl}${path}`, {
      method,
      timeoutMs,
      agent: this.agent,
      headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status < 200 || res.status >= 300) {
      throw new HttpError(`${method} ${path} → HTTP ${res.status}: ${res.body.slice(0, 300)}`, res.status);
    }
    return (res.body ? JSON.parse(res.body) : {}) as T;
  }

  async health(timeoutMs = this.timeoutMs): Promise<boolean> {
    try {
      const res = await httpRequestText(`${this.baseUrl}${this.connection.healthPath}`, { timeoutMs, headers: this.headers });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * An authenticated call, to tell whether this server takes our credentials:
   * MLflow's basic-auth app (and most proxies) serve `/health` to anyone, so
   * only a real API call shows a wrong password. Searches one experiment,
   * then looks up `experimentName` (when given) for a 403 on that experiment.
   * 401/403 come back as a result; any other failure throws.
   */
  async checkAccess(
    experimentName?: string,
    timeoutMs?: number,
  ): Promise<{ ok: true } | { ok: false; status: 401 | 403; on: 'server' | 'experiment' }> {
    const denied = (error: unknown): 401 | 403 | undefined =>
      error instanceof HttpError && (error.status === 401 || error.status === 403) ? error.status : undefined;
    try {
      await this.call('POST', '/api/2.0/mlflow/experiments/search', { max_results: 1 }, timeoutMs);
    } catch (error) {
      const status = denied(error);
      if (status) return { ok: false, status, on: 'server' };
      throw error;
    }
    if (experimentName !== undefined) {
      try {
        await this.getExperimentIdByName(experimentName, timeoutMs);
      } catch (error) {
        const status = denied(error);
        if (status) return { ok: false, status, on: 'experiment' };
        throw error;
      }
    }
    return { ok: true };
  }

  async version(): Promise<string> {
    const res = await httpRequestText(`${this.baseUrl}/version`, { timeoutMs: this.timeoutMs, headers: this.headers });
    return res.body.trim();
  }

  async getExperimentIdByName(name: string, timeoutMs?: number): Promise<string | undefined> {
    try {
      const res = await this.call<{ experiment: { experiment_id: string } }>(
        'GET',
        `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
        undefined,
        timeoutMs,
      );
      return res.experiment.experiment_id;
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  async createExperiment(name: string, timeoutMs?: number): Promise<string> {
    const res = await this.call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name }, timeoutMs);
    return res.experiment_id;
  }

  /** The experiment with this name, created when it is missing (also when another process races us to it). */
  async ensureExperiment(name: string, timeoutMs?: number): Promise<{ id: string; created: boolean }> {
    const found = await this.getExperimentIdByName(name, timeoutMs);
    if (found) return { id: found, created: false };
    try {
      return { id: await this.createExperiment(name, timeoutMs), created: true };
    } catch (error) {
      const again = await this.getExperimentIdByName(name, timeoutMs);
      if (again) return { id: again, created: false };
      throw error;
    }
  }

  /** The experiment id for an id or a name, creating a named experiment when it is missing. */
  async resolveExperiment(experiment: { id: string } | { name: string }, timeoutMs?: number): Promise<string> {
    if ('id' in experiment) return experiment.id;
    return (await this.ensureExperiment(experiment.name, timeoutMs)).id;
  }

  /**
   * StartTraceV3: writes the trace row with its metadata and previews. It is
   * an upsert, and it marks the trace as final, so a re-send of the spans
   * does not add the token usage twice.
   */
  async startTrace(experimentId: string, trace: TraceModel, timeoutMs?: number): Promise<void> {
    const root = trace.spans[0];
    await this.call(
      'POST',
      '/api/3.0/mlflow/traces',
      {
        trace: {
          trace_info: {
            trace_id: mlflowTraceId(trace.traceId),
            trace_location: { type: 'MLFLOW_EXPERIMENT', mlflow_experiment: { experiment_id: experimentId } },
            request_preview: trace.requestPreview,
            response_preview: trace.responsePreview,
            request_time: new Date(trace.startMs).toISOString(),
            execution_duration: `${Math.max(0, trace.endMs - trace.startMs) / 1000}s`,
            state: root?.status === 'ERROR' ? 'ERROR' : 'OK',
            trace_metadata: { 'mlflow.trace_schema.version': '3', ...trace.metadata },
            tags: { 'mlflow.traceName': root?.name ?? 'claude_code_conversation' },
          },
        },
      },
      timeoutMs,
    );
  }

  /** The trace info, or undefined when the server does not have the trace. */
  async getTraceInfo(traceId: string, timeoutMs?: number): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await this.call<{ trace: { trace_info: Record<string, unknown> } }>(
        'GET',
        `/api/3.0/mlflow/traces/${encodeURIComponent(traceId)}`,
        undefined,
        timeoutMs,
      );
      return res.trace?.trace_info;
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** A Databricks workspace's signed-in user name (an e-mail address), for the user's experiment folder. */
  async currentUserName(timeoutMs?: number): Promise<string> {
    const me = await this.call<{ userName?: string }>('GET', DATABRICKS_ME_PATH, undefined, timeoutMs);
    if (!me.userName) throw new HttpError(`GET ${DATABRICKS_ME_PATH} gave no userName`);
    return me.userName;
  }

  /** Where to put a trace's data (Databricks: a signed cloud-storage URL; see signed-upload.ts). */
  async traceUploadCredential(traceId: string, timeoutMs?: number): Promise<CredentialInfo> {
    const res = await this.call<{ credential_info?: CredentialInfo }>(
      'GET',
      `/api/2.0/mlflow/traces/${encodeURIComponent(traceId)}/credentials-for-data-upload`,
      undefined,
      timeoutMs,
    );
    return res.credential_info ?? {};
  }
}
