/**
 * `uninstall`: remove our hooks and env vars from every settings file we
 * wrote, putting back what was there; remove the hook runtime; stop the
 * server we started. The database stays unless `--purge`.
 */
import { existsSync, rmSync } from 'node:fs';
import { loadConfig, updateConfig, type StoredConfig } from '../adapters/config-store.js';
import { defaultContext } from '../adapters/service/common.js';
import { removeCleanupSchedule } from '../adapters/service/schedule-managers.js';
import { withFileLock } from '../adapters/file-lock.js';
import { deleteSettingsFile, loadSettings, removeBackupsHolding, saveSettings, SettingsError } from '../adapters/settings-file.js';
import { paths, type Paths } from '../config.js';
import { CREDENTIAL_KEYS } from '../core/credentials.js';
import { countOurHooks, removeTracing, type PreviousState } from '../core/settings.js';
import { SCOPES, settingsPath } from '../core/scopes.js';
import { CliError, EXIT } from '../errors.js';
import { removeServer } from '../services/local-server.js';

export interface UninstallOptions {
  project: string;
  home: string;
  dataRoot: string;
  purge: boolean;
  yes: boolean;
  dryRun: boolean;
  confirm?: (message: string) => Promise<boolean>;
  print: (line: string) => void;
}

interface Target {
  file: string;
  previous?: PreviousState;
  createdFile: boolean;
}

function targets(config: StoredConfig, project: string, home: string): Target[] {
  const list: Target[] = (config.installs ?? []).map((i) => ({ file: i.file, previous: i.previous, createdFile: i.createdFile }));
  for (const scope of SCOPES) {
    const file = settingsPath(scope, project, home);
    if (!list.some((t) => t.file === file)) list.push({ file, createdFile: false });
  }
  return list;
}

/** The credential values in a settings file that init saved there (the user had another value, or none). */
function credentialsWeSaved(doc: Record<string, unknown>, previous: PreviousState | undefined): string[] {
  const env = doc.env as Record<string, unknown> | undefined;
  if (!previous || typeof env !== 'object' || env === null) return [];
  const saved: string[] = [];
  for (const key of CREDENTIAL_KEYS) {
    const value = env[key];
    if (key in previous.env && typeof value === 'string' && value !== previous.env[key]) saved.push(value);
  }
  return saved;
}

/** What uninstall read, and the plan it builds: each line it prints with the work that does it. */
interface UninstallContext {
  options: UninstallOptions;
  files: Paths;
  config: StoredConfig;
  /** What will be done, one line each, in order. */
  plan: string[];
  /** The work, run in order once the plan is agreed to. */
  work: Array<() => Promise<void>>;
  /** A file that does not parse is left as it is (and its install record kept): the rest is uninstalled. */
  unreadable: SettingsError[];
}

/** Our hooks and MLFLOW_* settings out of the file, under its lock; what was there before goes back. */
async function removeTracingFrom(target: Target): Promise<void> {
  await withFileLock(target.file, () => {
    const current = loadSettings(target.file);
    const secrets = credentialsWeSaved(current.doc, target.previous);
    const { doc } = removeTracing(current.doc, target.previous);
    if (target.createdFile && Object.keys(doc).length === 0) deleteSettingsFile(target.file);
    else saveSettings(current, doc);
    // A backup taken after init holds the credentials it saved: it goes with them.
    removeBackupsHolding(target.file, secrets);
  });
}

/** Every settings file init wrote, and every scope's: those with our hooks, or an install record, are cleaned. */
function planSettingsFiles(ctx: UninstallContext): void {
  const { options } = ctx;
  for (const target of targets(ctx.config, options.project, options.home)) {
    if (!existsSync(target.file)) continue;
    let loaded;
    try {
      loaded = loadSettings(target.file);
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      ctx.unreadable.push(error);
      continue;
    }
    const recorded = target.previous !== undefined;
    if (countOurHooks(loaded.doc) === 0 && !recorded) continue;
    ctx.plan.push(`Remove claude-mlflow's hooks and MLFLOW_* settings from ${target.file}`);
    ctx.work.push(() => removeTracingFrom(target));
  }
}

function planHookRuntime(ctx: UninstallContext): void {
  const { runtime } = ctx.files;
  if (!existsSync(runtime)) return;
  ctx.plan.push(`Remove the hook runtime ${runtime}`);
  ctx.work.push(async () => rmSync(runtime, { recursive: true, force: true }));
}

function planCleanupSchedule(ctx: UninstallContext): void {
  const schedule = ctx.config.cleanupSchedule;
  if (!schedule) return;
  ctx.plan.push(`Remove the ${schedule.every} cleanup job (${schedule.manager})`);
  ctx.work.push(() => removeCleanupSchedule(schedule, defaultContext()));
}

function planServerStop(ctx: UninstallContext): void {
  const { options } = ctx;
  const server = ctx.config.server;
  if (!server) return;
  const by = server.manager === 'background' ? '' : ` and remove its ${server.manager} service`;
  ctx.plan.push(`Stop the MLflow server on port ${server.port}${by}`);
  ctx.work.push(async () => {
    const result = await removeServer(options.dataRoot, server);
    if (result === 'not-ours') options.print('The server pidfile points at a process that is not ours; it was left alone.');
  });
}

/** The data folder goes with --purge; otherwise the plan says it stays. */
function planDataFolder(ctx: UninstallContext): void {
  const { options } = ctx;
  if (options.purge) ctx.plan.push(`Delete ${options.dataRoot}: the database, traces, venv, logs and spool`);
  else if (existsSync(options.dataRoot)) ctx.plan.push(`Keep ${options.dataRoot} (the database and its traces); --purge deletes it`);
}

/** Prints the plan. Returns the exit code when uninstall ends here: nothing to remove, or --dry-run. */
function showPlan(ctx: UninstallContext): number | undefined {
  const { options, plan, unreadable } = ctx;
  for (const error of unreadable) plan.push(`Leave ${error.file} as it is: it does not parse (${error.message})`);
  if (plan.length === unreadable.length) {
    options.print(
      unreadable.length
        ? `Nothing to remove that can be read; ${unreadable.map((e) => e.message).join('; ')}`
        : 'claude-mlflow is not installed here: nothing to remove.',
    );
    return unreadable.length ? EXIT.failure : EXIT.ok;
  }
  for (const line of plan) options.print(`${options.dryRun ? 'Would: ' : '- '}${line}`);
  if (options.dryRun) return EXIT.ok;
  return undefined;
}

/** --purge deletes the database: asked on a terminal unless --yes. */
async function confirmPurge(options: UninstallOptions): Promise<void> {
  if (!options.purge || options.yes) return;
  if (!options.confirm) throw new CliError('--purge deletes the database: confirm on a terminal, or pass --yes.', EXIT.usage);
  if (!(await options.confirm(`Delete ${options.dataRoot} with every trace in it?`))) {
    throw new CliError('Cancelled; nothing was removed.', EXIT.cancelled);
  }
}

/** The work of the plan, then the data folder (--purge) or what config.json says of the install. */
async function removeAll(ctx: UninstallContext): Promise<void> {
  const { options, files, unreadable } = ctx;
  for (const step of ctx.work) await step();
  if (options.purge) {
    rmSync(options.dataRoot, { recursive: true, force: true });
  } else if (existsSync(files.config)) {
    await updateConfig(files.config, ({ installs, server: _server, cleanupSchedule: _schedule, ...rest }) => {
      const kept = (installs ?? []).filter((i) => unreadable.some((e) => e.file === i.file));
      return kept.length ? { ...rest, installs: kept } : rest;
    });
  }
}

function reportUninstalled(ctx: UninstallContext): number {
  const { options, unreadable } = ctx;
  if (unreadable.length > 0) {
    for (const error of unreadable)
      options.print(`Could not read ${error.message}; it was left as it is. Fix it, then run \`claude-mlflow uninstall\` again for it.`);
    options.print('claude-mlflow is uninstalled, except from the file(s) above.');
    return EXIT.failure;
  }
  options.print('claude-mlflow is uninstalled.');
  return EXIT.ok;
}

export async function runUninstall(options: UninstallOptions): Promise<number> {
  const files = paths(options.dataRoot);
  const ctx: UninstallContext = { options, files, config: loadConfig(files.config), plan: [], work: [], unreadable: [] };
  planSettingsFiles(ctx);
  planHookRuntime(ctx);
  planCleanupSchedule(ctx);
  planServerStop(ctx);
  planDataFolder(ctx);
  const exitEarly = showPlan(ctx);
  if (exitEarly !== undefined) return exitEarly;
  await confirmPurge(options);
  await removeAll(ctx);
  return reportUninstalled(ctx);
}
