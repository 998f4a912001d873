#!/usr/bin/env node
/**
 * P2: `claude-mlflow doctor` wall time with the server up (not --deep), side
 * by side in the same run with `mlflow autolog claude --status` (the test
 * venv's pinned MLflow) on the same project. Cold processes, medians.
 * Goal: doctor <= 1 s, faster than --status, while running >= 15 checks.
 *
 * Needs `npm run build` and the test venv (scripts/setup-test-venv.sh).
 * Usage: node bench/doctor.mjs [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fmt, freePort, median, repoRoot, tempDir, timeRun, venvBin } from './lib.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 9;
const cli = path.join(repoRoot, 'dist', 'cli.js');
const root = tempDir('claude-mlflow-bench-doctor-');
const home = path.join(root, 'home');
const project = path.join(root, 'bench-app');
const data = path.join(root, 'data');
for (const dir of [home, project, data]) mkdirSync(dir, { recursive: true });
const env = {
  PATH: process.env.PATH,
  HOME: home,
  USER: process.env.USER ?? 'bench',
  CLAUDE_MLFLOW_HOME: data,
  CI: 'true',
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
};
/**
 * @param {string[]} argv
 * @param {Omit<import('node:child_process').SpawnSyncOptions, 'encoding'>} [options]
 */
const run = (argv, options = {}) =>
  spawnSync(argv[0], argv.slice(1), { env, cwd: project, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });

// `doctor` through the CLI once it is wired; until then, the same command module in a cold node.
const wired = /^\s+doctor\b/m.test(run([process.execPath, cli, '--help']).stdout ?? '');
const doctorModule = path.join(repoRoot, 'dist', 'commands', 'doctor.js');
const doctorArgv = (/** @type {string[]} */ extra = []) =>
  wired
    ? [process.execPath, cli, 'doctor', ...extra]
    : [
        process.execPath,
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(doctorModule)}); process.exitCode = await m.runDoctorCommand({ json: ${extra.includes('--json')} });`,
      ];

const port = await freePort();
console.log(`Setting up: claude-mlflow init --port ${port} (real MLflow server from the test venv)…`);
const init = run([
  process.execPath,
  cli,
  'init',
  '--yes',
  '--project',
  project,
  '--port',
  String(port),
  '--no-service',
  '--mlflow',
  venvBin('mlflow'),
]);
if (init.status !== 0) {
  console.error(init.stdout, init.stderr);
  process.exit(1);
}

try {
  const check = run(doctorArgv(['--json']));
  const report = JSON.parse(check.stdout);
  /** @typedef {{ id: string, status: string }} Check */
  const failed = report.checks.filter((/** @type {Check} */ c) => c.status === 'fail').map((/** @type {Check} */ c) => c.id);
  if (check.status !== 0 || failed.length) throw new Error(`doctor does not pass on a fresh setup: ${failed.join(', ')}\n${check.stderr}`);
  const checks = report.summary.checks;

  const doctor = doctorArgv();
  const status = [venvBin('mlflow'), 'autolog', 'claude', '--status', '-d', project];
  timeRun(doctor[0], doctor.slice(1), { env, cwd: project });
  timeRun(status[0], status.slice(1), { env, cwd: project });
  const ours = [];
  const theirs = [];
  for (let i = 0; i < runs; i++) {
    ours.push(timeRun(doctor[0], doctor.slice(1), { env, cwd: project }));
    theirs.push(timeRun(status[0], status.slice(1), { env, cwd: project }));
  }
  const [mo, mt] = [median(ours), median(theirs)];
  console.log(
    `P2 doctor wall time, server up, not --deep (${wired ? 'claude-mlflow doctor' : 'doctor module in a cold node: cli.ts not wired yet'}), median of ${runs}:`,
  );
  console.log(`   claude-mlflow doctor ${fmt(mo)} (${checks} checks, min ${fmt(Math.min(...ours))}, max ${fmt(Math.max(...ours))})`);
  console.log(`   mlflow autolog claude --status ${fmt(mt)} (min ${fmt(Math.min(...theirs))}, max ${fmt(Math.max(...theirs))})`);
  console.log(
    `   ratio ${(mt / mo).toFixed(1)}x faster   goal: <= 1 s (${mo <= 1000 ? 'met' : 'MISSED'}), faster than --status (${mo < mt ? 'met' : 'MISSED'}), >= 15 checks (${checks >= 15 ? 'met' : 'MISSED'})`,
  );
} finally {
  run([process.execPath, cli, 'server', 'stop']);
  rmSync(root, { recursive: true, force: true });
}
