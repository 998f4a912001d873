/** The hook's effective settings: MLflow's own environment variables win over our config. */
import type { Config } from '../config.js';

export const DEFAULT_TRACKING_URI = 'http://127.0.0.1:5000';

export interface HookSettings {
  enabled: boolean;
  trackingUri: string;
  experiment: { id: string } | { name: string };
}

export function isTruthy(value: string | undefined): boolean {
  return ['true', '1', 'yes'].includes((value ?? '').trim().toLowerCase());
}

export function resolveHookSettings(env: NodeJS.ProcessEnv, config: Config): HookSettings {
  const trackingUri = (env.MLFLOW_TRACKING_URI || config.trackingUri || DEFAULT_TRACKING_URI).replace(/\/+$/, '');
  const id = env.MLFLOW_EXPERIMENT_ID || (env.MLFLOW_EXPERIMENT_NAME ? undefined : config.experimentId);
  const name = env.MLFLOW_EXPERIMENT_NAME || config.experimentName;
  const experiment = id ? { id } : name ? { name } : { id: '0' };
  return { enabled: isTruthy(env.MLFLOW_CLAUDE_TRACING_ENABLED), trackingUri, experiment };
}
