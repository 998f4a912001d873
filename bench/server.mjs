#!/usr/bin/env node
/**
 * Server lifecycle timings: `server start` → /health ok, and `server restart` → /health ok
 * (both commands return only once /health answers). Median of N runs.
 * Usage: node bench/server.mjs [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, median, repoRoot, tempDir, timeRun, venvBin } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const cli = path.join(repoRoot, 'dist', 'cli.js');
const dir = tempDir('claude-mlflow-bench-server-');
const home = path.join(dir, 'home');
const project = path.join(dir, 'project');
mkdirSync(home);
mkdirSync(project);
const env = {
  PATH: process.env.PATH,
  HOME: home,
  CLAUDE_MLFLOW_HOME: path.join(dir, 'data'),
  CI: 'true',
  MLFLOW_DISABLE_TELEMETRY: 'true',
};
const port = await freePort();
const init = spawnSync(
  process.execPath,
  [cli, 'init', '--yes', '--project', project, '--port', String(port), '--no-service', '--mlflow', venvBin('mlflow')],
  { env, encoding: 'utf8' },
);
if (init.status !== 0) throw new Error(init.stderr);
try {
  const starts = [];
  const restarts = [];
  for (let i = 0; i < runs; i++) {
    timeRun(process.execPath, [cli, 'server', 'stop'], { env });
    starts.push(timeRun(process.execPath, [cli, 'server', 'start'], { env }));
    restarts.push(timeRun(process.execPath, [cli, 'server', 'restart'], { env }));
  }
  console.log(
    `server start → /health ok, median of ${runs}: ${(median(starts) / 1000).toFixed(1)} s (min ${(Math.min(...starts) / 1000).toFixed(1)} s)`,
  );
  console.log(
    `server restart → /health ok, median of ${runs}: ${(median(restarts) / 1000).toFixed(1)} s (min ${(Math.min(...restarts) / 1000).toFixed(1)} s)`,
  );
} finally {
  spawnSync(process.execPath, [cli, 'server', 'stop'], { env });
  rmSync(dir, { recursive: true, force: true });
}
