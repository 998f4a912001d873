/**
 * What `cleanup` will delete, decided from what MLflow says about each
 * experiment (counts and a few trace summaries): pure, no I/O.
 *
 * A trace is selected when it started before the cut-off (MLflow's
 * `timestamp_ms < cutoffMs`) and is not one of the newest `keepLast` traces
 * of its experiment.
 *
 * How it is deleted, per experiment:
 * - `byTime`: `delete-traces` with `max_timestamp_millis` (inclusive), in
 *   batches of `max_traces` (MLflow deletes the oldest first), until `count`
 *   traces went. That is every selected trace, unless --keep-last binds.
 * - When --keep-last binds (the N-th newest trace is older than the cut-off),
 *   `byTime` stops just below the N-th newest trace's timestamp, and the
 *   traces that share that exact timestamp but are not among the N kept go
 *   by id (`byIds`, batches of ≤ 100 ids).
 */
import type { TraceSummary } from '../services/trace-backend.js';

export interface ExperimentSnapshot {
  id: string;
  name: string;
  deleted?: boolean;
  /** All traces of the experiment. */
  total: number;
  /** Traces that started before the cut-off: count, oldest and newest start. */
  older: { count: number; oldestMs?: number; newestMs?: number };
  /** With --keep-last, when total > keepLast: the newest keepLast traces, newest first. */
  newest?: TraceSummary[];
  /** When --keep-last binds: the traces strictly older than the boundary (see keepLastBoundary). */
  belowBoundary?: { count: number; newestMs?: number };
  /** When --keep-last binds: every trace at the boundary timestamp. */
  atBoundary?: TraceSummary[];
}

export interface PlanOptions {
  cutoffMs: number;
  keepLast?: number;
  /** Average bytes a trace takes in the database, for the estimate; undefined when unknown. */
  bytesPerTrace?: number;
}

export interface ExperimentPlan {
  id: string;
  name: string;
  deleted?: boolean;
  total: number;
  /** Traces older than the cut-off. */
  older: number;
  toDelete: number;
  /** Older than the cut-off, but kept by --keep-last. */
  keptByKeepLast: number;
  oldestMs?: number;
  newestMs?: number;
  byTime?: { maxTimestampMs: number; count: number };
  byIds: string[];
  estimatedBytes?: number;
}

export interface CleanupPlan {
  cutoffMs: number;
  keepLast?: number;
  experiments: ExperimentPlan[];
  toDelete: number;
  estimatedBytes?: number;
}

/**
 * The timestamp of the keepLast-th newest trace when --keep-last binds (that
 * trace is older than the cut-off, so some old traces must be kept);
 * undefined when it does not bind.
 */
export function keepLastBoundary(newest: TraceSummary[] | undefined, keepLast: number | undefined, cutoffMs: number): number | undefined {
  if (keepLast === undefined || !newest || newest.length < keepLast || keepLast === 0) return undefined;
  const nth = newest[keepLast - 1]!;
  return nth.timestampMs < cutoffMs ? nth.timestampMs : undefined;
}

export function planExperiment(snapshot: ExperimentSnapshot, options: PlanOptions): ExperimentPlan {
  const { cutoffMs, keepLast } = options;
  const base = {
    id: snapshot.id,
    name: snapshot.name,
    ...(snapshot.deleted ? { deleted: true } : {}),
    total: snapshot.total,
    older: snapshot.older.count,
    byIds: [] as string[],
  };
  const estimate = (n: number): number | undefined =>
    options.bytesPerTrace === undefined ? undefined : Math.round(n * options.bytesPerTrace);
  const nothing = (): ExperimentPlan => ({ ...base, toDelete: 0, keptByKeepLast: snapshot.older.count, estimatedBytes: estimate(0) });

  if (snapshot.older.count === 0) return nothing();
  // Everything fits in the traces to keep.
  if (keepLast !== undefined && snapshot.total <= keepLast) return nothing();
  if (keepLast !== undefined && (!snapshot.newest || snapshot.newest.length < keepLast)) return nothing();

  const boundary = keepLastBoundary(snapshot.newest, keepLast, cutoffMs);
  if (boundary === undefined) {
    const count = snapshot.older.count;
    return {
      ...base,
      toDelete: count,
      keptByKeepLast: 0,
      oldestMs: snapshot.older.oldestMs,
      newestMs: snapshot.older.newestMs,
      byTime: { maxTimestampMs: cutoffMs - 1, count },
      estimatedBytes: estimate(count),
    };
  }

  const kept = new Set(snapshot.newest!.slice(0, keepLast).map((t) => t.id));
  const ties = (snapshot.atBoundary ?? []).filter((t) => t.timestampMs === boundary && !kept.has(t.id)).map((t) => t.id);
  const below = snapshot.belowBoundary?.count ?? 0;
  const toDelete = below + ties.length;
  if (toDelete === 0) return nothing();
  return {
    ...base,
    toDelete,
    keptByKeepLast: snapshot.older.count - toDelete,
    oldestMs: snapshot.older.oldestMs,
    newestMs: ties.length > 0 ? boundary : snapshot.belowBoundary?.newestMs,
    ...(below > 0 ? { byTime: { maxTimestampMs: boundary - 1, count: below } } : {}),
    byIds: ties,
    estimatedBytes: estimate(toDelete),
  };
}

export function buildPlan(snapshots: ExperimentSnapshot[], options: PlanOptions): CleanupPlan {
  const experiments = snapshots.map((s) => planExperiment(s, options));
  const toDelete = experiments.reduce((sum, e) => sum + e.toDelete, 0);
  return {
    cutoffMs: options.cutoffMs,
    ...(options.keepLast === undefined ? {} : { keepLast: options.keepLast }),
    experiments,
    toDelete,
    estimatedBytes: options.bytesPerTrace === undefined ? undefined : Math.round(toDelete * options.bytesPerTrace),
  };
}

/**
 * The reference semantics, for tests: the ids a plan must delete, from the
 * full list of an experiment's traces ordered newest first (ties in the
 * order MLflow lists them).
 */
export function selectByRule(newestFirst: TraceSummary[], cutoffMs: number, keepLast?: number): string[] {
  const candidates = keepLast === undefined ? newestFirst : newestFirst.slice(keepLast);
  return candidates.filter((t) => t.timestampMs < cutoffMs).map((t) => t.id);
}

export function idBatches(ids: string[], size: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}
