/**
 * `cleanup --schedule daily|weekly|monthly --older-than 30d` and
 * `cleanup --unschedule`: a recurring, non-interactive `cleanup --yes` run by
 * the service manager the server uses (recorded in config.json, else the one
 * this machine has), recorded in config.json as `cleanupSchedule`.
 *
 * The input is checked before anything is written; `--dry-run` prints the
 * files and the commands instead. Scheduling the same job again changes
 * nothing; other options replace the job.
 *
 * This is the use case: the checks, the messages and config.json. Writing
 * and registering the job with each OS service manager is the adapter's
 * (src/adapters/service/schedule-managers.ts, schedule-render.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, updateConfig, type CleanupScheduleRecord } from '../adapters/config-store.js';
import { defaultContext } from '../adapters/service/common.js';
import { chooseManager } from '../adapters/service/detect.js';
import {
  createScheduleManager,
  filesMatch,
  prepareJobLog,
  removeStaleFiles,
  type PlannedFile,
  type ScheduleManager,
} from '../adapters/service/schedule-managers.js';
import { CLEANUP_LABEL, crontabLine, isScheduleEvery, type CleanupJob, type ScheduleEvery } from '../adapters/service/schedule-render.js';
import type { ManagerContext, ManagerName } from '../adapters/service/types.js';
import { DATA_DIR_ENV, paths } from '../config.js';
import { parseDuration } from '../core/duration.js';
import { commandLine } from '../core/shell-quote.js';
import { CliError, EXIT } from '../errors.js';
import { MAX_BATCH_SIZE, positiveInt } from './flag-checks.js';

export interface CleanupScheduleOptions {
  schedule?: string;
  unschedule?: boolean;
  olderThan?: string;
  before?: string;
  experiment?: string[];
  allExperiments?: boolean;
  keepLast?: string;
  batchSize?: string;
  /** commander's --no-backup. */
  backup?: boolean;
  /** commander's --no-vacuum. */
  vacuum?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export interface CleanupScheduleDeps {
  dataRoot: string;
  /** Absolute: the project whose settings name the experiment (and the tracking URI). */
  project: string;
  home: string;
  env: NodeJS.ProcessEnv;
  print: (line: string) => void;
  platform?: NodeJS.Platform;
  ctx?: ManagerContext;
  /** Default: this node (process.execPath). */
  node?: string;
  /** Default: the cli.js of this installed package. */
  cliScript?: string;
}

/** The built CLI: dist/cli.js, from this module's dist/cleanup/. */
export function installedCliScript(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');
}

/**
 * The `cleanup` arguments the job runs with (after `cleanup`), from checked
 * options: --older-than, --yes, the experiments, the project, and the
 * options that change how it cleans. Bad input: CliError, exit 2.
 */
export function scheduledCleanupArgs(options: CleanupScheduleOptions, project: string): string[] {
  if (options.before !== undefined) {
    throw new CliError('--schedule needs --older-than: a fixed --before date would select the same traces every time', EXIT.usage);
  }
  if (options.olderThan === undefined)
    throw new CliError('--schedule needs --older-than (12h, 30d or 2w): the age of the traces each run removes', EXIT.usage);
  parseDuration(options.olderThan, '--older-than');
  const experiments = (options.experiment ?? []).map((e) => e.trim());
  if (experiments.some((e) => e === '')) throw new CliError('--experiment needs a name or an id', EXIT.usage);
  if (options.allExperiments && experiments.length)
    throw new CliError('give either --experiment or --all-experiments, not both', EXIT.usage);
  const keepLast = positiveInt(options.keepLast, '--keep-last');
  const batchSize = positiveInt(options.batchSize, '--batch-size', MAX_BATCH_SIZE);
  return [
    '--older-than',
    options.olderThan.trim(),
    '--yes',
    ...(options.allExperiments ? ['--all-experiments'] : experiments.flatMap((e) => ['--experiment', e])),
    ...(keepLast !== undefined ? ['--keep-last', String(keepLast)] : []),
    ...(batchSize !== undefined ? ['--batch-size', String(batchSize)] : []),
    ...(options.backup === false ? ['--no-backup'] : []),
    ...(options.vacuum === false ? ['--no-vacuum'] : []),
    '--project',
    project,
  ];
}

function checkCombination(options: CleanupScheduleOptions): void {
  if (options.json) throw new CliError('--json is for a cleanup run, not for --schedule or --unschedule', EXIT.usage);
  if (options.unschedule && options.schedule !== undefined)
    throw new CliError('give either --schedule or --unschedule, not both', EXIT.usage);
  if (options.unschedule) {
    const given = [
      options.olderThan !== undefined && '--older-than',
      options.before !== undefined && '--before',
      options.experiment?.length && '--experiment',
      options.allExperiments && '--all-experiments',
      options.keepLast !== undefined && '--keep-last',
      options.batchSize !== undefined && '--batch-size',
      options.backup === false && '--no-backup',
      options.vacuum === false && '--no-vacuum',
    ].filter(Boolean);
    if (given.length)
      throw new CliError(`--unschedule removes the scheduled job and takes no cleanup options (got ${given.join(', ')})`, EXIT.usage);
  }
}

/** The default scope is the experiment the project's settings name: without one, every run would fail. */
async function checkProjectExperiment(options: CleanupScheduleOptions, deps: CleanupScheduleDeps): Promise<void> {
  if (options.allExperiments || options.experiment?.length) return;
  const { experimentFromSettings } = await import('./target.js');
  if (experimentFromSettings(deps.project, deps.home).experiment) return;
  throw new CliError(
    `no experiment to clean: the Claude Code settings of ${deps.project} set neither env.MLFLOW_EXPERIMENT_NAME nor env.MLFLOW_EXPERIMENT_ID. ` +
      'Pass --experiment NAME|ID or --all-experiments, or --project DIR. Nothing was scheduled.',
    EXIT.usage,
  );
}

/** The server's manager when init recorded one; else the one this machine has. */
async function pickManager(deps: CleanupScheduleDeps, ctx: ManagerContext): Promise<{ manager: ManagerName | 'background'; why: string }> {
  const recorded = loadConfig(paths(deps.dataRoot).config).server?.manager;
  if (recorded === 'background')
    return { manager: 'background', why: 'the local server runs as a background process, not under an OS service manager' };
  if (recorded) return { manager: recorded, why: '' };
  const found = await chooseManager(ctx, deps.platform ?? process.platform);
  return { manager: found, why: 'neither a systemd --user manager nor a launchd GUI session answers here' };
}

function noManagerError(job: CleanupJob, why: string, platform: NodeJS.Platform): CliError {
  const how =
    platform === 'win32'
      ? `Run this ${job.every} with Task Scheduler yourself:\n  ${commandLine([job.node, ...job.args], 'win32')}`
      : `Add this line to your crontab (\`crontab -e\`) instead:\n${crontabLine(job)}`;
  return new CliError(`cannot schedule the cleanup: ${why}. Nothing was scheduled.\n${how}`, EXIT.failure);
}

const sameRecord = (a: CleanupScheduleRecord | undefined, b: CleanupScheduleRecord): boolean =>
  a !== undefined && JSON.stringify([a.manager, a.every, a.command, a.files]) === JSON.stringify([b.manager, b.every, b.command, b.files]);

const MANAGER_NAMES: Record<ManagerName, string> = {
  systemd: 'a systemd --user timer',
  launchd: 'a launchd agent',
  schtasks: 'a Task Scheduler task',
};

/** The job to schedule, from checked input: this node runs this CLI's `cleanup` in the data folder. */
async function cleanupJob(every: ScheduleEvery, options: CleanupScheduleOptions, deps: CleanupScheduleDeps): Promise<CleanupJob> {
  const args = scheduledCleanupArgs(options, deps.project);
  await checkProjectExperiment(options, deps);
  const cliScript = deps.cliScript ?? installedCliScript();
  if (!existsSync(cliScript))
    throw new CliError(`cannot find the CLI to schedule (${cliScript}): build or reinstall claude-mlflow`, EXIT.failure);
  const dataRoot = resolve(deps.dataRoot);
  return {
    label: CLEANUP_LABEL,
    every,
    node: deps.node ?? process.execPath,
    args: [cliScript, 'cleanup', ...args],
    workingDirectory: dataRoot,
    logPath: join(paths(dataRoot).logs, 'cleanup.log'),
    environment: { [DATA_DIR_ENV]: dataRoot },
  };
}

/** --dry-run: the files and commands scheduling would write and run. */
function printPlan(
  job: CleanupJob,
  manager: ScheduleManager,
  files: PlannedFile[],
  previous: CleanupScheduleRecord | undefined,
  what: string,
  deps: CleanupScheduleDeps,
): void {
  const platform = deps.platform ?? process.platform;
  if (previous) deps.print(`Would replace the ${previous.every} cleanup job (${previous.manager}).`);
  for (const f of files) deps.print(`Would write ${f.path}:\n${f.text.replace(/\r\n/g, '\n').replace(/^(?=.)/gm, '    ')}`);
  for (const c of manager.installCommands(job)) deps.print(`Would run: ${commandLine(c, platform)}`);
  deps.print(`It would run ${what}, appending to ${job.logPath}. Nothing was changed (--dry-run).`);
}

async function schedule(
  every: ScheduleEvery,
  options: CleanupScheduleOptions,
  deps: CleanupScheduleDeps,
  ctx: ManagerContext,
): Promise<number> {
  const job = await cleanupJob(every, options, deps);
  const platform = deps.platform ?? process.platform;
  const { manager: name, why } = await pickManager(deps, ctx);
  if (name === 'background') throw noManagerError(job, why, platform);

  const manager = createScheduleManager(name, ctx);
  const files = manager.files(job);
  const command = [job.node, ...job.args];
  const record: CleanupScheduleRecord = { manager: name, every, command, files: files.map((f) => f.path) };
  const configFile = paths(job.workingDirectory).config;
  const previous = loadConfig(configFile).cleanupSchedule;
  const what = `\`${commandLine(command, platform)}\` ${every}`;

  if (options.dryRun) {
    printPlan(job, manager, files, previous, what, deps);
    return EXIT.ok;
  }
  if (sameRecord(previous, record) && filesMatch(files)) {
    deps.print(`Already scheduled: ${what} (${MANAGER_NAMES[name]}). Nothing changed.`);
    return EXIT.ok;
  }

  if (previous && previous.manager !== name) await createScheduleManager(previous.manager, ctx).remove(previous.files);
  prepareJobLog(job.logPath);
  await manager.install(job);
  removeStaleFiles(previous?.files ?? [], record.files);
  await updateConfig(configFile, (config) => ({ ...config, cleanupSchedule: record }));

  deps.print(`${previous ? 'Rescheduled' : 'Scheduled'}: ${what}, with ${MANAGER_NAMES[name]} (${files.map((f) => f.path).join(', ')}).`);
  deps.print(`Its output goes to ${job.logPath}. \`claude-mlflow cleanup --unschedule\` removes it.`);
  const cliScript = job.args[0]!;
  if (/[\\/]_npx[\\/]/.test(cliScript)) {
    deps.print(
      `Note: this CLI runs from npx's cache (${cliScript}), which npm may clear; \`npm install -g claude-mlflow\` and schedule again to keep the job working.`,
    );
  }
  return EXIT.ok;
}

async function unschedule(options: CleanupScheduleOptions, deps: CleanupScheduleDeps, ctx: ManagerContext): Promise<number> {
  const configFile = paths(deps.dataRoot).config;
  const record = loadConfig(configFile).cleanupSchedule;
  if (!record) {
    deps.print('No cleanup job is scheduled: nothing to remove.');
    return EXIT.ok;
  }
  const manager = createScheduleManager(record.manager, ctx);
  const platform = deps.platform ?? process.platform;
  if (options.dryRun) {
    for (const c of manager.removeCommands(record.files)) deps.print(`Would run: ${commandLine(c, platform)}`);
    for (const f of record.files) deps.print(`Would remove ${f}`);
    deps.print('Nothing was changed (--dry-run).');
    return EXIT.ok;
  }
  await manager.remove(record.files);
  await updateConfig(configFile, ({ cleanupSchedule: _removed, ...rest }) => rest);
  deps.print(`Removed the ${record.every} cleanup job (${MANAGER_NAMES[record.manager]}).`);
  return EXIT.ok;
}

export async function runCleanupSchedule(options: CleanupScheduleOptions, deps: CleanupScheduleDeps): Promise<number> {
  checkCombination(options);
  const ctx = deps.ctx ?? defaultContext(deps.env);
  if (options.unschedule) return unschedule(options, deps, ctx);
  const every = String(options.schedule ?? '')
    .trim()
    .toLowerCase();
  if (!isScheduleEvery(every)) {
    throw new CliError(
      `--schedule ${JSON.stringify(String(options.schedule ?? ''))} is not a schedule: use daily, weekly or monthly`,
      EXIT.usage,
    );
  }
  return schedule(every, options, deps, ctx);
}
