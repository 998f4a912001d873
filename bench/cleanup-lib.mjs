// The pieces the cleanup benchmarks share: the generated database, a data
// folder with a background server as `init` leaves it, and our cleanup run as
// the CLI runs it, with its peak RSS.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureExperiment, generateTraces, startTimes } from './gen-traces.mjs';
import { freePort, fromDist, repoRoot, startServer, venvBin } from './lib.mjs';

const DAY = 86_400_000;
const s = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;
/** @type {typeof import('../src/services/local-server.js')} */
const { ensureServerRunning } = await fromDist('services/local-server.js');
/** @type {typeof import('../src/adapters/service/background.js')} */
const { stopBackground } = await fromDist('adapters/service/background.js');

/**
 * Copy, and flush the copy to disk: no contender pays for the previous copy's writeback.
 * @param {string} from
 * @param {string} to
 */
export function copy(from, to) {
  copyFileSync(from, to);
  const fd = openSync(to, 'r+');
  fsyncSync(fd);
  closeSync(fd);
}
export const env = { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' };

/**
 * Bench-only reads of MLflow's tables, to check that every contender left the same traces.
 * @param {string} db
 * @returns {{ traces: number, spans: number, older: number }}
 */
export function census(db) {
  const code = `
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(json.dumps({"traces": c.execute("select count(*) from trace_info").fetchone()[0],
                  "spans": c.execute("select count(*) from spans").fetchone()[0],
                  "older": c.execute("select count(*) from trace_info where timestamp_ms < ?", (int(sys.argv[2]),)).fetchone()[0]}))`;
  return JSON.parse(execFileSync(venvBin('python'), ['-c', code, db, String(Date.now() - 30 * DAY)], { encoding: 'utf8' }));
}

/**
 * @param {string} file
 * @param {{ traces: number, work: string }} options
 */
export async function generate(file, { traces, work }) {
  const dir = path.join(work, 'gen');
  mkdirSync(dir, { recursive: true });
  const server = await startServer(dir);
  const started = Date.now();
  try {
    const experimentId = await ensureExperiment(server.url, 'bench');
    await generateTraces({
      url: server.url,
      experimentId,
      times: startTimes(traces, { oldShare: 0.5, cutoffDays: 30 }),
      batch: 1000,
      onProgress: (n) => process.stderr.write(`\r  generating: ${n}/${traces} traces`),
    });
  } finally {
    server.stop();
    await new Promise((r) => setTimeout(r, 2000));
  }
  process.stderr.write(`\n  generated ${traces} traces in ${s(Date.now() - started)}\n`);
  copyFileSync(path.join(dir, 'mlflow.db'), file);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A data folder as `init` leaves it: config.json naming a background server on a copy of the database.
 * @param {string} name
 * @param {string} base
 * @param {string} work
 */
export async function localServer(name, base, work) {
  const data = path.join(work, name);
  mkdirSync(data, { recursive: true });
  copy(base, path.join(data, 'mlflow.db'));
  /** @type {import('../src/adapters/config-store.js').LocalServerConfig} */
  const server = {
    manager: 'background',
    mlflowBin: venvBin('mlflow'),
    host: '127.0.0.1',
    port: await freePort(),
    backendStoreUri: `sqlite:///${path.join(data, 'mlflow.db')}`,
  };
  writeFileSync(path.join(data, 'config.json'), JSON.stringify({ server }));
  await ensureServerRunning(data, server, env);
  return {
    data,
    db: path.join(data, 'mlflow.db'),
    url: `http://127.0.0.1:${server.port}`,
    stop: () => stopBackground(path.join(data, 'server.pid')),
  };
}

/**
 * @param {string} data
 * @param {import('../src/cleanup/options.js').CleanupFlags} options
 * @returns {Promise<{ ms: number, rssMb: number, report: any }>}
 */
export function runOurs(data, options) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(repoRoot, 'bench', 'cleanup-child.mjs'), JSON.stringify(options)], {
      cwd: data,
      env: { ...env, CLAUDE_MLFLOW_HOME: data, HOME: data, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`cleanup exited ${code}\n${out}\n${err}`));
      const rss = JSON.parse(/** @type {string} */ (err.trim().split('\n').pop())).maxRssKb;
      resolve({ ms, rssMb: rss / 1024, report: JSON.parse(out.trim().split('\n')[0]) });
    });
  });
}

/**
 * The benches' starting database in `work`: a copy of `saved` when it exists, else generated (and kept in `saved` when given).
 * @param {string} work
 * @param {{ traces: number, saved?: string }} options
 */
export async function baseDatabase(work, { traces, saved }) {
  const base = path.join(work, 'base.db');
  if (saved && existsSync(saved)) {
    copy(saved, base);
    process.stderr.write(`  reusing ${saved}\n`);
  } else {
    await generate(base, { traces, work });
    if (saved) copyFileSync(base, saved);
  }
  return base;
}
