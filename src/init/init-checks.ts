/**
 * `init`'s checks, run in order before its task list: each one asks what it
 * must ask and fills in the context, and any of them stops init before
 * anything is changed.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { StoredConfig } from '../adapters/config-store.js';
import { isPortFree, nextFreePort, whoListens, airPlayHint, type PortHolder } from '../adapters/ports.js';
import { findOnPath } from '../adapters/executable.js';
import { checkMlflowExecutable, findPython, reusableVenv, type PythonInfo, type VenvResult } from '../adapters/python.js';
import { loadSettings } from '../adapters/settings-file.js';
import { sleep } from '../adapters/sleep.js';
import { databricksCfgPath } from '../adapters/tracking-connection.js';
import { isPostgresUri } from '../core/backend-store.js';
import { CREDENTIAL_KEYS, credentialsFrom, credentialsInUri, type Credentials } from '../core/credentials.js';
import { isDatabricksUri } from '../core/databricks.js';
import { findForeignTracers, type ForeignTracer } from '../core/settings.js';
import { CliError, EXIT } from '../errors.js';
import { isLoopback, ourBackgroundServerOn, pickManager, serverFiles, serverState, sqliteUri } from '../services/local-server.js';
import { serverUrl } from '../services/server-url.js';
import { checkGivenDriver, checkReachable, postgresStoreOf } from '../services/store/postgres-setup.js';
import { verifyDatabricks } from './databricks.js';
import type { InitAnswers, Prompter } from './options.js';
import { verifyRemote } from './remote-server.js';
import type { InitContext, InitOptions } from './run-init.js';

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

export type MlflowChoice =
  | { kind: 'given'; path: string; version: string }
  | { kind: 'reuse'; venv: VenvResult }
  | { kind: 'venv'; python: PythonInfo };

async function chooseMlflow(options: InitOptions): Promise<MlflowChoice> {
  if (options.mlflow) {
    const given =
      options.mlflow.includes('/') || options.mlflow.includes('\\') ? resolve(options.mlflow) : findOnPath(options.mlflow, options.env);
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

/** MLflow's own tracer in the settings file is replaced if the user agrees (or --yes); without a terminal, init stops. */
async function askToReplaceForeignTracers(ctx: InitContext, foreign: ForeignTracer[]): Promise<void> {
  const { options, settingsFile } = ctx;
  const what = foreign.map((f) => `${f.kind} at ${f.where}`).join(', ');
  const question = `${settingsFile} already has MLflow's own tracer (${what}). Two tracers record every session twice. Replace it?`;
  if (options.yes) ctx.removeForeign = true;
  else if (options.prompter) ctx.removeForeign = await options.prompter.confirm(question, true);
  else throw new CliError(`${question} Run again with --yes to replace it.`, EXIT.usage);
  if (!ctx.removeForeign) ctx.notes.push(`Kept MLflow's own tracer in ${settingsFile}: sessions will be traced twice.`);
}

/** A settings file with comments or trailing commas is rewritten as strict JSON, if the user agrees. */
async function askToRewriteAsStrict(ctx: InitContext): Promise<void> {
  const { options, settingsFile } = ctx;
  const message = `${settingsFile} has comments or trailing commas, so Claude Code ignores it whole. It will be rewritten as strict JSON (comments dropped); the old text is kept in ${settingsFile}.claude-mlflow.bak.`;
  if (!options.yes && options.prompter && !(await options.prompter.confirm(`${message} Continue?`, true))) {
    throw new CliError('Cancelled; nothing was changed.', EXIT.cancelled);
  }
  ctx.notes.push(message);
}

/** The settings file parses and can be written; what is in it that init would change is agreed to. */
export async function checkSettingsFile(ctx: InitContext): Promise<void> {
  const before = loadSettings(ctx.settingsFile);
  const foreign = findForeignTracers(before.doc);
  if (foreign.length > 0) await askToReplaceForeignTracers(ctx, foreign);
  if (!before.strict) await askToRewriteAsStrict(ctx);
  assertCanWrite(ctx.settingsFile);
}

/** `--no-redact` is said out loud: secrets then go to MLflow as they are. */
export function warnIfRedactionOff(ctx: InitContext): void {
  if (ctx.redactionAsked?.enabled === false) {
    ctx.notes.push(
      'Redaction is OFF (--no-redact): secrets that your sessions type, read or run (.env files, tokens in commands) go to MLflow as they are, for everyone who can read its traces. `claude-mlflow init --redact` switches it back on.',
    );
  }
}

/** Why `--store-credentials` has nothing to store. */
function nothingToStore(remoteUri: string | undefined, env: NodeJS.ProcessEnv): string {
  if (!remoteUri) return '--store-credentials goes with --tracking-uri: the local server needs no credentials.';
  if (isDatabricksUri(remoteUri)) {
    return `--store-credentials: ${remoteUri} signs in with a profile of ${databricksCfgPath(env)} (the hook reads that file itself), or with DATABRICKS_HOST and DATABRICKS_TOKEN for plain databricks; nothing to store, and nothing was changed.`;
  }
  return `--store-credentials: none of ${CREDENTIAL_KEYS.filter((k) => k.startsWith('MLFLOW_')).join(', ')} is set in this environment; nothing was changed.`;
}

/** A remote server's credentials: from inside its URI, else MLflow's variables in the environment. */
export function findCredentials(ctx: InitContext): void {
  const { answers, options } = ctx;
  // A password inside the URI is moved out of it: the URI is written to files and printed.
  const inUri = answers.remoteUri ? credentialsInUri(answers.remoteUri) : undefined;
  if (inUri) answers.remoteUri = inUri.uri;
  ctx.remoteEnv = inUri ? { ...options.env, ...inUri.credentials.env } : options.env;
  ctx.credentials = inUri?.credentials ?? (answers.remoteUri ? credentialsFrom(options.env, answers.remoteUri) : undefined);
  ctx.credentialsInUri = inUri !== undefined;
  if (options.storeCredentials && !ctx.credentials) throw new CliError(nothingToStore(answers.remoteUri, options.env), EXIT.usage);
}

/** Whether to save the credentials in the user's settings; that file is checked now, so that a broken one stops init before anything is written. */
async function askToSaveCredentials(ctx: InitContext, credentials: Credentials): Promise<void> {
  const { userFile, settingsFile } = ctx;
  ctx.saveCredentials = await decideCredentials(credentials, userFile, ctx.options, ctx.credentialsInUri);
  if (ctx.saveCredentials && userFile !== settingsFile) {
    loadSettings(userFile);
    assertCanWrite(userFile);
  }
  if (!ctx.saveCredentials) {
    const they = Object.keys(credentials.env).length > 1;
    ctx.notes.push(
      `${credentials.label} ${they ? 'were' : 'was'} not saved: the hook sends traces only from Claude Code sessions started with ${they ? 'them' : 'it'} in their environment. ` +
        `To keep ${they ? 'them' : 'it'} in ${userFile} (your own settings, never a project's), run init again with --store-credentials.`,
    );
  }
}

/** A remote server (or Databricks workspace) answers and takes our credentials; whether to save them is decided. */
export async function checkRemoteServer(ctx: InitContext, remoteUri: string): Promise<void> {
  const { answers, options } = ctx;
  ctx.trackingUri = remoteUri;
  if (isDatabricksUri(remoteUri)) {
    ctx.workspace = await verifyDatabricks(remoteUri, answers.experiment, options.env);
    answers.experiment = ctx.workspace.experiment;
  } else {
    await verifyRemote(remoteUri, answers.experiment, ctx.remoteEnv);
  }
  if (ctx.credentials) await askToSaveCredentials(ctx, ctx.credentials);
}

/** The local server to run: its port, host, service manager, backend store and job execution. */
export async function planLocalServer(ctx: InitContext): Promise<void> {
  const { answers, options, config, notes } = ctx;
  const port = await choosePort(answers, config, options.dataRoot, options.prompter, options.yes, notes);
  const host = options.host ?? config.server?.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    notes.push(
      `The server listens on ${host}, not only on this machine: anyone who can reach it can read your traces, which contain your prompts and code.`,
    );
  }
  ctx.server = {
    manager: await pickManager(answers.service, options.env),
    mlflowBin: config.server?.mlflowBin ?? '',
    host,
    port,
    // --backend-store-uri, else the PostgreSQL database init was given before, else SQLite in the data folder.
    backendStoreUri:
      answers.backendStoreUri ??
      (config.server && isPostgresUri(config.server.backendStoreUri)
        ? config.server.backendStoreUri
        : sqliteUri(serverFiles(options.dataRoot).database)),
    // --server-jobs / --no-server-jobs, else what init chose before, else off.
    jobExecution: answers.serverJobs ?? config.server?.jobExecution ?? false,
  };
  ctx.trackingUri = serverUrl(ctx.server);
}

/** Which MLflow the local server runs; a PostgreSQL store answers, and a given MLflow has its driver: before anything is installed. */
export async function checkMlflowAndStore(ctx: InitContext): Promise<void> {
  if (!ctx.server) return;
  ctx.mlflow = await chooseMlflow(ctx.options);
  ctx.postgres = postgresStoreOf(ctx.server.backendStoreUri);
  if (ctx.postgres) {
    await checkReachable(ctx.postgres);
    if (ctx.mlflow.kind === 'given') await checkGivenDriver(ctx.mlflow.path, ctx.options.env);
  }
}
