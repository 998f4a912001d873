/** Ask MLflow (through a TraceBackend) what the plan needs to know about each experiment. */
import { collectTraces, type TraceBackend } from '../services/trace-backend.js';
import { keepLastBoundary, type ExperimentSnapshot } from './plan.js';
import type { ExperimentRef } from '../services/trace-backend.js';

async function edge(backend: TraceBackend, experimentId: string, below: number, order: 'ASC' | 'DESC'): Promise<number | undefined> {
  const page = await backend.searchTraces(experimentId, {
    filter: `trace.timestamp_ms < ${below}`,
    orderBy: [`timestamp_ms ${order}`],
    maxResults: 1,
  });
  return page.traces[0]?.timestampMs;
}

/**
 * Counts come from MLflow's trace metrics (no listing of every trace); only
 * the oldest and newest selected trace, and with --keep-last the newest N, are
 * listed.
 */
export async function snapshotExperiment(
  backend: TraceBackend,
  experiment: ExperimentRef,
  options: { cutoffMs: number; keepLast?: number },
): Promise<ExperimentSnapshot> {
  const { cutoffMs, keepLast } = options;
  const snapshot: ExperimentSnapshot = {
    id: experiment.id,
    name: experiment.name,
    ...(experiment.deleted ? { deleted: true } : {}),
    total: await backend.countTraces([experiment.id]),
    older: { count: await backend.countTraces([experiment.id], cutoffMs - 1) },
  };
  if (snapshot.older.count === 0) return snapshot;
  snapshot.older.oldestMs = await edge(backend, experiment.id, cutoffMs, 'ASC');
  snapshot.older.newestMs = await edge(backend, experiment.id, cutoffMs, 'DESC');
  if (keepLast === undefined || snapshot.total <= keepLast) return snapshot;

  snapshot.newest = keepLast === 0 ? [] : await collectTraces(backend, experiment.id, { orderBy: ['timestamp_ms DESC'] }, keepLast);
  const boundary = keepLastBoundary(snapshot.newest, keepLast, cutoffMs);
  if (boundary === undefined) return snapshot;
  const belowCount = await backend.countTraces([experiment.id], boundary - 1);
  snapshot.belowBoundary = {
    count: belowCount,
    newestMs: belowCount > 0 ? await edge(backend, experiment.id, boundary, 'DESC') : undefined,
  };
  snapshot.atBoundary = await collectTraces(backend, experiment.id, { filter: `trace.timestamp_ms = ${boundary}` });
  return snapshot;
}
