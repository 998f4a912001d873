/**
 * `migrate --to postgresql://…`, end to end: the built CLI's `init` runs a
 * real `mlflow server` on SQLite; 1,000 traces (5 spans each) go in through
 * MLflow's own OTLP ingest, with a second experiment and a run beside them;
 * one more trace waits in the spool, as a hook leaves it while the server is
 * down. Then `migrate` moves it all to a real PostgreSQL
 * (test/helpers/postgres.ts) and switches the server over: equal counts,
 * equal span trees for sampled traces, the run's metric, the spooled trace
 * delivered, the SQLite file kept untouched, doctor green on PostgreSQL.
 * Before that, every refusal leaves everything as it was.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { deliveryPid } from '../helpers/delivery.js';
import { sampleWithSession } from '../helpers/fixtures.js';
import { makeHookEnv } from '../helpers/hook-env.js';
import { freePort } from '../helpers/ports.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { runHookProcess } from '../helpers/run-hook-process.js';
import { waitForHookLog } from '../helpers/workspace.js';
import { POSTGRESQL, gateOn } from '../helpers/system-tools.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { distCli, venvBin } from '../helpers/venv.js';
import { createExperiment, DAY, listTraces, seedTraces, SPANS_PER_TRACE } from '../cleanup/fixtures.js';
import type { DoctorReport } from '../../src/doctor/render.js';

// .ci/run installs PostgreSQL; elsewhere, without it, the suite is skipped and says why.
const postgres = gateOn(POSTGRESQL);

const EXPERIMENT = 'migshop';
const TRACES = 1_000;
const OTHER_TRACES = 10;
const SAMPLE = 25;

let pg: Postgres;
let tmp: TempDir;
let home: string;
let project: string;
let data: string;
let port: number;
let url: string;
let experimentId: string;
let otherId: string;
let runId: string;
let sqliteFile: string;
let sampled: string[];
let treesBefore: unknown;
const outputs: string[] = [];

async function cli(args: string[]): Promise<CliRun> {
  const run = await runCli(args, { cwd: project, home, data });
  outputs.push(`${run.stdout}\n${run.stderr}`);
  return run;
}

const config = (): { server: { backendStoreUri: string }; migratedFrom?: { backendStoreUri: string } } =>
  JSON.parse(readFileSync(path.join(data, 'config.json'), 'utf8'));
const serverPid = (): number => JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')).pid;
const publicTables = async (database: string): Promise<number> =>
  Number(await pg.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database));

/** The span trees of some traces, through MLflow's Python client: everything a span holds, ids included. */
async function spanTrees(trackingUri: string, ids: string[]): Promise<unknown> {
  const code = `
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
out = {}
for i in json.loads(sys.argv[2]):
    t = c.get_trace(i)
    out[i] = {
        "info": {"state": str(t.info.state), "request_time": t.info.request_time, "execution_duration": t.info.execution_duration,
                 "metadata": t.info.trace_metadata, "tags": {k: v for k, v in t.info.tags.items() if not k.startswith("mlflow.artifactLocation")},
                 "request_preview": t.info.request_preview, "response_preview": t.info.response_preview},
        "spans": sorted(({"id": s.span_id, "parent": s.parent_id, "name": s.name, "type": s.span_type, "start": s.start_time_ns,
                          "end": s.end_time_ns, "status": s.status.status_code.value, "inputs": s.inputs, "outputs": s.outputs,
                          "attributes": s.attributes} for s in t.data.spans), key=lambda s: s["id"]),
    }
print(json.dumps(out, sort_keys=True))
`;
  const { stdout } = await execa(venvBin('python'), ['-c', code, trackingUri, JSON.stringify(ids)], {
    env: { MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function metricOf(run: string): Promise<number | undefined> {
  const res = await fetch(`${url}/api/2.0/mlflow/runs/get?run_id=${run}`);
  const body = (await res.json()) as { run: { data: { metrics?: { key: string; value: number }[] } } };
  return body.run.data.metrics?.find((m) => m.key === 'accuracy')?.value;
}

beforeAll(async () => {
  if (postgres.skip) return;
  pg = await startPostgres();
  tmp = await makeTempDir('claude-mlflow-migrate-');
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, EXPERIMENT);
  data = path.join(tmp.path, 'data');
  sqliteFile = path.join(data, 'mlflow.db');
  mkdirSync(home);
  mkdirSync(project);
  port = await freePort();
  url = `http://127.0.0.1:${port}`;

  const init = await cli(['init', '--yes', '--no-service', '--mlflow', venvBin('mlflow'), '--port', String(port)]);
  if (init.exitCode !== 0) throw new Error(`init failed: ${init.stdout}\n${init.stderr}`);
  const res = await fetch(`${url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${EXPERIMENT}`);
  experimentId = ((await res.json()) as { experiment: { experiment_id: string } }).experiment.experiment_id;

  const now = Date.now();
  await seedTraces(
    url,
    experimentId,
    Array.from({ length: TRACES }, (_, i) => now - (i + 1) * ((60 * DAY) / TRACES)),
  );
  otherId = await createExperiment(url, 'other-project');
  await seedTraces(
    url,
    otherId,
    Array.from({ length: OTHER_TRACES }, (_, i) => now - (i + 1) * DAY),
  );
  const run = await fetch(`${url}/api/2.0/mlflow/runs/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ experiment_id: otherId, start_time: now }),
  });
  runId = ((await run.json()) as { run: { info: { run_id: string } } }).run.info.run_id;
  await fetch(`${url}/api/2.0/mlflow/runs/log-metric`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ run_id: runId, key: 'accuracy', value: 0.875, timestamp: now, step: 0 }),
  });

  const ids = (await listTraces(url, experimentId)).map((t) => t.id);
  if (ids.length !== TRACES) throw new Error(`seeded ${ids.length} traces, not ${TRACES}`);
  sampled = Array.from({ length: SAMPLE }, (_, i) => ids[Math.floor((i * ids.length) / SAMPLE)]!);
  treesBefore = await spanTrees(url, sampled);
}, 600_000);

afterAll(async () => {
  if (postgres.skip) return;
  if (data) await runCli(['server', 'stop'], { cwd: project, home, data }).catch(() => undefined);
  await pg?.stop();
  await tmp?.cleanup();
});

describe.skipIf(postgres.skip)(postgres.title('migrate --to postgresql://'), () => {
  it('refuses a malformed URI: exit 2, one line, password masked, nothing changed', async () => {
    const before = readFileSync(path.join(data, 'config.json'), 'utf8');
    const run = await cli(['migrate', '--to', pg.uri.replace('postgresql://', 'postgres://'), '--yes']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('write postgresql://');
    expect(run.stderr).toContain('***');
    expect(readFileSync(path.join(data, 'config.json'), 'utf8')).toBe(before);
  });

  it("a SQLite schema behind the installed MLflow: refused, with MLflow's own upgrade command as the way out", async () => {
    const python = (statement: string): Promise<unknown> =>
      execa(venvBin('python'), [
        '-c',
        'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()',
        sqliteFile,
        statement,
      ]);
    const head = (
      await execa(venvBin('python'), [
        '-c',
        'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT version_num FROM alembic_version").fetchone()[0])',
        sqliteFile,
      ])
    ).stdout.trim();
    await python("UPDATE alembic_version SET version_num = 'ae8bbe7743c9'");
    try {
      const run = await cli(['migrate', '--to', pg.uri, '--dry-run']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(
        `the SQLite database is at schema revision ae8bbe7743c9, the installed MLflow's is ${head}. Nothing was changed.`,
      );
      expect(run.stderr).toContain(`run \`${venvBin('mlflow')} db upgrade sqlite:///${sqliteFile}\``);
      expect(await publicTables(pg.database)).toBe(0);
    } finally {
      await python(`UPDATE alembic_version SET version_num = '${head}'`);
    }
  });

  it('--dry-run shows the plan and changes nothing: the server stays on SQLite, the target gets no table', async () => {
    const pid = serverPid();
    const run = await cli(['migrate', '--to', pg.uri, '--dry-run']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`From: SQLite ${sqliteFile}`);
    expect(run.stdout).toContain(
      `${(TRACES + OTHER_TRACES).toLocaleString('en-US')} traces (${((TRACES + OTHER_TRACES) * SPANS_PER_TRACE).toLocaleString('en-US')} spans) in 3 experiments, 1 run`,
    );
    expect(run.stdout).toContain(`To:   PostgreSQL database "${pg.database}" on 127.0.0.1:${pg.port} as user "${pg.user}"`);
    expect(run.stdout).toContain('empty (MLflow creates its schema there)');
    expect(run.stdout).toContain('Dry run: nothing was changed.');
    expect(serverPid()).toBe(pid);
    expect(config().server.backendStoreUri).toBe(`sqlite:///${sqliteFile}`);
    expect(await publicTables(pg.database)).toBe(0);
  });

  it('without --yes and no terminal: exit 2, nothing changed', async () => {
    const pid = serverPid();
    const run = await cli(['migrate', '--to', pg.uri]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('no terminal to confirm on, so nothing was changed');
    expect(serverPid()).toBe(pid);
    expect(await publicTables(pg.database)).toBe(0);
  });

  it("refuses a database that already has tables, and one where the user may not create MLflow's schema; the server goes on on SQLite", async () => {
    const busyDb = `${pg.database}_busy`;
    const readonlyDb = `${pg.database}_readonly`;
    await pg.sql(`CREATE DATABASE ${busyDb} OWNER ${pg.user}`);
    await pg.sql('CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (1);', busyDb);
    await pg.sql(`ALTER TABLE invoices OWNER TO ${pg.user}`, busyDb);
    const busy = await cli(['migrate', '--to', pg.uri.replace(/\/[^/]+$/, `/${busyDb}`), '--yes']);
    expect(busy.exitCode, busy.stdout + busy.stderr).toBe(1);
    expect(busy.stderr).toContain(
      `PostgreSQL database "${busyDb}" on 127.0.0.1:${pg.port} as user "${pg.user}" already has tables that are not MLflow's (invoices)`,
    );
    expect(busy.stderr).toContain('Nothing was changed.');
    expect(await pg.sql('SELECT count(*) FROM invoices', busyDb)).toBe('1');

    // PostgreSQL 15: only the owner of schema public may create tables in it.
    await pg.sql(`CREATE DATABASE ${readonlyDb} OWNER postgres`);
    await pg.sql(`GRANT CONNECT ON DATABASE ${readonlyDb} TO ${pg.user}`);
    const pid = serverPid();
    const denied = await cli(['migrate', '--to', pg.uri.replace(/\/[^/]+$/, `/${readonlyDb}`), '--yes']);
    expect(denied.exitCode, denied.stdout + denied.stderr).toBe(1);
    expect(denied.stdout).toContain('Stopped the MLflow server.');
    expect(denied.stderr).toMatch(
      /the copy failed: .*permission denied for schema public.*It was rolled back; the server runs on SQLite again, as before\./,
    );
    expect(serverPid()).not.toBe(pid);
    expect(config().server.backendStoreUri).toBe(`sqlite:///${sqliteFile}`);
    expect((await listTraces(url, experimentId)).length).toBe(TRACES);
  });

  it('a row PostgreSQL refuses, deep in the copy: all of it rolled back, the server back on SQLite; the next migrate may use the same database', async () => {
    // Test-only tampering: a tag value with a NUL character, which SQLite keeps and PostgreSQL's text type refuses.
    const tampered = sampled[SAMPLE - 1]!;
    const sqlite = (statement: string): Promise<unknown> =>
      execa(venvBin('python'), [
        '-c',
        'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2], (sys.argv[3],)); c.commit()',
        sqliteFile,
        statement,
        tampered,
      ]);
    await sqlite("INSERT INTO trace_tags (key, value, request_id) VALUES ('nul', 'a' || char(0) || 'b', ?)");
    try {
      const run = await cli(['migrate', '--to', pg.uri, '--yes']);
      expect(run.exitCode, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/copied trace_info: 1,010 rows/);
      expect(run.stderr).toMatch(
        /the copy failed: table trace_tags, rows \d+ to \d+: .*NUL.*It was rolled back; the server runs on SQLite again, as before\./,
      );
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      // MLflow's schema is there, every copied row is gone.
      expect(await publicTables(pg.database)).toBeGreaterThan(10);
      expect(await pg.sql('SELECT count(*) FROM trace_info', pg.database)).toBe('0');
      expect(await pg.sql('SELECT count(*) FROM spans', pg.database)).toBe('0');
      expect(config().server.backendStoreUri).toBe(`sqlite:///${sqliteFile}`);
      expect((await listTraces(url, experimentId)).length).toBe(TRACES);
    } finally {
      await sqlite("DELETE FROM trace_tags WHERE key = 'nul' AND request_id = ?");
    }
    const plan = await cli(['migrate', '--to', pg.uri, '--dry-run']);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain("with MLflow's empty schema");
  });

  it('Ctrl-C during the copy: the copy is rolled back and the server runs on SQLite again (exit 130)', async () => {
    const child = execa(process.execPath, [distCli, 'migrate', '--to', pg.uri, '--yes'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', HOME: home, CLAUDE_MLFLOW_HOME: data, CI: 'true', MLFLOW_DISABLE_TELEMETRY: 'true' },
      extendEnv: false,
      reject: false,
      timeout: 300_000,
    });
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        // The first table with rows is copied: the transaction holds data now.
        if (/copied \w+: /.test(out)) resolve();
      });
      void child.then(() => resolve());
    });
    child.kill('SIGINT');
    const run = await child;
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(130);
    expect(String(run.stderr)).toContain('Cancelled: the copy was stopped and rolled back; the server runs on SQLite again, as before.');
    expect(await pg.sql('SELECT count(*) FROM trace_info', pg.database)).toBe('0');
    expect(await pg.sql('SELECT count(*) FROM experiments', pg.database)).toBe('0');
    expect(config().server.backendStoreUri).toBe(`sqlite:///${sqliteFile}`);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('a trace spooled while the server is down waits for the move', async () => {
    expect((await cli(['server', 'stop'])).exitCode).toBe(0);
    const { stdin } = sampleWithSession(tmp.path, '00000000-0000-4000-9000-00000000abcd');
    const hook = await runHookProcess(stdin, makeHookEnv({ home, dataRoot: data, trackingUri: url, experiment: EXPERIMENT }));
    expect(hook.exitCode).toBe(0);
    // The delivery process the hook started finds no server, says so, and keeps retrying.
    await waitForHookLog(data, /delivery failed, 1 trace\(s\) wait in the spool: /);
    expect(readdirSpool()).toHaveLength(1);
    expect(deliveryPid(data)).toBeDefined();
  });

  it('moves 1,000 traces to PostgreSQL: equal counts, equal span trees, the run, the spooled trace; the SQLite file untouched', async () => {
    const sqliteBefore = statSync(sqliteFile);
    const sqliteBytes = readFileSync(sqliteFile);
    const run = await cli(['migrate', '--to', pg.uri, '--yes']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("every table's count matches");
    expect(run.stdout).toContain(`now stores traces in PostgreSQL database "${pg.database}"`);
    // The delivery process the hook started steps aside while the server moves: migrate counts what it copied,
    // then delivers the spooled trace itself.
    expect(run.stdout).toContain(`it finds all ${(TRACES + OTHER_TRACES).toLocaleString('en-US')} traces`);
    expect(run.stdout).toContain('Delivered 1 trace that arrived during the move.');
    expect(run.stdout).not.toContain('still waiting');
    expect(run.stdout).toContain(`The SQLite database is kept at ${sqliteFile}`);

    // The server and its config are on PostgreSQL now; the password only in the 0600 pgpass file.
    expect(config().server.backendStoreUri).toBe(pg.uri.replace('postgresql://', 'postgresql+psycopg2://'));
    expect(config().migratedFrom?.backendStoreUri).toBe(`sqlite:///${sqliteFile}`);
    const argv = readFileSync(`/proc/${serverPid()}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(`postgresql+psycopg2://${pg.user}@127.0.0.1:${pg.port}/${pg.database}`);
    expect(statSync(path.join(data, 'pgpass')).mode & 0o777).toBe(0o600);
    expect(Number(await pg.sql('SELECT count(*) FROM trace_info', pg.database))).toBe(TRACES + OTHER_TRACES + 1);

    // Equal counts and span trees, through MLflow.
    expect((await listTraces(url, experimentId)).length).toBe(TRACES + 1);
    expect((await listTraces(url, otherId)).length).toBe(OTHER_TRACES);
    expect(await spanTrees(url, sampled)).toEqual(treesBefore);
    expect(await metricOf(runId)).toBe(0.875);
    expect(readdirSpool()).toHaveLength(0);

    // New ids do not collide with the copied ones (the sequences moved on).
    const created = Number(await createExperiment(url, 'after-the-move'));
    expect(created).toBeGreaterThan(Math.max(Number(experimentId), Number(otherId)));

    // The SQLite file was never written.
    expect(existsSync(sqliteFile)).toBe(true);
    expect(statSync(sqliteFile).mtimeMs).toBe(sqliteBefore.mtimeMs);
    expect(readFileSync(sqliteFile).equals(sqliteBytes)).toBe(true);
    for (const text of outputs) {
      expect(text).not.toContain(pg.password);
      expect(text).not.toContain(encodeURIComponent(pg.password));
    }
  });

  it('server status names the kept SQLite file until it is removed', async () => {
    const status = await cli(['server', 'status']);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    const line = status.stdout.split('\n').find((l) => l.startsWith('Old:'));
    expect(line).toContain(`${sqliteFile} (`);
    expect(line).toMatch(
      / MB\), the SQLite database before `migrate` on \d{4}-\d\d-\d\d; nothing reads it: remove it when you are satisfied$/,
    );
    const json = JSON.parse((await cli(['server', 'status', '--json'])).stdout);
    expect(json.oldSqlite).toMatchObject({ file: sqliteFile });
    // The user removes it: the line goes, and the server does not miss it.
    rmSync(sqliteFile);
    const after = await cli(['server', 'status']);
    expect(after.exitCode).toBe(0);
    expect(after.stdout).not.toContain('Old:');
    expect((await listTraces(url, experimentId)).length).toBe(TRACES + 1);
  });

  it('after the move: doctor passes on PostgreSQL, and a second migrate has nothing to do', async () => {
    const doctor = await cli(['doctor', '--json']);
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    expect(
      doctor.exitCode,
      JSON.stringify(
        report.checks.filter((c) => c.status === 'fail'),
        null,
        2,
      ),
    ).toBe(0);
    expect(report.checks.find((c) => c.id === 'pg-connection')).toMatchObject({ status: 'ok' });
    // The same move again (say, after a kill the first time): nothing to do, and it says so.
    const again = await cli(['migrate', '--to', pg.uri, '--yes']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain(`The server already stores traces in PostgreSQL database "${pg.database}"`);
    expect(again.stdout).toContain('Nothing to move.');
    expect(`${again.stdout}${again.stderr}`).not.toContain(pg.password);
    // Another target: refused, the server stays where it is.
    const elsewhere = await cli(['migrate', '--to', pg.uri.replace(/\/[^/]+$/, '/elsewhere'), '--yes']);
    expect(elsewhere.exitCode).toBe(1);
    expect(elsewhere.stderr).toContain('already stores traces in PostgreSQL');
    expect(elsewhere.stderr).not.toContain(pg.password);
  });
});

function readdirSpool(): string[] {
  try {
    return readdirSync(path.join(data, 'spool')).filter((f) => f.endsWith('.trace.json'));
  } catch {
    return [];
  }
}
