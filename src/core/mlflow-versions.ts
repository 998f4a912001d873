/**
 * The MLflow versions we test and ship a lock for (locks/mlflow-<version>.txt,
 * made by scripts/lock-mlflow.mjs), and the uv that installs them.
 *
 * - 3.6.0 is the floor: the first MLflow that ingests OTLP at /v1/traces. Its
 *   server dies at import with SQLAlchemy 2.1 (FallbackAsyncAdaptedQueuePool is
 *   gone), so its lock is made with `sqlalchemy<2.1`.
 * - 3.12.0 is the last whose own Claude Code hook is Python
 *   (`mlflow autolog claude`): the differential tests run against it.
 * - The default is the newest one CI tests. (3.18.0 is on PyPI, but its
 *   mlflow-skinny==3.18.0 is not, so it cannot be installed.)
 */
export const TESTED_MLFLOW_VERSIONS = ['3.6.0', '3.12.0', '3.17.2'] as const;
export const DEFAULT_MLFLOW_VERSION = '3.17.2';

/** What a version's lock is compiled from, beside `mlflow==<version>`. */
export const LOCK_INPUTS: Readonly<Record<string, readonly string[]>> = {
  '3.6.0': ['sqlalchemy<2.1'],
};

/** The uv that init bootstraps from PyPI when none is on PATH. */
export const UV_VERSION = '0.13.9';

/** The oldest Python the locks are compiled for (`--python-version`): the one we require. */
export const LOCK_PYTHON = '3.10';

export function isTestedMlflow(version: string): boolean {
  return (TESTED_MLFLOW_VERSIONS as readonly string[]).includes(version);
}

export function lockFileName(version: string): string {
  return `mlflow-${version}.txt`;
}

/** The words for an MLflow we do not test, for init's summary and doctor. */
export function untestedMlflowNote(version: string): string {
  return `MLflow ${version} is not a version claude-mlflow tests (${TESTED_MLFLOW_VERSIONS.join(', ')}); it was installed without a lock, so its dependencies are whatever PyPI gave today. \`claude-mlflow init --mlflow-version ${DEFAULT_MLFLOW_VERSION}\` installs the tested default.`;
}
