/**
 * The whole environment the built hook runtime (or the CLI) gets in a test,
 * as Claude Code would give it: tracing on, and nothing from this process but PATH.
 */
export interface HookEnvOptions {
  home: string;
  /** CLAUDE_MLFLOW_HOME: our data folder. */
  dataRoot: string;
  trackingUri: string;
  /** MLFLOW_EXPERIMENT_NAME; left unset when undefined. */
  experiment?: string;
}

/** `extra` is applied last: it may add variables or override any of these. */
export function makeHookEnv(options: HookEnvOptions, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: options.home,
    USER: 'dev',
    CLAUDE_MLFLOW_HOME: options.dataRoot,
    MLFLOW_CLAUDE_TRACING_ENABLED: 'true',
    MLFLOW_TRACKING_URI: options.trackingUri,
    ...(options.experiment !== undefined ? { MLFLOW_EXPERIMENT_NAME: options.experiment } : {}),
    ...extra,
  };
}
