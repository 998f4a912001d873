/** Deliver traces to MLflow, and the spool of traces that could not be delivered. */
import type { TraceModel } from '../../core/trace-model.js';
import { cachedExperimentId, experimentCacheFileIn, rememberExperimentId } from '../../adapters/experiment-cache.js';
import { keepAliveAgents, type KeepAliveAgents } from '../../adapters/http.js';
import { MlflowClient } from '../../adapters/mlflow.js';
import { exportTrace } from '../../adapters/otlp.js';
import { uploadTraceData } from '../../adapters/trace-data-upload.js';
import { trackingConnection, TrackingConnectionError } from '../../adapters/tracking-connection.js';
import {
  listSpoolFiles,
  quarantineSpoolFile,
  readSpoolEntry,
  removeSpoolFile,
  removeStaleTempFiles,
  type SpoolTarget,
} from '../../adapters/spool.js';
import { existsSync } from 'node:fs';

/**
 * What a failed delivery means for the rest of the spool:
 * - `down`: no answer, a timeout, 5xx or 429; the server is not taking traces now, so stop.
 * - `refused`: 400, 413 or 422; this trace will never be accepted, so move it aside.
 * - `blocked`: any other 4xx (auth, a missing experiment), or a tracking URI we cannot sign in
 *   with (a Databricks profile that is gone); keep it for later, go on with the rest.
 */
export type DeliveryFailure = 'down' | 'refused' | 'blocked';

export function classifyFailure(error: unknown): DeliveryFailure {
  if (error instanceof TrackingConnectionError) return 'blocked';
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

async function experimentIdFor(
  client: MlflowClient,
  target: SpoolTarget,
  ctx: DeliveryContext,
  timeoutMs: number,
): Promise<{ id: string; cached: boolean }> {
  const experiment = target.experiment;
  if ('id' in experiment) return { id: experiment.id, cached: false };
  const cached = ctx.cacheFile ? cachedExperimentId(ctx.cacheFile, target.trackingUri, experiment.name) : undefined;
  if (cached) return { id: cached, cached: true };
  const id = await client.resolveExperiment(experiment, timeoutMs);
  if (ctx.cacheFile) rememberExperimentId(ctx.cacheFile, target.trackingUri, experiment.name, id);
  return { id, cached: false };
}

/** A remembered experiment id that the server no longer takes (deleted, or another server behind the URI). */
function staleCachedExperiment(error: unknown, cached: boolean): boolean {
  const status = (error as { status?: unknown; code?: unknown }).status ?? (error as { code?: unknown }).code;
  return cached && (status === 404 || status === 400);
}

/**
 * Send one trace so that MLflow never lists it without its spans: the spans
 * first over OTLP (one batch, which the server stores in one transaction
 * together with the trace row it creates), then StartTraceV3, which merges
 * the metadata into that row and marks it final. A cut between the two
 * leaves a complete, loadable trace that lacks only our metadata until the
 * re-send. Both are upserts keyed by the stable trace id, so sending again
 * creates no duplicate. A Databricks workspace takes the spans as the
 * trace's data file instead, put at the signed URL it gives for an existing
 * trace row. A remembered experiment id that the server refuses is
 * forgotten and resolved again.
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
  const send = async (experimentId: string): Promise<void> => {
    if (client.connection.databricks) {
      await client.startTrace(experimentId, trace, remaining());
      await uploadTraceData(client, trace, remaining);
      return;
    }
    await exportTrace(trace, {
      trackingUri: target.trackingUri,
      experimentId,
      timeoutMs: remaining(),
      headers: client.connection.headers,
      agent,
    });
    await client.startTrace(experimentId, trace, remaining());
  };
  const experiment = await experimentIdFor(client, target, ctx, remaining());
  try {
    await send(experiment.id);
  } catch (error) {
    if (!staleCachedExperiment(error, experiment.cached) || !ctx.cacheFile || 'id' in target.experiment) throw error;
    rememberExperimentId(ctx.cacheFile, target.trackingUri, target.experiment.name, undefined);
    await send((await experimentIdFor(client, target, ctx, remaining())).id);
  }
}

export interface FlushResult {
  delivered: number;
  /** Traces still in the spool. */
  remaining: number;
  unreadable: string[];
  /** Traces the server refused for good, moved aside to `spool/rejected/`. */
  rejected: string[];
  error?: string;
  /** Stopped because the server is not taking traces now (a retry later may pass). */
  down: boolean;
  /** The spool files this pass saw. */
  seen: string[];
}

export interface FlushLimits {
  /** Epoch ms by which the pass ends. */
  deadline: number;
  /** At most this long for any one trace (default: up to the deadline). */
  perTraceMs?: number;
}

/**
 * Deliver spooled traces oldest first, removing each only after the server
 * accepted it. Stops at the first failure that may pass (the server is still
 * down), so the order is kept; a trace the server refuses for good is moved
 * aside so that it cannot hold up the others. Reads one file at a time.
 */
export async function flushSpool(dir: string, limits: FlushLimits, env: NodeJS.ProcessEnv, shared?: DeliveryContext): Promise<FlushResult> {
  const ctx = shared ?? deliveryContext(dir);
  try {
    return await flushEntries(dir, limits, env, ctx);
  } finally {
    if (!shared) ctx.agents.destroy();
  }
}

async function flushEntries(dir: string, limits: FlushLimits, env: NodeJS.ProcessEnv, ctx: DeliveryContext): Promise<FlushResult> {
  removeStaleTempFiles(dir);
  const files = listSpoolFiles(dir);
  const result: FlushResult = { delivered: 0, remaining: 0, unreadable: [], rejected: [], down: false, seen: files };
  for (const [index, file] of files.entries()) {
    const entry = readSpoolEntry(file);
    if (!entry) {
      if (existsSync(file)) result.unreadable.push(file);
      continue;
    }
    const deadline = limits.perTraceMs === undefined ? limits.deadline : Math.min(limits.deadline, Date.now() + limits.perTraceMs);
    try {
      await deliverTrace(entry.record.trace, entry.record.target, deadline, env, ctx);
    } catch (error) {
      result.error = String((error as Error).message ?? error);
      const failure = classifyFailure(error);
      if (failure === 'down') {
        result.down = true;
        result.remaining += files.length - index;
        return result;
      }
      if (failure === 'refused') result.rejected.push(quarantineSpoolFile(entry.file));
      else result.remaining += 1;
      continue;
    }
    removeSpoolFile(entry.file);
    result.delivered += 1;
  }
  return result;
}
