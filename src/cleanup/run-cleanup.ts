/**
 * `cleanup --older-than 30d`: remove exactly the traces the user asked to
 * remove, show the plan first, and give the disk space back.
 *
 * 1. Check the input (cut-off, --keep-last, experiments) before touching anything.
 * 2. Plan: counts per experiment from MLflow, the date range, an estimate of
 *    the space to free; our own old logs and spool files.
 * 3. Confirm (unless --yes). No terminal and no --yes: nothing is deleted.
 *    --dry-run stops after the plan.
 * 4. Back up the SQLite file with sqlite's online backup (unless --no-backup).
 * 5. Delete through MLflow, in batches; Ctrl-C (the AbortSignal) stops
 *    between two batches: a batch is one MLflow call, one transaction.
 * 6. Tidy our logs and MLflow's old hook logs; offer the old spool files.
 * 7. VACUUM when the server can be paused (ours), or directly when it is
 *    down; otherwise say how.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDatabricksUri } from '../core/databricks.js';
import { backup, pageStats, probeWritable, sizeBytes, vacuum, type SqliteTool } from '../adapters/sqlite.js';
import { paths } from '../config.js';
import { cutoffFrom } from '../core/duration.js';
import type { ListrTask } from 'listr2';
import { commandLine } from '../core/shell-quote.js';
import { CliError, EXIT } from '../errors.js';
import { lockedError, MAX_IDS_PER_DELETE, PythonBackend, RestBackend, type ExperimentRef, type TraceBackend } from './backend.js';
import { bytes, count, dateRange, localTime } from './format.js';
import { snapshotExperiment } from './gather.js';
import {
  applyLogActions,
  deleteFiles,
  ownFilesCount,
  planOwnFiles,
  rotateServerLog,
  type OwnFilesPlan,
} from './own-files.js';
import { buildPlan, idBatches, type CleanupPlan, type ExperimentPlan } from './plan.js';
import { experimentFromSettings, resolveTarget, type CleanupTarget, type SettingsExperiment } from './target.js';

/**
 * Time-path batches start at FIRST_BATCH_SIZE traces and adapt: doubled while
 * a batch takes under half a second, halved when one takes over two (each
 * MLflow call has a fixed cost, ~0.1 s on SQLite; Ctrl-C waits for one batch).
 * --batch-size fixes the size instead.
 */
export const FIRST_BATCH_SIZE = 1000;
export const MAX_BATCH_SIZE = 10_000;
const FAST_BATCH_MS = 500;
const SLOW_BATCH_MS = 2000;
export const BACKUPS_KEPT = 3;

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

function positiveInt(value: string | number | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new CliError(`${flag} needs a whole number from 1 to ${max.toLocaleString('en-US')}, got ${JSON.stringify(String(value))}`, EXIT.usage);
  }
  return Number(text);
}

async function openBackend(target: CleanupTarget, env: NodeJS.ProcessEnv): Promise<TraceBackend> {
  const uri = target.trackingUri;
  if (/^https?:\/\//.test(uri) || isDatabricksUri(uri)) {
    let rest: RestBackend;
    try {
      rest = new RestBackend(uri, env);
    } catch (error) {
      throw new CliError((error as Error).message, EXIT.usage);
    }
    if (await rest.reachable()) return rest;
    // down: try the backend store below
  }
  if (target.backendStoreUri && target.python) {
    if (target.database && !existsSync(target.database)) {
      throw new CliError(`there is no MLflow database at ${target.database}: nothing to clean up.`, EXIT.failure);
    }
    return PythonBackend.start(target.python, target.backendStoreUri, env);
  }
  throw new CliError(
    `the MLflow server at ${uri} does not answer, and there is no local database to open instead. ` +
      'Start the server (`claude-mlflow server start`) and try again.',
    EXIT.failure,
  );
}

async function resolveRef(backend: TraceBackend, ref: string): Promise<ExperimentRef | undefined> {
  if (/^\d+$/.test(ref)) {
    const byId = await backend.getExperiment(ref);
    if (byId) return byId;
  }
  return backend.getExperimentByName(ref);
}

async function resolveExperiments(backend: TraceBackend, options: CleanupOptions, settings: SettingsExperiment): Promise<ExperimentRef[]> {
  let found: ExperimentRef[];
  if (options.allExperiments) {
    found = await backend.listExperiments();
  } else if (options.experiments && options.experiments.length > 0) {
    found = [];
    for (const raw of options.experiments) {
      const ref = raw.trim();
      if (!ref) throw new CliError('--experiment needs a name or an id', EXIT.usage);
      const experiment = await resolveRef(backend, ref);
      if (!experiment) throw new CliError(`no experiment named or numbered "${ref}" on ${backend.where}; nothing was deleted.`, EXIT.usage);
      found.push(experiment);
    }
  } else {
    const wanted = settings.experiment;
    if (!wanted) {
      const skipped = settings.skipped.length ? ` (skipped: ${settings.skipped.join('; ')})` : '';
      throw new CliError(
        'no experiment to clean: the Claude Code settings of this project (.claude/settings.local.json, .claude/settings.json, ' +
          `~/.claude/settings.json) set neither env.MLFLOW_EXPERIMENT_NAME nor env.MLFLOW_EXPERIMENT_ID${skipped}. ` +
          'Pass --experiment NAME|ID or --all-experiments.',
        EXIT.usage,
      );
    }
    const experiment = 'id' in wanted ? await backend.getExperiment(wanted.id) : await backend.getExperimentByName(wanted.name);
    if (!experiment) {
      const what = 'id' in wanted ? `id ${wanted.id}` : `"${wanted.name}"`;
      throw new CliError(`the experiment ${what} named in ${settings.file} does not exist on ${backend.where}; nothing was deleted.`, EXIT.usage);
    }
    found = [experiment];
  }
  const seen = new Set<string>();
  return found.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}

function backupName(dir: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let file = join(dir, `mlflow-${stamp}.db`);
  for (let n = 1; existsSync(file); n++) file = join(dir, `mlflow-${stamp}-${n}.db`);
  return file;
}

/** Keep the newest `keep` backups (by modification time, then name); remove the rest. */
export function pruneBackups(dir: string, keep = BACKUPS_KEPT): string[] {
  let found: { file: string; mtimeMs: number }[] = [];
  try {
    found = readdirSync(dir)
      .filter((n) => /^mlflow-.*\.db$/.test(n))
      .map((n) => ({ file: join(dir, n), mtimeMs: statSync(join(dir, n)).mtimeMs }));
  } catch {
    return [];
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.file.localeCompare(b.file));
  const removed: string[] = [];
  for (const { file } of found.slice(0, Math.max(0, found.length - keep))) {
    rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

function vacuumHint(target: CleanupTarget): string {
  const python = target.python ?? 'python3';
  const code = `import sqlite3; sqlite3.connect(${JSON.stringify(target.database ?? 'mlflow.db')}, isolation_level=None).execute("VACUUM")`;
  const run = commandLine([python, '-c', code]);
  return target.server
    ? `stop the server (claude-mlflow server stop), run ${run}, and start it again (claude-mlflow server start)`
    : `stop the MLflow server that uses ${target.database}, run ${run}, and start it again`;
}

function printPlan(print: (line: string) => void, plan: CleanupPlan, own: OwnFilesPlan, ctx: { label: string; keepLast?: number; bytesBefore?: number; backup: boolean; database?: string }): void {
  print(`Cleanup plan: traces ${ctx.label} (started before ${localTime(plan.cutoffMs)})${ctx.keepLast ? `, keeping the newest ${ctx.keepLast} of each experiment` : ''}.`);
  for (const e of plan.experiments) {
    const label = `${e.name} (id ${e.id}${e.deleted ? ', deleted' : ''})`;
    if (e.toDelete === 0) {
      print(`  ${label}: nothing to delete (${count(e.total, 'trace')}${e.keptByKeepLast ? `; ${e.keptByKeepLast} older kept by --keep-last` : ''}).`);
      continue;
    }
    const size = e.estimatedBytes === undefined ? '' : `, ≈ ${bytes(e.estimatedBytes)}`;
    print(`  ${label}: delete ${count(e.toDelete, 'trace')} of ${e.total.toLocaleString('en-US')}, ${dateRange(e.oldestMs, e.newestMs)}${size}.`);
    if (e.keptByKeepLast) print(`    ${count(e.keptByKeepLast, 'older trace')} kept by --keep-last ${ctx.keepLast}.`);
  }
  const space = plan.estimatedBytes === undefined ? '' : `, ≈ ${bytes(plan.estimatedBytes)} to free`;
  const db = ctx.database ? ` (database ${bytes(ctx.bytesBefore)})` : '';
  print(`Total: ${count(plan.toDelete, 'trace')}${space}${db}.`);
  const logs = own.logs.length + own.mlflowHookLogs.length;
  if (logs > 0) {
    const freed = [...own.logs, ...own.mlflowHookLogs].reduce((s, a) => s + a.bytes, 0);
    print(`Old logs: ${count(logs, 'file')} to delete or trim (${bytes(freed)})${own.mlflowHookLogs.length ? `, including MLflow's hook log in ${own.mlflowHookLogs[0]!.file}` : ''}.`);
  }
  if (own.spool.length + own.rejected.length > 0) {
    const parts = [
      own.spool.length ? `${count(own.spool.length, 'trace')} waiting in the spool` : '',
      own.rejected.length ? `${count(own.rejected.length, 'refused trace')} in spool/rejected` : '',
    ].filter(Boolean);
    print(`Spool: ${parts.join(' and ')}, spooled before the cut-off.`);
  }
  if (plan.toDelete > 0 && ctx.database) {
    print(ctx.backup ? `Before deleting, the database is backed up into the data folder (--no-backup skips it).` : 'No backup (--no-backup).');
  } else if (plan.toDelete > 0) {
    print("The server's database is not a SQLite file on this machine: no backup and no VACUUM from here (use the database's own).");
  }
}

export async function runCleanup(options: CleanupOptions, deps: CleanupDeps): Promise<CleanupResult> {
  const now = deps.now ?? Date.now();
  const print = options.json ? () => undefined : deps.print;
  // 1. Input first: nothing is opened for a bad command line.
  const { cutoffMs, label } = cutoffFrom(options, now);
  const keepLast = positiveInt(options.keepLast, '--keep-last');
  const fixedBatch = positiveInt(options.batchSize, '--batch-size', MAX_BATCH_SIZE);
  let batchSize = fixedBatch ?? FIRST_BATCH_SIZE;
  if (options.allExperiments && options.experiments?.length) {
    throw new CliError('give either --experiment or --all-experiments, not both', EXIT.usage);
  }
  const settings = experimentFromSettings(deps.project, deps.home);
  const target = deps.target ?? resolveTarget(deps.dataRoot, deps.env, settings.trackingUri ? { MLFLOW_TRACKING_URI: settings.trackingUri } : {});
  const tool: SqliteTool | undefined = target.python ? { python: target.python, env: deps.env } : undefined;
  const database = target.database && tool ? target.database : undefined;
  const wantBackup = options.backup !== false;

  // A database held by another writer: say so before reading anything (MLflow would wait 20 s on it).
  if (!options.dryRun && database && existsSync(database)) {
    const probe = await probeWritable(tool!, database, 3000);
    if (!probe.ok) {
      const error = lockedError(database, probe.error.replace(/^the database is locked by another writer \((.*)\)$/, '$1'));
      throw new CliError(`${error.message} Nothing was deleted.`, error.exitCode);
    }
  }

  let backend: TraceBackend | undefined = await openBackend(target, deps.env);
  try {
    const experiments = await resolveExperiments(backend, options, settings);

    // 2. Plan.
    let bytesPerTrace: number | undefined;
    if (database && existsSync(database)) {
      const stats = await pageStats(tool!, database);
      const all = await backend.countTraces((await backend.listExperiments()).map((e) => e.id));
      if (all > 0) bytesPerTrace = stats.usedBytes / all;
    }
    const snapshots = [];
    for (const experiment of experiments) snapshots.push(await snapshotExperiment(backend, experiment, { cutoffMs, keepLast }));
    const plan = buildPlan(snapshots, { cutoffMs, keepLast, bytesPerTrace });
    const own = planOwnFiles({ dataRoot: deps.dataRoot, project: deps.project, cutoffMs });
    const bytesBefore = database ? sizeBytes(database) : undefined;

    const report: CleanupReport = {
      dryRun: Boolean(options.dryRun),
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
    const finish = (exitCode: number): CleanupResult => {
      if (options.json) deps.print(JSON.stringify(report));
      return { exitCode, report };
    };

    printPlan(print, plan, own, { label, keepLast, bytesBefore, backup: wantBackup, database });
    if (options.dryRun) {
      print('Dry run: nothing was changed.');
      return finish(EXIT.ok);
    }
    const spoolCount = own.spool.length + own.rejected.length;
    if (plan.toDelete === 0 && ownFilesCount(own) === 0 && spoolCount === 0) {
      print('Nothing to clean up.');
      return finish(EXIT.ok);
    }

    // 3. Confirm.
    if (!options.yes) {
      if (!deps.confirm) {
        throw new CliError(
          'there is no terminal to confirm on, so nothing was deleted. Re-run with --yes to go ahead, or with --dry-run to only see the plan.',
          EXIT.usage,
        );
      }
      const what = [
        plan.toDelete > 0 ? `delete ${count(plan.toDelete, 'trace')}` : '',
        ownFilesCount(own) > 0 ? `tidy ${count(ownFilesCount(own), 'old log file')}` : '',
      ].filter(Boolean);
      if (what.length > 0 && !(await deps.confirm(`${what.join(' and ')}?`.replace(/^./, (c) => c.toUpperCase())))) {
        throw new CliError('Cancelled; nothing was deleted.', EXIT.cancelled);
      }
    }
    const interrupted = (): boolean => Boolean(deps.signal?.aborted);
    if (interrupted()) {
      report.interrupted = true;
      print('Interrupted before anything was deleted.');
      return finish(EXIT.cancelled);
    }

    // 4. Backup, before the first deletion.
    if (plan.toDelete > 0 && database && wantBackup) {
      const dir = join(deps.dataRoot, 'backups');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const file = backupName(dir, Date.now());
      try {
        await backup(tool!, database, file);
      } catch (error) {
        rmSync(file, { force: true });
        throw new CliError(`the backup failed, so nothing was deleted: ${(error as Error).message}`, EXIT.failure);
      }
      report.backup = file;
      report.prunedBackups = pruneBackups(dir);
      print(`Backed up the database to ${file}.`);
      if (interrupted()) {
        report.interrupted = true;
        print('Interrupted before anything was deleted.');
        return finish(EXIT.cancelled);
      }
    }

    // 5. Delete, in batches.
    const active = backend;
    const byId = new Map(report.experiments.map((e) => [e.id, e]));
    const deleteExperiment = async (e: ExperimentPlan, progress: (text: string) => void): Promise<void> => {
      const row = byId.get(e.id)!;
      const step = async (request: Parameters<TraceBackend['deleteTraces']>[1]): Promise<number> => {
        const n = await active.deleteTraces(e.id, request);
        row.deleted += n;
        report.deleted += n;
        progress(`${row.deleted.toLocaleString('en-US')}/${e.toDelete.toLocaleString('en-US')} deleted`);
        return n;
      };
      if (e.byTime) {
        let left = e.byTime.count;
        while (left > 0) {
          if (interrupted()) return;
          const started = Date.now();
          const n = await step({ maxTimestampMs: e.byTime.maxTimestampMs, maxTraces: Math.min(batchSize, left) });
          left -= n;
          if (n === 0) break; // someone else deleted them meanwhile
          const ms = Date.now() - started;
          if (fixedBatch === undefined && ms < FAST_BATCH_MS) batchSize = Math.min(MAX_BATCH_SIZE, batchSize * 2);
          else if (fixedBatch === undefined && ms > SLOW_BATCH_MS) batchSize = Math.max(100, Math.floor(batchSize / 2));
        }
      }
      for (const ids of idBatches(e.byIds, Math.min(fixedBatch ?? MAX_IDS_PER_DELETE, MAX_IDS_PER_DELETE))) {
        if (interrupted()) return;
        await step({ ids });
      }
    };
    const work = plan.experiments.filter((e) => e.toDelete > 0);
    if (work.length > 0) {
      const { Listr } = await import('listr2');
      const list: ListrTask[] = work.map((e) => ({
        title: `${e.name}: delete ${count(e.toDelete, 'trace')}`,
        task: async (_ctx, task) => {
          await deleteExperiment(e, (text) => {
            task.output = text;
          });
          const row = byId.get(e.id)!;
          const cut = row.deleted < e.toDelete && interrupted() ? ' (interrupted)' : '';
          task.title = `${e.name}: deleted ${row.deleted.toLocaleString('en-US')} of ${count(e.toDelete, 'trace')}${cut}`;
        },
      }));
      const tasks = new Listr(list, {
        renderer: options.json ? 'silent' : (deps.renderer ?? 'silent'),
        exitOnError: true,
        registerSignalListeners: false,
      });
      try {
        await tasks.run();
      } catch (error) {
        const partial = report.deleted > 0 ? ` ${count(report.deleted, 'trace')} had been deleted before that; the rest is untouched.` : ' Nothing was deleted.';
        const code = error instanceof CliError ? error.exitCode : EXIT.failure;
        throw new CliError(`${(error as Error).message}${partial}`, code);
      }
    }
    if (interrupted()) {
      report.interrupted = true;
      print(
        `Interrupted: deleted ${count(report.deleted, 'trace')} of ${report.planned.toLocaleString('en-US')}; the other ` +
          `${(report.planned - report.deleted).toLocaleString('en-US')} are untouched. Run the same command again to finish.`,
      );
      if (database) report.bytesAfter = sizeBytes(database);
      return finish(EXIT.cancelled);
    }
    if (plan.toDelete > 0) {
      const parts = report.experiments.filter((e) => e.deleted > 0).map((e) => `${e.name} ${e.deleted.toLocaleString('en-US')}`);
      print(`Deleted ${count(report.deleted, 'trace')}${parts.length > 1 ? ` (${parts.join(', ')})` : ''}.`);
    }

    // 6. Our own files.
    report.logs = applyLogActions(own, cutoffMs);
    if (report.logs.removed.length + report.logs.trimmed.length > 0) {
      print(`Logs: removed ${count(report.logs.removed.length, 'old file')}${report.logs.trimmed.length ? `, trimmed ${report.logs.trimmed.length}` : ''}.`);
    }
    if (spoolCount > 0) {
      let choice: SpoolChoice = 'keep';
      if (!options.yes && deps.chooseSpool) {
        const question = `${count(spoolCount, 'spooled trace')} ${spoolCount === 1 ? 'was' : 'were'} spooled before the cut-off. Deliver the waiting ones now, delete them, or keep them?`;
        try {
          choice = await deps.chooseSpool(question);
        } catch {
          choice = 'keep'; // Ctrl-C at the question: the traces are already deleted; keep the spool
        }
      }
      report.spool.action = choice;
      if (choice === 'flush') {
        const { deliverSpoolNow } = await import('../services/delivery/flush-now.js');
        const result = await deliverSpoolNow(deps.dataRoot, Date.now() + 60_000, deps.env);
        report.spool.delivered = result.delivered;
        print(`Spool: delivered ${count(result.delivered, 'trace')}; ${result.remaining} still waiting.`);
      } else if (choice === 'delete') {
        report.spool.removed = deleteFiles([...own.spool, ...own.rejected]).length;
        print(`Spool: removed ${count(report.spool.removed, 'old spooled trace')}.`);
      } else {
        print(`Spool: kept ${count(spoolCount, 'trace')} spooled before the cut-off; \`claude-mlflow flush\` delivers the waiting ones.`);
      }
    }

    // 7. Give the space back.
    if (report.deleted > 0 && database) {
      if (options.vacuum === false) {
        report.vacuum = 'skipped';
        report.vacuumHint = vacuumHint(target);
      } else if (backend.kind === 'python') {
        await backend.close();
        backend = undefined;
        try {
          rotateServerLog(deps.dataRoot);
          await vacuum(tool!, database);
          report.vacuum = 'done';
        } catch (error) {
          report.vacuum = 'failed';
          report.vacuumHint = `${(error as Error).message}; later, ${vacuumHint(target)}`;
        }
      } else if (target.server && (await target.server.isRunning())) {
        deps.onCritical?.(true);
        const started = Date.now();
        try {
          const stopped = await target.server.stop();
          if (!stopped) {
            report.vacuum = 'manual';
            report.vacuumHint = vacuumHint(target);
          } else {
            report.serverPaused = true;
            try {
              rotateServerLog(deps.dataRoot);
              await vacuum(tool!, database);
              report.vacuum = 'done';
            } catch (error) {
              report.vacuum = 'failed';
              report.vacuumHint = `${(error as Error).message}; later, ${vacuumHint(target)}`;
            } finally {
              await target.server.start();
            }
            print(`Paused ${target.server.name} for ${((Date.now() - started) / 1000).toFixed(1)} s to VACUUM the database; it is running again.`);
          }
        } finally {
          deps.onCritical?.(false);
        }
      } else {
        report.vacuum = 'manual';
        report.vacuumHint = vacuumHint(target);
      }
      report.bytesAfter = sizeBytes(database);
      if (report.vacuum === 'done') {
        print(`Database: ${bytes(report.bytesBefore)} → ${bytes(report.bytesAfter)} (VACUUM).`);
      } else {
        print(`Database: ${bytes(report.bytesBefore)}; the freed pages are reused by new traces, but the file does not shrink until VACUUM.`);
        print(`To give the space back to the disk, ${report.vacuumHint}.`);
      }
    }
    if (report.backup) {
      print(`Backup: ${report.backup}${report.prunedBackups.length ? ` (older backups removed: ${report.prunedBackups.length}; the last ${BACKUPS_KEPT} are kept)` : ''}.`);
    }
    return finish(EXIT.ok);
  } finally {
    await backend?.close();
  }
}
