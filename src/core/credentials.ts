/**
 * MLflow's credentials for a remote tracking server, and putting them in a
 * settings file's `env` when the user agrees. Pure: no I/O.
 *
 * The hook runs inside Claude Code and sees only Claude Code's environment:
 * the shell's variables when Claude Code was started from that shell, plus
 * the settings' `env`. Saving the credentials in the user's own settings
 * (~/.claude/settings.json) makes every session able to send its trace; they
 * never go into a project's settings, which get committed.
 */
import { isDatabricksUri, parseDatabricksUri } from './databricks.js';
import { isObject } from './is-object.js';
import { HOOK_EVENTS, type PreviousState } from './settings.js';

export const CREDENTIAL_KEYS = [
  'MLFLOW_TRACKING_TOKEN',
  'MLFLOW_TRACKING_USERNAME',
  'MLFLOW_TRACKING_PASSWORD',
  'DATABRICKS_HOST',
  'DATABRICKS_TOKEN',
] as const;

export interface Credentials {
  kind: 'token' | 'basic';
  /** The variables to save: the token alone, or the user name and the password. */
  env: Record<string, string>;
  /** Which variables, for messages; never their values. */
  label: string;
}

/**
 * The credentials MLflow's client would send (the token wins, as in
 * authHeaders), or undefined. For a Databricks workspace: DATABRICKS_HOST and
 * DATABRICKS_TOKEN when they are what signs in (plain `databricks`); a
 * profile of ~/.databrickscfg is the user's own file and needs nothing saved.
 */
export function credentialsFrom(env: NodeJS.ProcessEnv, trackingUri = ''): Credentials | undefined {
  if (isDatabricksUri(trackingUri)) {
    const parsed = parseDatabricksUri(trackingUri);
    if ('error' in parsed || parsed.profile || !env.DATABRICKS_HOST || !env.DATABRICKS_TOKEN) return undefined;
    return {
      kind: 'token',
      env: { DATABRICKS_HOST: env.DATABRICKS_HOST, DATABRICKS_TOKEN: env.DATABRICKS_TOKEN },
      label: 'DATABRICKS_HOST and DATABRICKS_TOKEN',
    };
  }
  if (env.MLFLOW_TRACKING_TOKEN) {
    return { kind: 'token', env: { MLFLOW_TRACKING_TOKEN: env.MLFLOW_TRACKING_TOKEN }, label: 'MLFLOW_TRACKING_TOKEN' };
  }
  if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD) {
    const saved: Record<string, string> = {};
    if (env.MLFLOW_TRACKING_USERNAME) saved.MLFLOW_TRACKING_USERNAME = env.MLFLOW_TRACKING_USERNAME;
    if (env.MLFLOW_TRACKING_PASSWORD) saved.MLFLOW_TRACKING_PASSWORD = env.MLFLOW_TRACKING_PASSWORD;
    return { kind: 'basic', env: saved, label: Object.keys(saved).join(' and ') };
  }
  return undefined;
}

/**
 * A tracking URI with `user:password@` in it: the URI without them, and
 * them as MLflow's variables. A URI goes into settings files, config.json,
 * logs and messages; the password must go nowhere but the saved
 * credentials. Undefined when the URI holds none.
 */
export function credentialsInUri(uri: string): { uri: string; credentials: Credentials } | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (!url.username && !url.password) return undefined;
  const env: Record<string, string> = {};
  if (url.username) env.MLFLOW_TRACKING_USERNAME = decodeURIComponent(url.username);
  if (url.password) env.MLFLOW_TRACKING_PASSWORD = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const bare = uri.endsWith('/') ? url.toString() : url.toString().replace(/\/$/, '');
  return {
    uri: bare,
    credentials: {
      kind: 'basic',
      env,
      label: `the ${Object.keys(env).length > 1 ? 'user name and password' : url.password ? 'password' : 'user name'} in --tracking-uri (as ${Object.keys(env).join(' and ')})`,
    },
  };
}

/**
 * Set the credential variables in `env`. Returns the new document, what the
 * keys held before (null: absent) for uninstall, and the changes by key name.
 */
export function applyCredentials(
  input: Record<string, unknown>,
  credentials: Credentials,
): { doc: Record<string, unknown>; previous: PreviousState; changes: string[] } {
  const doc = structuredClone(input);
  const hadEnv = Object.hasOwn(doc, 'env');
  if (hadEnv && !isObject(doc.env)) throw new Error('"env" is not an object');
  const env = (isObject(doc.env) ? doc.env : (doc.env = {})) as Record<string, unknown>;
  // What was absent before this write: what uninstall may drop again once it is empty.
  const hooks = isObject(doc.hooks) ? doc.hooks : undefined;
  const previous: PreviousState = {
    env: {},
    created: {
      env: !hadEnv,
      hooks: !Object.hasOwn(doc, 'hooks'),
      events: HOOK_EVENTS.filter((e) => !hooks || !(e in hooks)),
    },
  };
  const changes: string[] = [];
  for (const [key, value] of Object.entries(credentials.env)) {
    const before = Object.hasOwn(env, key) ? env[key] : undefined;
    previous.env[key] = before === undefined ? null : typeof before === 'string' ? before : JSON.stringify(before);
    if (before === value) continue;
    changes.push(`${before === undefined ? 'set' : 'updated'} ${key}`);
    env[key] = value;
  }
  return { doc, previous, changes };
}

/**
 * An earlier record of the same file wins for what it knows (it saw the
 * original); keys it does not know are added, and so are hook events that
 * a later version of ours added (an event absent at the later write was
 * absent, or ours, before).
 */
export function mergePrevious(older: PreviousState, newer: PreviousState): PreviousState {
  const env = { ...older.env };
  for (const [key, value] of Object.entries(newer.env)) if (!(key in env)) env[key] = value;
  const events = [...new Set([...older.created.events, ...newer.created.events])];
  return { ...older, env, created: { ...older.created, events } };
}
