// Shared pieces of the benchmarks: a real MLflow server, timed child runs, medians.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const venv = process.env.CLAUDE_MLFLOW_TEST_VENV ?? path.join(repoRoot, '.venv');
export const venvBin = (/** @type {string} */ name) => path.join(venv, 'bin', name);

/**
 * A module of the built CLI, e.g. `fromDist('core/transcript.js')`. Callers type
 * what they get from the sources: `@type {typeof import('../src/core/transcript.js')}`.
 * @param {string} rel
 * @returns {Promise<any>}
 */
export const fromDist = (rel) => import(pathToFileURL(path.join(repoRoot, 'dist', rel)).href);

/** @param {string} [prefix] */
export function tempDir(prefix = 'claude-mlflow-bench-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real `mlflow server` on a free port (or on `port`, to restart one on the
 * same address), listening on `host` (loopback unless told), its output
 * appended to `logFile` if given. `stopAndWait` stops it and resolves once
 * it has exited (SIGKILL after `graceMs`).
 * @param {string} dir
 * @param {{ host?: string, port?: number, logFile?: string }} [options]
 */
export async function startServer(dir, { host = '127.0.0.1', port: wanted, logFile } = {}) {
  const port = wanted ?? (await freePort());
  const url = `http://${host}:${port}`;
  const log = logFile ? openSync(logFile, 'a') : undefined;
  const child = spawn(
    venvBin('mlflow'),
    [
      'server',
      '--backend-store-uri',
      `sqlite:///${dir}/mlflow.db`,
      '--artifacts-destination',
      `${dir}/artifacts`,
      '--host',
      host,
      '--port',
      String(port),
      '--workers',
      '1',
    ],
    {
      stdio: log === undefined ? 'ignore' : ['ignore', log, log],
      env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
    },
  );
  if (log !== undefined) closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stopAndWait = (graceMs = 15_000) => stopChild(child, exited, graceMs);
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, port, stop: () => child.kill('SIGTERM'), stopAndWait };
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('mlflow server did not start');
}

/**
 * SIGTERM, then SIGKILL if the child has not exited after `graceMs`; resolves once it has.
 * @param {import('node:child_process').ChildProcess} child
 * @param {Promise<unknown>} exited
 * @param {number} graceMs
 */
async function stopChild(child, exited, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/**
 * What a timed child run gets: its stdin, environment and working directory.
 * @typedef {{ input?: string, env?: NodeJS.ProcessEnv, cwd?: string }} RunOptions
 */

/**
 * Wall time of one child process, in ms.
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions} [options]
 */
export function timeRun(cmd, args, { input, env, cwd } = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { input, env, cwd, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/**
 * The same, without blocking this process's event loop (for a proxy or server running in it).
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions & { timeoutMs?: number }} [options]
 * @returns {Promise<number>}
 */
export function timeRunAsync(cmd, args, { input, env, cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${stderr}`));
      else resolve(ms);
    });
    child.stdin.end(input);
  });
}

/**
 * Peak RSS of one child process, in MB, from GNU time.
 * @param {string} cmd
 * @param {string[]} args
 * @param {RunOptions} [options]
 */
export function peakRssMb(cmd, args, { input, env, cwd } = {}) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { input, env, cwd, maxBuffer: 64 * 1024 * 1024 });
  const lines = String(r.stderr).trim().split('\n');
  return Number(lines.at(-1)) / 1024;
}

/** @param {number[]} values */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {number} ms */
export function fmt(ms) {
  return `${ms.toFixed(0)} ms`;
}

/**
 * Listen on a free loopback port; `close` ends every connection in `sockets` and the server.
 * @param {net.Server} server
 * @param {Set<net.Socket>} sockets
 * @returns {Promise<{ url: string, close: () => void }>}
 */
export function listenOnLoopback(server, sockets) {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${/** @type {net.AddressInfo} */ (server.address()).port}`,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}
