/**
 * The MLflow install that tests use: the virtualenv `.ci/run` (or
 * `npm run setup:test`) creates at the repository root. `CLAUDE_MLFLOW_TEST_VENV` moves it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function testVenv(): string {
  return process.env.CLAUDE_MLFLOW_TEST_VENV ?? path.join(repoRoot, '.venv');
}

export function venvBin(name: string): string {
  const bin = process.platform === 'win32' ? path.join(testVenv(), 'Scripts', `${name}.exe`) : path.join(testVenv(), 'bin', name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run .ci/run (or scripts/setup-test-venv.sh) first`);
  return bin;
}

export const distCli = path.join(repoRoot, 'dist', 'cli.js');
export const distHook = path.join(repoRoot, 'dist', 'claude-mlflow-hook.mjs');
