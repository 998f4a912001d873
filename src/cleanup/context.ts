/**
 * What the steps of one cleanup share (see run-cleanup.ts for the steps):
 * the checked command line, where it points, the plan, and the report the
 * steps fill in as they go.
 */
import type { SqliteTool } from '../adapters/sqlite.js';
import { EXIT } from '../errors.js';
import type { TraceBackend } from '../services/trace-backend.js';
import type { OwnFilesPlan } from './own-files.js';
import type { CleanupPlan } from './plan.js';
import type { CleanupDeps, CleanupOptions, CleanupReport } from './run-cleanup.js';
import type { CleanupTarget, SettingsExperiment } from './target.js';

/** The command line, checked, and where it points: nothing is opened yet. */
export interface CleanupInput {
  options: CleanupOptions;
  deps: CleanupDeps;
  /** deps.print; silent with --json, which prints the report at the end instead. */
  print: (line: string) => void;
  cutoffMs: number;
  /** The cut-off as the plan says it: "older than 30 days", "from before 2025-01-01". */
  label: string;
  keepLast?: number;
  /** --batch-size; undefined: the time-path batches adapt. */
  fixedBatch?: number;
  settings: SettingsExperiment;
  target: CleanupTarget;
  /** How the SQLite work (backup, VACUUM) runs: with the target's Python. */
  tool?: SqliteTool;
  /** The SQLite file to back up and VACUUM, when there is one and a Python to work on it. */
  database?: string;
  /** false: --no-backup. */
  wantBackup: boolean;
}

/** Everything the steps after the plan need. */
export interface CleanupContext extends CleanupInput {
  backend: TraceBackend;
  /** false once the VACUUM step has closed the backend to free the database. */
  backendOpen: boolean;
  plan: CleanupPlan;
  own: OwnFilesPlan;
  /** Spool files, waiting and refused, from before the cut-off. */
  spoolCount: number;
  /** Traces in the next time-path batch: adapts, unless fixedBatch. */
  batchSize: number;
  report: CleanupReport;
  /** Ctrl-C was pressed (deps.signal): stop between two batches. */
  interrupted: () => boolean;
}

/** One step of a cleanup: an exit code ends the run there, with the report as it stands; undefined goes on. */
export type CleanupStep = (ctx: CleanupContext) => Promise<number | undefined>;

/** Ctrl-C before the first deletion. */
export function stopBeforeDeleting(ctx: CleanupContext): number {
  ctx.report.interrupted = true;
  ctx.print('Interrupted before anything was deleted.');
  return EXIT.cancelled;
}
