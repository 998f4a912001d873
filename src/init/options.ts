/**
 * The flags of the commands the init folder runs (`init`, `enable`/`disable`,
 * `uninstall`), as commander hands them over and as the run functions take
 * them; and `init`'s answers, from flags, prompts or defaults.
 */
import { basename } from 'node:path';
import type { RedactionConfig } from '../config.js';
import { CliError, EXIT } from '../errors.js';
import { isScope, type Scope } from '../core/scopes.js';
import { isDatabricksUri, parseDatabricksUri } from '../core/databricks.js';
import { maskBackendStoreUri, parseBackendStoreUri, withPsycopg2 } from '../core/backend-store.js';

export const DEFAULT_PORT = 5000;

export interface InitFlags {
  project: string;
  scope?: string;
  trackingUri?: string;
  experiment?: string;
  port?: string;
  host?: string;
  service: boolean;
  python?: string;
  mlflowVersion?: string;
  mlflow?: string;
  /** The local server's backend store (default: SQLite in the data folder). */
  backendStoreUri?: string;
  /** `--server-jobs` (true) / `--no-server-jobs` (false): MLflow's job execution on the local server; undefined keeps what the config says (off by default). */
  serverJobs?: boolean;
  /** Save MLflow's credentials from the environment in the user settings' env (true), or not (false); undefined: ask. */
  storeCredentials?: boolean;
  /** `--redact` (true) / `--no-redact` (false); undefined: keep what the config says (on by default). */
  redact?: boolean;
  redactPattern?: string[];
  redactAllow?: string[];
  yes: boolean;
}

export interface InitAnswers {
  scope: Scope;
  /** A server the user already runs; undefined means we run a local one. */
  remoteUri?: string;
  experiment: string;
  port: number;
  /** Whether the port was chosen explicitly (then a busy port is an error, not a cue to move). */
  portExplicit: boolean;
  /** Keep the local server running with the OS's service manager (else a background process). */
  service: boolean;
  /** --backend-store-uri, validated; undefined keeps what init chose before (SQLite by default). */
  backendStoreUri?: string;
  /** --server-jobs / --no-server-jobs (local server only); undefined keeps what init chose before (off by default). */
  serverJobs?: boolean;
}

/** The questions `init` asks, so that tests (and non-TTY runs) can answer them another way. */
export interface Prompter {
  scope(defaultScope: Scope): Promise<Scope>;
  server(): Promise<{ remoteUri?: string }>;
  experiment(defaultName: string): Promise<string>;
  port(defaultPort: number): Promise<number>;
  service(defaultValue: boolean): Promise<boolean>;
  confirm(message: string, defaultValue: boolean): Promise<boolean>;
}

/** commander's flags for `init`: `--project` is the host context's (src/commands/host.ts). */
export interface InitCommandFlags extends Omit<InitFlags, 'project' | 'yes'> {
  project?: string;
  yes?: boolean;
}

/** `init`'s flags as runInit takes them (without the project); their values are checked by resolveAnswers. */
export function parseInitOptions(flags: InitCommandFlags): Omit<InitFlags, 'project'> {
  const { project: _project, ...options } = flags;
  return { ...options, yes: Boolean(flags.yes) };
}

/** commander's flags for `enable` and `disable`. */
export interface ToggleFlags {
  scope?: string;
  project?: string;
}

export interface ToggleCommandOptions {
  enabled: boolean;
  /** Checked by parseScope when the settings files are chosen. */
  scope?: string;
}

export function parseToggleOptions(enabled: boolean, flags: ToggleFlags): ToggleCommandOptions {
  return { enabled, scope: flags.scope };
}

/** commander's flags for `uninstall`. */
export interface UninstallFlags {
  project?: string;
  purge?: boolean;
  yes?: boolean;
  dryRun?: boolean;
}

export interface UninstallCommandOptions {
  purge: boolean;
  yes: boolean;
  dryRun: boolean;
}

export function parseUninstallOptions(flags: UninstallFlags): UninstallCommandOptions {
  return { purge: Boolean(flags.purge), yes: Boolean(flags.yes), dryRun: Boolean(flags.dryRun) };
}

export const FLAG_HELP =
  'Pass the answers as flags: --scope project|local|user, --tracking-uri URL (or none for a local server), ' +
  '--experiment NAME, --port N; or --yes to take the defaults.';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new CliError(`--port must be a number from 1 to 65535, got "${value}"`, EXIT.usage);
  }
  return port;
}

export function parseScope(value: string): Scope {
  if (!isScope(value)) throw new CliError(`--scope must be project, local or user, got "${value}"`, EXIT.usage);
  return value;
}

export function parseTrackingUri(value: string): string {
  if (isDatabricksUri(value)) {
    const parsed = parseDatabricksUri(value);
    if ('error' in parsed) throw new CliError(`--tracking-uri ${value.trim()}: ${parsed.error}`, EXIT.usage);
    return parsed.profile ? `databricks://${parsed.profile}` : 'databricks';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`--tracking-uri must be an http(s) URL, databricks or databricks://<profile>, got "${value}"`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`--tracking-uri must be an http(s) URL, databricks or databricks://<profile>, got "${value}"`, EXIT.usage);
  }
  return value.replace(/\/+$/, '');
}

/**
 * --backend-store-uri: a PostgreSQL URI (postgresql:// or postgresql+psycopg2://),
 * or an SQLite file by absolute path. The message never shows the password.
 */
export function parseBackendStoreFlag(value: string): string {
  const parsed = parseBackendStoreUri(value.trim());
  if (!parsed.ok) {
    throw new CliError(`--backend-store-uri ${JSON.stringify(maskBackendStoreUri(value.trim()))}: ${parsed.error}`, EXIT.usage);
  }
  return parsed.store.kind === 'postgresql' ? withPsycopg2(parsed.store.uri) : parsed.store.uri;
}

/**
 * Every answer, from flags first, then prompts (on a TTY without --yes), then
 * defaults (with --yes). With no TTY and no --yes, a missing answer is an error.
 */
export async function resolveAnswers(flags: InitFlags, prompter: Prompter | undefined): Promise<InitAnswers> {
  const ask = !flags.yes && prompter !== undefined;
  const missing: string[] = [];

  // Checked before any question: a bad URI is a usage error, whatever else is asked.
  const backendStoreUri = flags.backendStoreUri !== undefined ? parseBackendStoreFlag(flags.backendStoreUri) : undefined;
  const remoteWithStore = (): never => {
    throw new CliError(
      '--backend-store-uri is for the local server init runs; with --tracking-uri your own server decides where it stores traces',
      EXIT.usage,
    );
  };
  if (backendStoreUri !== undefined && flags.trackingUri !== undefined) remoteWithStore();
  const serverJobsFlag = flags.serverJobs === false ? '--no-server-jobs' : '--server-jobs';
  const remoteWithJobs = (): never => {
    throw new CliError(
      `${serverJobsFlag} is for the local server init runs; with --tracking-uri your own server decides whether it runs MLflow's jobs`,
      EXIT.usage,
    );
  };
  if (flags.serverJobs !== undefined && flags.trackingUri !== undefined) remoteWithJobs();
  const need = (flag: string): void => {
    if (!flags.yes && !ask) missing.push(flag);
  };

  let scope: Scope = 'project';
  if (flags.scope !== undefined) scope = parseScope(flags.scope);
  else if (ask) scope = await prompter.scope('project');
  else need('--scope');

  let remoteUri: string | undefined;
  if (flags.trackingUri !== undefined) remoteUri = parseTrackingUri(flags.trackingUri);
  else if (ask) remoteUri = (await prompter.server()).remoteUri;
  else need('--tracking-uri');
  if (remoteUri !== undefined && backendStoreUri !== undefined) remoteWithStore();
  if (remoteUri !== undefined && flags.serverJobs !== undefined) remoteWithJobs();

  const defaultExperiment = basename(flags.project) || 'claude-code';
  let experiment = defaultExperiment;
  if (flags.experiment !== undefined) experiment = flags.experiment;
  else if (ask) experiment = await prompter.experiment(defaultExperiment);
  else need('--experiment');
  if (experiment.trim() === '') throw new CliError('--experiment must not be empty', EXIT.usage);

  let port = DEFAULT_PORT;
  const portExplicit = flags.port !== undefined;
  if (flags.port !== undefined) port = parsePort(flags.port);
  else if (remoteUri === undefined) {
    if (ask) port = await prompter.port(DEFAULT_PORT);
    else need('--port');
  }

  // `--no-service` is an answer; without it, a terminal user is asked (a service is the default).
  let service = flags.service;
  if (service && remoteUri === undefined && ask) service = await prompter.service(true);

  if (missing.length > 0) {
    throw new CliError(`no terminal to ask on, and ${missing.join(', ')} not given. ${FLAG_HELP}`, EXIT.usage);
  }
  return {
    scope,
    remoteUri,
    experiment,
    port,
    portExplicit,
    service,
    ...(backendStoreUri !== undefined ? { backendStoreUri } : {}),
    ...(flags.serverJobs !== undefined ? { serverJobs: flags.serverJobs } : {}),
  };
}

/**
 * What the redaction flags ask for, checked before anything is written (a
 * pattern JavaScript cannot compile is exit 2); undefined when none was given.
 */
export function parseRedactionFlags(flags: Pick<InitFlags, 'redact' | 'redactPattern' | 'redactAllow'>): RedactionConfig | undefined {
  const patterns = flags.redactPattern ?? [];
  for (const source of patterns) {
    try {
      new RegExp(source, 'g');
    } catch (error) {
      throw new CliError(`--redact-pattern ${source}: not a regular expression (${(error as Error).message})`, EXIT.usage);
    }
  }
  if (flags.redact === false) return { enabled: false };
  if (flags.redact !== true && patterns.length === 0 && (flags.redactAllow ?? []).length === 0) return undefined;
  return {
    enabled: true,
    ...(patterns.length ? { extraPatterns: patterns } : {}),
    ...(flags.redactAllow?.length ? { allow: flags.redactAllow } : {}),
  };
}

/** The config's redaction after `init`: the flags' patterns and allowed values added to those it had. */
export function mergeRedaction(current: RedactionConfig | undefined, asked: RedactionConfig | undefined): RedactionConfig | undefined {
  if (!asked) return current;
  if (asked.enabled === false) return { ...current, enabled: false };
  const union = (a: string[] | undefined, b: string[] | undefined): string[] | undefined => {
    const all = [...new Set([...(a ?? []), ...(b ?? [])])];
    return all.length ? all : undefined;
  };
  const extraPatterns = union(current?.extraPatterns, asked.extraPatterns);
  const allow = union(current?.allow, asked.allow);
  return { enabled: true, ...(extraPatterns ? { extraPatterns } : {}), ...(allow ? { allow } : {}) };
}
