#!/usr/bin/env node
/**
 * Regenerate locks/mlflow-<version>.txt for every MLflow version we test
 * (src/core/mlflow-versions.ts): the whole environment, every package pinned,
 * for every platform and every Python from 3.10 on (`uv pip compile
 * --universal`). `init` installs from it, so the same version gives the same
 * environment next year.
 *
 *   npm run build && node scripts/lock-mlflow.mjs            # every tested version
 *   npm run build && node scripts/lock-mlflow.mjs 3.17.2     # one
 *
 * The pinned uv (UV_VERSION) is installed from PyPI into a temporary venv,
 * whatever uv is on PATH, so that the output depends only on the inputs and PyPI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { TESTED_MLFLOW_VERSIONS, LOCK_INPUTS, LOCK_PYTHON, UV_VERSION, lockFileName } = await import(
  path.join(repo, 'dist', 'core', 'mlflow-versions.js')
);

const versions = process.argv.length > 2 ? process.argv.slice(2) : TESTED_MLFLOW_VERSIONS;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'claude-mlflow-lock-'));
try {
  const venv = path.join(scratch, 'uv');
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', `uv==${UV_VERSION}`], {
    stdio: 'inherit',
  });
  const uv = path.join(venv, 'bin', 'uv');
  for (const version of versions) {
    const inputs = [`mlflow==${version}`, ...(LOCK_INPUTS[version] ?? [])];
    const inputFile = path.join(scratch, `requirements-${version}.in`);
    writeFileSync(inputFile, `${inputs.join('\n')}\n`);
    const locked = execFileSync(
      uv,
      ['pip', 'compile', '--universal', '--python-version', LOCK_PYTHON, '--no-header', '--quiet', inputFile],
      {
        encoding: 'utf8',
        env: { ...process.env, UV_NO_CONFIG: '1' },
      },
    );
    const header = [
      `# MLflow ${version} and everything it needs, every package pinned: what \`claude-mlflow init --mlflow-version ${version}\` installs.`,
      `# For every platform and Python >= ${LOCK_PYTHON}. Compiled from: ${inputs.join(', ')}`,
      `# by scripts/lock-mlflow.mjs (uv ${UV_VERSION} pip compile --universal): do not edit by hand.`,
    ];
    const file = path.join(repo, 'locks', lockFileName(version));
    writeFileSync(file, `${header.join('\n')}\n${locked.replaceAll(inputFile, 'requirements.in')}`);
    console.log(`${path.relative(repo, file)}: ${locked.split('\n').filter((l) => /^[A-Za-z0-9]/.test(l)).length} packages`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
