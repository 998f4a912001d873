#!/usr/bin/env node
/**
 * `init` on a fresh machine, side by side with the bare installs it replaces.
 * Every run has a fresh HOME, so pip's and uv's caches start empty
 * (~/.cache/pip, ~/.cache/uv), and MLflow comes from PyPI.
 *   - `init --yes --no-service` (the default MLflow, from its lock), with no uv
 *     on PATH (init bootstraps the pinned one) and with uv on PATH; broken down
 *     by step;
 *   - bare `python -m venv` + `pip install mlflow==<default>`, and bare
 *     `uv venv` + `uv pip install mlflow==<default>`, the same version;
 *   - `init` again on the set-up project (the idempotent path), median of N runs;
 *   - the idle server that init started: processes and RSS of its whole tree,
 *     against `mlflow server` with MLflow's defaults (bench/server-idle.mjs).
 * Needs `npm run build`. Usage: node bench/init.mjs [--runs N] [--skip-bare]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, fromDist, median, repoRoot, tempDir, timeRun } from './lib.mjs';
import { measureIdleServer } from './server-idle.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 7;
const skipBare = args.includes('--skip-bare');
const cli = path.join(repoRoot, 'dist', 'cli.js');
/** @type {typeof import('../src/core/mlflow-versions.js')} */
const { DEFAULT_MLFLOW_VERSION: version, UV_VERSION } = await fromDist('core/mlflow-versions.js');
const dir = tempDir('claude-mlflow-bench-init-');
const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;

/** @typedef {{ home: string, project: string, data: string, env: NodeJS.ProcessEnv }} Machine */

/**
 * A fresh HOME (empty caches) and project; env for commands run "on" it.
 * @param {string} name
 * @param {string} [extraPath]
 */
function freshMachine(name, extraPath) {
  const root = path.join(dir, name);
  /** @type {Machine} */
  const m = { home: path.join(root, 'home'), project: path.join(root, 'project'), data: path.join(root, 'data'), env: {} };
  mkdirSync(m.home, { recursive: true });
  mkdirSync(m.project, { recursive: true });
  const PATH = extraPath ? `${extraPath}${path.delimiter}${process.env.PATH}` : process.env.PATH;
  m.env = { PATH, HOME: m.home, CLAUDE_MLFLOW_HOME: m.data, CI: 'true', MLFLOW_DISABLE_TELEMETRY: 'true' };
  return m;
}

/**
 * @param {string} file
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
function timed(file, argv, env) {
  const started = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${path.basename(file)} ${argv.slice(0, 3).join(' ')} failed: ${r.stderr}\n${r.stdout}`);
  return { ms, stdout: r.stdout };
}

/** A uv of the pinned version, for "uv on PATH" and the bare uv install (its own bootstrap not timed). */
function pinnedUv() {
  const venv = path.join(dir, 'uv-tool');
  timed('python3', ['-m', 'venv', venv], process.env);
  timed(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', `uv==${UV_VERSION}`], process.env);
  return path.join(venv, 'bin');
}

/**
 * @param {string} name
 * @param {string} [extraPath]
 */
async function firstInit(name, extraPath) {
  const m = freshMachine(name, extraPath);
  const port = await freePort();
  const args = [cli, 'init', '--yes', '--project', m.project, '--port', String(port), '--no-service'];
  const run = timed(process.execPath, args, m.env);
  const steps = [];
  for (const line of run.stdout.split('\n')) {
    const match = line.match(/^\s*[✔√]\s+(.*?)\s+\[(.+?)\]\s*$/u);
    if (match) steps.push(`${match[2].padStart(6)}  ${match[1]}`);
  }
  return { m, args, ms: run.ms, steps };
}

const stopServer = (/** @type {Machine} */ m) => spawnSync(process.execPath, [cli, 'server', 'stop'], { env: m.env });
/** @type {[string, number][]} */
const rows = [];
try {
  const uvBin = pinnedUv();
  const noUv = await firstInit('init-no-uv');
  console.log(`First init, no uv on PATH (bootstraps uv ${UV_VERSION}), empty caches: ${seconds(noUv.ms)}`);
  noUv.steps.forEach((s) => console.log(`   ${s}`));
  rows.push(['init --yes --no-service, no uv on PATH', noUv.ms]);
  stopServer(noUv.m);

  const withUv = await firstInit('init-uv', uvBin);
  console.log(`First init, uv on PATH, empty caches: ${seconds(withUv.ms)}`);
  withUv.steps.forEach((s) => console.log(`   ${s}`));
  rows.push(['init --yes --no-service, uv on PATH', withUv.ms]);

  const again = Array.from({ length: runs }, () => timeRun(process.execPath, withUv.args, { env: withUv.m.env }));
  console.log(`Idempotent init (already set up), median of ${runs}: ${median(again).toFixed(0)} ms`);
  stopServer(withUv.m);

  if (!skipBare) {
    const pipMachine = freshMachine('bare-pip');
    const pipVenv = path.join(pipMachine.data, 'venv');
    const pip =
      timed('python3', ['-m', 'venv', pipVenv], pipMachine.env).ms +
      timed(
        path.join(pipVenv, 'bin', 'python'),
        ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', `mlflow==${version}`],
        pipMachine.env,
      ).ms;
    rows.push([`bare python -m venv + pip install mlflow==${version}`, pip]);
    const uvMachine = freshMachine('bare-uv');
    uvMachine.env.UV_SYSTEM_CERTS = '1'; // as init runs uv: the system's certificate store, as pip uses it
    const uvVenv = path.join(uvMachine.data, 'venv');
    const uv =
      timed(path.join(uvBin, 'uv'), ['venv', '-q', uvVenv], uvMachine.env).ms +
      timed(
        path.join(uvBin, 'uv'),
        ['pip', 'install', '-q', '--python', path.join(uvVenv, 'bin', 'python'), `mlflow==${version}`],
        uvMachine.env,
      ).ms;
    rows.push([`bare uv venv + uv pip install mlflow==${version} (uv already there)`, uv]);
  }

  const base = rows.find((r) => r[0].startsWith('bare python'))?.[1];
  console.log(`\nFresh install of MLflow ${version}, empty caches:`);
  for (const [what, ms] of rows)
    console.log(`  ${what.padEnd(70)} ${seconds(ms).padStart(8)}${base ? `  ${(ms / base).toFixed(2)}× pip` : ''}`);

  const mlflowBin = path.join(withUv.m.data, 'venv', 'bin', 'mlflow');
  /** @type {typeof import('../src/adapters/service/background.js')} */
  const { SERVER_WORKERS } = await fromDist('adapters/service/background.js');
  const ours = await measureIdleServer({ mlflowBin, workers: SERVER_WORKERS, jobs: false });
  const theirs = await measureIdleServer({ mlflowBin, workers: undefined, jobs: undefined });
  console.log(`\nIdle server, MLflow ${version}, 20 s after /health, whole process tree:`);
  for (const [label, row] of [
    ["ours (init's defaults)", ours],
    ["MLflow's defaults (mlflow server, no flags)", theirs],
  ]) {
    console.log(`  ${label.padEnd(45)} ${String(row.processes).padStart(3)} processes  ${row.rssMb.toFixed(0).padStart(6)} MB RSS`);
  }
  console.log(`  ratio: ${(theirs.rssMb / ours.rssMb).toFixed(1)}× less memory, ${theirs.processes - ours.processes} fewer processes`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
