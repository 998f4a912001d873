#!/usr/bin/env node
/**
 * `init` timings.
 *   - the first `init` on a fresh machine state, broken down by step (venv + pip, server start,
 *     experiment, hook runtime, settings), with MLflow installed from PyPI into a new venv;
 *   - `python -m venv` alone, to split the install step into venv and pip;
 *   - `init` again on the set-up project (the idempotent path), median of N runs.
 * Usage: node bench/init.mjs [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, median, repoRoot, tempDir, timeRun } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 7;
const cli = path.join(repoRoot, 'dist', 'cli.js');
const dir = tempDir('claude-mlflow-bench-init-');
const home = path.join(dir, 'home');
const project = path.join(dir, 'project');
const data = path.join(dir, 'data');
mkdirSync(home);
mkdirSync(project);
const env = { PATH: process.env.PATH, HOME: home, CLAUDE_MLFLOW_HOME: data, CI: 'true', MLFLOW_DISABLE_TELEMETRY: 'true' };
const port = await freePort();
const initArgs = [cli, 'init', '--yes', '--project', project, '--port', String(port), '--no-service', '--mlflow-version', '3.12.0'];

try {
  const venvOnly = timeRun('python3', ['-m', 'venv', path.join(dir, 'venv-only')]);
  const started = process.hrtime.bigint();
  const first = spawnSync(process.execPath, initArgs, { env, encoding: 'utf8' });
  const total = Number(process.hrtime.bigint() - started) / 1e6;
  if (first.status !== 0) throw new Error(`init failed: ${first.stderr}\n${first.stdout}`);
  console.log(`First init, total ${(total / 1000).toFixed(1)} s; steps (listr2 timer):`);
  for (const line of first.stdout.split('\n')) {
    const m = line.match(/^\s*[✔√]\s+(.*?)\s+\[(.+?)\]\s*$/u);
    if (m) console.log(`   ${m[2].padStart(6)}  ${m[1]}`);
  }
  console.log(`   (python -m venv alone: ${(venvOnly / 1000).toFixed(1)} s; the rest of the install step is pip)`);
  const again = Array.from({ length: runs }, () => timeRun(process.execPath, initArgs, { env }));
  console.log(`Idempotent init (already set up), median of ${runs}: ${median(again).toFixed(0)} ms`);
} finally {
  spawnSync(process.execPath, [cli, 'server', 'stop'], { env });
  rmSync(dir, { recursive: true, force: true });
}
