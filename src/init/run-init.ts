/**
 * `init`: from nothing to traced sessions. Asks every question first, checks
 * what could stop it (an unparseable settings file, a busy port, an
 * unreachable server) before changing anything, then runs one task list.
 * Each step reads and fills in one InitContext: the checks are in
 * init-checks.ts, the task list in init-tasks.ts.
 */
import { loadConfig, type LocalServerConfig, type StoredConfig } from '../adapters/config-store.js';
import { paths, type Paths, type RedactionConfig } from '../config.js';
import { describePostgres, type PostgresStore } from '../core/backend-store.js';
import type { Credentials } from '../core/credentials.js';
import { settingsPath } from '../core/scopes.js';
import { serverFiles } from '../services/local-server.js';
import type { DatabricksTarget } from './databricks.js';
import {
  checkMlflowAndStore,
  checkRemoteServer,
  checkSettingsFile,
  findCredentials,
  planLocalServer,
  warnIfRedactionOff,
  type MlflowChoice,
} from './init-checks.js';
import { initTasks } from './init-tasks.js';
import { parseRedactionFlags, resolveAnswers, type InitAnswers, type InitFlags, type Prompter } from './options.js';

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

/** What init knows: its options and answers, then what each step found or did, for the steps after it. */
export interface InitContext {
  options: InitOptions;
  answers: InitAnswers;
  /** --redact / --no-redact and the patterns; undefined keeps what the config says. */
  redactionAsked: RedactionConfig | undefined;
  files: Paths;
  config: StoredConfig;
  /** The settings file of the chosen scope: tracing is switched on there. */
  settingsFile: string;
  /** The user's own settings file: the only one credentials are saved in. */
  userFile: string;
  /** Said first in the summary: warnings, and choices made for the user. */
  notes: string[];
  /** What was changed, for the summary. */
  done: string[];
  /** Replace MLflow's own tracer found in the settings file. */
  removeForeign: boolean;
  trackingUri: string;
  /** The environment that requests to the server carry: with the credentials from inside --tracking-uri. */
  remoteEnv: NodeJS.ProcessEnv;
  /** A remote server's credentials, from its URI or the environment. */
  credentials?: Credentials;
  /** The credentials came inside --tracking-uri: saving them is the default. */
  credentialsInUri: boolean;
  saveCredentials: boolean;
  /** The Databricks workspace the tracking URI names. */
  workspace?: DatabricksTarget;
  /** The local server to run; undefined for a remote one. */
  server?: LocalServerConfig;
  mlflow?: MlflowChoice;
  /** The local server's PostgreSQL store. */
  postgres?: PostgresStore;
  /** Filled in by the task list. */
  experimentId: string;
  hookCommand: string;
  settingsWritten: boolean;
  configChanged: boolean;
}

/** The answers (every question of resolveAnswers is asked here), the flags parsed, and the files init works on. */
async function startContext(options: InitOptions): Promise<InitContext> {
  const answers = await resolveAnswers(options, options.prompter);
  const redactionAsked = parseRedactionFlags(options);
  const files = paths(options.dataRoot);
  const config = loadConfig(files.config);
  return {
    options,
    answers,
    redactionAsked,
    files,
    config,
    settingsFile: settingsPath(answers.scope, options.project, options.home),
    userFile: settingsPath('user', options.project, options.home),
    notes: [],
    done: [],
    removeForeign: false,
    trackingUri: '',
    remoteEnv: options.env,
    credentialsInUri: false,
    saveCredentials: false,
    experimentId: '',
    hookCommand: '',
    settingsWritten: false,
    configChanged: false,
  };
}

export async function runInit(options: InitOptions): Promise<InitReport> {
  const ctx = await startContext(options);
  // Checks first: nothing is changed if any of these fail.
  await checkSettingsFile(ctx);
  warnIfRedactionOff(ctx);
  findCredentials(ctx);
  if (ctx.answers.remoteUri) await checkRemoteServer(ctx, ctx.answers.remoteUri);
  else await planLocalServer(ctx);
  await checkMlflowAndStore(ctx);
  await initTasks(ctx).run(ctx);
  return reportDone(ctx);
}

/** The summary, printed: notes, what was done (or that nothing was), where the traces go, and how to undo it. */
function reportDone(ctx: InitContext): InitReport {
  const { options, postgres, trackingUri, workspace, experimentId, settingsFile } = ctx;
  const changed = ctx.done.length > 0 || ctx.settingsWritten || ctx.configChanged;
  const ui = workspace ? `${workspace.host}/ml/experiments/${experimentId}/traces` : `${trackingUri}/#/experiments/${experimentId}/traces`;
  const summary = [
    ...ctx.notes,
    ...(postgres
      ? [
          `Traces are stored in ${describePostgres(postgres)}${postgres.password !== undefined ? `; the server reads its password from ${serverFiles(options.dataRoot).pgpass} (readable by you only), never from its command line` : ''}.`,
        ]
      : []),
    ...(changed ? ctx.done : ['Already set up: nothing changed.']),
    `Traces of every Claude Code session go to ${ui}`,
    'Undo: `claude-mlflow disable` pauses tracing; `claude-mlflow uninstall` removes it all (your database is kept).',
  ];
  for (const line of summary) options.print(line);
  return { changed, trackingUri, experimentId, settingsFile, summary };
}
