/**
 * The local server on a real PostgreSQL, end to end: a throwaway cluster from
 * Debian's packages on 127.0.0.1 (test/helpers/postgres.ts), the built CLI's
 * `init --backend-store-uri postgresql://…` with the test venv's MLflow (which
 * has the pinned psycopg2-binary), a real Claude Code session traced through
 * the real `mlflow server` on it, then `doctor`, `status`, `cleanup` (through
 * the server, and with the server stopped through MLflow's Python client on
 * the PostgreSQL URI) and `uninstall`. The password never shows in any output.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClaude } from '../helpers/claude-cli.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { searchTracesAt } from '../helpers/mlflow-server.js';
import { freePort } from '../helpers/ports.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { POSTGRESQL, gateOn } from '../helpers/system-tools.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { venvBin } from '../helpers/venv.js';
import { DAY, listTraces, seedTraces } from '../cleanup/fixtures.js';
import { assertSchema } from '../doctor/setup.js';
import type { DoctorReport } from '../../src/doctor/render.js';

// .ci/run installs PostgreSQL; elsewhere, without it, the suite is skipped and says why.
const postgres = gateOn(POSTGRESQL);

let pg: Postgres;
let tmp: TempDir;
let fake: FakeAnthropic;
let home: string;
let project: string;
let data: string;
let port: number;
let url: string;
let experimentId: string;
/** Every output of every command, checked at the end for the password. */
const outputs: string[] = [];

const EXPERIMENT = 'pgshop';

async function cli(args: string[], env?: Record<string, string>): Promise<CliRun> {
  const run = await runCli(args, { cwd: project, home, data, env });
  // What the command printed (its arguments hold the password: they are the test's input, not output).
  outputs.push(`${run.stdout}\n${run.stderr}`);
  return run;
}

function initArgs(uri: string, extra: string[] = []): string[] {
  return ['init', '--yes', '--no-service', '--backend-store-uri', uri, '--mlflow', venvBin('mlflow'), '--port', String(port), ...extra];
}

/** The password as given and as written in the URI. */
function secrets(): string[] {
  return [pg.password, encodeURIComponent(pg.password)];
}

function expectNoSecret(text: string): void {
  for (const s of secrets()) expect(text).not.toContain(s);
}

beforeAll(async () => {
  if (postgres.skip) return;
  pg = await startPostgres();
  tmp = await makeTempDir('claude-mlflow-pg-e2e-');
  home = path.join(tmp.path, 'home');
  project = path.join(tmp.path, EXPERIMENT);
  data = path.join(tmp.path, 'data');
  mkdirSync(home);
  mkdirSync(project);
  writeFileSync(path.join(project, 'notes.txt'), 'hello from postgres\n');
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  fake = await startFakeAnthropic((_req, ctx) =>
    ctx.index % 2 === 0
      ? { toolUse: { name: 'Read', input: { file_path: path.join(project, 'notes.txt') } } }
      : { text: 'notes.txt says hello from postgres' },
  );
});

afterAll(async () => {
  if (postgres.skip) return;
  if (data) await runCli(['server', 'stop'], { cwd: project, home, data }).catch(() => undefined);
  await fake?.close();
  await pg?.stop();
  await tmp?.cleanup();
});

describe.skipIf(postgres.skip)(postgres.title('local server on a real PostgreSQL'), () => {
  it('refuses a malformed URI: exit 2, one line, password masked, nothing written', async () => {
    const bad = `postgres://${pg.user}:${encodeURIComponent(pg.password)}@127.0.0.1:${pg.port}/${pg.database}`;
    const run = await cli(initArgs(bad));
    expect(run.exitCode).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('write postgresql://');
    expect(run.stderr).toContain('***');
    expect(existsSync(path.join(data, 'config.json'))).toBe(false);
    expect(existsSync(path.join(project, '.claude'))).toBe(false);
  });

  it('a wrong password: a clear error naming host, port, database and user; nothing written', async () => {
    const wrong = `postgresql://${pg.user}:not-the-password-42@127.0.0.1:${pg.port}/${pg.database}`;
    const run = await cli(initArgs(wrong));
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toContain(`cannot connect to PostgreSQL database "${pg.database}" on 127.0.0.1:${pg.port} as user "${pg.user}"`);
    expect(run.stderr).toContain('password authentication failed');
    expect(run.stderr + run.stdout).not.toContain('not-the-password-42');
    expect(existsSync(path.join(data, 'config.json'))).toBe(false);
    expect(existsSync(path.join(project, '.claude', 'settings.json'))).toBe(false);
    // Nothing listens on the port: the server was never started.
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('init runs the server on PostgreSQL; the password stays out of the command line, the log and world-readable files', async () => {
    const run = await cli(initArgs(pg.uri));
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Connected to PostgreSQL database "${pg.database}" on 127.0.0.1:${pg.port} as user "${pg.user}"`);
    expect(run.stdout).toContain(`Traces are stored in PostgreSQL database "${pg.database}"`);
    expect((await fetch(`${url}/health`)).status).toBe(200);

    // MLflow created its schema in PostgreSQL (test-only look at the tables).
    expect(await pg.sql('SELECT count(*) FROM alembic_version', pg.database)).toBe('1');

    const config = JSON.parse(readFileSync(path.join(data, 'config.json'), 'utf8'));
    // Stored with the driver named: SQLAlchemy 2.1 would pick psycopg (3) for a bare postgresql://.
    expect(config.server.backendStoreUri).toBe(pg.uri.replace('postgresql://', 'postgresql+psycopg2://'));
    expect(statSync(path.join(data, 'config.json')).mode & 0o777).toBe(0o600);
    const pgpass = path.join(data, 'pgpass');
    expect(statSync(pgpass).mode & 0o777).toBe(0o600);
    expect(readFileSync(pgpass, 'utf8')).toBe(`*:*:*:${pg.user}:${pg.password.replace(/[\\:]/g, '\\$&')}\n`);

    const record = JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')) as { pid: number; command: string[] };
    const argv = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(`postgresql+psycopg2://${pg.user}@127.0.0.1:${pg.port}/${pg.database}`);
    expectNoSecret(argv.join(' '));
    expectNoSecret(record.command.join(' '));
    expectNoSecret(readFileSync(path.join(data, 'logs', 'server.log'), 'utf8'));
  });

  it('a real Claude Code session is traced into PostgreSQL', async () => {
    const session = await runClaude({
      cwd: project,
      home,
      baseUrl: fake.url,
      prompt: 'first session',
      args: ['--allowedTools', 'Read'],
      env: { CLAUDE_MLFLOW_HOME: data },
    });
    expect(session.exitCode, session.stderr).toBe(0);
    const traces = await searchTracesAt(url, EXPERIMENT);
    expect(traces.map((t) => t.info.request_preview)).toEqual(['first session']);
    expect(traces[0]!.spans.map((s) => s.name)).toEqual(['claude_code_conversation', 'llm', 'tool_Read', 'llm']);
    const res = await fetch(`${url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${EXPERIMENT}`);
    experimentId = ((await res.json()) as { experiment: { experiment_id: string } }).experiment.experiment_id;
    expect(experimentId).toMatch(/^\d+$/);
    expect(await pg.sql('SELECT count(*) FROM trace_info', pg.database)).toBe('1');
  });

  it('init again with the same URI changes nothing and keeps the server running', async () => {
    const pid = JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')).pid;
    const config = readFileSync(path.join(data, 'config.json'), 'utf8');
    const run = await cli(initArgs(pg.uri));
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    // (Not "Already set up" as such: a rebuild of dist/ meanwhile would reinstall the hook runtime.)
    expect(run.stdout).toContain(`MLflow server already running at ${url}`);
    expect(run.stdout).toContain('Tracing already on');
    expect(run.stdout).not.toMatch(/Started the MLflow server|Created the experiment|Updated /);
    expect(readFileSync(path.join(data, 'config.json'), 'utf8')).toBe(config);
    expect(JSON.parse(readFileSync(path.join(data, 'server.pid'), 'utf8')).pid).toBe(pid);
  });

  it('doctor: the PostgreSQL checks pass, the SQLite ones do not apply', async () => {
    const run = await cli(['doctor', '--json']);
    const report = JSON.parse(run.stdout) as DoctorReport;
    assertSchema(report);
    const by = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(
      run.exitCode,
      JSON.stringify(
        report.checks.filter((c) => c.status === 'fail'),
        null,
        2,
      ),
    ).toBe(0);
    expect(by['pg-connection']).toMatchObject({ status: 'ok' });
    expect(by['pg-connection']!.message).toMatch(/^PostgreSQL \d+/);
    expect(by['pg-connections']).toMatchObject({ status: 'ok' });
    // The test server's max_connections (test/helpers/postgres.ts), less the superuser reserve of 3.
    expect(by['pg-connections']!.message).toMatch(
      new RegExp(`^\\d+ of ${pg.maxConnections - 3} connections in use \\(\\d+%; max_connections ${pg.maxConnections}`),
    );
    expect(by['pg-migration']).toMatchObject({ status: 'ok' });
    expect(by['pg-migration']!.message).toContain(await pg.sql('SELECT version_num FROM alembic_version', pg.database));
    expect(by['db-size']).toMatchObject({ status: 'ok' });
    expect(by['db-size']!.message).toContain(`PostgreSQL database "${pg.database}"`);
    for (const id of ['db-lock', 'db-health']) {
      expect(by[id]).toMatchObject({ status: 'skip' });
      expect(by[id]!.message).toMatch(/^Not applicable: the server stores traces in PostgreSQL/);
    }
    const human = await cli(['doctor']);
    expect(human.stdout).toMatch(/✓ PostgreSQL connection · PostgreSQL \d+/);
    expect(human.stdout).toMatch(/- Database not locked · Not applicable/);
  });

  it('doctor: an out-of-date schema fails pg-migration, with `mlflow db upgrade` as the fix', async () => {
    const head = await pg.sql('SELECT version_num FROM alembic_version', pg.database);
    // Pretend an older MLflow made the schema: the revision before MLflow 3.12.0's head (7d34483879f0).
    const older = 'ae8bbe7743c9';
    await pg.sql(`UPDATE alembic_version SET version_num = '${older}'`, pg.database);
    try {
      const run = await cli(['doctor', '--json', '--check', 'pg-migration']);
      const c = (JSON.parse(run.stdout) as DoctorReport).checks[0]!;
      expect(run.exitCode).toBe(1);
      expect(c.status).toBe('fail');
      expect(c.message).toContain(`at revision ${older}, but the installed MLflow expects ${head}`);
      expect(c.fix?.command).toContain(
        `PGUSER=${pg.user} PGPASSFILE=${path.join(data, 'pgpass')} ${venvBin('mlflow')} db upgrade postgresql+psycopg2://127.0.0.1:${pg.port}/${pg.database}`,
      );
    } finally {
      await pg.sql(`UPDATE alembic_version SET version_num = '${head}'`, pg.database);
    }
  });

  it('server status and status say PostgreSQL instead of a file', async () => {
    const server = await cli(['server', 'status', '--json']);
    expect(server.exitCode, server.stderr).toBe(0);
    const s = JSON.parse(server.stdout);
    expect(s.database).toBe(`PostgreSQL ${pg.user}@127.0.0.1:${pg.port}/${pg.database}`);
    expect(s.databaseBytes).toBeGreaterThan(1_000_000);
    const status = await cli(['status', '--json']);
    const d = JSON.parse(status.stdout);
    expect(d.database).toMatchObject({ file: null, postgres: `${pg.user}@127.0.0.1:${pg.port}/${pg.database}` });
    expect(d.database.bytes).toBeGreaterThan(1_000_000);
    const human = await cli(['status']);
    expect(human.stdout).toMatch(new RegExp(`Database\\s+PostgreSQL [\\d.]+ MB\\s+${pg.user}@127\\.0\\.0\\.1:${pg.port}/${pg.database}`));
  });

  it('cleanup through the server deletes the old traces and keeps the recent one', async () => {
    const now = Date.now();
    const old = await seedTraces(url, experimentId, [now - 5 * DAY, now - 3 * DAY]);
    expect((await listTraces(url, experimentId)).length).toBe(3);
    const run = await cli(['cleanup', '--older-than', '1d', '--yes', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ backend: 'server', where: url, planned: 2, deleted: 2 });
    expect(report.database).toBeUndefined();
    const left = await listTraces(url, experimentId);
    expect(left.map((t) => t.id)).not.toContain(old[0]!.id);
    expect(left).toHaveLength(1);
    expect(await pg.sql('SELECT count(*) FROM trace_info', pg.database)).toBe('1');
    expect(await pg.sql('SELECT count(*) FROM spans WHERE trace_id NOT IN (SELECT request_id FROM trace_info)', pg.database)).toBe('0');
  });

  it("cleanup with the server stopped goes through MLflow's Python client on the PostgreSQL URI", async () => {
    const now = Date.now();
    await seedTraces(url, experimentId, [now - 4 * DAY, now - 2 * DAY]);
    expect((await cli(['server', 'stop'])).exitCode).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    const run = await cli(['cleanup', '--older-than', '1d', '--yes', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ backend: 'python', planned: 2, deleted: 2 });
    expect(report.where).toBe(`postgresql+psycopg2://${pg.user}:***@127.0.0.1:${pg.port}/${pg.database}`);
    // Read back with MLflow's own client straight from PostgreSQL.
    expect(await listTraces(pg.uri.replace('postgresql://', 'postgresql+psycopg2://'), experimentId)).toHaveLength(1);
    expect((await cli(['server', 'start'])).exitCode).toBe(0);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('uninstall stops the server; the password appeared in no output at all', async () => {
    const run = await cli(['uninstall', '--yes']);
    expect(run.exitCode, run.stderr).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    // The password goes with the server: out of config.json and the data folder.
    expect(existsSync(path.join(data, 'pgpass'))).toBe(false);
    expectNoSecret(readFileSync(path.join(data, 'config.json'), 'utf8'));
    for (const out of outputs) expectNoSecret(out);
  });
});
