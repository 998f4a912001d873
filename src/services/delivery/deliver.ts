/** Deliver traces to MLflow, and the spool of traces that could not be delivered. */
import type { TraceModel } from '../core/trace-model.js';
import { cachedExperimentId, experimentCacheFileIn, rememberExperimentId } from '../adapters/experiment-cache.js';
import { keepAliveAgents, type KeepAliveAgents } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { exportTrace } from '../adapters/otlp.js';
import { uploadTraceData } from '../adapters/trace-data-upload.js';
import { trackingConnection } from '../adapters/tracking-connection.js';
import { quarantineSpoolFile, readSpool, removeSpoolFile, removeStaleTempFiles, type SpoolTarget } from '../adapters/spool.js';

/**
 * What a failed delivery means for the rest of the spool:
 * - `down`: no answer, a timeout, 5xx or 429; the server is not taking traces now, so stop.
 * - `refused`: 400, 413 or 422; this trace will never be accepted, so move it aside.
 * - `blocked`: any other 4xx (auth, a missing experiment); keep it for later, go on with the rest.
 */
export type DeliveryFailure = 'down' | 'refused' | 'blocked';

export function classifyFailure(error: unknown): DeliveryFailure {
  const e = error as { status?: unknown; code?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.code === 'number' ? e.code : undefined;
  if (status === undefined || status >= 500 || status === 429 || status === 408) return 'down';
  if (status === 400 || status === 413 || status === 422) return 'refused';
  return 'blocked';
}

/**
 * What one process keeps between deliveries: a keep-alive connection per
 * server, and where experiment ids resolved by name are remembered (beside
 * the spool). Close it when done.
 */
export interface DeliveryContext {
  agents: KeepAliveAgents;
  cacheFile?: string;
}

export function deliveryContext(spoolDir?: string): DeliveryContext {
  return { agents: keepAliveAgents(), ...(spoolDir ? { cacheFile: experimentCacheFileIn(spoolDir) } : {}) };
}

async function experimentIdFor(client: MlflowClient, target: SpoolTarget, ctx: DeliveryContext, timeoutMs: number): Promise<{ id: string; cached: boolean }> {
  const experiment = target.experiment;
  if ('id' in experiment) return { id: experiment.id, cached: false };
  const cached = ctx.cacheFile ? cachedExperimentId(ctx.cacheFile, target.trackingUri, experiment.name) : undefined;
  if (cached) return { id: cached, cached: true };
  const id = await client.resolveExperiment(experiment, timeoutMs);
  if (ctx.cacheFile) rememberExperimentId(ctx.cacheFile, target.trackingUri, experiment.name, id);
  return { id, cached: false };
}

/**
 * Send one trace: the trace row first (StartTraceV3, which carries the
 * metadata and marks the trace final), then its spans over OTLP, on one
 * kept-alive connection. Both are upserts keyed by the stable trace id, so
 * sending again creates no duplicate. A Databricks workspace takes the spans
 * as the trace's data file instead, put at the signed URL it gives. A
 * remembered experiment id that the server no longer knows is forgotten and
 * resolved again.
 */
export async function deliverTrace(
  trace: TraceModel,
  target: SpoolTarget,
  deadline: number,
  env: NodeJS.ProcessEnv,
  ctx: DeliveryContext,
): Promise<void> {
  const remaining = (): number => {
    const left = deadline - Date.now();
    if (left < 50) throw new Error('out of time');
    return left;
  };
  const connection = trackingConnection(target.trackingUri, env);
  const agent = ctx.agents.forUrl(connection.baseUrl);
  const client = new MlflowClient({ trackingUri: target.trackingUri, env, agent, connection });
  let experiment = await experimentIdFor(client, target, ctx, remaining());
  try {
    await client.startTrace(experiment.id, trace, remaining());
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (!experiment.cached || !ctx.cacheFile || 'id' in target.experiment || (status !== 404 && status !== 400)) throw error;
    rememberExperimentId(ctx.cacheFile, target.trackingUri, target.experiment.name, undefined);
    experiment = await experimentIdFor(client, target, ctx, remaining());
    await client.startTrace(experiment.id, trace, remaining());
  }
  if (client.connection.databricks) {
    await uploadTraceData(client, trace, remaining);
    return;
  }
  await exportTrace(trace, {
    trackingUri: target.trackingUri,
    experimentId: experiment.id,
    timeoutMs: remaining(),
    headers: client.connection.headers,
    agent,
  });
}

export interface FlushResult {
  delivered: number;
  /** Traces still in the spool. */
  remaining: number;
  unreadable: string[];
  /** Traces the server refused for good, moved aside to `spool/rejected/`. */
  rejected: string[];
  error?: string;
}

/**
 * Deliver spooled traces oldest first, removing each only after the server
 * accepted it. Stops at the first failure that may pass (the server is still
 * down), so the order is kept; a trace the server refuses for good is moved
 * aside so that it cannot hold up the others.
 */
export async function flushSpool(dir: string, deadline: number, env: NodeJS.ProcessEnv, shared?: DeliveryContext): Promise<FlushResult> {
  const ctx = shared ?? deliveryContext(dir);
  try {
    return await flushEntries(dir, deadline, env, ctx);
  } finally {
    if (!shared) ctx.agents.destroy();
  }
}

async function flushEntries(dir: string, deadline: number, env: NodeJS.ProcessEnv, ctx: DeliveryContext): Promise<FlushResult> {
  removeStaleTempFiles(dir);
  const { entries, unreadable } = readSpool(dir);
  let delivered = 0;
  let kept = 0;
  let lastError: string | undefined;
  const rejected: string[] = [];
  for (const [index, entry] of entries.entries()) {
    try {
      await deliverTrace(entry.record.trace, entry.record.target, deadline, env, ctx);
    } catch (error) {
      lastError = String((error as Error).message ?? error);
      const failure = classifyFailure(error);
      if (failure === 'down') {
        return { delivered, remaining: kept + entries.length - index, unreadable, rejected, error: lastError };
      }
      if (failure === 'refused') rejected.push(quarantineSpoolFile(entry.file));
      else kept += 1;
      continue;
    }
    removeSpoolFile(entry.file);
    delivered += 1;
  }
  return { delivered, remaining: kept, unreadable, rejected, ...(lastError ? { error: lastError } : {}) };
}
