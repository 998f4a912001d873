#!/usr/bin/env node
/**
 * Cleanup throughput on PostgreSQL against SQLite, on the same data, and the
 * migration that moves it:
 *
 * 1. The generated SQLite database of the P3 bench (bench/cleanup.mjs:
 *    `--traces N` realistic traces, 5 spans each, half older than 30 days;
 *    `--db FILE` keeps it and reuses it next time).
 * 2. SQLite: a data folder as `init` leaves it, and our
 *    `cleanup --older-than 30d --no-backup --no-vacuum` through the server.
 * 3. PostgreSQL: another copy of the same file, moved by our own
 *    `migrate --to postgresql://…` (timed: that is the migration figure) to a
 *    real PostgreSQL from Debian's packages with its default durability
 *    (scripts/test-postgres.sh start --durable), then the same cleanup through
 *    the server, now on PostgreSQL (backup and VACUUM are SQLite's; they do
 *    not apply).
 * Both must leave the same number of traces.
 *
 * Usage (needs `npm run build`, the test venv, and PostgreSQL's binaries):
 *   node bench/cleanup-postgres.mjs [--traces 100000] [--db /tmp/p3-100k.db] [--keep]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { baseDatabase, census, env, localServer, runOurs } from './cleanup-lib.mjs';
import { repoRoot, tempDir } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (/** @type {string} */ name, /** @type {string | undefined} */ fallback = undefined) =>
  argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback;
const traces = Number(arg('--traces', '100000'));
const saved = arg('--db');
const keep = argv.includes('--keep');
const work = tempDir('claude-mlflow-pg-bench-');
const s = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`;
const mb = (/** @type {number} */ bytes) => `${(bytes / 1e6).toFixed(0)} MB`;

/** A PostgreSQL of our own for this run, with its default durability (the tests' server turns fsync off): fair against SQLite. */
function postgres() {
  const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'test-postgres.sh'), 'start', '--durable'], { encoding: 'utf8' });
  const dir = /** @type {RegExpExecArray} */ (/CLAUDE_MLFLOW_TEST_PG_DIR='([^']+)'/.exec(out))[1];
  const port = /** @type {RegExpExecArray} */ (/CLAUDE_MLFLOW_TEST_PG_PORT='([^']+)'/.exec(out))[1];
  const psql = (/** @type {string} */ sql, db = 'postgres') =>
    execFileSync('psql', ['-h', dir, '-p', port, '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-Atc', sql], {
      encoding: 'utf8',
    }).trim();
  const suffix = Math.random().toString(36).slice(2, 8);
  const user = `bench_${suffix}`;
  const database = `bench_${suffix}`;
  const password = `bench-${suffix}-pw`;
  psql(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
  psql(`CREATE DATABASE ${database} OWNER ${user}`);
  return {
    uri: `postgresql://${user}:${password}@127.0.0.1:${port}/${database}`,
    count: (/** @type {string} */ table) => Number(psql(`SELECT count(*) FROM ${table}`, database)),
    size: () => Number(psql(`SELECT pg_database_size('${database}')`)),
    version: psql('SHOW server_version'),
    stop() {
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      psql(`DROP ROLE IF EXISTS ${user}`);
      execFileSync('bash', [path.join(repoRoot, 'scripts', 'test-postgres.sh'), 'stop', dir]);
    },
  };
}

/**
 * @param {string} data
 * @param {string[]} args
 */
function cli(data, args) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), ...args], {
    cwd: data,
    env: { ...env, CLAUDE_MLFLOW_HOME: data, HOME: data, CI: 'true' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`claude-mlflow ${args[0]} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return { ms: performance.now() - started, stdout: r.stdout };
}

let pg;
try {
  const base = await baseDatabase(work, { traces, saved });
  const before = census(base);
  const size = statSync(base).size;
  pg = postgres();

  // SQLite.
  const lite = await localServer('sqlite', base, work);
  const onSqlite = await runOurs(lite.data, {
    olderThan: '30d',
    experiment: ['bench'],
    yes: true,
    json: true,
    backup: false,
    vacuum: false,
  });
  await lite.stop();
  const leftSqlite = census(lite.db).traces;
  rmSync(lite.data, { recursive: true, force: true });

  // PostgreSQL: the same file, moved by `migrate`, then the same cleanup.
  const moved = await localServer('postgres', base, work);
  // The bench's server runs the test venv's mlflow, which has the PostgreSQL driver.
  const migration = cli(moved.data, ['migrate', '--to', pg.uri, '--yes']);
  const pgBytes = pg.size();
  const onPostgres = await runOurs(moved.data, { olderThan: '30d', experiment: ['bench'], yes: true, json: true });
  const leftPostgres = pg.count('trace_info');
  const spansPostgres = pg.count('spans');
  await moved.stop();

  const copied = /Copied ([\d,]+) rows in ([\d.]+) s/.exec(migration.stdout);
  console.log(
    `Cleanup on PostgreSQL ${pg.version} against SQLite, --older-than 30d: ${before.traces.toLocaleString('en-US')} traces (${before.spans.toLocaleString('en-US')} spans, ${mb(size)} as SQLite), ${before.older.toLocaleString('en-US')} older than 30 days`,
  );
  console.log(
    `   SQLite,     through the server (--no-backup --no-vacuum): ${s(onSqlite.ms)}   deleted ${onSqlite.report.deleted.toLocaleString('en-US')}   peak RSS ${onSqlite.rssMb.toFixed(0)} MB`,
  );
  console.log(
    `   PostgreSQL, through the server (the default run):         ${s(onPostgres.ms)}   deleted ${onPostgres.report.deleted.toLocaleString('en-US')}   peak RSS ${onPostgres.rssMb.toFixed(0)} MB`,
  );
  console.log(
    `   ratio PostgreSQL/SQLite ${(onPostgres.ms / onSqlite.ms).toFixed(2)}x   (${Math.round(onSqlite.report.deleted / (onSqlite.ms / 1000)).toLocaleString('en-US')} vs ${Math.round(onPostgres.report.deleted / (onPostgres.ms / 1000)).toLocaleString('en-US')} traces/s)`,
  );
  console.log(
    `   migrate --to postgresql:// (whole command: checks, stop, copy, switch, verify): ${s(migration.ms)}${copied ? `; the copy ${copied[1]} rows in ${copied[2]} s` : ''}; PostgreSQL database ${mb(pgBytes)} after`,
  );
  console.log(
    `   load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other processes on this machine skew the figures)`,
  );
  console.log(`   left afterwards: SQLite ${leftSqlite}, PostgreSQL ${leftPostgres} traces (${spansPostgres} spans)`);
  if (leftSqlite !== leftPostgres) {
    console.log('   WARNING: the two did not leave the same traces');
    process.exitCode = 1;
  }
} finally {
  pg?.stop();
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`   kept ${work}`);
}
