/**
 * The MLflow installs that tests use, made by scripts/setup-test-venv.sh at
 * the repository root: `.venv` (MLflow 3.12.0; `CLAUDE_MLFLOW_TEST_VENV`
 * moves it) and `.venv-default` (the MLflow `init` installs by default;
 * `CLAUDE_MLFLOW_TEST_DEFAULT_VENV` moves it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function testVenv(): string {
  return process.env.CLAUDE_MLFLOW_TEST_VENV ?? path.join(repoRoot, '.venv');
}

export function defaultVenv(): string {
  return process.env.CLAUDE_MLFLOW_TEST_DEFAULT_VENV ?? path.join(repoRoot, '.venv-default');
}

function binIn(venv: string, name: string): string {
  const bin = process.platform === 'win32' ? path.join(venv, 'Scripts', `${name}.exe`) : path.join(venv, 'bin', name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run .ci/run (or scripts/setup-test-venv.sh) first`);
  return bin;
}

export function venvBin(name: string): string {
  return binIn(testVenv(), name);
}

/** A program of the default MLflow's venv. */
export function defaultVenvBin(name: string): string {
  return binIn(defaultVenv(), name);
}

export const distCli = path.join(repoRoot, 'dist', 'cli.js');
export const distHook = path.join(repoRoot, 'dist', 'claude-mlflow-hook.mjs');
