/**
 * `cleanup --older-than 30d`: remove exactly the traces the user asked to
 * remove, show the plan first, and give the disk space back.
 *
 * runCleanup reads as its steps, each a function of one CleanupContext (context.ts):
 * 1. checkInput: the cut-off, --keep-last, --batch-size and the experiment
 *    flags, before anything is opened; refuseLockedDatabase: a database another
 *    writer holds is said before anything is read. openBackend (connect.ts).
 * 2. makePlan: counts per experiment from MLflow, the date range, an estimate
 *    of the space to free; our own old logs and spool files. showPlan
 *    (show-plan.ts) prints it; --dry-run stops there.
 * 3. confirmCleanup (confirm.ts), unless --yes. No terminal and no --yes:
 *    nothing is deleted.
 * 4. backUpDatabase (backups.ts): sqlite's online backup of the SQLite file
 *    (unless --no-backup).
 * 5. deleteTraces (delete-traces.ts): through MLflow, in batches; Ctrl-C (the
 *    AbortSignal) stops between two batches: a batch is one MLflow call, one
 *    transaction.
 * 6. tidyOwnFiles (tidy.ts): our logs and MLflow's old hook logs; offer the old
 *    spool files.
 * 7. giveSpaceBack (give-space-back.ts): VACUUM when the server can be paused
 *    (ours), or directly when it is down; otherwise say how. printBackupNote:
 *    where the backup is.
 */
import { existsSync } from 'node:fs';
import { pageStats, probeWritable, sizeBytes, type SqliteTool } from '../adapters/sqlite.js';
import { cutoffFrom } from '../core/duration.js';
import { CliError, EXIT } from '../errors.js';
import { lockedError, type TraceBackend } from '../services/trace-backend.js';
import { backUpDatabase, printBackupNote } from './backups.js';
import { confirmCleanup } from './confirm.js';
import { openBackend, resolveExperiments } from './connect.js';
import type { CleanupContext, CleanupInput, CleanupStep } from './context.js';
import { deleteTraces, FIRST_BATCH_SIZE } from './delete-traces.js';
import { MAX_BATCH_SIZE, positiveInt } from './flag-checks.js';
import { snapshotExperiment } from './gather.js';
import { giveSpaceBack } from './give-space-back.js';
import { planOwnFiles, type OwnFilesPlan } from './own-files.js';
import { buildPlan, type CleanupPlan, type ExperimentPlan } from './plan.js';
import { showPlan } from './show-plan.js';
import { experimentFromSettings, resolveTarget, type CleanupTarget } from './target.js';
import { tidyOwnFiles } from './tidy.js';

export interface CleanupOptions {
  olderThan?: string;
  before?: string;
  /** Names or ids; repeatable. */
  experiments?: string[];
  allExperiments?: boolean;
  keepLast?: string | number;
  dryRun?: boolean;
  yes?: boolean;
  /** false: --no-backup. */
  backup?: boolean;
  /** false: --no-vacuum. */
  vacuum?: boolean;
  json?: boolean;
  /** Traces per delete-traces call on the time path (ids go ≤ 100 per call). */
  batchSize?: string | number;
}

export type SpoolChoice = 'flush' | 'delete' | 'keep';

export interface CleanupDeps {
  dataRoot: string;
  project: string;
  home: string;
  env: NodeJS.ProcessEnv;
  print: (line: string) => void;
  /** Ask yes/no on a terminal; undefined when there is none. */
  confirm?: (message: string) => Promise<boolean>;
  /** What to do with spool files older than the cut-off; undefined when there is no terminal. */
  chooseSpool?: (message: string) => Promise<SpoolChoice>;
  /** listr2 renderer: 'default' on a terminal, 'simple' otherwise, 'silent' for --json and tests. */
  renderer?: 'default' | 'simple' | 'silent';
  /** Aborted by Ctrl-C: stop between batches. */
  signal?: AbortSignal;
  /** Told when a step must not be cut short (the server is paused for VACUUM). */
  onCritical?: (critical: boolean) => void;
  now?: number;
  /** Where to clean; default: from our config, the settings and the environment. */
  target?: CleanupTarget;
}

export type VacuumOutcome = 'done' | 'skipped' | 'not-needed' | 'manual' | 'failed';

export interface CleanupReport {
  dryRun: boolean;
  cutoff: string;
  cutoffMs: number;
  keepLast?: number;
  backend: 'server' | 'python';
  where: string;
  experiments: Array<{
    id: string;
    name: string;
    total: number;
    older: number;
    planned: number;
    deleted: number;
    keptByKeepLast: number;
    oldest?: string;
    newest?: string;
    estimatedBytes?: number;
  }>;
  planned: number;
  deleted: number;
  interrupted: boolean;
  estimatedBytes?: number;
  database?: string;
  bytesBefore?: number;
  bytesAfter?: number;
  vacuum: VacuumOutcome;
  vacuumHint?: string;
  serverPaused: boolean;
  backup?: string;
  prunedBackups: string[];
  logs: { removed: string[]; trimmed: string[] };
  spool: { older: number; rejectedOlder: number; action: SpoolChoice | 'none'; delivered?: number; removed?: number };
}

export interface CleanupResult {
  exitCode: number;
  report: CleanupReport;
}

/** After the plan, in this order; any step may end the run (see CleanupStep). */
const STEPS: CleanupStep[] = [showPlan, confirmCleanup, backUpDatabase, deleteTraces, tidyOwnFiles, giveSpaceBack, printBackupNote];

export async function runCleanup(options: CleanupOptions, deps: CleanupDeps): Promise<CleanupResult> {
  const input = checkInput(options, deps);
  await refuseLockedDatabase(input);
  const backend = await openBackend(input.target, deps.env);
  let ctx: CleanupContext | undefined;
  try {
    ctx = await makePlan(input, backend);
    for (const step of STEPS) {
      const exitCode = await step(ctx);
      if (exitCode !== undefined) return finish(ctx, exitCode);
    }
    return finish(ctx, EXIT.ok);
  } finally {
    // giveSpaceBack closes MLflow's Python client itself, before its VACUUM.
    if (!ctx || ctx.backendOpen) await backend.close();
  }
}

/** Step 1: the command line, checked before anything is opened, and where it points. */
function checkInput(options: CleanupOptions, deps: CleanupDeps): CleanupInput {
  const { cutoffMs, label } = cutoffFrom(options, deps.now ?? Date.now());
  const keepLast = positiveInt(options.keepLast, '--keep-last');
  const fixedBatch = positiveInt(options.batchSize, '--batch-size', MAX_BATCH_SIZE);
  if (options.allExperiments && options.experiments?.length) {
    throw new CliError('give either --experiment or --all-experiments, not both', EXIT.usage);
  }
  const settings = experimentFromSettings(deps.project, deps.home);
  const target =
    deps.target ?? resolveTarget(deps.dataRoot, deps.env, settings.trackingUri ? { MLFLOW_TRACKING_URI: settings.trackingUri } : {});
  const tool: SqliteTool | undefined = target.python ? { python: target.python, env: deps.env } : undefined;
  return {
    options,
    deps,
    print: options.json ? () => undefined : deps.print,
    cutoffMs,
    label,
    keepLast,
    fixedBatch,
    settings,
    target,
    tool,
    database: target.database && tool ? target.database : undefined,
    wantBackup: options.backup !== false,
  };
}

/** A database held by another writer: say so before reading anything (MLflow would wait 20 s on it). */
async function refuseLockedDatabase({ options, tool, database }: CleanupInput): Promise<void> {
  if (options.dryRun || !database || !existsSync(database)) return;
  const probe = await probeWritable(tool!, database, 3000);
  if (!probe.ok) {
    const error = lockedError(database, probe.error.replace(/^the database is locked by another writer \((.*)\)$/, '$1'));
    throw new CliError(`${error.message} Nothing was deleted.`, error.exitCode);
  }
}

/** Step 2: what each experiment holds and what the cut-off selects, our own old files, and the report to fill. */
async function makePlan(input: CleanupInput, backend: TraceBackend): Promise<CleanupContext> {
  const { deps, cutoffMs, keepLast, database } = input;
  const experiments = await resolveExperiments(backend, input.options, input.settings);
  const bytesPerTrace = await estimateBytesPerTrace(backend, input);
  const snapshots = [];
  for (const experiment of experiments) snapshots.push(await snapshotExperiment(backend, experiment, { cutoffMs, keepLast }));
  const plan = buildPlan(snapshots, { cutoffMs, keepLast, bytesPerTrace });
  const own = planOwnFiles({ dataRoot: deps.dataRoot, project: deps.project, cutoffMs });
  const bytesBefore = database ? sizeBytes(database) : undefined;
  return {
    ...input,
    backend,
    backendOpen: true,
    plan,
    own,
    spoolCount: own.spool.length + own.rejected.length,
    batchSize: input.fixedBatch ?? FIRST_BATCH_SIZE,
    report: newReport(input, backend, plan, own, bytesBefore),
    interrupted: () => Boolean(deps.signal?.aborted),
  };
}

/** The database's used bytes over all its traces (every experiment's), for the plan's estimates. */
async function estimateBytesPerTrace(backend: TraceBackend, { tool, database }: CleanupInput): Promise<number | undefined> {
  if (!database || !existsSync(database)) return undefined;
  const stats = await pageStats(tool!, database);
  const all = await backend.countTraces((await backend.listExperiments()).map((e) => e.id));
  return all > 0 ? stats.usedBytes / all : undefined;
}

/** The report as planned: nothing deleted yet. */
function newReport(
  input: CleanupInput,
  backend: TraceBackend,
  plan: CleanupPlan,
  own: OwnFilesPlan,
  bytesBefore: number | undefined,
): CleanupReport {
  const { cutoffMs, keepLast, database } = input;
  return {
    dryRun: Boolean(input.options.dryRun),
    cutoff: new Date(cutoffMs).toISOString(),
    cutoffMs,
    ...(keepLast === undefined ? {} : { keepLast }),
    backend: backend.kind,
    where: backend.where,
    experiments: plan.experiments.map((e: ExperimentPlan) => ({
      id: e.id,
      name: e.name,
      total: e.total,
      older: e.older,
      planned: e.toDelete,
      deleted: 0,
      keptByKeepLast: e.keptByKeepLast,
      ...(e.oldestMs === undefined ? {} : { oldest: new Date(e.oldestMs).toISOString() }),
      ...(e.newestMs === undefined ? {} : { newest: new Date(e.newestMs).toISOString() }),
      ...(e.estimatedBytes === undefined ? {} : { estimatedBytes: e.estimatedBytes }),
    })),
    planned: plan.toDelete,
    deleted: 0,
    interrupted: false,
    ...(plan.estimatedBytes === undefined ? {} : { estimatedBytes: plan.estimatedBytes }),
    ...(database ? { database, bytesBefore, bytesAfter: bytesBefore } : {}),
    vacuum: 'not-needed',
    serverPaused: false,
    prunedBackups: [],
    logs: { removed: [], trimmed: [] },
    spool: { older: own.spool.length, rejectedOlder: own.rejected.length, action: 'none' },
  };
}

/** The end of every run that did not throw: the report, printed as JSON with --json. */
function finish(ctx: CleanupContext, exitCode: number): CleanupResult {
  if (ctx.options.json) ctx.deps.print(JSON.stringify(ctx.report));
  return { exitCode, report: ctx.report };
}
