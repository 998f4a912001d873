/**
 * `init`'s task list: the steps that change things, in the order they must
 * run. What was there before goes into config.json before each settings file
 * is written, so that a crash at any point leaves nothing uninstall cannot undo.
 */
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Listr, PRESET_TIMER } from 'listr2';
import { updateConfig, withInstall, type InstallRecord } from '../adapters/config-store.js';
import { installHookRuntime, hookCommand } from '../adapters/hook-runtime.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { ensureMlflowVenv, type PythonInfo } from '../adapters/python.js';
import { withFileLock } from '../adapters/file-lock.js';
import { loadSettings, saveSettings, type LoadedSettings } from '../adapters/settings-file.js';
import { describePostgres } from '../core/backend-store.js';
import { applyCredentials, CREDENTIAL_KEYS, mergePrevious, type Credentials } from '../core/credentials.js';
import { untestedMlflowNote } from '../core/mlflow-versions.js';
import type { Scope } from '../core/scopes.js';
import { applyTracing, countOurHooks, type PreviousState, type TracingSpec } from '../core/settings.js';
import { installServer } from '../services/local-server.js';
import { ensureDriver, verifyConnection } from '../services/store/postgres-setup.js';
import { mergeRedaction } from './options.js';
import type { InitContext, InitOptions } from './run-init.js';

/** Seconds Claude Code gives our hook; it finishes in under 2 s by itself. */
export const HOOK_TIMEOUT_SEC = 5;

/** What a step may change of its line in the task list. */
interface TaskLine {
  title: string;
  output: string;
}

/**
 * What a settings file held before our hooks went in, for uninstall: none
 * when our hooks are there already (an older record saw the original),
 * except credentials saved into it now.
 */
function installRecordOf(
  loaded: LoadedSettings,
  previous: PreviousState,
  credentialsPrevious: PreviousState | undefined,
  scope: Scope,
): InstallRecord | undefined {
  const base = { file: loaded.file, scope, createdFile: !loaded.exists };
  if (countOurHooks(loaded.doc) === 0)
    return { ...base, previous: credentialsPrevious ? mergePrevious(previous, credentialsPrevious) : previous };
  return credentialsPrevious ? { ...base, previous: credentialsPrevious } : undefined;
}

/** Group and others lose access to a settings file that holds a secret. Returns whether the mode changed. */
function keepPrivate(file: string): boolean {
  if (process.platform === 'win32') return false;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return false;
  chmodSync(file, mode & 0o700);
  return true;
}

function credentialsLine(credentials: Credentials, file: string, tightened: boolean): string {
  return `Saved ${credentials.label} in ${file}${tightened ? ', and made that file readable by you only' : ''}; \`claude-mlflow uninstall\` removes ${Object.keys(credentials.env).length > 1 ? 'them' : 'it'} again.`;
}

/** User scope: the credentials go into the settings file with the tracing, in one write. */
function credentialsWithTracing(ctx: InitContext): boolean {
  return ctx.saveCredentials && ctx.userFile === ctx.settingsFile;
}

/** The MLflow the local server runs: a given one, the venv already there, or a venv installed now. */
async function installMlflow(ctx: InitContext, task: TaskLine): Promise<void> {
  const { mlflow, options } = ctx;
  const server = ctx.server!;
  if (mlflow?.kind === 'given') {
    server.mlflowBin = mlflow.path;
    task.title = `Use MLflow ${mlflow.version} at ${mlflow.path}`;
    return;
  }
  if (mlflow?.kind === 'reuse') {
    server.mlflowBin = mlflow.venv.mlflowBin;
    task.title = `MLflow ${mlflow.venv.version} already installed`;
    return;
  }
  const venv = await ensureMlflowVenv({
    venvDir: join(options.dataRoot, 'venv'),
    python: (mlflow as { python: PythonInfo }).python,
    mlflowVersion: options.mlflowVersion,
    env: options.env,
    onLine: (line) => {
      task.output = line;
    },
  });
  server.mlflowBin = venv.mlflowBin;
  task.title = venv.reused ? `MLflow ${venv.version} already installed` : `Installed MLflow ${venv.version} (${venv.tool})`;
  if (!venv.reused)
    ctx.done.push(
      `Installed MLflow ${venv.version} into ${options.dataRoot}/venv${venv.locked ? ', every package pinned by its lock' : ''}.`,
    );
  if (!venv.reused && !venv.locked) ctx.notes.push(untestedMlflowNote(venv.version));
}

async function installPostgresDriver(ctx: InitContext, task: TaskLine): Promise<void> {
  const driver = await ensureDriver(ctx.server!.mlflowBin, ctx.options.env, (line) => {
    task.output = line;
  });
  task.title = driver.installed
    ? `Installed the PostgreSQL driver psycopg2 ${driver.version} (${driver.tool})`
    : `PostgreSQL driver psycopg2 ${driver.version} already installed`;
  if (driver.installed) ctx.done.push(`Installed the PostgreSQL driver psycopg2 ${driver.version} into the MLflow venv.`);
}

async function checkPostgresConnection(ctx: InitContext, task: TaskLine): Promise<void> {
  const version = await verifyConnection(ctx.server!.mlflowBin, ctx.postgres!, ctx.options.env);
  task.title = `Connected to ${describePostgres(ctx.postgres!)} (PostgreSQL ${version})`;
}

/** The local server, as a service; if the service manager fails, as a background process. */
async function startServer(ctx: InitContext, task: TaskLine): Promise<void> {
  const { options, notes } = ctx;
  const server = ctx.server!;
  let result: { started: boolean; pid?: number; notes: string[] };
  try {
    result = await installServer(options.dataRoot, server, ctx.config.server, options.env);
  } catch (error) {
    if (server.manager === 'background') throw error;
    notes.push(
      `The ${server.manager} service could not be set up (${(error as Error).message}); running the server as a background process instead.`,
    );
    server.manager = 'background';
    result = await installServer(options.dataRoot, server, undefined, options.env);
  }
  notes.push(...result.notes);
  const by = server.manager === 'background' ? 'a background process' : `a ${server.manager} service`;
  task.title = result.started
    ? `Started the MLflow server at ${ctx.trackingUri} (${by})`
    : `MLflow server already running at ${ctx.trackingUri}`;
  if (result.started)
    ctx.done.push(`Started the MLflow server at ${ctx.trackingUri}, kept running by ${by}${result.pid ? ` (PID ${result.pid})` : ''}.`);
}

async function ensureExperiment(ctx: InitContext, task: TaskLine): Promise<void> {
  const { experiment: name } = ctx.answers;
  const client = new MlflowClient({ trackingUri: ctx.trackingUri, env: ctx.remoteEnv, timeoutMs: 15_000 });
  const experiment = await client.ensureExperiment(name);
  ctx.experimentId = experiment.id;
  task.title = `Experiment "${name}" (id ${experiment.id})${experiment.created ? ' created' : ''}`;
  if (experiment.created) ctx.done.push(`Created the experiment "${name}".`);
}

function installHook(ctx: InitContext, task: TaskLine): void {
  const runtime = installHookRuntime(ctx.options.dataRoot);
  ctx.hookCommand = hookCommand(runtime.script);
  task.title = runtime.changed ? `Installed the hook runtime at ${runtime.script}` : 'Hook runtime up to date';
  if (runtime.changed) ctx.done.push(`Installed the hook runtime at ${runtime.script}.`);
}

/** The credentials into the user's settings (another file than tracing's), recorded in config.json before that file is written. */
async function saveUserCredentials(ctx: InitContext, task: TaskLine): Promise<void> {
  const { userFile, files } = ctx;
  const credentials = ctx.credentials!;
  const outcome = await withFileLock(userFile, async () => {
    const loaded = loadSettings(userFile);
    const applied = applyCredentials(loaded.doc, credentials);
    // The record of what was there goes first: a crash after it leaves a file uninstall still knows.
    const record: InstallRecord = { file: userFile, scope: 'user', createdFile: !loaded.exists, previous: applied.previous };
    await updateConfig(files.config, (current) => withInstall(current, record));
    return { loaded, applied, saved: saveSettings(loaded, applied.doc) };
  });
  // A file init creates is private from the start; tightening one the user had is worth saying.
  const tightened = keepPrivate(userFile) && outcome.loaded.exists;
  task.title = outcome.saved.written ? `Saved ${credentials.label} in ${userFile}` : `${credentials.label} already saved in ${userFile}`;
  if (outcome.saved.written || tightened) ctx.done.push(credentialsLine(credentials, userFile, tightened));
}

function tracingSpec(ctx: InitContext): TracingSpec {
  return {
    hookCommand: ctx.hookCommand,
    timeoutSec: HOOK_TIMEOUT_SEC,
    env: {
      MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
      MLFLOW_TRACKING_URI: ctx.trackingUri,
      MLFLOW_EXPERIMENT_NAME: ctx.answers.experiment,
    },
  };
}

/**
 * Under the settings file's lock: what was there before is recorded from the
 * file as it is now, and before the file is written, so that two inits at
 * once, or a crash between the two writes, never lose it.
 */
async function writeTracing(ctx: InitContext, spec: TracingSpec, withCredentials: boolean) {
  const { answers, credentials, server, trackingUri } = ctx;
  const loaded = loadSettings(ctx.settingsFile);
  const applied = applyTracing(loaded.doc, spec, { removeForeign: ctx.removeForeign });
  // User scope: the credentials go into the same write (one backup, of the original).
  const credentialsApplied = withCredentials ? applyCredentials(applied.doc, credentials!) : undefined;
  const credentialsPrevious = withCredentials ? applyCredentials(loaded.doc, credentials!).previous : undefined;
  const record = installRecordOf(loaded, applied.previous, credentialsPrevious, answers.scope);
  let configChanged = false;
  await updateConfig(ctx.files.config, (current) => {
    let next = record ? withInstall(current, record) : current;
    next = { ...next, trackingUri, experimentName: answers.experiment, ...(server ? { server } : {}) };
    const redaction = mergeRedaction(next.redaction, ctx.redactionAsked);
    if (redaction) next.redaction = redaction;
    delete next.experimentId;
    configChanged = JSON.stringify(next) !== JSON.stringify(current);
    return next;
  });
  const saved = saveSettings(loaded, credentialsApplied?.doc ?? applied.doc);
  return { loaded, applied, saved, configChanged, changes: [...applied.changes, ...(credentialsApplied?.changes ?? [])] };
}

/** Our hook and MLflow's variables into the settings file (with the credentials, in user scope). */
async function switchTracingOn(ctx: InitContext, task: TaskLine): Promise<void> {
  const { settingsFile, done } = ctx;
  const withCredentials = credentialsWithTracing(ctx);
  const spec = tracingSpec(ctx);
  const outcome = await withFileLock(settingsFile, () => writeTracing(ctx, spec, withCredentials));
  const tightened = withCredentials && keepPrivate(settingsFile) && outcome.loaded.exists;
  ctx.settingsWritten = outcome.saved.written;
  ctx.configChanged = outcome.configChanged;
  task.title = outcome.saved.written ? `Tracing switched on in ${settingsFile}` : `Tracing already on in ${settingsFile}`;
  if (withCredentials && (outcome.saved.written || tightened) && outcome.changes.some((c) => CREDENTIAL_KEYS.some((k) => c.endsWith(k)))) {
    done.push(credentialsLine(ctx.credentials!, settingsFile, tightened));
  }
  if (outcome.saved.written) {
    done.push(`Updated ${settingsFile}: ${outcome.changes.join('; ')}.`);
    if (outcome.saved.backup) done.push(`The previous version is kept in ${outcome.saved.backup}.`);
  }
}

/** The steps that change things, in order, each only when it has something to do; titles are fixed now. Run with the context: `initTasks(ctx).run(ctx)`. */
export function initTasks(ctx: InitContext): Listr<InitContext, InitOptions['renderer']> {
  return new Listr<InitContext, InitOptions['renderer']>(
    [
      { title: 'Install MLflow', enabled: (c) => c.server !== undefined, task: installMlflow },
      {
        title: 'Install the PostgreSQL driver',
        enabled: (c) => c.postgres !== undefined && c.mlflow?.kind !== 'given',
        task: installPostgresDriver,
      },
      { title: 'Check the PostgreSQL connection', enabled: (c) => c.postgres !== undefined, task: checkPostgresConnection },
      { title: 'Start the MLflow server', enabled: (c) => c.server !== undefined, task: startServer },
      { title: `Experiment "${ctx.answers.experiment}"`, task: ensureExperiment },
      { title: 'Install the hook runtime', task: installHook },
      {
        title: `Save ${ctx.credentials?.label ?? 'credentials'} in ${ctx.userFile}`,
        enabled: (c) => c.saveCredentials && !credentialsWithTracing(c),
        task: saveUserCredentials,
      },
      { title: `Switch tracing on in ${ctx.settingsFile}`, task: switchTracingOn },
    ],
    { renderer: ctx.options.renderer, exitOnError: true, rendererOptions: { timer: PRESET_TIMER } },
  );
}
