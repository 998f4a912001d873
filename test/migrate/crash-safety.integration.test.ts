/**
 * `migrate` under SIGKILL, step by step:
 * - the CLI is killed just before its k-th file operation that changes the
 *   disk (test/helpers/kill-at-file-op.cjs), for every k. After each kill,
 *   running the same `migrate` again finishes the move: the server runs on
 *   PostgreSQL and finds every trace, config.json says so, the SQLite file is
 *   untouched, no lock or temp file is left, and the data folder's one
 *   server is the one its pidfile names (none after `server stop`);
 * - the copy worker loses its parent mid-copy (its stdin closes while it is
 *   blocked inside the copy's transaction): it exits at once, and nothing of
 *   the copy is committed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonScript } from '../../src/adapters/python-scripts.js';
import { lockHolder } from '../../src/adapters/file-lock.js';
import { withPsycopg2 } from '../../src/core/backend-store.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { serversOfFolder } from '../helpers/server-processes.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { POSTGRESQL, gateOn } from '../helpers/system-tools.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { repoRoot, venvBin } from '../helpers/venv.js';
import { listTraces, seedTraces } from '../cleanup/fixtures.js';

// .ci/run installs PostgreSQL; elsewhere, without it, the suite is skipped and says why.
const postgres = gateOn(POSTGRESQL);
const KILLER = path.join(repoRoot, 'test', 'helpers', 'kill-at-file-op.cjs');
/** More file operations than migrate makes: the loop ends before, when a run is not killed. */
const MOST_OPS = 200;
/** Enough rows that the worker, copying one row per INSERT, fills its stdout pipe mid-copy. */
const TRACES = 1_000;

let pg: Postgres;
let tmp: TempDir;
let home: string;
let project: string;
let data: string;
let template: string;
let url: string;
let experimentId: string;
let sqliteDigest: string;

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runCli(args, { cwd: project, home, data, env });
const digestOf = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const pidOf = (): number => (JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')) as { pid: number }).pid;
const config = (): { server: { backendStoreUri: string }; migrating?: unknown } =>
  JSON.parse(readFileSync(path.join(data, 'config.json'), 'utf8'));

/** A database of its own for each run, on the one PostgreSQL server. */
async function freshDatabase(name: string): Promise<string> {
  await pg.sql(`CREATE DATABASE ${name} OWNER ${pg.user}`);
  return pg.uri.replace(/\/[^/]+$/, `/${name}`);
}

/**
 * What must not outlive a run: half-written temp files, a pause of delivery,
 * and a lock held by a live process. (A killed process's lock file may stay:
 * the next command that takes that lock breaks it, its holder being dead.)
 */
function litter(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => /\.(tmp|break)$/.test(f) || f.endsWith('.delivery.paused') || (f.endsWith('.lock') && lockHolderAlive(path.join(dir, f))),
  );
}

/** lockHolder names a lock's holder only while the lock is not stale: its holder alive and refreshing it. */
const lockHolderAlive = (file: string): boolean => lockHolder(file, { staleMs: 60_000 }) !== undefined;

beforeAll(async () => {
  if (postgres.skip) return;
  pg = await startPostgres({ database: 'migcrash' });
  tmp = await makeTempDir('claude-mlflow-migrate-crash-');
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, 'crashshop');
  data = path.join(tmp.path, 'data');
  template = path.join(tmp.path, 'template');
  mkdirSync(home);
  mkdirSync(project);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const init = await cli(['init', '--yes', '--no-service', '--mlflow', venvBin('mlflow'), '--port', String(port)]);
  if (init.exitCode !== 0) throw new Error(`init failed: ${init.stdout}\n${init.stderr}`);
  const res = await fetch(`${url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=crashshop`);
  experimentId = ((await res.json()) as { experiment: { experiment_id: string } }).experiment.experiment_id;
  const now = Date.now();
  await seedTraces(
    url,
    experimentId,
    Array.from({ length: TRACES }, (_, i) => now - (i + 1) * 60_000),
  );
  const stop = await cli(['server', 'stop']);
  if (stop.exitCode !== 0) throw new Error(`server stop failed: ${stop.stderr}`);
  cpSync(data, template, { recursive: true });
  sqliteDigest = digestOf(path.join(template, 'mlflow.db'));
}, 600_000);

afterAll(async () => {
  if (postgres.skip) return;
  await cli(['server', 'stop']).catch(() => undefined);
  await pg?.stop();
  await tmp?.cleanup();
});

describe.skipIf(postgres.skip)(postgres.title('migrate under SIGKILL'), () => {
  it('killed before each of its file operations, the same migrate again finishes the move', async () => {
    let kills = 0;
    for (let k = 1; k <= MOST_OPS; k++) {
      rmSync(data, { recursive: true, force: true });
      cpSync(template, data, { recursive: true });
      const start = await cli(['server', 'start']);
      expect(start.exitCode, `k=${k}, server start: ${start.stderr}`).toBe(0);
      const target = await freshDatabase(`migcrash_k${k}`);

      const killed = await cli(['migrate', '--to', target, '--yes'], {
        NODE_OPTIONS: `--require ${KILLER}`,
        CLAUDE_MLFLOW_TEST_KILL_AT: String(k),
      });
      if (killed.exitCode === 0) {
        await cli(['server', 'stop']);
        break; // fewer than k operations: every step was covered
      }
      expect(killed.exitCode, `k=${k}: ${killed.stderr}`).toBe(-1);
      kills += 1;

      const again = await cli(['migrate', '--to', target, '--yes']);
      expect(again.exitCode, `k=${k}, again: ${again.stderr}${again.stdout}`).toBe(0);
      expect(config().server.backendStoreUri, `k=${k}`).toBe(withPsycopg2(target));
      expect(config().migrating, `k=${k}`).toBeUndefined();
      expect((await listTraces(url, experimentId)).length, `k=${k}`).toBe(TRACES);
      expect(digestOf(path.join(data, 'mlflow.db')), `k=${k}`).toBe(sqliteDigest);
      expect(litter(data), `k=${k}`).toEqual([]);
      expect(serversOfFolder(data), `k=${k}: the one server of the data folder is the one its pidfile names`).toEqual([pidOf()]);
      const stop = await cli(['server', 'stop']);
      expect(stop.exitCode, `k=${k}, server stop: ${stop.stderr}`).toBe(0);
      expect(serversOfFolder(data), `k=${k}: no server outlives server stop`).toEqual([]);
    }
    expect(kills).toBeGreaterThan(0);
    expect(kills).toBeLessThan(MOST_OPS);
    console.log(`migrate: killed at each of its ${kills} file operations`);
  }, 3_600_000);

  it('the copy worker whose parent is gone exits mid-copy, and commits nothing', async () => {
    const target = await freshDatabase('migcrash_orphan');
    const worker = spawn(venvBin('python'), [pythonScript('migrate_worker')], { stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => worker.on('close', (code) => resolve(code)));
    worker.stdin.write(
      `${JSON.stringify({ mode: 'copy', sourceFile: path.join(template, 'mlflow.db'), target: withPsycopg2(target), batch: 1 })}\n`,
    );
    // Its stdout is never read: once the pipe (a Unix socket, from Node) is full, the worker blocks in a write of a
    // progress line, which it only emits inside the copy's transaction.
    const blockedInCopy = (): boolean => /pipe_write|sock_alloc_send/.test(readFileSync(`/proc/${worker.pid}/wchan`, 'utf8'));
    for (let i = 0; i < 600 && !blockedInCopy(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(blockedInCopy()).toBe(true);
    const inTransaction = await pg.sql(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'claude-mlflow-migrate' AND state = 'idle in transaction'",
    );
    expect(inTransaction.trim()).toBe('1');

    worker.stdin.end();
    expect(await exited).toBe(70);
    expect((await pg.sql('SELECT count(*) FROM trace_info', 'migcrash_orphan')).trim()).toBe('0');
    const connected = async (): Promise<string> =>
      (await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'claude-mlflow-migrate'")).trim();
    for (let i = 0; i < 100 && (await connected()) !== '0'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await connected()).toBe('0');
  }, 120_000);
});
