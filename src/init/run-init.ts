/**
 * `init`: from nothing to traced sessions. Asks every question first, checks
 * what could stop it (an unparseable settings file, a busy port, an
 * unreachable server) before changing anything, then runs one task list.
 */
import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Listr, PRESET_TIMER } from 'listr2';
import { installHookRuntime, hookCommand } from '../adapters/hook-runtime.js';
import { loadConfig, updateConfig, withInstall, type InstallRecord, type LocalServerConfig, type StoredConfig } from '../adapters/config-store.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { isPortFree, nextFreePort, whoListens, airPlayHint, type PortHolder } from '../adapters/ports.js';
import { checkMlflowExecutable, ensureMlflowVenv, findOnPath, findPython, reusableVenv, type PythonInfo, type VenvResult } from '../adapters/python.js';
import { loadSettings, saveSettings, withFileLock, type LoadedSettings } from '../adapters/settings-file.js';
import { paths } from '../config.js';
import { sleep } from '../adapters/sleep.js';
import { applyTracing, countOurHooks, findForeignTracers, type PreviousState, type TracingSpec } from '../core/settings.js';
import type { Scope } from '../core/scopes.js';
import { settingsPath } from '../core/scopes.js';
import { applyCredentials, CREDENTIAL_KEYS, credentialsFrom, credentialsInUri, mergePrevious, type Credentials } from '../core/credentials.js';
import { CliError, EXIT } from '../errors.js';
import { installServer, isLoopback, ourBackgroundServerOn, pickManager, serverFiles, serverState, serverUrl, sqliteUri } from '../server/local-server.js';
import { mergeRedaction, parseRedactionFlags, resolveAnswers, type InitAnswers, type InitFlags, type Prompter } from './options.js';
import { checkGivenDriver, checkReachable, ensureDriver, postgresStoreOf, verifyConnection } from './postgres.js';
import { describePostgres, isPostgresUri } from '../core/backend-store.js';
import { isDatabricksUri } from '../core/databricks.js';
import { untestedMlflowNote } from '../core/mlflow-versions.js';
import { databricksCfgPath } from '../adapters/tracking-connection.js';
import { verifyDatabricks, type DatabricksTarget } from './databricks.js';

/** Seconds Claude Code gives our hook; it finishes in under 2 s by itself. */
export const HOOK_TIMEOUT_SEC = 5;

export interface InitOptions extends InitFlags {
  home: string;
  dataRoot: string;
  env: NodeJS.ProcessEnv;
  /** Interactive questions; undefined when there is no TTY. */
  prompter?: Prompter;
  /** Where progress and the summary go. */
  print: (line: string) => void;
  /** listr2 renderer: 'default' on a TTY, 'simple' lines in CI and tests. */
  renderer: 'default' | 'simple';
}

export interface InitReport {
  changed: boolean;
  trackingUri: string;
  experimentId: string;
  settingsFile: string;
  summary: string[];
}

function describeHolders(port: number, holders: PortHolder[]): string {
  const who = holders.length
    ? holders.map((h) => `PID ${h.pid ?? '?'} ${h.command ?? 'unknown command'}${h.user ? ` (user ${h.user})` : ''}`).join('; ')
    : 'another program';
  const hint = airPlayHint(port);
  return `port ${port} is held by ${who}${hint ? `. ${hint}` : ''}`;
}

/**
 * The port is free, or our own server holds it (another init at the same
 * time may have just started it). A failed bind is looked at again a few
 * times: another init's probe of the same port holds it for a moment.
 */
async function freeOrOurs(port: number, dataRoot: string): Promise<boolean> {
  for (let attempt = 0; attempt < 4; attempt++) {
    if (await isPortFree(port)) return true;
    if (await ourBackgroundServerOn(dataRoot, port)) return true;
    await sleep(50 + Math.random() * 150);
  }
  return false;
}

/** Pick the local server's port: ours already there, the asked one if free, or the next free one. */
async function choosePort(
  answers: InitAnswers,
  config: StoredConfig,
  dataRoot: string,
  prompter: Prompter | undefined,
  yes: boolean,
  notes: string[],
): Promise<number> {
  const port = answers.port;
  if (config.server?.port === port && (await serverState(dataRoot, config.server)).running) return port;
  if (await freeOrOurs(port, dataRoot)) return port;
  const held = describeHolders(port, await whoListens(port));
  if (answers.portExplicit) {
    throw new CliError(`${held}. Choose another with --port, or stop that program.`, EXIT.failure);
  }
  const next = await nextFreePort(port + 1);
  if (!yes && prompter) {
    const ok = await prompter.confirm(`${held}. Use port ${next} instead?`, true);
    if (!ok) throw new CliError(`${held}. Choose a port with --port.`, EXIT.cancelled);
  }
  notes.push(`${held}; using port ${next}.`);
  return next;
}

/** The settings file must be writable: its folder, or the nearest existing parent, must be a writable folder. */
function assertCanWrite(file: string): void {
  let dir = dirname(file);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const fail = (why: string): never => {
    throw new CliError(`cannot write ${file}: ${why}; nothing was changed.`, EXIT.failure);
  };
  if (!statSync(dir).isDirectory()) fail(`${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
    if (existsSync(file)) accessSync(file, constants.W_OK);
  } catch {
    fail(`no write permission in ${dir}`);
  }
}

/** The URL without `user:password@`, for messages. */
function withoutCredentials(uri: string): string {
  try {
    const url = new URL(uri);
    if (!url.username && !url.password) return uri;
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return uri;
  }
}

/** Which of MLflow's auth variables the requests carry (authHeaders' order: the token wins), never their values. */
function whoAsks(env: NodeJS.ProcessEnv): { kind: 'token' | 'basic' | 'none'; label: string } {
  if (env.MLFLOW_TRACKING_TOKEN) return { kind: 'token', label: 'the token in MLFLOW_TRACKING_TOKEN' };
  if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD) {
    return { kind: 'basic', label: `user "${env.MLFLOW_TRACKING_USERNAME ?? ''}" (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)` };
  }
  return { kind: 'none', label: 'no credentials' };
}

/** One line: what the server refused, and which variables to set. */
export function accessDeniedMessage(
  server: string,
  denied: { status: 401 | 403; on: 'server' | 'experiment' },
  experiment: string,
  env: NodeJS.ProcessEnv,
): string {
  const who = whoAsks(env);
  const vars = 'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)';
  const tail = 'and run init again; nothing was changed.';
  if (denied.status === 401) {
    if (who.kind === 'none') return `the MLflow server at ${server} requires credentials (HTTP 401): set ${vars} in your environment ${tail}`;
    if (who.kind === 'token') {
      return `the MLflow server at ${server} refused the token in MLFLOW_TRACKING_TOKEN (HTTP 401): check it, or unset it and set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, ${tail}`;
    }
    return `the MLflow server at ${server} refused the credentials of ${who.label} (HTTP 401): check ${vars} ${tail}`;
  }
  const what = denied.on === 'experiment' ? `the experiment "${experiment}"` : 'its API';
  const other = denied.on === 'experiment' ? 'choose another experiment with --experiment, or ' : '';
  return `the MLflow server at ${server} denies ${who.label} access to ${what} (HTTP 403): ask its administrator for permission, ${other}set ${vars} for another account, ${tail}`;
}

/**
 * A remote server must answer and take our credentials before anything is
 * written: `/health` alone proves neither (MLflow's basic-auth app serves it
 * to anyone), so an authenticated API call decides.
 */
async function verifyRemote(trackingUri: string, experiment: string, env: NodeJS.ProcessEnv): Promise<void> {
  const server = withoutCredentials(trackingUri);
  const client = new MlflowClient({ trackingUri, env, timeoutMs: 5000 });
  const healthy = await client.health();
  let access: Awaited<ReturnType<MlflowClient['checkAccess']>>;
  try {
    access = await client.checkAccess(experiment, healthy ? 10_000 : 5000);
  } catch (error) {
    if (!healthy) throw new CliError(`cannot reach the MLflow server at ${server}/health; nothing was changed.`, EXIT.failure);
    const status = (error as { status?: number }).status;
    throw new CliError(
      `the server at ${server} answers /health but not MLflow's REST API (${status ? `HTTP ${status}` : (error as Error).message}); is it an MLflow tracking server? Nothing was changed.`,
      EXIT.failure,
    );
  }
  if (!access.ok) throw new CliError(accessDeniedMessage(server, access, experiment, env), EXIT.failure);
}

/**
 * Whether to save the credentials: the flag, else the user's answer, else
 * (--yes, no terminal) no. Credentials given inside --tracking-uri were
 * meant for the hook: saving them is the default, and --yes says yes.
 */
async function decideCredentials(credentials: Credentials, userFile: string, options: InitOptions, fromUri: boolean): Promise<boolean> {
  if (options.storeCredentials !== undefined) return options.storeCredentials;
  if (options.yes) return fromUri;
  if (!options.prompter) return false;
  return options.prompter.confirm(
    `Save ${credentials.label} in ${userFile} (your own settings, readable by you only; never a project's), so that every Claude Code session can send its trace?`,
    fromUri,
  );
}

/** Group and others lose access to a settings file that holds a secret. Returns whether the mode changed. */
/**
 * What a settings file held before our hooks went in, for uninstall: none
 * when our hooks are there already (an older record saw the original),
 * except credentials saved into it now.
 */
function installRecordOf(loaded: LoadedSettings, previous: PreviousState, credentialsPrevious: PreviousState | undefined, scope: Scope): InstallRecord | undefined {
  const base = { file: loaded.file, scope, createdFile: !loaded.exists };
  if (countOurHooks(loaded.doc) === 0) return { ...base, previous: credentialsPrevious ? mergePrevious(previous, credentialsPrevious) : previous };
  return credentialsPrevious ? { ...base, previous: credentialsPrevious } : undefined;
}

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

type MlflowChoice =
  | { kind: 'given'; path: string; version: string }
  | { kind: 'reuse'; venv: VenvResult }
  | { kind: 'venv'; python: PythonInfo };

async function chooseMlflow(options: InitOptions): Promise<MlflowChoice> {
  if (options.mlflow) {
    const given = options.mlflow.includes('/') || options.mlflow.includes('\\') ? resolve(options.mlflow) : findOnPath(options.mlflow, options.env);
    const version = await checkMlflowExecutable(options.mlflow);
    // The server is started later from a service or another folder: keep an absolute path.
    return { kind: 'given', path: given ?? options.mlflow, version };
  }
  if (!options.python) {
    const venv = await reusableVenv(join(options.dataRoot, 'venv'), options.mlflowVersion, options.env);
    if (venv) return { kind: 'reuse', venv };
  }
  return { kind: 'venv', python: await findPython({ explicit: options.python, env: options.env }) };
}

export async function runInit(options: InitOptions): Promise<InitReport> {
  const answers = await resolveAnswers(options, options.prompter);
  const redactionAsked = parseRedactionFlags(options);
  const files = paths(options.dataRoot);
  const config = loadConfig(files.config);
  const settingsFile = settingsPath(answers.scope, options.project, options.home);
  const notes: string[] = [];

  // Checks first: nothing is changed if any of these fail.
  const before = loadSettings(settingsFile);
  const foreign = findForeignTracers(before.doc);
  let removeForeign = false;
  if (foreign.length > 0) {
    const what = foreign.map((f) => `${f.kind} at ${f.where}`).join(', ');
    const question = `${settingsFile} already has MLflow's own tracer (${what}). Two tracers record every session twice. Replace it?`;
    if (options.yes) removeForeign = true;
    else if (options.prompter) removeForeign = await options.prompter.confirm(question, true);
    else throw new CliError(`${question} Run again with --yes to replace it.`, EXIT.usage);
    if (!removeForeign) notes.push(`Kept MLflow's own tracer in ${settingsFile}: sessions will be traced twice.`);
  }
  if (!before.strict) {
    const message = `${settingsFile} has comments or trailing commas, so Claude Code ignores it whole. It will be rewritten as strict JSON (comments dropped); the old text is kept in ${settingsFile}.claude-mlflow.bak.`;
    if (!options.yes && options.prompter && !(await options.prompter.confirm(`${message} Continue?`, true))) {
      throw new CliError('Cancelled; nothing was changed.', EXIT.cancelled);
    }
    notes.push(message);
  }

  assertCanWrite(settingsFile);
  if (redactionAsked?.enabled === false) {
    notes.push('Redaction is OFF (--no-redact): secrets that your sessions type, read or run (.env files, tokens in commands) go to MLflow as they are, for everyone who can read its traces. `claude-mlflow init --redact` switches it back on.');
  }

  let trackingUri: string;
  let server: LocalServerConfig | undefined;
  // A password inside the URI is moved out of it: the URI is written to files and printed.
  const inUri = answers.remoteUri ? credentialsInUri(answers.remoteUri) : undefined;
  if (inUri) answers.remoteUri = inUri.uri;
  const remoteEnv = inUri ? { ...options.env, ...inUri.credentials.env } : options.env;
  const credentials = inUri?.credentials ?? (answers.remoteUri ? credentialsFrom(options.env, answers.remoteUri) : undefined);
  if (options.storeCredentials && !credentials) {
    throw new CliError(
      !answers.remoteUri
        ? '--store-credentials goes with --tracking-uri: the local server needs no credentials.'
        : isDatabricksUri(answers.remoteUri)
          ? `--store-credentials: ${answers.remoteUri} signs in with a profile of ${databricksCfgPath(options.env)} (the hook reads that file itself), or with DATABRICKS_HOST and DATABRICKS_TOKEN for plain databricks; nothing to store, and nothing was changed.`
          : `--store-credentials: none of ${CREDENTIAL_KEYS.filter((k) => k.startsWith('MLFLOW_')).join(', ')} is set in this environment; nothing was changed.`,
      EXIT.usage,
    );
  }
  const userFile = settingsPath('user', options.project, options.home);
  let saveCredentials = false;
  let workspace: DatabricksTarget | undefined;
  if (answers.remoteUri) {
    trackingUri = answers.remoteUri;
    if (isDatabricksUri(trackingUri)) {
      workspace = await verifyDatabricks(trackingUri, answers.experiment, options.env);
      answers.experiment = workspace.experiment;
    } else {
      await verifyRemote(trackingUri, answers.experiment, remoteEnv);
    }
    if (credentials) {
      saveCredentials = await decideCredentials(credentials, userFile, options, inUri !== undefined);
      if (saveCredentials && userFile !== settingsFile) {
        // Checked now, so that a broken user settings file stops init before anything is written.
        loadSettings(userFile);
        assertCanWrite(userFile);
      }
      if (!saveCredentials) {
        notes.push(
          `${credentials.label} ${Object.keys(credentials.env).length > 1 ? 'were' : 'was'} not saved: the hook sends traces only from Claude Code sessions started with ${Object.keys(credentials.env).length > 1 ? 'them' : 'it'} in their environment. ` +
            `To keep ${Object.keys(credentials.env).length > 1 ? 'them' : 'it'} in ${userFile} (your own settings, never a project's), run init again with --store-credentials.`,
        );
      }
    }
  } else {
    const port = await choosePort(answers, config, options.dataRoot, options.prompter, options.yes, notes);
    const host = options.host ?? config.server?.host ?? '127.0.0.1';
    if (!isLoopback(host)) {
      notes.push(
        `The server listens on ${host}, not only on this machine: anyone who can reach it can read your traces, which contain your prompts and code.`,
      );
    }
    server = {
      manager: await pickManager(answers.service, options.env),
      mlflowBin: config.server?.mlflowBin ?? '',
      host,
      port,
      // --backend-store-uri, else the PostgreSQL database init was given before, else SQLite in the data folder.
      backendStoreUri:
        answers.backendStoreUri ??
        (config.server && isPostgresUri(config.server.backendStoreUri) ? config.server.backendStoreUri : sqliteUri(serverFiles(options.dataRoot).database)),
      // --server-jobs / --no-server-jobs, else what init chose before, else off.
      jobExecution: answers.serverJobs ?? config.server?.jobExecution ?? false,
    };
    trackingUri = serverUrl(server);
  }
  // Which MLflow to run, checked before anything is installed or written.
  const mlflow = server ? await chooseMlflow(options) : undefined;
  // PostgreSQL: reachable, and (with --mlflow) its driver there, before anything is installed.
  const postgres = server ? postgresStoreOf(server.backendStoreUri) : undefined;
  if (postgres) {
    await checkReachable(postgres);
    if (mlflow?.kind === 'given') await checkGivenDriver(mlflow.path, options.env);
  }

  const done: string[] = [];
  const state: { experimentId: string; command: string; settingsWritten: boolean; configChanged: boolean } = {
    experimentId: '',
    command: '',
    settingsWritten: false,
    configChanged: false,
  };
  const credentialsHere = saveCredentials && userFile === settingsFile;
  const tasks = new Listr(
    [
      {
        title: 'Install MLflow',
        enabled: () => server !== undefined,
        task: async (_ctx, task) => {
          if (mlflow?.kind === 'given') {
            server!.mlflowBin = mlflow.path;
            task.title = `Use MLflow ${mlflow.version} at ${mlflow.path}`;
            return;
          }
          if (mlflow?.kind === 'reuse') {
            server!.mlflowBin = mlflow.venv.mlflowBin;
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
          server!.mlflowBin = venv.mlflowBin;
          task.title = venv.reused ? `MLflow ${venv.version} already installed` : `Installed MLflow ${venv.version} (${venv.tool})`;
          if (!venv.reused) done.push(`Installed MLflow ${venv.version} into ${options.dataRoot}/venv${venv.locked ? ', every package pinned by its lock' : ''}.`);
          if (!venv.reused && !venv.locked) notes.push(untestedMlflowNote(venv.version));
        },
      },
      {
        title: 'Install the PostgreSQL driver',
        enabled: () => postgres !== undefined && mlflow?.kind !== 'given',
        task: async (_ctx, task) => {
          const driver = await ensureDriver(server!.mlflowBin, options.env, (line) => {
            task.output = line;
          });
          task.title = driver.installed ? `Installed the PostgreSQL driver psycopg2 ${driver.version} (${driver.tool})` : `PostgreSQL driver psycopg2 ${driver.version} already installed`;
          if (driver.installed) done.push(`Installed the PostgreSQL driver psycopg2 ${driver.version} into the MLflow venv.`);
        },
      },
      {
        title: 'Check the PostgreSQL connection',
        enabled: () => postgres !== undefined,
        task: async (_ctx, task) => {
          const version = await verifyConnection(server!.mlflowBin, postgres!, options.env);
          task.title = `Connected to ${describePostgres(postgres!)} (PostgreSQL ${version})`;
        },
      },
      {
        title: 'Start the MLflow server',
        enabled: () => server !== undefined,
        task: async (_ctx, task) => {
          let result: { started: boolean; pid?: number; notes: string[] };
          try {
            result = await installServer(options.dataRoot, server!, config.server, options.env);
          } catch (error) {
            if (server!.manager === 'background') throw error;
            notes.push(`The ${server!.manager} service could not be set up (${(error as Error).message}); running the server as a background process instead.`);
            server!.manager = 'background';
            result = await installServer(options.dataRoot, server!, undefined, options.env);
          }
          notes.push(...result.notes);
          const by = server!.manager === 'background' ? 'a background process' : `a ${server!.manager} service`;
          task.title = result.started ? `Started the MLflow server at ${trackingUri} (${by})` : `MLflow server already running at ${trackingUri}`;
          if (result.started) done.push(`Started the MLflow server at ${trackingUri}, kept running by ${by}${result.pid ? ` (PID ${result.pid})` : ''}.`);
        },
      },
      {
        title: `Experiment "${answers.experiment}"`,
        task: async (_ctx, task) => {
          const client = new MlflowClient({ trackingUri, env: remoteEnv, timeoutMs: 15_000 });
          const experiment = await client.ensureExperiment(answers.experiment);
          state.experimentId = experiment.id;
          task.title = `Experiment "${answers.experiment}" (id ${experiment.id})${experiment.created ? ' created' : ''}`;
          if (experiment.created) done.push(`Created the experiment "${answers.experiment}".`);
        },
      },
      {
        title: 'Install the hook runtime',
        task: (_ctx, task) => {
          const runtime = installHookRuntime(options.dataRoot);
          state.command = hookCommand(runtime.script);
          task.title = runtime.changed ? `Installed the hook runtime at ${runtime.script}` : 'Hook runtime up to date';
          if (runtime.changed) done.push(`Installed the hook runtime at ${runtime.script}.`);
        },
      },
      {
        title: `Save ${credentials?.label ?? 'credentials'} in ${userFile}`,
        enabled: () => saveCredentials && !credentialsHere,
        task: async (_ctx, task) => {
          const outcome = await withFileLock(userFile, async () => {
            const loaded = loadSettings(userFile);
            const applied = applyCredentials(loaded.doc, credentials!);
            // The record of what was there goes first: a crash after it leaves a file uninstall still knows.
            const record: InstallRecord = { file: userFile, scope: 'user', createdFile: !loaded.exists, previous: applied.previous };
            await updateConfig(files.config, (current) => withInstall(current, record));
            return { loaded, applied, saved: saveSettings(loaded, applied.doc) };
          });
          // A file init creates is private from the start; tightening one the user had is worth saying.
          const tightened = keepPrivate(userFile) && outcome.loaded.exists;
          task.title = outcome.saved.written ? `Saved ${credentials!.label} in ${userFile}` : `${credentials!.label} already saved in ${userFile}`;
          if (outcome.saved.written || tightened) done.push(credentialsLine(credentials!, userFile, tightened));
        },
      },
      {
        title: `Switch tracing on in ${settingsFile}`,
        task: async (_ctx, task) => {
          const spec: TracingSpec = {
            hookCommand: state.command,
            timeoutSec: HOOK_TIMEOUT_SEC,
            env: {
              MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
              MLFLOW_TRACKING_URI: trackingUri,
              MLFLOW_EXPERIMENT_NAME: answers.experiment,
            },
          };
          const outcome = await withFileLock(settingsFile, async () => {
            const loaded = loadSettings(settingsFile);
            const applied = applyTracing(loaded.doc, spec, { removeForeign });
            // User scope: the credentials go into the same write (one backup, of the original).
            const withCredentials = credentialsHere ? applyCredentials(applied.doc, credentials!) : undefined;
            const credentialsPrevious = credentialsHere ? applyCredentials(loaded.doc, credentials!).previous : undefined;
            // What was there before is recorded from the file as it is now, under its lock, and before
            // the file is written: two inits at once, or a crash between the two writes, never lose it.
            const record = installRecordOf(loaded, applied.previous, credentialsPrevious, answers.scope);
            let configChanged = false;
            await updateConfig(files.config, (current) => {
              let next = record ? withInstall(current, record) : current;
              next = { ...next, trackingUri, experimentName: answers.experiment, ...(server ? { server } : {}) };
              const redaction = mergeRedaction(next.redaction, redactionAsked);
              if (redaction) next.redaction = redaction;
              delete next.experimentId;
              configChanged = JSON.stringify(next) !== JSON.stringify(current);
              return next;
            });
            const saved = saveSettings(loaded, withCredentials?.doc ?? applied.doc);
            return { loaded, applied, saved, configChanged, changes: [...applied.changes, ...(withCredentials?.changes ?? [])] };
          });
          const tightened = credentialsHere && keepPrivate(settingsFile) && outcome.loaded.exists;
          state.settingsWritten = outcome.saved.written;
          state.configChanged = outcome.configChanged;
          task.title = outcome.saved.written ? `Tracing switched on in ${settingsFile}` : `Tracing already on in ${settingsFile}`;
          if (credentialsHere && (outcome.saved.written || tightened) && outcome.changes.some((c) => CREDENTIAL_KEYS.some((k) => c.endsWith(k)))) {
            done.push(credentialsLine(credentials!, settingsFile, tightened));
          }
          if (outcome.saved.written) {
            done.push(`Updated ${settingsFile}: ${outcome.changes.join('; ')}.`);
            if (outcome.saved.backup) done.push(`The previous version is kept in ${outcome.saved.backup}.`);
          }
        },
      },
    ],
    { renderer: options.renderer, exitOnError: true, rendererOptions: { timer: PRESET_TIMER } },
  );
  await tasks.run();

  const changed = done.length > 0 || state.settingsWritten || state.configChanged;
  const ui = workspace ? `${workspace.host}/ml/experiments/${state.experimentId}/traces` : `${trackingUri}/#/experiments/${state.experimentId}/traces`;
  const summary = [
    ...notes,
    ...(postgres
      ? [
          `Traces are stored in ${describePostgres(postgres)}${postgres.password !== undefined ? `; the server reads its password from ${serverFiles(options.dataRoot).pgpass} (readable by you only), never from its command line` : ''}.`,
        ]
      : []),
    ...(changed ? done : ['Already set up: nothing changed.']),
    `Traces of every Claude Code session go to ${ui}`,
    'Undo: `claude-mlflow disable` pauses tracing; `claude-mlflow uninstall` removes it all (your database is kept).',
  ];
  for (const line of summary) options.print(line);
  return { changed, trackingUri, experimentId: state.experimentId, settingsFile, summary };
}
