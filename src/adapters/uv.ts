/**
 * uv, which installs MLflow about ten times faster than pip: the one on PATH,
 * or the pinned one (UV_VERSION) that we install from PyPI into the MLflow
 * venv itself with its pip, once. And the lock files uv and pip install from.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockFileName, UV_VERSION } from '../core/mlflow-versions.js';

/** `locks/` at the package root: two levels up from src/adapters and from dist/adapters. */
const LOCKS_DIR = fileURLToPath(new URL('../../locks/', import.meta.url));

/** The lock file shipped for this MLflow version, if we test it. */
export function mlflowLockFile(version: string): string | undefined {
  const file = join(LOCKS_DIR, lockFileName(version));
  return existsSync(file) ? file : undefined;
}

/** The uv that a bootstrap put beside this venv's python, if it is there. */
export function uvInVenv(pythonBin: string): string | undefined {
  const file = join(dirname(pythonBin), process.platform === 'win32' ? 'uv.exe' : 'uv');
  return existsSync(file) ? file : undefined;
}

/** The pip arguments that bootstrap the pinned uv. */
export const UV_REQUIREMENT = `uv==${UV_VERSION}`;
