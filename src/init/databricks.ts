/**
 * `init --tracking-uri databricks[://profile]`: the workspace must take our
 * token before anything is written, and the experiment becomes a workspace
 * path (a bare name goes into the user's own folder, /Users/<user>/<name>).
 */
import { CliError, EXIT } from '../errors.js';
import { workspaceExperimentPath } from '../core/databricks.js';
import { HttpError } from '../adapters/http.js';
import { MlflowClient } from '../adapters/mlflow.js';
import { TrackingConnectionError } from '../adapters/tracking-connection.js';

export interface DatabricksTarget {
  /** The experiment's workspace path. */
  experiment: string;
  host: string;
  userName: string;
}

const NOTHING = 'nothing was changed.';

function clientFor(uri: string, env: NodeJS.ProcessEnv): MlflowClient {
  try {
    return new MlflowClient({ trackingUri: uri, env, timeoutMs: 10_000 });
  } catch (error) {
    if (error instanceof TrackingConnectionError) throw new CliError(`--tracking-uri ${error.message}; ${NOTHING}`, EXIT.usage);
    throw error;
  }
}

export async function verifyDatabricks(uri: string, experiment: string, env: NodeJS.ProcessEnv): Promise<DatabricksTarget> {
  const client = clientFor(uri, env);
  const host = client.baseUrl;
  let userName: string;
  try {
    userName = await client.currentUserName();
  } catch (error) {
    const status = error instanceof HttpError ? error.status : undefined;
    if (status === 401 || status === 403) {
      throw new CliError(
        `the Databricks workspace at ${host} refused the token (HTTP ${status}): check it (${uri}), and run init again; ${NOTHING}`,
        EXIT.failure,
      );
    }
    throw new CliError(`cannot reach the Databricks workspace at ${host} (${(error as Error).message}); ${NOTHING}`, EXIT.failure);
  }
  const path = workspaceExperimentPath(experiment, userName);
  const access = await client.checkAccess(path).catch((error: Error) => {
    throw new CliError(
      `the Databricks workspace at ${host} does not answer MLflow's REST API (${error.message}); ${NOTHING}`,
      EXIT.failure,
    );
  });
  if (!access.ok) {
    throw new CliError(
      `the Databricks workspace at ${host} denies ${userName} access to ${access.on === 'experiment' ? `the experiment ${path}` : 'MLflow'} (HTTP ${access.status}); ${NOTHING}`,
      EXIT.failure,
    );
  }
  return { experiment: path, host, userName };
}
