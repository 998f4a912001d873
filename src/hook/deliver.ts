/** Deliver traces to MLflow, and the spool of traces that could not be delivered. */
import type { TraceModel } from '../core/trace-model.js';
import { authHeaders } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { exportTrace } from '../adapters/otlp.js';
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
 * Send one trace: the trace row first (StartTraceV3, which carries the
 * metadata and marks the trace final), then its spans over OTLP. Both are
 * upserts keyed by the stable trace id, so sending again creates no duplicate.
 */
export async function deliverTrace(
  trace: TraceModel,
  target: SpoolTarget,
  deadline: number,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const remaining = (): number => {
    const left = deadline - Date.now();
    if (left < 50) throw new Error('out of time');
    return left;
  };
  const client = new MlflowClient({ trackingUri: target.trackingUri, env });
  const experimentId = await client.resolveExperiment(target.experiment, remaining());
  await client.startTrace(experimentId, trace, remaining());
  await exportTrace(trace, {
    trackingUri: target.trackingUri,
    experimentId,
    timeoutMs: remaining(),
    headers: authHeaders(env),
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
export async function flushSpool(dir: string, deadline: number, env: NodeJS.ProcessEnv): Promise<FlushResult> {
  removeStaleTempFiles(dir);
  const { entries, unreadable } = readSpool(dir);
  let delivered = 0;
  let kept = 0;
  let lastError: string | undefined;
  const rejected: string[] = [];
  for (const [index, entry] of entries.entries()) {
    try {
      await deliverTrace(entry.record.trace, entry.record.target, deadline, env);
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
