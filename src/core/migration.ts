/**
 * `migrate --to postgresql://…`, the pure part: what the copy worker reports
 * (src/migrate/worker.ts), whether the target may be written, and the words
 * for the plan and the summary.
 */

import { createHash } from 'node:crypto';
import { withPsycopg2 } from './backend-store.js';
import { count } from './format.js';

export type TableCounts = Record<string, number>;

/**
 * What config.json keeps while a migrate is under way, from just before the
 * server stops until the switch: the target, as a digest (never its
 * password). A migrate that was killed leaves it, so that the next one to the
 * same target knows the data there is its own interrupted copy.
 */
export interface MigrationIntent {
  target: string;
  at: string;
}

/** The digest that names a target in a MigrationIntent: the same for `postgresql://` and `postgresql+psycopg2://`. */
export function intentDigest(uri: string): string {
  return createHash('sha256').update(withPsycopg2(uri)).digest('hex');
}

/**
 * What a migrate does with its target, given the intent an interrupted one
 * left:
 * - `copy`: the target is empty, or holds only MLflow's fresh schema;
 * - `switch-only`: an interrupted migrate to this target committed its copy
 *   (the target has at least every row the SQLite database has, and maybe
 *   traces delivered to it since): copying again could lose those, so only the
 *   switch is left to do;
 * - `copy-again`: an interrupted migrate's copy is there but not whole: it is
 *   replaced, in the same single transaction as any copy;
 * - `refuse`: someone else's data.
 */
export type TargetPlan = 'copy' | 'switch-only' | 'copy-again' | 'refuse';

export function planForTarget(inspect: InspectEvent, ownInterruptedCopy: boolean): TargetPlan {
  const { state, counts } = inspect.target;
  if (state === 'empty' || state === 'fresh' || state === 'unknown') return 'copy';
  if (state !== 'has-data' || !ownInterruptedCopy) return 'refuse';
  const whole = Object.entries(inspect.source.counts).every(([table, n]) => table === 'alembic_version' || (counts[table] ?? -1) >= n);
  return whole ? 'switch-only' : 'copy-again';
}

export interface InspectEvent {
  event: 'inspect';
  /** The installed MLflow's schema head. */
  head: string;
  source: { revision: string | null; counts: TableCounts; traces: Record<string, number> };
  target: {
    revision: string | null;
    /** empty: no tables; fresh: MLflow's schema as a new server leaves it; unknown: not inspected. */
    state: 'empty' | 'fresh' | 'has-data' | 'other-tables' | 'unknown';
    counts: Record<string, number | null>;
  };
}

export interface ProgressEvent {
  event: 'progress';
  table: string;
  rows: number;
  of: number;
}

export interface DoneEvent {
  event: 'done';
  copied: TableCounts;
  traces: Record<string, number>;
  seconds: number;
}

export interface ErrorEvent {
  event: 'error';
  kind: string;
  message: string;
}

export type MigrationEvent = InspectEvent | ProgressEvent | DoneEvent | ErrorEvent;

/** The tables a user thinks in, for the plan. */
export interface SourceSummary {
  traces: number;
  spans: number;
  experiments: number;
  runs: number;
  /** Every row of every MLflow table but the schema revision. */
  rows: number;
}

export function summarizeSource(counts: TableCounts): SourceSummary {
  const rows = Object.entries(counts)
    .filter(([table]) => table !== 'alembic_version')
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    traces: counts.trace_info ?? 0,
    spans: counts.spans ?? 0,
    experiments: counts.experiments ?? 0,
    runs: counts.runs ?? 0,
    rows,
  };
}

/** Why the target must not be written, or undefined when it may. */
export function targetRefusal(inspect: InspectEvent, where: string): string | undefined {
  const { target } = inspect;
  const busy = Object.entries(target.counts)
    .filter(([table, n]) => table !== 'alembic_version' && (n === null || n > 0))
    .map(([table, n]) => (n === null ? table : `${table} (${n})`));
  switch (target.state) {
    case 'empty':
    case 'fresh':
    case 'unknown':
      return undefined;
    case 'has-data':
      return `${where} already holds MLflow data (${busy.slice(0, 5).join(', ')}${busy.length > 5 ? ', …' : ''}): migrate copies into an empty database only, so that nothing of either is mixed or lost. Use a new database`;
    case 'other-tables':
      return `${where} already has tables that are not MLflow's (${busy.slice(0, 5).join(', ')}${busy.length > 5 ? ', …' : ''}): use a database of its own for MLflow`;
  }
}

/** Traces per experiment on the server after the switch, against the copy: experiments with fewer traces than were copied. */
export function missingOnServer(
  copied: Record<string, number>,
  onServer: Record<string, number>,
): Array<{ experimentId: string; copied: number; found: number }> {
  return Object.entries(copied)
    .filter(([id, n]) => (onServer[id] ?? 0) < n)
    .map(([experimentId, n]) => ({ experimentId, copied: n, found: onServer[experimentId] ?? 0 }));
}

/** `1,000 traces (5,000 spans) in 2 experiments, 1 run`: what is to be moved. */
export function describeSource(summary: SourceSummary): string {
  return `${count(summary.traces, 'trace')} (${count(summary.spans, 'span')}) in ${count(summary.experiments, 'experiment')}, ${count(summary.runs, 'run')}; ${count(summary.rows, 'row')} in all`;
}
