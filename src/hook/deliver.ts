/** Deliver traces to MLflow, and the spool of traces that could not be delivered. */
import type { TraceModel } from '../core/trace-model.js';
import { authHeaders } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { exportTrace } from '../adapters/otlp.js';
import { readSpool, removeSpoolFile, type SpoolTarget } from '../adapters/spool.js';

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
  remaining: number;
  unreadable: string[];
  error?: string;
}

/**
 * Deliver spooled traces oldest first, removing each only after the server
 * accepted it. Stops at the first failure, so the order is kept.
 */
export async function flushSpool(dir: string, deadline: number, env: NodeJS.ProcessEnv): Promise<FlushResult> {
  const { entries, unreadable } = readSpool(dir);
  let delivered = 0;
  for (const [index, entry] of entries.entries()) {
    try {
      await deliverTrace(entry.record.trace, entry.record.target, deadline, env);
    } catch (error) {
      return { delivered, remaining: entries.length - index, unreadable, error: String((error as Error).message ?? error) };
    }
    removeSpoolFile(entry.file);
    delivered += 1;
  }
  return { delivered, remaining: 0, unreadable };
}
