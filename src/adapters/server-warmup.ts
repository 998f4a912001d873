/**
 * Warming a freshly started MLflow server. Each uvicorn worker loads its
 * tracing code on its first trace request: on MLflow 3.17 the first requests
 * take 0.5–0.9 s each, per worker, which is how the first session after a
 * start or restart used to miss its time budget. So after /health answers we
 * send the trace path's requests, several at a time so that every worker
 * gets some, until a whole round is fast. Nothing is written: the requests
 * name an experiment that does not exist, so the server parses them, runs
 * its store code and answers 404.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TraceModel } from '../core/trace-model.js';
import { keepAliveAgents } from './http.js';
import { MlflowClient } from './mlflow.js';
import { exportTrace } from './otlp.js';
import { sleep } from './sleep.js';
import { trackingConnection } from './tracking-connection.js';

/** An experiment id no server has: large, but within a 32-bit column. */
export const WARMUP_EXPERIMENT_ID = '2147483000';

export interface WarmupOptions {
  /** Requests in flight at once (a few per worker). */
  concurrency?: number;
  /** A round whose slowest request took less than this means the workers are warm. */
  fastMs?: number;
  maxRounds?: number;
  timeoutMs?: number;
}

export interface WarmupResult {
  rounds: number;
  /** The slowest request of the first and the last round. */
  firstRoundMs: number;
  lastRoundMs: number;
  warm: boolean;
}

function probeTrace(): TraceModel {
  const now = Date.now();
  return {
    traceId: randomBytes(16).toString('hex'),
    startMs: now,
    endMs: now + 1,
    requestPreview: 'warm-up',
    responsePreview: 'warm-up',
    metadata: {},
    spans: [
      {
        spanId: randomBytes(8).toString('hex'),
        name: 'warm-up',
        spanType: 'AGENT',
        startMs: now,
        endMs: now + 1,
        status: 'OK',
        inputs: {},
        outputs: {},
        attributes: {},
      },
    ],
  };
}

/** One round: the slowest request's time, or Infinity when one got no HTTP answer (an HTTP refusal is what we expect). */
async function round(trackingUri: string, env: NodeJS.ProcessEnv, concurrency: number, timeoutMs: number): Promise<number> {
  const connection = trackingConnection(trackingUri, env);
  const agents = keepAliveAgents();
  const client = new MlflowClient({ trackingUri, env, connection, timeoutMs });
  const timed = async (request: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    const answered = await request().then(
      () => true,
      (error: { status?: unknown }) => typeof error?.status === 'number',
    );
    return answered ? performance.now() - started : Infinity;
  };
  try {
    const requests = Array.from({ length: concurrency }, (_, i) =>
      i % 2 === 0
        ? timed(() =>
            exportTrace(probeTrace(), {
              trackingUri,
              experimentId: WARMUP_EXPERIMENT_ID,
              timeoutMs,
              headers: connection.headers,
              agent: agents.forUrl(connection.baseUrl),
            }),
          )
        : timed(() => client.startTrace(WARMUP_EXPERIMENT_ID, probeTrace(), timeoutMs)),
    );
    return Math.max(...(await Promise.all(requests)));
  } finally {
    agents.destroy();
  }
}

export async function warmTracePath(trackingUri: string, env: NodeJS.ProcessEnv, options: WarmupOptions = {}): Promise<WarmupResult> {
  const { concurrency = 4, fastMs = 150, maxRounds = 8, timeoutMs = 10_000 } = options;
  const result: WarmupResult = { rounds: 0, firstRoundMs: 0, lastRoundMs: 0, warm: false };
  while (result.rounds < maxRounds) {
    const slowest = await round(trackingUri, env, concurrency, timeoutMs);
    result.rounds += 1;
    if (result.rounds === 1) result.firstRoundMs = slowest;
    if (slowest === Infinity) await sleep(250); // not answering yet
    result.lastRoundMs = slowest;
    if (slowest < fastMs) {
      result.warm = true;
      break;
    }
  }
  return result;
}
