/**
 * `init --tracking-uri https://…`: the server must answer and take our
 * credentials before anything is written; when it refuses, say which
 * variables to set (never their values).
 */
import { MlflowClient } from '../adapters/mlflow.js';
import { CliError, EXIT } from '../errors.js';

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
    if (who.kind === 'none')
      return `the MLflow server at ${server} requires credentials (HTTP 401): set ${vars} in your environment ${tail}`;
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
export async function verifyRemote(trackingUri: string, experiment: string, env: NodeJS.ProcessEnv): Promise<void> {
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
