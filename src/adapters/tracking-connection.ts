/**
 * Where a tracking URI's REST calls go, and with which headers: an MLflow
 * server URL with MLflow's own auth variables, or a Databricks workspace
 * (`databricks`, `databricks://profile`) with its host and token.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isDatabricksUri, parseDatabricksUri, resolveDatabricksAuth } from '../core/databricks.js';
import { authHeaders } from './http.js';

export interface TrackingConnection {
  /** Where REST paths are appended. */
  baseUrl: string;
  headers: Record<string, string>;
  databricks: boolean;
  /**
   * An unauthenticated liveness path (`/health`) for an MLflow server; a
   * workspace has none, so there it is an authenticated call (the current user).
   */
  healthPath: string;
}

export class TrackingConnectionError extends Error {}

export const DATABRICKS_ME_PATH = '/api/2.0/preview/scim/v2/Me';

/** ~/.databrickscfg, or DATABRICKS_CONFIG_FILE. */
export function databricksCfgPath(env: NodeJS.ProcessEnv): string {
  return env.DATABRICKS_CONFIG_FILE || join(env.HOME || homedir(), '.databrickscfg');
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TrackingConnectionError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Throws TrackingConnectionError when a Databricks URI has no usable host and token. */
export function trackingConnection(uri: string, env: NodeJS.ProcessEnv = process.env): TrackingConnection {
  if (!isDatabricksUri(uri)) {
    return { baseUrl: uri.replace(/\/+$/, ''), headers: authHeaders(env), databricks: false, healthPath: '/health' };
  }
  const parsed = parseDatabricksUri(uri);
  if ('error' in parsed) throw new TrackingConnectionError(`${uri}: ${parsed.error}`);
  const cfgPath = databricksCfgPath(env);
  const auth = resolveDatabricksAuth({ uri: parsed, env, cfgPath, cfgText: readOptional(cfgPath) });
  if ('error' in auth) throw new TrackingConnectionError(`${uri}: ${auth.error}`);
  return { baseUrl: auth.host, headers: { authorization: `Bearer ${auth.token}` }, databricks: true, healthPath: DATABRICKS_ME_PATH };
}
